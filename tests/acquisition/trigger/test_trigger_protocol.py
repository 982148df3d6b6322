"""Trigger protocol v1: checksum, encode/parse round trips, robustness to garbage."""

from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.trigger.protocol import (
    MAX_BOARD_LINE_LENGTH,
    BoardMessage,
    BoardState,
    Command,
    ErrorCode,
    ErrReply,
    LineAssembler,
    OkReply,
    ProtocolError,
    PulseReport,
    StatusReport,
    add_checksum,
    crc8,
    encode_command,
    encode_message,
    parse_command,
    parse_message,
    rate_to_period_us,
    split_checksum,
)

MAX_STATUS = StatusReport(
    state=BoardState.RUNNING,
    period_us=4_000_000,
    width_us=1_000_000,
    pulses=2**32 - 1,
    target=2**32 - 1,
    dropped_reports=2**32 - 1,
    late_edges=2**32 - 1,
    uptime_us=2**64 - 1,
)


def test_crc8_is_crc8_smbus() -> None:
    assert crc8(b"123456789") == 0xF4  # the catalogue check value of CRC-8/SMBUS
    assert crc8(b"") == 0


def test_checksum_suffix() -> None:
    line = add_checksum("P 12 1200345")
    assert line.startswith("P 12 1200345*") and len(line) == len("P 12 1200345") + 3
    assert split_checksum(line) == ("P 12 1200345", True)
    assert split_checksum("P 12 1200345") == ("P 12 1200345", None)
    assert split_checksum("P 12 1200346" + line[-3:])[1] is False
    assert split_checksum("PING*ZZ")[1] is False


@pytest.mark.parametrize(
    "message",
    [
        PulseReport(0, 5_001_000),
        PulseReport(123456, 2**64 - 1),
        OkReply("PING"),
        OkReply("RATE", {"period_us": "100000"}),
        OkReply("VERSION", {"protocol": "1", "firmware": "trigger_board/1.0.0", "board": "nano"}),
        ErrReply(ErrorCode.BAD_STATE, "START", "START needs ARMED, board is IDLE"),
        StatusReport(BoardState.IDLE, 100_000, 1_000, 0, 0, 0, 0, 5_000_000),
        MAX_STATUS,
    ],
    ids=lambda m: type(m).__name__,
)
def test_board_messages_round_trip(message: object) -> None:
    assert isinstance(message, PulseReport | OkReply | ErrReply | StatusReport)
    line = encode_message(message)
    assert len(line) <= MAX_BOARD_LINE_LENGTH + 3
    assert parse_message(line) == message
    assert parse_message(line + "\r") == message  # CR LF terminators leave a CR behind


def test_parse_message_rejects_corruption() -> None:
    good = encode_message(PulseReport(7, 700_000))
    with pytest.raises(ProtocolError) as info:
        parse_message(good.replace("7", "8", 1))  # one flipped digit: checksum catches it
    assert info.value.code == ErrorCode.BAD_CHECKSUM
    with pytest.raises(ProtocolError):
        parse_message("P 7 700000")  # checksum required by default
    assert parse_message("P 7 700000", require_checksum=False) == PulseReport(7, 700_000)
    for bad in ["X 1 2", "P 1", "P -1 5", "P a b", "S state=IDLE", "OK", "ERR x PING", ""]:
        with pytest.raises(ProtocolError):
            parse_message(bad, require_checksum=False)
    unknown_state = encode_message(MAX_STATUS, checksum=False).replace("RUNNING", "DANCING")
    with pytest.raises(ProtocolError):
        parse_message(add_checksum(unknown_state))


def test_parse_message_strips_leading_noise() -> None:
    line = "\x00\xff\ufffd" + encode_message(PulseReport(3, 42))
    assert parse_message(line) == PulseReport(3, 42)


def test_host_commands() -> None:
    assert encode_command("rate", 10) == (add_checksum("RATE 10") + "\n").encode()
    assert encode_command("STOP", checksum=False) == b"STOP\n"
    assert parse_command(add_checksum("RATE 10")) == Command("RATE", ("10",))
    assert parse_command("start 20") == Command("START", ("20",))  # typed by a human
    assert parse_command("   ") is None
    with pytest.raises(ProtocolError) as info:
        parse_command("RATE 10*00")
    assert info.value.code == ErrorCode.BAD_CHECKSUM
    with pytest.raises(ProtocolError) as info:
        parse_command("FIRE")
    assert info.value.code == ErrorCode.UNKNOWN_COMMAND
    with pytest.raises(ProtocolError) as info:
        parse_command("PING " + "x" * 200)
    assert info.value.code == ErrorCode.LINE_TOO_LONG
    with pytest.raises(ValueError):
        encode_command("RATE", "1" * 100)


def test_rate_to_period() -> None:
    assert rate_to_period_us(10.0) == 100_000
    assert rate_to_period_us(30.0) == 33_333
    with pytest.raises(ValueError):
        rate_to_period_us(0.0)


def test_line_assembler_split_garbage_and_overlong() -> None:
    stream = (
        b"\xff\xfe"
        + (encode_message(PulseReport(0, 10)) + "\r\n").encode()
        + b"#" * 500
        + b"\n"  # a lost terminator: one over-long run, discarded
        + (encode_message(PulseReport(1, 20)) + "\n").encode()
    )
    assembler = LineAssembler()
    lines: list[str] = []
    for i in range(len(stream)):  # byte by byte, as a slow port delivers them
        lines += assembler.feed(stream[i : i + 1])
    parsed: list[BoardMessage | None] = []
    for line in lines:
        try:
            parsed.append(parse_message(line))
        except ProtocolError:
            parsed.append(None)
    assert parsed == [PulseReport(0, 10), PulseReport(1, 20)]
    assert assembler.overlong_lines == 1
    assert assembler.discarded_bytes == 500
    assert assembler.feed(b"P 2") == [] and assembler.pending == b"P 2"


def test_documented_example_session_is_valid() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "trigger_protocol.md"
    lines = [
        line.split(":", 1)[1].strip()
        for line in doc.read_text().splitlines()
        if line.startswith(("host:  ", "board: "))
    ]
    assert len(lines) >= 10
    for line in lines:
        assert split_checksum(line)[1] is True, line
        if line.startswith(("OK", "ERR", "P ", "S ")):
            parse_message(line)
        else:
            assert parse_command(line) is not None
