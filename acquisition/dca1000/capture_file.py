"""Decode recorded DCA1000 data: pcap / pcapng network captures and TI raw ``.bin`` files.

Network captures (e.g. ``tcpdump -i eth1 -w take.pcap udp dst port 4098``) keep every data
packet with its header, so the frames are rebuilt by the same ``FrameAssembler`` as live
reception, with the same loss accounting (a packet the capture missed is a lost packet).

Supported containers (own minimal readers, no dependency):

* classic pcap: both byte orders, microsecond and nanosecond timestamps;
* pcapng: Section Header, Interface Description (``if_tsresol``, ``if_tsoffset``), Enhanced
  Packet, Simple Packet (no timestamp: 0) and (obsolete) Packet blocks; others are skipped;
* link layers: Ethernet (with VLAN tags), Linux cooked v1/v2 (``tcpdump -i any``), raw IPv4,
  BSD loopback; IPv4 + UDP, datagrams filtered on the destination port (4098 by default).

A TI raw ``.bin`` (DCA1000 CLI / mmWave Studio) is the ADC byte stream without headers; TI's
tool has already zero-filled what it lost, so no loss can be detected, and packet counts, sequence
numbers and timestamps of its frames are unknown (0 / None). A partial last frame is reported
(``partial_frame_bytes``) and emitted zero-padded as an incomplete frame.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from acquisition.dca1000.assembly import SLOT_BYTES, FrameAssembler, FrameCallback, RawFrame
from acquisition.dca1000.protocol import (
    DATA_HEADER_BYTES,
    DATA_PORT,
    MAX_PAYLOAD_BYTES,
    pack_data_headers,
)

CaptureFormat = Literal["pcap", "pcapng", "bin"]
ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total) over all files

_PCAP_MAGICS: dict[bytes, tuple[str, int]] = {  # first 4 bytes -> (byte order, ns per unit)
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_MAX_RECORD_BYTES = 256 * 1024  # larger than any snap length tcpdump uses: garbage beyond

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276
_SUPPORTED_LINKTYPES = {
    LINKTYPE_NULL,
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    LINKTYPE_LOOP,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_IPV4,
    LINKTYPE_LINUX_SLL2,
}


class CaptureFileError(ValueError):
    """A capture that cannot be read; the message names the file and the byte offset."""

    def __init__(self, path: Path | str, reason: str, offset: int | None = None) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        where = f"{path}" if offset is None else f"{path} (byte {offset})"
        super().__init__(f"{where}: {reason}")


@dataclass
class CaptureReadStats:
    """What the container reader saw.

    Attributes:
        records: packet records in the files.
        datagrams: UDP datagrams to the data port handed to the assembler.
        other_packets: records that are not IPv4/UDP to the data port (ignored).
        snap_truncated: data-port datagrams cut by the capture's snap length (ignored, so their
            bytes count as lost; record with ``tcpdump -s 0``).
        fragments: IPv4 fragments (ignored; the card's datagrams are never fragmented).
        unsupported_linktypes: link types seen that the reader cannot parse.
        truncated: description of a capture cut mid-record (e.g. tcpdump killed), else None.
        partial_frame_bytes: ``.bin`` only: bytes of the incomplete last frame (0: none).
    """

    records: int = 0
    datagrams: int = 0
    other_packets: int = 0
    snap_truncated: int = 0
    fragments: int = 0
    unsupported_linktypes: list[int] = field(default_factory=list)
    truncated: str | None = None
    partial_frame_bytes: int = 0


def detect_format(path: Path | str) -> CaptureFormat:
    """``"pcap"``/``"pcapng"`` from the magic number, ``"bin"`` for a ``.bin`` file.

    Raises:
        CaptureFileError: neither (the message shows the first bytes).
    """
    path = Path(path)
    if path.suffix.lower() == ".bin":
        return "bin"
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CaptureFileError(path, f"cannot open: {exc.strerror or exc}") from exc
    if head in _PCAP_MAGICS:
        return "pcap"
    if head == _PCAPNG_SHB:
        return "pcapng"
    raise CaptureFileError(
        path,
        f"not a pcap or pcapng capture (starts with {head.hex() or 'nothing'}); TI raw ADC "
        "files must be named *.bin",
        0,
    )


# --- link / network layers ----------------------------------------------------------------------
def _udp_payload(
    buf: memoryview, start: int, caplen: int, origlen: int, linktype: int, port: int
) -> tuple[int, int] | str:
    """(offset, length) of the UDP payload for ``port``, or why the record is skipped:
    ``"other"``, ``"snap"`` (cut by the snap length) or ``"fragment"``."""
    end = start + caplen
    if linktype == LINKTYPE_ETHERNET:
        ip = start + 14
        if ip > end:
            return "other"
        (ethertype,) = struct.unpack_from(">H", buf, ip - 2)
        while ethertype in (0x8100, 0x88A8) and ip + 4 <= end:  # VLAN tags
            (ethertype,) = struct.unpack_from(">H", buf, ip + 2)
            ip += 4
        if ethertype != 0x0800:
            return "other"
    elif linktype == LINKTYPE_LINUX_SLL:
        if caplen < 16 or struct.unpack_from(">H", buf, start + 14)[0] != 0x0800:
            return "other"
        ip = start + 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if caplen < 20 or struct.unpack_from(">H", buf, start)[0] != 0x0800:
            return "other"
        ip = start + 20
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        ip = start
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if caplen < 4:
            return "other"
        family_le, family_be = struct.unpack_from("<I", buf, start)[0], buf[start + 3]
        if family_le != 2 and family_be != 2:  # AF_INET, in either byte order
            return "other"
        ip = start + 4
    else:
        return "other"
    if ip + 20 > end:
        return "snap" if origlen > caplen else "other"
    version_ihl, proto = buf[ip], buf[ip + 9]
    total_len, frag = struct.unpack_from(">HxxH", buf, ip + 2)
    if version_ihl >> 4 != 4 or proto != 17:
        return "other"
    ihl = (version_ihl & 0x0F) * 4
    udp = ip + ihl
    if udp + 8 > end:
        return "snap" if origlen > caplen else "other"
    dst_port, udp_len = struct.unpack_from(">HH", buf, udp + 2)
    if dst_port != port:
        return "other"
    if frag & 0x3FFF:  # more-fragments flag or a fragment offset
        return "fragment"
    size = min(udp_len, total_len - ihl) - 8
    if size < 0:
        return "other"
    if udp + 8 + size > end:
        return "snap"
    return udp + 8, size


# --- container readers --------------------------------------------------------------------------
@dataclass
class _Record:
    offset: int
    caplen: int
    origlen: int
    time_ns: int
    linktype: int


def _pcap_records(path: Path, buf: memoryview, stats: CaptureReadStats) -> Iterator[_Record]:
    size = len(buf)
    if size < 24:
        raise CaptureFileError(path, f"pcap file header needs 24 bytes, file has {size}", 0)
    order, ns_per_unit = _PCAP_MAGICS[bytes(buf[0:4])]
    (network,) = struct.unpack_from(order + "I", buf, 20)
    linktype = network & 0x0FFF_FFFF
    record = struct.Struct(order + "IIII")
    offset = 24
    while offset < size:
        if offset + 16 > size:
            stats.truncated = f"record header cut at byte {offset} of {size}"
            return
        ts_sec, ts_frac, caplen, origlen = record.unpack_from(buf, offset)
        if caplen > _MAX_RECORD_BYTES:
            raise CaptureFileError(
                path, f"record claims {caplen} captured bytes: not a valid pcap record", offset
            )
        if offset + 16 + caplen > size:
            stats.truncated = f"record at byte {offset} needs {caplen} bytes, file ends at {size}"
            return
        yield _Record(
            offset + 16, caplen, origlen, ts_sec * 1_000_000_000 + ts_frac * ns_per_unit, linktype
        )
        offset += 16 + caplen


def _tsresol_to_ns(units: int, tsresol: int) -> int:
    if tsresol & 0x80:
        return (units * 1_000_000_000) >> (tsresol & 0x7F)
    if tsresol <= 9:
        return units * int(10 ** (9 - tsresol))
    return units // int(10 ** (tsresol - 9))


def _pcapng_records(path: Path, buf: memoryview, stats: CaptureReadStats) -> Iterator[_Record]:
    size = len(buf)
    order = "<"
    interfaces: list[tuple[int, int, int, int]] = []  # (linktype, snaplen, tsresol, offset_s)
    offset = 0
    while offset < size:
        if offset + 12 > size:
            stats.truncated = f"block header cut at byte {offset} of {size}"
            return
        if bytes(buf[offset : offset + 4]) == _PCAPNG_SHB:
            magic = bytes(buf[offset + 8 : offset + 12])
            if magic == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise CaptureFileError(
                    path, "pcapng section header with a bad byte-order magic", offset
                )
            interfaces = []
        block_type, total = struct.unpack_from(order + "II", buf, offset)
        if total < 12 or total % 4:
            raise CaptureFileError(
                path, f"pcapng block of type 0x{block_type:X} has invalid length {total}", offset
            )
        if offset + total > size:
            stats.truncated = f"block at byte {offset} needs {total} bytes, file ends at {size}"
            return
        (trailer,) = struct.unpack_from(order + "I", buf, offset + total - 4)
        if trailer != total:
            raise CaptureFileError(
                path, f"pcapng block length {total} does not match its trailer {trailer}", offset
            )
        body = offset + 8
        if block_type == 1:  # Interface Description Block
            linktype, _, snaplen = struct.unpack_from(order + "HHI", buf, body)
            tsresol, ts_offset = 6, 0
            opt = body + 8
            while opt + 4 <= offset + total - 4:
                code, length = struct.unpack_from(order + "HH", buf, opt)
                if code == 0:
                    break
                if code == 9 and length >= 1:
                    tsresol = buf[opt + 4]
                elif code == 14 and length == 8:
                    (ts_offset,) = struct.unpack_from(order + "q", buf, opt + 4)
                opt += 4 + (length + 3) // 4 * 4
            interfaces.append((linktype, snaplen, tsresol, ts_offset))
        elif block_type in (6, 2):  # Enhanced Packet Block, obsolete Packet Block
            if block_type == 6:
                iface, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                    order + "IIIII", buf, body
                )
            else:
                iface, _, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                    order + "HHIIII", buf, body
                )
            if iface >= len(interfaces):
                raise CaptureFileError(
                    path, f"packet block refers to unknown interface {iface}", offset
                )
            if body + 20 + caplen > offset + total - 4:
                raise CaptureFileError(
                    path, f"packet block claims {caplen} bytes, more than the block holds", offset
                )
            linktype, _, tsresol, ts_offset = interfaces[iface]
            time_ns = _tsresol_to_ns((ts_hi << 32) | ts_lo, tsresol) + ts_offset * 1_000_000_000
            yield _Record(body + 20, caplen, origlen, time_ns, linktype)
        elif block_type == 3:  # Simple Packet Block: interface 0, no timestamp
            if not interfaces:
                raise CaptureFileError(path, "simple packet block before any interface", offset)
            (origlen,) = struct.unpack_from(order + "I", buf, body)
            linktype, snaplen, _, _ = interfaces[0]
            caplen = min(origlen, total - 16, snaplen or origlen)
            yield _Record(body + 4, caplen, origlen, 0, linktype)
        offset += total


# --- decoding -----------------------------------------------------------------------------------
@dataclass
class CaptureSummary:
    """Result of ``decode_capture``: the files, the reader's and the assembler's counters."""

    files: list[str]
    format: CaptureFormat
    bytes_per_frame: int
    port: int
    read: CaptureReadStats
    packets: int = 0
    payload_bytes: int = 0
    lost_packets: int = 0
    lost_bytes: int = 0
    out_of_order: int = 0
    late_dropped: int = 0
    duplicates: int = 0
    malformed: int = 0
    rejected: int = 0
    frames_complete: int = 0
    frames_incomplete: int = 0


class _Batcher:
    """Collects datagrams into the slot layout of the live receiver and feeds the assembler."""

    def __init__(self, assembler: FrameAssembler, batch: int = 1024) -> None:
        self.assembler = assembler
        self.slots = np.zeros((batch, SLOT_BYTES), dtype=np.uint8)
        self.flat = self.slots.reshape(-1).data  # writable memoryview, no copy
        self.lengths = np.zeros(batch, dtype=np.int64)
        self.times = np.zeros(batch, dtype=np.int64)
        self.n = 0

    def add(self, buf: memoryview, offset: int, size: int, time_ns: int) -> None:
        i = self.n
        size = min(size, SLOT_BYTES)  # an oversized datagram fills its slot: counted malformed
        base = i * SLOT_BYTES
        self.flat[base : base + size] = buf[offset : offset + size]
        self.lengths[i] = size
        self.times[i] = time_ns
        self.n += 1
        if self.n == len(self.lengths):
            self.feed()

    def feed(self) -> None:
        n = self.n
        if n:
            times = self.times[:n].copy()
            self.assembler.add_datagrams(self.slots[:n], self.lengths[:n].copy(), times, times)
            self.n = 0


def _open_map(path: Path) -> tuple[mmap.mmap | None, memoryview]:
    try:
        with path.open("rb") as f:
            if path.stat().st_size == 0:
                return None, memoryview(b"")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise CaptureFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    return mm, memoryview(mm)


def decode_capture(
    paths: Sequence[Path | str],
    bytes_per_frame: int,
    on_frame: FrameCallback,
    *,
    port: int = DATA_PORT,
    expected_frames: int | None = None,
    ring_frames: int = 3,
    strict: bool = False,
    progress: ProgressCallback | None = None,
) -> CaptureSummary:
    """Rebuild the frames of a recording from capture files (in the given order).

    Args:
        paths: one or more files of one format (``tcpdump -C`` pieces, ``_Raw_0.bin``,
            ``_Raw_1.bin``, ...), read as one stream.
        bytes_per_frame: raw bytes per frame (``RadarParams.bytes_per_frame``).
        on_frame: receives every frame, in order (0, 1, 2, ...).
        port: UDP destination port of the data packets (pcap/pcapng).
        expected_frames: frames the recording should have; missing trailing frames are
            emitted as lost.
        ring_frames: late-packet window, as for live reception.
        strict: raise on a file cut mid-record instead of decoding what is complete.
        progress: called now and then with (bytes read, total bytes).

    Raises:
        CaptureFileError: unreadable, mixed-format or malformed files (names the file).
    """
    files = [Path(p) for p in paths]
    if not files:
        raise ValueError("no capture files given")
    formats = {detect_format(p) for p in files}
    if len(formats) > 1:
        raise CaptureFileError(files[0], f"files of different formats given: {sorted(formats)}")
    fmt = formats.pop()
    stats = CaptureReadStats()
    callback = on_frame
    if fmt == "bin":

        def callback(frame: RawFrame) -> None:
            # Synthetic packets carry no information: clear what would be made up.
            on_frame(
                replace(
                    frame,
                    packets=0,
                    first_seq=None,
                    first_rx_mono_ns=None,
                    last_rx_mono_ns=None,
                    first_rx_wall_ns=None,
                    last_rx_wall_ns=None,
                )
            )

    assembler = FrameAssembler(bytes_per_frame, callback, ring_frames=ring_frames)
    total = sum(p.stat().st_size for p in files if p.exists())
    done_before = 0
    for path in files:
        if fmt == "bin":
            _feed_bin(path, assembler, stats, done_before, total, progress)
        else:
            _feed_capture(path, fmt, assembler, stats, port, done_before, total, progress)
        if stats.truncated is not None and strict:
            raise CaptureFileError(path, f"capture is truncated: {stats.truncated}")
        done_before += path.stat().st_size
    if fmt == "bin":
        stats.partial_frame_bytes = assembler.stream_bytes % bytes_per_frame
    assembler.flush(expected_frames)
    if progress is not None:
        progress(total, total)
    a = assembler.stats
    return CaptureSummary(
        files=[str(p) for p in files],
        format=fmt,
        bytes_per_frame=bytes_per_frame,
        port=port,
        read=stats,
        packets=a.packets,
        payload_bytes=a.payload_bytes,
        lost_packets=a.lost_packets,
        lost_bytes=a.lost_bytes,
        out_of_order=a.out_of_order,
        late_dropped=a.late_dropped,
        duplicates=a.duplicates,
        malformed=a.malformed,
        rejected=a.rejected,
        frames_complete=a.frames_complete,
        frames_incomplete=a.frames_incomplete,
    )


def _feed_capture(
    path: Path,
    fmt: CaptureFormat,
    assembler: FrameAssembler,
    stats: CaptureReadStats,
    port: int,
    done_before: int,
    total: int,
    progress: ProgressCallback | None,
) -> None:
    mm, buf = _open_map(path)
    batcher = _Batcher(assembler)
    try:
        if len(buf) == 0:
            raise CaptureFileError(path, "file is empty")
        records = _pcap_records if fmt == "pcap" else _pcapng_records
        for count, rec in enumerate(records(path, buf, stats)):
            stats.records += 1
            if rec.linktype not in _SUPPORTED_LINKTYPES:
                if rec.linktype not in stats.unsupported_linktypes:
                    stats.unsupported_linktypes.append(rec.linktype)
                stats.other_packets += 1
                continue
            where = _udp_payload(buf, rec.offset, rec.caplen, rec.origlen, rec.linktype, port)
            if isinstance(where, str):
                if where == "snap":
                    stats.snap_truncated += 1
                elif where == "fragment":
                    stats.fragments += 1
                else:
                    stats.other_packets += 1
                continue
            stats.datagrams += 1
            batcher.add(buf, where[0], where[1], rec.time_ns)
            if progress is not None and count % 65536 == 0:
                progress(done_before + rec.offset, total)
        batcher.feed()
    finally:
        buf.release()
        if mm is not None:
            with contextlib.suppress(BufferError):
                mm.close()
    if stats.records == 0 and stats.truncated is None:
        raise CaptureFileError(path, "capture holds no packets")


def _feed_bin(
    path: Path,
    assembler: FrameAssembler,
    stats: CaptureReadStats,
    done_before: int,
    total: int,
    progress: ProgressCallback | None,
) -> None:
    """Feed a raw ADC stream as synthetic full-size packets (sequence and byte counts exact)."""
    per_block = 1024
    payload = MAX_PAYLOAD_BYTES
    slots = np.zeros((per_block, SLOT_BYTES), dtype=np.uint8)
    zeros = np.zeros(per_block, dtype=np.int64)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise CaptureFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    with f:
        done = 0
        while True:
            chunk = f.read(per_block * payload)
            if not chunk:
                break
            data: NDArray[np.uint8] = np.frombuffer(chunk, dtype=np.uint8)
            n = -(-len(data) // payload)
            sizes = np.full(n, payload, dtype=np.int64)
            sizes[-1] = len(data) - payload * (n - 1)
            first_byte = assembler.stream_bytes
            seqs = stats.datagrams + 1 + np.arange(n)
            counts = first_byte + np.arange(n, dtype=np.int64) * payload
            slots[:n, :DATA_HEADER_BYTES] = pack_data_headers(seqs, counts)
            full = n - 1
            body = slots[:full, DATA_HEADER_BYTES : DATA_HEADER_BYTES + payload]
            body[:] = data[: full * payload].reshape(full, payload)
            slots[full, DATA_HEADER_BYTES : DATA_HEADER_BYTES + sizes[-1]] = data[full * payload :]
            assembler.add_datagrams(slots[:n], sizes + DATA_HEADER_BYTES, zeros[:n], zeros[:n])
            stats.datagrams += n
            done += len(chunk)
            if progress is not None:
                progress(done_before + done, total)
