"""Zero-copy view of a CDR-encoded ``acquisition_interfaces/RadarFrame`` (the build's hot path).

The generic decoder (:func:`acquisition.recording.schemas.decoder`) builds an object for every
field and copies the ``data`` array (786 kB for a HuPR frame). Readers that want the ADC bytes
and a few counters walk the fixed field layout of ``RadarFrame.msg`` here instead and get the
payload as a ``memoryview`` into the message buffer. ``tests/acquisition/test_radar_frame_cdr.py``
checks it against the generic decoder.

CDR (XCDR1, little endian as the writer encodes it): a 4-byte encapsulation header, then the
fields in order, each primitive aligned to its own size counted from the end of that header;
strings are a uint32 length (including the NUL) followed by the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_COUNTERS = struct.Struct("<III?")  # num_packets, lost_packets, lost_bytes, valid
_LITTLE_ENDIAN_CDR = (b"\x00\x01", b"\x00\x03")  # CDR_LE, PL_CDR_LE


@dataclass(frozen=True)
class RadarFrameView:
    """The fields of a RadarFrame message that frame assembly and alignment use."""

    frame_number: int
    trigger_index: int
    lost_bytes: int
    valid: bool
    sample_format: str
    data: memoryview


def _align(pos: int, size: int) -> int:
    # positions are absolute; alignment counts from byte 4 (after the encapsulation header)
    return pos + (-(pos - 4) % size)


def _string(buf: memoryview, pos: int) -> tuple[str, int]:
    pos = _align(pos, 4)
    (n,) = _U32.unpack_from(buf, pos)
    pos += 4
    if n == 0 or pos + n > len(buf):
        raise ValueError(f"RadarFrame: bad string length {n} at byte {pos - 4}")
    return bytes(buf[pos : pos + n - 1]).decode(), pos + n


def view_radar_frame(message: bytes | bytearray | memoryview) -> RadarFrameView:
    """Parse a CDR RadarFrame without copying its ``data``.

    Raises:
        ValueError: not a little-endian CDR RadarFrame of the recording format (message says why).
    """
    buf = memoryview(message).cast("B")
    if len(buf) < 8 or bytes(buf[:2]) not in _LITTLE_ENDIAN_CDR:
        raise ValueError("RadarFrame: not a little-endian CDR message")
    try:
        pos = 4 + 8  # header.stamp (int32 sec, uint32 nanosec)
        _, pos = _string(buf, pos)  # header.frame_id
        _, pos = _string(buf, pos)  # radar_id
        pos = _align(pos, 8)
        (frame_number,) = _U64.unpack_from(buf, pos)
        (trigger_index,) = _I64.unpack_from(buf, pos + 8)
        pos += 16 + 16  # device_stamp, host_stamp (int32 + uint32 each, already 4-aligned)
        pos += 8  # num_loops, num_chirps_per_loop, num_rx, num_samples (uint16)
        sample_format, pos = _string(buf, pos)
        pos = _align(pos, 4)
        _, _, lost_bytes, valid = _COUNTERS.unpack_from(buf, pos)
        pos = _align(pos + _COUNTERS.size, 4)
        (n,) = _U32.unpack_from(buf, pos)
    except struct.error as exc:
        raise ValueError(f"RadarFrame: message of {len(buf)} bytes is truncated") from exc
    pos += 4
    if pos + n > len(buf):
        raise ValueError(f"RadarFrame: data of {n} bytes runs past the {len(buf)}-byte message")
    return RadarFrameView(
        frame_number=int(frame_number),
        trigger_index=int(trigger_index),
        lost_bytes=int(lost_bytes),
        valid=bool(valid),
        sample_format=sample_format,
        data=buf[pos : pos + n],
    )
