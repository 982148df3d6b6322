"""DCA1000 wire format: commands, replies, payloads and data-packet headers."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from acquisition.dca1000.protocol import (
    Command,
    EepromConfig,
    FpgaConfig,
    FpgaVersion,
    PacketConfig,
    ProtocolError,
    build_data_packets,
    decode_command,
    decode_reply,
    encode_command,
    encode_reply,
    pack_data_header,
    pack_data_headers,
    packet_delay_ticks,
    unpack_data_header,
    unpack_data_headers,
)


def test_command_packet_bytes() -> None:
    assert encode_command(Command.SYSTEM_CONNECT) == bytes.fromhex(
        "5aa5090000 00aaee".replace(" ", "")
    )
    packet = encode_command(Command.CONFIG_FPGA, FpgaConfig().to_bytes())
    assert packet == bytes.fromhex("5aa5030006000102010203 1eaaee".replace(" ", ""))
    assert decode_command(packet).data == bytes([1, 2, 1, 2, 3, 30])


def test_fpga_config_lanes() -> None:
    assert FpgaConfig.for_lanes(4).lvds_mode == 1
    assert FpgaConfig.for_lanes(2).to_bytes() == bytes([1, 2, 1, 2, 3, 30])
    assert FpgaConfig.from_bytes(FpgaConfig.for_lanes(4).to_bytes()).lanes == 4
    with pytest.raises(ValueError):
        FpgaConfig.for_lanes(3)


def test_packet_delay_in_fpga_ticks() -> None:
    assert packet_delay_ticks(25) == 3125
    config = PacketConfig.from_delay_us(1472, 25.0)
    assert config.to_bytes() == bytes.fromhex("c005350c0000")
    assert PacketConfig.from_bytes(config.to_bytes()).delay_us == pytest.approx(25.0)
    with pytest.raises(ValueError):
        packet_delay_ticks(1000)  # 125000 ticks do not fit in u16


def test_eeprom_config_round_trip() -> None:
    config = EepromConfig(host_ip="192.168.34.30", board_ip="192.168.34.180", data_port=4100)
    data = config.to_bytes()
    assert len(data) == 18
    assert EepromConfig.from_bytes(data) == config


def test_reply_and_errors() -> None:
    assert decode_reply(encode_reply(Command.RECORD_START, 0)).status == 0
    assert decode_reply(encode_reply(Command.ASYNC_STATUS, 5)).is_async_status
    with pytest.raises(ProtocolError, match="header"):
        decode_reply(struct.pack("<HHHH", 0x1234, 5, 0, 0xEEAA))
    with pytest.raises(ProtocolError, match="footer"):
        decode_reply(struct.pack("<HHHH", 0xA55A, 5, 0, 0xBEEF))
    with pytest.raises(ProtocolError, match="8"):
        decode_reply(b"\x5a\xa5")
    with pytest.raises(ProtocolError, match="footer"):
        decode_command(encode_command(Command.RECORD_STOP)[:-2] + b"\x00\x00")
    with pytest.raises(ProtocolError, match="announces"):
        decode_command(encode_command(Command.CONFIG_PACKET, b"\x01\x02")[:-3] + b"\xaa\xee")


def test_fpga_version_bits() -> None:
    version = FpgaVersion.from_status(2 | (9 << 7) | (1 << 14))
    assert (version.major, version.minor, version.playback) == (2, 9, True)
    assert FpgaVersion(2, 9, False).to_status() == 2 | (9 << 7)


def test_data_header_scalar_and_vector() -> None:
    header = pack_data_header(7, (1 << 40) + 12345)
    assert len(header) == 10
    assert unpack_data_header(header + b"xx") == (7, (1 << 40) + 12345)
    seqs = np.array([1, 2, 0xFFFFFFFF], dtype=np.uint32)
    counts = np.array([0, 1456, (1 << 48) - 1], dtype=np.uint64)
    rows = np.zeros((3, 16), dtype=np.uint8)
    rows[:, :10] = pack_data_headers(seqs, counts)
    assert bytes(rows[1, :10]) == pack_data_header(2, 1456)
    got_seqs, got_counts = unpack_data_headers(rows)
    np.testing.assert_array_equal(got_seqs, seqs)
    np.testing.assert_array_equal(got_counts, counts)


def test_build_data_packets_splits_with_short_last() -> None:
    data = bytes(range(256)) * 20  # 5120 bytes: 3 x 1456 + 752
    batch = build_data_packets(data, first_seq=5, first_byte_count=1000)
    assert len(batch) == 4
    assert batch.payload_sizes.tolist() == [1456, 1456, 1456, 752]
    rebuilt = b""
    for i in range(len(batch)):
        seq, count = unpack_data_header(batch.datagram(i))
        assert seq == 5 + i
        assert count == 1000 + len(rebuilt)
        rebuilt += batch.datagram(i)[10:]
    assert rebuilt == data
