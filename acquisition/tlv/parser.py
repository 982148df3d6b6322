"""TI mmWave SDK out-of-box demo UART output (the data UART, 921600 baud): parse and encode.

Packet layout (little endian; REFERENCE.md section 5)::

    magic 02 01 04 03 06 05 08 07
    u32 version, totalPacketLen, platform, frameNumber, timeCpuCycles, numDetectedObj, numTLVs
    u32 subFrameNumber                      (absent on xWR14xx: 36-byte header instead of 40)
    numTLVs x (u32 type, u32 length, payload[length])       length excludes the 8-byte TLV header
    zero padding up to totalPacketLen, a multiple of 32 bytes (totalPacketLen includes it)

TLV types decoded here: 1 detected points (SDK 3.x: float32 x, y, z in m, velocity in m/s per
point), 7 side info (int16 snr, noise per point, units of 0.1 dB), 2 range profile and 3 noise
profile (uint16 per range bin, TI's Q9 log-magnitude values, kept as sent), 6 statistics,
9 temperature. All TLVs, decoded or not, are also kept raw in :attr:`TlvFrame.tlvs`.

:class:`TlvStreamParser` is incremental: feed it bytes in chunks of any size. It resynchronises on
the magic after garbage or a corrupted length, and counts every skipped byte, every rejected
packet and every gap in frame numbers. A packet is accepted only when its TLV chain ends exactly
at ``totalPacketLen`` rounded down by less than 32 bytes and the point TLVs match
``numDetectedObj``; the packet's own lengths are its only integrity check (there is no CRC).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

MAGIC = bytes((0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07))
SEGMENT_LEN = 32  # packets are padded to a multiple of this (bytes)
TLV_HEADER_LEN = 8
POINT_COLUMNS = ("x", "y", "z", "velocity", "snr_db", "noise_db")
"""Columns of :attr:`TlvFrame.points`: metres (TI axes: y forward from the antenna, x to the
right, z up), m/s (radial, negative approaching), dB, dB."""
PLATFORM_XWR18XX = 0x000A1843
PLATFORM_XWR14XX = 0x000A1443
DEFAULT_VERSION = 0x03050004  # SDK 3.5.0.4


class TlvType(IntEnum):
    DETECTED_POINTS = 1
    RANGE_PROFILE = 2
    NOISE_PROFILE = 3
    AZIMUTH_STATIC_HEATMAP = 4
    RANGE_DOPPLER_HEATMAP = 5
    STATS = 6
    SIDE_INFO = 7
    AZIMUTH_ELEVATION_HEATMAP = 8
    TEMPERATURE = 9


@dataclass(frozen=True)
class TlvFormat:
    """Variant of the packet format.

    Attributes:
        header_has_subframe: True for the 40-byte header (xWR16xx/18xx/68xx, SDK 2.x/3.x); False
            for the 36-byte xWR14xx header without ``subFrameNumber``.
        max_packet_len: larger ``totalPacketLen`` values are taken as corrupted (bytes).
        max_tlvs: larger ``numTLVs`` values are taken as corrupted.
    """

    header_has_subframe: bool = True
    max_packet_len: int = 65536
    max_tlvs: int = 32

    @property
    def header_len(self) -> int:
        """Header length including the magic (bytes)."""
        return len(MAGIC) + (32 if self.header_has_subframe else 28)


XWR18XX = TlvFormat()
XWR14XX = TlvFormat(header_has_subframe=False)


@dataclass(frozen=True)
class FrameHeader:
    """The packet header; ``subframe_number`` is None for the xWR14xx variant."""

    version: int
    total_packet_len: int
    platform: int
    frame_number: int
    time_cpu_cycles: int
    num_detected_obj: int
    num_tlvs: int
    subframe_number: int | None


@dataclass(frozen=True)
class RawTlv:
    type: int
    payload: bytes


@dataclass(frozen=True)
class FrameStats:
    """TLV 6 (SDK 3.x ``MmwDemo_output_message_stats``); times in us, loads in percent."""

    inter_frame_processing_time_us: int
    transmit_output_time_us: int
    inter_frame_processing_margin_us: int
    inter_chirp_processing_margin_us: int
    active_frame_cpu_load_percent: int
    inter_frame_cpu_load_percent: int


@dataclass(frozen=True)
class TemperatureReport:
    """TLV 9 (SDK 3.x): ``report_valid`` (0 = valid), ``time_ms`` since the front end started,
    and 10 sensor readings in degrees Celsius: RX0-3, TX0-2, PM, DIG0, DIG1."""

    report_valid: int
    time_ms: int
    temperatures_c: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class TlvFrame:
    """One decoded packet.

    Attributes:
        header: the packet header.
        points: (N, 6) float32, columns :data:`POINT_COLUMNS`; snr_db and noise_db are NaN
            without a side-info TLV. N is 0 when the packet has no point TLV.
        tlvs: every TLV as sent, in order.
        range_profile: (num_range_bins,) uint16 from TLV 2, or None.
        noise_profile: (num_range_bins,) uint16 from TLV 3, or None.
        stats: TLV 6, or None.
        temperature: TLV 9, or None.
        missed_before: frame numbers missing between the previous accepted frame and this one.
        host_receive_ns: ``time.monotonic_ns()`` when the packet's last byte was read (set by the
            driver; None from a plain parser).
        wall_receive_ns: ``time.time_ns()`` at the same moment.
    """

    header: FrameHeader
    points: NDArray[np.float32]
    tlvs: tuple[RawTlv, ...]
    range_profile: NDArray[np.uint16] | None = None
    noise_profile: NDArray[np.uint16] | None = None
    stats: FrameStats | None = None
    temperature: TemperatureReport | None = None
    missed_before: int = 0
    host_receive_ns: int | None = None
    wall_receive_ns: int | None = None

    @property
    def frame_number(self) -> int:
        return self.header.frame_number

    @property
    def subframe_number(self) -> int | None:
        return self.header.subframe_number


class BadPacket(ValueError):
    """A packet whose lengths are inconsistent (corrupted, or another format variant)."""


# --- decoding ------------------------------------------------------------------------------------
def _decode_points(header: FrameHeader, tlvs: Sequence[RawTlv]) -> NDArray[np.float32]:
    n = header.num_detected_obj
    by_type = {t.type: t.payload for t in tlvs}
    xyzv = by_type.get(TlvType.DETECTED_POINTS)
    if xyzv is None:
        return np.empty((0, len(POINT_COLUMNS)), dtype=np.float32)
    if len(xyzv) != 16 * n:
        raise BadPacket(f"point TLV has {len(xyzv)} bytes for {n} points (16 each)")
    points = np.full((n, len(POINT_COLUMNS)), np.nan, dtype=np.float32)
    points[:, :4] = np.frombuffer(xyzv, dtype="<f4").reshape(n, 4)
    side = by_type.get(TlvType.SIDE_INFO)
    if side is not None:
        if len(side) != 4 * n:
            raise BadPacket(f"side-info TLV has {len(side)} bytes for {n} points (4 each)")
        points[:, 4:6] = np.frombuffer(side, dtype="<i2").reshape(n, 2) * np.float32(0.1)
    return points


def _decode_profile(payload: bytes) -> NDArray[np.uint16] | None:
    if len(payload) % 2:
        return None
    return np.frombuffer(payload, dtype="<u2").astype(np.uint16)


def _decode_stats(payload: bytes) -> FrameStats | None:
    return FrameStats(*struct.unpack("<6I", payload)) if len(payload) == 24 else None


def _decode_temperature(payload: bytes) -> TemperatureReport | None:
    if len(payload) != 28:
        return None
    valid, time_ms, *temps = struct.unpack("<iI10h", payload)
    return TemperatureReport(valid, time_ms, tuple(temps))


def _header_struct(fmt: TlvFormat) -> struct.Struct:
    return struct.Struct("<8s8I" if fmt.header_has_subframe else "<8s7I")


def decode_packet(packet: bytes, fmt: TlvFormat = XWR18XX) -> TlvFrame:
    """Decode one complete packet (magic to end of padding). Raises :class:`BadPacket`."""
    hs = _header_struct(fmt)
    if len(packet) < hs.size or not packet.startswith(MAGIC):
        raise BadPacket("no magic or short header")
    _, *fields = hs.unpack_from(packet)
    header = FrameHeader(*fields, *(() if fmt.header_has_subframe else (None,)))
    if header.total_packet_len != len(packet):
        raise BadPacket(f"totalPacketLen {header.total_packet_len} != {len(packet)} bytes")
    end = _tlv_chain_end(packet, header, fmt)
    if end is None:
        raise BadPacket("truncated TLV chain")
    pos, tlvs = hs.size, []
    for _ in range(header.num_tlvs):
        tlv_type, length = struct.unpack_from("<2I", packet, pos)
        start = pos + TLV_HEADER_LEN
        tlvs.append(RawTlv(tlv_type, bytes(packet[start : start + length])))
        pos = start + length
    by_type = {t.type: t.payload for t in tlvs}
    rp, npf = by_type.get(TlvType.RANGE_PROFILE), by_type.get(TlvType.NOISE_PROFILE)
    st, tp = by_type.get(TlvType.STATS), by_type.get(TlvType.TEMPERATURE)
    return TlvFrame(
        header=header,
        points=_decode_points(header, tlvs),
        tlvs=tuple(tlvs),
        range_profile=_decode_profile(rp) if rp is not None else None,
        noise_profile=_decode_profile(npf) if npf is not None else None,
        stats=_decode_stats(st) if st is not None else None,
        temperature=_decode_temperature(tp) if tp is not None else None,
    )


def _check_header(header: FrameHeader, fmt: TlvFormat) -> None:
    total = header.total_packet_len
    if total < fmt.header_len or total % SEGMENT_LEN or total > fmt.max_packet_len:
        raise BadPacket(f"implausible totalPacketLen {total}")
    if header.num_tlvs > fmt.max_tlvs:
        raise BadPacket(f"implausible numTLVs {header.num_tlvs}")


def _tlv_chain_end(buf: bytes | bytearray, header: FrameHeader, fmt: TlvFormat) -> int | None:
    """Walk the TLV headers: the end offset of the last TLV, or None if ``buf`` is too short to
    tell yet. Raises :class:`BadPacket` when the chain does not fit ``totalPacketLen`` exactly."""
    _check_header(header, fmt)
    total = header.total_packet_len
    pos = fmt.header_len
    for _ in range(header.num_tlvs):
        if pos + TLV_HEADER_LEN > total:
            raise BadPacket("TLV header beyond totalPacketLen")
        if len(buf) < pos + TLV_HEADER_LEN:
            return None
        _, length = struct.unpack_from("<2I", buf, pos)
        pos += TLV_HEADER_LEN + length
        if pos > total:
            raise BadPacket("TLV payload beyond totalPacketLen")
    if -(-pos // SEGMENT_LEN) * SEGMENT_LEN != total:
        raise BadPacket(f"TLVs end at {pos}, padded {total} expected")
    return pos


# --- stream --------------------------------------------------------------------------------------
class TlvStreamParser:
    """Incremental parser of the data-UART byte stream.

    Counters (all since creation):
        bytes_received: bytes fed.
        frames: packets accepted.
        skipped_bytes: bytes not part of any accepted packet (garbage, rejected packets).
        bad_frames: packets that started with the magic but were rejected.
        frame_gaps: times the frame number did not follow the previous one by 1 (a repeated
            number, as sub-frames of one frame have, is not a gap).
        missing_frames: frame numbers skipped in forward gaps (a backward jump, e.g. a radar
            restart, is a gap with no missing count).
    """

    def __init__(self, fmt: TlvFormat = XWR18XX) -> None:
        self.fmt = fmt
        self._header = _header_struct(fmt)
        self._buffer = bytearray()
        self.bytes_received = 0
        self.frames = 0
        self.skipped_bytes = 0
        self.bad_frames = 0
        self.frame_gaps = 0
        self.missing_frames = 0
        self.last_frame_number: int | None = None
        self.last_error: str | None = None  # why the latest bad frame was rejected

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def feed(
        self,
        data: bytes,
        *,
        host_receive_ns: int | None = None,
        wall_receive_ns: int | None = None,
    ) -> list[TlvFrame]:
        """Frames completed by ``data``, stamped with the given receive times."""
        self.bytes_received += len(data)
        self._buffer += data
        frames: list[TlvFrame] = []
        while True:
            start = self._buffer.find(MAGIC)
            if start < 0:
                # Keep a possible partial magic at the end; everything before it is garbage.
                drop = max(0, len(self._buffer) - (len(MAGIC) - 1))
                self._skip(drop)
                return frames
            self._skip(start)
            try:
                frame = self._take_packet()
            except BadPacket as exc:
                self.bad_frames += 1
                self.last_error = str(exc)
                self._skip(1)  # resynchronise on the next magic after this one
                continue
            if frame is None:
                return frames
            frames.append(
                replace(
                    self._number(frame),
                    host_receive_ns=host_receive_ns,
                    wall_receive_ns=wall_receive_ns,
                )
            )

    def _skip(self, n: int) -> None:
        if n:
            del self._buffer[:n]
            self.skipped_bytes += n

    def _take_packet(self) -> TlvFrame | None:
        """Decode the packet at the buffer start (it begins with the magic); None: need bytes."""
        buf = self._buffer
        if len(buf) < self._header.size:
            return None
        _, *fields = self._header.unpack_from(buf)
        header = FrameHeader(*fields, *(() if self.fmt.header_has_subframe else (None,)))
        # The chain is checked before waiting for totalPacketLen bytes: a corrupted, too large
        # length is refused as soon as the real packet is in, without stalling the next ones.
        if _tlv_chain_end(buf, header, self.fmt) is None or len(buf) < header.total_packet_len:
            return None
        frame = decode_packet(bytes(buf[: header.total_packet_len]), self.fmt)
        del buf[: header.total_packet_len]
        self.frames += 1
        return frame

    def _number(self, frame: TlvFrame) -> TlvFrame:
        number, last = frame.frame_number, self.last_frame_number
        self.last_frame_number = number
        if last is None or number == last:
            return frame
        step = (number - last) % (1 << 32)  # frameNumber is a wrapping u32
        if step == 1:
            return frame
        self.frame_gaps += 1
        if step < (1 << 31):
            self.missing_frames += step - 1
            return replace(frame, missed_before=step - 1)
        return frame


# --- encoding ------------------------------------------------------------------------------------
def point_tlvs(points: NDArray[np.floating] | None) -> list[RawTlv]:
    """TLV 1 (and TLV 7 when ``points`` has snr_db, optionally noise_db, columns) for an (N, 4),
    (N, 5) or (N, 6) array in :data:`POINT_COLUMNS` order; none for no or zero points (the demo
    sends no point TLV then). SNR and noise are rounded to 0.1 dB and must be finite."""
    if points is None or len(points) == 0:
        return []
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or not 4 <= pts.shape[1] <= 6:
        raise ValueError(f"points must be (N, 4..6), got {pts.shape}")
    tlvs = [RawTlv(TlvType.DETECTED_POINTS, pts[:, :4].astype("<f4").tobytes())]
    if pts.shape[1] >= 5:
        side = np.zeros((len(pts), 2), dtype=np.float64)
        side[:, : pts.shape[1] - 4] = pts[:, 4:]
        if not np.all(np.isfinite(side)):
            raise ValueError("snr_db and noise_db must be finite to be encoded")
        tlvs.append(RawTlv(TlvType.SIDE_INFO, np.round(side * 10.0).astype("<i2").tobytes()))
    return tlvs


def encode_packet(
    tlvs: Sequence[RawTlv],
    *,
    frame_number: int,
    num_detected_obj: int,
    fmt: TlvFormat = XWR18XX,
    version: int = DEFAULT_VERSION,
    platform: int = PLATFORM_XWR18XX,
    time_cpu_cycles: int = 0,
    subframe_number: int = 0,
    total_packet_len: int | None = None,
) -> bytes:
    """One packet: header, TLVs, zero padding to a multiple of 32 bytes. ``total_packet_len``
    overrides the header field only (to emulate corruption); the bytes are always complete."""
    body = b"".join(struct.pack("<2I", t.type, len(t.payload)) + bytes(t.payload) for t in tlvs)
    length = fmt.header_len + len(body)
    padded = -(-length // SEGMENT_LEN) * SEGMENT_LEN
    fields = [
        version,
        padded if total_packet_len is None else total_packet_len,
        platform,
        frame_number,
        time_cpu_cycles,
        num_detected_obj,
        len(tlvs),
    ]
    if fmt.header_has_subframe:
        fields.append(subframe_number)
    header = _header_struct(fmt).pack(MAGIC, *(f & 0xFFFFFFFF for f in fields))
    return header + body + bytes(padded - length)


def encode_frame(frame: TlvFrame, fmt: TlvFormat = XWR18XX) -> bytes:
    """Re-encode a decoded frame from its header and raw TLVs (byte-exact for packets with zero
    padding, as the SDK sends)."""
    h = frame.header
    return encode_packet(
        frame.tlvs,
        frame_number=h.frame_number,
        num_detected_obj=h.num_detected_obj,
        fmt=fmt,
        version=h.version,
        platform=h.platform,
        time_cpu_cycles=h.time_cpu_cycles,
        subframe_number=h.subframe_number or 0,
    )


def build_frame(
    frame_number: int,
    points: NDArray[np.floating] | None,
    *,
    fmt: TlvFormat = XWR18XX,
    range_profile: NDArray[np.integer] | None = None,
    noise_profile: NDArray[np.integer] | None = None,
    stats: FrameStats | None = None,
    temperature: TemperatureReport | None = None,
    extra_tlvs: Sequence[RawTlv] = (),
    platform: int | None = None,
    time_cpu_cycles: int = 0,
    subframe_number: int = 0,
) -> bytes:
    """Encode a frame as the out-of-box demo sends one: TLVs in ascending type order (points,
    range profile, noise profile, stats, side info, temperature), then ``extra_tlvs``.
    ``points`` as for :func:`point_tlvs`; profiles (num_range_bins,) uint16."""
    tlvs = point_tlvs(points)
    side = [t for t in tlvs if t.type == TlvType.SIDE_INFO]
    tlvs = [t for t in tlvs if t.type != TlvType.SIDE_INFO]
    if range_profile is not None:
        tlvs.append(RawTlv(TlvType.RANGE_PROFILE, np.asarray(range_profile, "<u2").tobytes()))
    if noise_profile is not None:
        tlvs.append(RawTlv(TlvType.NOISE_PROFILE, np.asarray(noise_profile, "<u2").tobytes()))
    if stats is not None:
        values = (
            stats.inter_frame_processing_time_us,
            stats.transmit_output_time_us,
            stats.inter_frame_processing_margin_us,
            stats.inter_chirp_processing_margin_us,
            stats.active_frame_cpu_load_percent,
            stats.inter_frame_cpu_load_percent,
        )
        tlvs.append(RawTlv(TlvType.STATS, struct.pack("<6I", *values)))
    tlvs += side
    if temperature is not None:
        payload = struct.pack(
            "<iI10h", temperature.report_valid, temperature.time_ms, *temperature.temperatures_c
        )
        tlvs.append(RawTlv(TlvType.TEMPERATURE, payload))
    tlvs += list(extra_tlvs)
    if platform is None:
        platform = PLATFORM_XWR18XX if fmt.header_has_subframe else PLATFORM_XWR14XX
    return encode_packet(
        tlvs,
        frame_number=frame_number,
        num_detected_obj=0 if points is None else len(points),
        fmt=fmt,
        platform=platform,
        time_cpu_cycles=time_cpu_cycles,
        subframe_number=subframe_number,
    )
