"""TLV packet encode/parse: round trips, resynchronisation, counters, header variants."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from acquisition.tlv import (
    MAGIC,
    XWR14XX,
    XWR18XX,
    BadPacket,
    FrameStats,
    RawTlv,
    TemperatureReport,
    TlvStreamParser,
    TlvType,
    build_frame,
    decode_packet,
    encode_frame,
)
from acquisition.tlv.parser import PLATFORM_XWR14XX, SEGMENT_LEN


def points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = rng.normal(0.0, 2.0, (n, 6)).astype(np.float32)
    pts[:, 4:] = np.round(rng.uniform(-20.0, 60.0, (n, 2)), 1)  # 0.1 dB steps survive encoding
    return pts


def frame_bytes(number: int, n: int = 5) -> bytes:
    return build_frame(number, points(n, seed=number))


def test_round_trip_is_byte_exact() -> None:
    pts = points(7)
    stats = FrameStats(1200, 350, 98_000, 12, 45, 3)
    temperature = TemperatureReport(0, 123_456, (41, 42, 43, 44, 50, 51, 52, 39, 45, 46))
    extra = RawTlv(0x42, b"vendor-specific")
    data = build_frame(
        17,
        pts,
        range_profile=np.arange(256, dtype=np.uint16) * 3,
        noise_profile=np.full(256, 900, dtype=np.uint16),
        stats=stats,
        temperature=temperature,
        extra_tlvs=[extra],
        time_cpu_cycles=0xDEADBEEF,
        subframe_number=0,
    )
    assert data.startswith(MAGIC)
    assert len(data) % SEGMENT_LEN == 0
    frame = decode_packet(data)
    assert encode_frame(frame) == data
    h = frame.header
    assert (h.frame_number, h.num_detected_obj, h.num_tlvs, h.total_packet_len) == (
        17,
        7,
        7,
        len(data),
    )
    assert (h.time_cpu_cycles, h.subframe_number) == (0xDEADBEEF, 0)
    assert frame.points.shape == (7, 6) and frame.points.dtype == np.float32
    np.testing.assert_array_equal(frame.points[:, :4], pts[:, :4])
    np.testing.assert_allclose(frame.points[:, 4:], pts[:, 4:], atol=1e-4)
    assert frame.range_profile is not None and frame.range_profile[10] == 30
    assert frame.noise_profile is not None and frame.noise_profile.shape == (256,)
    assert frame.stats == stats
    assert frame.temperature == temperature
    assert frame.tlvs[-1] == extra
    assert [t.type for t in frame.tlvs] == [1, 2, 3, 6, 7, 9, 0x42]


def test_points_without_side_info_and_empty_frames() -> None:
    frame = decode_packet(build_frame(3, points(4)[:, :4]))
    assert frame.points.shape == (4, 6)
    assert np.isnan(frame.points[:, 4:]).all()
    empty = decode_packet(build_frame(4, None))
    assert empty.points.shape == (0, 6) and empty.tlvs == ()
    five = decode_packet(build_frame(5, points(2)[:, :5]))
    np.testing.assert_array_equal(five.points[:, 5], [0.0, 0.0])  # noise defaults to 0 dB


def test_stream_split_byte_by_byte() -> None:
    stream = b"".join(frame_bytes(n) for n in range(1, 6))
    parser = TlvStreamParser()
    frames = []
    for i in range(len(stream)):
        frames += parser.feed(stream[i : i + 1], host_receive_ns=i)
    assert [f.frame_number for f in frames] == [1, 2, 3, 4, 5]
    assert (parser.frames, parser.skipped_bytes, parser.bad_frames, parser.frame_gaps) == (
        5,
        0,
        0,
        0,
    )
    assert parser.buffered_bytes == 0
    # Each frame is stamped with the time of the read that completed it.
    ends = np.cumsum([len(frame_bytes(n)) for n in range(1, 6)]) - 1
    assert [f.host_receive_ns for f in frames] == list(ends)
    whole = TlvStreamParser().feed(stream)
    assert [encode_frame(f) for f in whole] == [encode_frame(f) for f in frames]


@pytest.mark.parametrize("wrong", ["plus_32", "minus_32", "huge", "not_multiple"])
def test_corrupted_length_resyncs(wrong: str) -> None:
    good1, bad, good3 = frame_bytes(1), bytearray(frame_bytes(2)), frame_bytes(3)
    total = len(bad)
    new = {"plus_32": total + 32, "minus_32": total - 32, "huge": 0x10000000, "not_multiple": 100}
    bad[12:16] = struct.pack("<I", new[wrong])
    garbage = bytes(range(9, 60))
    parser = TlvStreamParser()
    frames = parser.feed(garbage + good1 + bytes(bad) + garbage + good3)
    # The good frame after the bad one comes out at once: no stall waiting for a long packet.
    assert [f.frame_number for f in frames] == [1, 3]
    assert parser.bad_frames == 1
    assert parser.skipped_bytes == 2 * len(garbage) + len(bad)
    assert (parser.frame_gaps, parser.missing_frames) == (1, 1)
    assert frames[1].missed_before == 1
    assert parser.last_error is not None


def test_corrupted_tlv_length_and_point_count() -> None:
    data = bytearray(frame_bytes(1, n=4))
    struct.pack_into("<I", data, 44, 16 * 4 + 1000)  # TLV 1 length runs past the packet
    with pytest.raises(BadPacket):
        decode_packet(bytes(data))
    mismatch = bytearray(frame_bytes(1, n=4))
    struct.pack_into("<I", mismatch, 28, 5)  # numDetectedObj disagrees with TLV 1
    parser = TlvStreamParser()
    assert parser.feed(bytes(mismatch) + frame_bytes(2)) != []
    assert (parser.frames, parser.bad_frames) == (1, 1)


def test_garbage_with_partial_magic_is_skipped() -> None:
    noise = MAGIC[:5] + b"\x00" * 3 + MAGIC[:7]
    parser = TlvStreamParser()
    frames = parser.feed(noise)
    assert frames == [] and parser.skipped_bytes == len(noise) - 7  # a magic may still start
    frames = parser.feed(frame_bytes(1))
    assert [f.frame_number for f in frames] == [1]
    assert parser.skipped_bytes == len(noise)


def test_frame_number_gaps() -> None:
    parser = TlvStreamParser()
    numbers = [1, 2, 5, 5, 6, 3]  # a jump of 3, a repeated sub-frame number, a restart
    frames = parser.feed(b"".join(frame_bytes(n) for n in numbers))
    assert [f.missed_before for f in frames] == [0, 0, 2, 0, 0, 0]
    assert (parser.frame_gaps, parser.missing_frames) == (2, 2)
    wrap = TlvStreamParser()
    wrap.feed(frame_bytes(0xFFFFFFFF) + frame_bytes(0))
    assert wrap.frame_gaps == 0


def test_xwr14xx_header_variant() -> None:
    data = build_frame(9, points(3), fmt=XWR14XX)
    assert struct.unpack_from("<I", data, 8 + 8)[0] == PLATFORM_XWR14XX
    frame = decode_packet(data, XWR14XX)
    assert frame.header.subframe_number is None
    assert XWR14XX.header_len == 36 and XWR18XX.header_len == 40
    assert frame.points.shape == (3, 6)
    assert encode_frame(frame, XWR14XX) == data
    # TLV 1 starts right after the 36-byte header.
    assert struct.unpack_from("<2I", data, 36) == (TlvType.DETECTED_POINTS, 3 * 16)
    parser = TlvStreamParser(XWR14XX)
    assert [f.frame_number for f in parser.feed(data[:50])] == []
    assert [f.frame_number for f in parser.feed(data[50:])] == [9]
    # The wrong variant does not silently produce shifted points.
    wrong = TlvStreamParser(XWR18XX)
    assert wrong.feed(data) == [] and wrong.bad_frames == 1


def test_encoder_rejects_bad_points() -> None:
    with pytest.raises(ValueError):
        build_frame(1, np.zeros((3, 3), dtype=np.float32))
    bad = points(2)
    bad[0, 4] = np.nan
    with pytest.raises(ValueError):
        build_frame(1, bad)
