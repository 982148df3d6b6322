"""Parsing of the SDK CLI's answers: every answer form, line ends, split reads, garbage."""

from __future__ import annotations

import pytest

from acquisition.radar_cli.protocol import PROMPT, AnswerParser, CliAnswer, parse_answer

P = PROMPT.encode()


def feed_bytewise(parser: AnswerParser, data: bytes) -> list[CliAnswer | None]:
    return [parser.feed(data[i : i + 1]) for i in range(len(data))]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
def test_done_with_any_line_end(newline: bytes) -> None:
    data = b"channelCfg 15 7 0" + newline + b"Done" + newline + P
    answer = AnswerParser("channelCfg 15 7 0").feed(data)
    assert answer is not None
    assert (answer.kind, answer.code, answer.message) == ("done", None, ())
    assert answer.echo == "channelCfg 15 7 0"
    assert answer.ok


def test_split_reads_byte_by_byte_give_the_same_answer() -> None:
    data = b"profileCfg 0 77\r\nError: Invalid usage of the CLI command\r\nError -1\r\n" + P
    whole = AnswerParser("profileCfg 0 77").feed(data)
    results = feed_bytewise(AnswerParser("profileCfg 0 77"), data)
    # Nothing is reported before the last byte of the prompt.
    assert results[:-1] == [None] * (len(data) - 1)
    assert results[-1] == whole
    assert whole is not None
    assert (whole.kind, whole.code) == ("error", -1)
    assert whole.message == ("Error: Invalid usage of the CLI command",)
    assert whole.board_message == "Error: Invalid usage of the CLI command"


def test_error_without_text_line_uses_the_terminal_as_message() -> None:
    answer = parse_answer("calibData 1 0 0\r\nError -204\r\n", "calibData 1 0 0")
    assert (answer.kind, answer.code, answer.message) == ("error", -204, ())
    assert answer.board_message == "Error -204"
    assert not answer.ok


def test_not_recognized() -> None:
    answer = parse_answer("fooCfg 1\r\n'fooCfg' is not recognized as a CLI command\r\n", "fooCfg 1")
    assert answer.kind == "not_recognized"
    assert answer.code is None
    assert answer.board_message == "'fooCfg' is not recognized as a CLI command"


@pytest.mark.parametrize(
    "body",
    [
        "sensorStop\r\nIgnored: Sensor is already stopped\r\nDone\r\n",  # SDK 3.x
        "sensorStop\r\nIgnored: Sensor is already stopped\r\n",  # without Done
    ],
)
def test_ignored_with_and_without_done(body: str) -> None:
    answer = parse_answer(body, "sensorStop")
    assert answer.kind == "ignored"
    assert answer.ok
    assert answer.message == ("Ignored: Sensor is already stopped",)


def test_skipped_comment() -> None:
    answer = parse_answer("% a comment\r\nSkipped\r\n", "% a comment")
    assert answer.kind == "skipped"
    assert answer.ok


def test_version_lines_are_the_message() -> None:
    body = "version\r\nPlatform : xWR18xx\r\nmmWave SDK Version : 03.05.00.04\r\nDone\r\n"
    answer = parse_answer(body, "version")
    assert answer.kind == "done"
    assert answer.message == ("Platform : xWR18xx", "mmWave SDK Version : 03.05.00.04")


def test_garbage_before_the_echo_is_dropped() -> None:
    garbage = b"\x00\xff\xfe\x13\r\n\x87garbage\r\n"
    # Garbage on its own lines, and glued to the echo without a line end.
    for data in (garbage + b"sensorStop\r\nDone\r\n" + P, b"\x9a\x00sensorStop\r\nDone\r\n" + P):
        parser = AnswerParser("sensorStop")
        answer = feed_bytewise(parser, data)[-1]
        assert answer is not None
        assert answer.kind == "done"
        assert answer.message == ()


def test_stale_blocks_before_the_echo_are_skipped() -> None:
    # A boot banner and the prompt of an empty sync line arrive before the command's answer.
    data = (
        b"\xf0\x0f\r\n**********\r\nxWR18xx MMW Demo 03.05.00.04\r\n"
        + P
        + b"\r\n"
        + P
        + b"adcCfg 2 1\r\nDone\r\n"
        + P
        + b"\r\n"
    )
    parser = AnswerParser("adcCfg 2 1")
    answer = parser.feed(data)
    assert answer is not None and answer.kind == "done"
    assert len(parser.stale_blocks) == 2
    assert parser.leftover == b"\r\n"
    # Later bytes do not change a finished answer.
    assert parser.feed(b"more") is answer
    assert parser.leftover == b"\r\nmore"


def test_no_answer_before_the_prompt() -> None:
    parser = AnswerParser("frameCfg 0 2 64 0 99.75 2 0")
    assert parser.feed(b"frameCfg 0 2 64 0 99.75 2 0\r\nDone\r\nmmwDemo:/") is None
    assert parser.pending.endswith(b"mmwDemo:/")
    answer = parser.feed(b">")
    assert answer is not None and answer.kind == "done"


def test_unknown_terminal_is_not_ok() -> None:
    answer = parse_answer("lowPower 0 0\r\nsomething odd\r\n", "lowPower 0 0")
    assert answer.kind == "unknown"
    assert not answer.ok
    assert answer.message == ("something odd",)
    # An echo and nothing else: the prompt came without a verdict.
    assert parse_answer("lowPower 0 0\r\n", "lowPower 0 0").kind == "unknown"


def test_whitespace_of_the_command_is_normalised() -> None:
    answer = parse_answer("adcCfg   2  1\r\nDone\r\n", "adcCfg 2 1 ")
    assert answer.command == "adcCfg 2 1"
    assert answer.kind == "done"


def test_empty_line_answer_is_the_bare_prompt() -> None:
    answer = AnswerParser("").feed(b"\r\n" + P)
    assert answer is not None and answer.kind == "done"
