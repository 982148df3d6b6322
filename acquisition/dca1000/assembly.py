"""DCA1000 frame assembly: whole frames from data packets (sequence number, byte count, payload).

The live ``DCA1000Receiver`` (``receiver.py``) and the capture-file decoder (``capture_file.py``)
both feed ``FrameAssembler``, so a recording decoded from a pcap has exactly the same frames and
loss accounting as live reception.

Placement follows the byte counts only: a payload with byte count ``b`` lands at stream offset
``b``, i.e. frame ``b // bytes_per_frame`` at offset ``b % bytes_per_frame`` (a packet may straddle
two frames). Loss handling follows TI's tool: bytes never received are zero-filled and reported
per frame (``RawFrame.lost_bytes`` and ``lost_ranges``); a late packet is written back into place
while its frame is still open (the last ``ring_frames`` frames); duplicates are dropped and
counted. Every frame from 0 to the end of the stream is emitted, in order, exactly once: a frame
whose packets were all lost comes out zero-filled with ``lost_bytes == bytes_per_frame``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from acquisition.dca1000.protocol import (
    DATA_HEADER_BYTES,
    unpack_data_headers,
)

log = logging.getLogger(__name__)

# Slot per datagram in the receive buffer: > 1466 bytes so that an oversized (truncated) datagram
# is recognisable by filling the slot completely; a multiple of 64 keeps rows cache-aligned.
SLOT_BYTES = 1536
_MAX_MISSING_RUNS = 4096


@dataclass(frozen=True)
class RawFrame:
    """One radar frame of raw ADC bytes, assembled from data packets.

    Attributes:
        index: frame number from the byte counts (0 = first frame after record start).
        data: ``bytes_per_frame`` raw little-endian int16 bytes; lost bytes are zero.
        lost_bytes: bytes of this frame never received (zero-filled).
        lost_ranges: ``(start, stop)`` byte offsets inside the frame that were lost, ascending.
        packets: data packets that contributed bytes to this frame (a straddling packet counts
            in both frames).
        first_seq: sequence number of the first packet placed in this frame (None: no packet).
        first_rx_mono_ns / last_rx_mono_ns: host receive time of the earliest / latest of those
            packets, ``time.monotonic_ns`` clock (None: no packet). From a capture file: the
            capture timestamps (UNIX epoch ns), the same as the wall fields.
        first_rx_wall_ns / last_rx_wall_ns: the same instants on the ``time.time_ns`` clock.
    """

    index: int
    data: bytes
    lost_bytes: int
    lost_ranges: tuple[tuple[int, int], ...]
    packets: int
    first_seq: int | None
    first_rx_mono_ns: int | None
    last_rx_mono_ns: int | None
    first_rx_wall_ns: int | None
    last_rx_wall_ns: int | None

    @property
    def valid(self) -> bool:
        """True when every byte of the frame was received."""
        return self.lost_bytes == 0

    @property
    def received_bytes(self) -> int:
        return len(self.data) - self.lost_bytes

    def samples(self) -> NDArray[np.int16]:
        """(bytes_per_frame // 2,) int16 view of ``data`` (read-only, no copy)."""
        return np.frombuffer(self.data, dtype="<i2")

    def valid_mask(self) -> NDArray[np.bool_]:
        """(bytes_per_frame,) bool: True where the byte was received."""
        mask = np.ones(len(self.data), dtype=np.bool_)
        for start, stop in self.lost_ranges:
            mask[start:stop] = False
        return mask


@dataclass
class AssemblyStats:
    """Counters of one frame assembler (receiver or capture decoder).

    Attributes:
        packets: datagrams with a readable header (duplicates included).
        payload_bytes: payload bytes of those datagrams.
        lost_packets: sequence numbers never received (gaps in the sequence, minus late
            arrivals).
        lost_bytes: bytes zero-filled in the frames emitted so far.
        out_of_order: packets that arrived after a higher sequence number (late packets).
        late_dropped: late packets whose frame was already emitted (their bytes stay lost).
        duplicates: packets whose sequence number was already received (ignored).
        malformed: datagrams too short for a header, without payload, or oversized.
        rejected: packets whose byte count contradicts the stream (overlapping new data, or a
            jump of more than ``max_gap_frames`` frames); ignored.
        frames_complete / frames_incomplete: frames emitted without / with lost bytes.
    """

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

    @property
    def frames(self) -> int:
        return self.frames_complete + self.frames_incomplete


@dataclass
class _FrameMeta:
    packets: int = 0
    first_seq: int | None = None
    first_mono: int | None = None
    last_mono: int | None = None
    first_wall: int | None = None
    last_wall: int | None = None

    def add(self, count: int, seq: int, t0m: int, t1m: int, t0w: int, t1w: int) -> None:
        self.packets += count
        if self.first_mono is None or t0m < self.first_mono:
            self.first_mono, self.first_wall = t0m, t0w
            self.first_seq = seq if self.first_seq is None else min(self.first_seq, seq)
        elif self.first_seq is None or seq < self.first_seq:
            self.first_seq = seq
        if self.last_mono is None or t1m > self.last_mono:
            self.last_mono, self.last_wall = t1m, t1w


FrameCallback = Callable[[RawFrame], None]


class FrameAssembler:
    """Places data packets into frames by byte count; emits ``RawFrame``s in order.

    Feed whole batches with ``add_datagrams`` (the fast path: headers parsed with numpy, in-order
    runs copied with one numpy copy) or single packets with ``add_packet``; call ``flush`` at the
    end. Frames go to ``on_frame`` (called synchronously from the feeding thread).

    Args:
        bytes_per_frame: raw bytes per radar frame (``RadarParams.bytes_per_frame``).
        on_frame: receives each emitted frame.
        ring_frames: frames kept open for late packets. A complete frame is emitted at once; a
            frame with lost bytes waits until the stream reaches ``ring_frames`` frames past it
            (or ``flush``). Raised internally when tiny frames need more to hold one packet.
        max_gap_frames: a packet whose byte count jumps more than this many frames ahead is
            rejected rather than zero-filling everything in between (guards corrupt headers).
    """

    def __init__(
        self,
        bytes_per_frame: int,
        on_frame: FrameCallback,
        *,
        ring_frames: int = 3,
        max_gap_frames: int = 10_000,
    ) -> None:
        if bytes_per_frame <= 0:
            raise ValueError(f"bytes_per_frame must be positive, got {bytes_per_frame}")
        if ring_frames < 2:
            raise ValueError(f"ring_frames must be >= 2, got {ring_frames}")
        self.bytes_per_frame = bytes_per_frame
        # One packet may span ceil(payload / frame) + 1 frames; all of them must be open at once.
        self.ring_frames = max(ring_frames, 2 + math.ceil(SLOT_BYTES / bytes_per_frame))
        self.max_gap_frames = max_gap_frames
        self._on_frame = on_frame
        self._ring_bytes = self.ring_frames * bytes_per_frame
        self._ring = np.zeros(self._ring_bytes, dtype=np.uint8)
        self._first_open = 0  # oldest frame not yet emitted
        self._high_water = 0  # stream offset just past the newest in-order packet
        self._max_seq = 0
        self._gaps: list[list[int]] = []  # lost stream byte ranges [start, stop), ascending
        self._missing: list[list[int]] = []  # missing sequence-number runs [lo, hi), ascending
        self._meta: dict[int, _FrameMeta] = {}
        self.stats = AssemblyStats()
        self._flushed = False

    # --- public -------------------------------------------------------------------------------
    @property
    def next_frame(self) -> int:
        """Index of the next frame to be emitted."""
        return self._first_open

    @property
    def stream_bytes(self) -> int:
        """Stream offset reached so far (payload bytes sent by the card, received or lost)."""
        return self._high_water

    def add_datagrams(
        self,
        slots: NDArray[np.uint8],
        lengths: NDArray[np.int64],
        rx_mono_ns: NDArray[np.int64],
        rx_wall_ns: NDArray[np.int64],
    ) -> None:
        """Place a batch of datagrams, in arrival order.

        Args:
            slots: (n, stride) uint8; row i holds datagram i from column 0 (header + payload).
            lengths: (n,) datagram sizes in bytes; a size equal to ``stride`` is treated as
                truncated (malformed).
            rx_mono_ns / rx_wall_ns: (n,) receive times (monotonic / wall clock), ns.
        """
        if self._flushed:
            raise RuntimeError("FrameAssembler already flushed")
        n = len(lengths)
        if n == 0:
            return
        stride = slots.shape[1]
        good = (lengths > DATA_HEADER_BYTES) & (lengths < stride)
        if not good.all():
            self.stats.malformed += int(n - np.count_nonzero(good))
            keep = np.flatnonzero(good)
            slots, lengths = slots[keep], lengths[keep]
            rx_mono_ns, rx_wall_ns = rx_mono_ns[keep], rx_wall_ns[keep]
            n = len(keep)
            if n == 0:
                return
        seqs, counts = unpack_data_headers(slots)
        sizes = lengths.astype(np.int64) - DATA_HEADER_BYTES
        starts = counts.astype(np.int64)
        ends = starts + sizes
        self.stats.packets += n
        self.stats.payload_bytes += int(sizes.sum())
        # Runs of packets that continue their predecessor exactly (next seq, next byte).
        continues = (seqs[1:].astype(np.int64) == seqs[:-1].astype(np.int64) + 1) & (
            starts[1:] == ends[:-1]
        )
        run_starts = [0, *(np.flatnonzero(~continues) + 1).tolist(), n]
        for a, b in itertools.pairwise(run_starts):
            seq_a, start_a = int(seqs[a]), int(starts[a])
            if not (seq_a == self._max_seq + 1 and start_a == self._high_water):
                self._place_one(
                    seq_a,
                    start_a,
                    slots[a, DATA_HEADER_BYTES : DATA_HEADER_BYTES + int(sizes[a])],
                    int(rx_mono_ns[a]),
                    int(rx_wall_ns[a]),
                )
                if self._max_seq != seq_a or self._high_water != int(ends[a]):
                    # The head was late, duplicate or rejected: its run is not in stream order.
                    for i in range(a + 1, b):
                        self._place_one(
                            int(seqs[i]),
                            int(starts[i]),
                            slots[i, DATA_HEADER_BYTES : DATA_HEADER_BYTES + int(sizes[i])],
                            int(rx_mono_ns[i]),
                            int(rx_wall_ns[i]),
                        )
                    continue
                a += 1
                if a == b:
                    continue
            self._place_run(
                slots[a:b],
                seqs[a:b],
                starts[a:b],
                sizes[a:b],
                rx_mono_ns[a:b],
                rx_wall_ns[a:b],
            )
        self._emit_ready()

    def add_packet(
        self,
        datagram: bytes | bytearray | memoryview,
        rx_mono_ns: int = 0,
        rx_wall_ns: int = 0,
    ) -> None:
        """Place one datagram (header + payload). Convenience for tests and slow sources."""
        size = len(datagram)
        stride = max(size + 1, DATA_HEADER_BYTES + 1)
        slot = np.zeros((1, stride), dtype=np.uint8)
        slot[0, :size] = np.frombuffer(datagram, dtype=np.uint8)
        self.add_datagrams(
            slot,
            np.array([size], dtype=np.int64),
            np.array([rx_mono_ns], dtype=np.int64),
            np.array([rx_wall_ns], dtype=np.int64),
        )

    def flush(self, expected_frames: int | None = None) -> None:
        """Emit every open frame (frames without all their bytes come out incomplete).

        Args:
            expected_frames: frames the recording is known to have (e.g. ``frameCfg``'s count);
                frames past the last received byte up to it are emitted as wholly lost.
        """
        if self._flushed:
            return
        end = self._high_water
        if expected_frames is not None:
            end = max(end, expected_frames * self.bytes_per_frame)
        while self._first_open * self.bytes_per_frame < end:
            self._emit(self._first_open, end_of_stream=True)
        self._flushed = True

    # --- placement ----------------------------------------------------------------------------
    def _place_run(
        self,
        rows: NDArray[np.uint8],
        seqs: NDArray[np.uint32],
        starts: NDArray[np.int64],
        sizes: NDArray[np.int64],
        mono: NDArray[np.int64],
        wall: NDArray[np.int64],
    ) -> None:
        """Place packets that continue the stream exactly, in order."""
        # A chunk may span at most ring_frames frames, or it would overwrite its own start.
        chunk = max(1, (self.ring_frames - 2) * self.bytes_per_frame // int(sizes.max()))
        for a in range(0, len(sizes), chunk):
            b = a + chunk
            self._place_chunk(rows[a:b], seqs[a:b], starts[a:b], sizes[a:b], mono[a:b], wall[a:b])
            self._emit_ready()

    def _place_chunk(
        self,
        rows: NDArray[np.uint8],
        seqs: NDArray[np.uint32],
        starts: NDArray[np.int64],
        sizes: NDArray[np.int64],
        mono: NDArray[np.int64],
        wall: NDArray[np.int64],
    ) -> None:
        bpf = self.bytes_per_frame
        first, end = int(starts[0]), int(starts[-1] + sizes[-1])
        last_frame = (end - 1) // bpf
        self._make_room(last_frame)
        m = len(sizes)
        size0 = int(sizes[0])
        # All but the last packet the same size (the normal case): copy the run as 2-D blocks.
        if m > 1 and bool((sizes[:-1] == size0).all()):
            self._write_rows(first, rows[: m - 1, DATA_HEADER_BYTES : DATA_HEADER_BYTES + size0])
            last = rows[m - 1, DATA_HEADER_BYTES : DATA_HEADER_BYTES + int(sizes[-1])]
            self._write(int(starts[-1]), last)
        else:
            for i in range(m):
                self._write(
                    int(starts[i]), rows[i, DATA_HEADER_BYTES : DATA_HEADER_BYTES + int(sizes[i])]
                )
        # Per-frame bookkeeping: only the few frames this run touches are visited.
        first_frames = starts // bpf
        last_frames = (starts + sizes - 1) // bpf
        for frame in range(first // bpf, last_frame + 1):
            lo = int(np.searchsorted(last_frames, frame, side="left"))
            hi = int(np.searchsorted(first_frames, frame, side="right")) - 1
            meta = self._meta.setdefault(frame, _FrameMeta())
            meta.add(
                hi - lo + 1,
                int(seqs[lo]),
                int(mono[lo]),
                int(mono[hi]),
                int(wall[lo]),
                int(wall[hi]),
            )
        self._max_seq = int(seqs[-1])
        self._high_water = end

    def _place_one(
        self, seq: int, start: int, payload: NDArray[np.uint8], mono: int, wall: int
    ) -> None:
        """Place one packet that may be ahead of the stream (gap), late, or a duplicate."""
        bpf = self.bytes_per_frame
        end = start + len(payload)
        if seq > self._max_seq:
            if start < self._high_water:
                self.stats.rejected += 1  # new sequence number but old bytes: not trustworthy
                return
            last_frame = (end - 1) // bpf
            if last_frame - self._first_open > self.max_gap_frames:
                self.stats.rejected += 1
                return
            if seq > self._max_seq + 1:
                self._missing.append([self._max_seq + 1, seq])
                if len(self._missing) > _MAX_MISSING_RUNS:
                    del self._missing[0]
                self.stats.lost_packets += seq - self._max_seq - 1
            if start > self._high_water:
                self._gaps.append([self._high_water, start])
                self._high_water = start
            self._make_room(last_frame)
            self._write(start, payload)
            self._note(seq, start, end, mono, wall)
            self._max_seq = seq
            self._high_water = end
            return
        if not self._take_missing(seq):
            self.stats.duplicates += 1
            return
        self.stats.lost_packets -= 1
        self.stats.out_of_order += 1
        open_start = self._first_open * bpf
        if end > self._high_water:
            self.stats.rejected += 1  # a late packet must lie inside the stream seen so far
            return
        if end <= open_start:
            self.stats.late_dropped += 1
            return
        lo = max(start, open_start)
        self._write(lo, payload[lo - start :])
        self._fill_gap(lo, end)
        self._note(seq, lo, end, mono, wall)

    def _take_missing(self, seq: int) -> bool:
        """Remove ``seq`` from the missing runs; False when it was not missing."""
        for i, (lo, hi) in enumerate(self._missing):
            if lo <= seq < hi:
                pieces = [r for r in ([lo, seq], [seq + 1, hi]) if r[0] < r[1]]
                self._missing[i : i + 1] = pieces
                return True
        return False

    def _fill_gap(self, start: int, stop: int) -> None:
        """Remove [start, stop) from the lost ranges (a late packet arrived)."""
        out: list[list[int]] = []
        for g0, g1 in self._gaps:
            if g1 <= start or g0 >= stop:
                out.append([g0, g1])
                continue
            if g0 < start:
                out.append([g0, start])
            if g1 > stop:
                out.append([stop, g1])
        self._gaps = out

    def _note(self, seq: int, start: int, end: int, mono: int, wall: int) -> None:
        bpf = self.bytes_per_frame
        for frame in range(start // bpf, (end - 1) // bpf + 1):
            self._meta.setdefault(frame, _FrameMeta()).add(1, seq, mono, mono, wall, wall)

    def _write(self, start: int, payload: NDArray[np.uint8]) -> None:
        """Copy stream bytes [start, start + len) into the ring (wrapping at its end)."""
        size = len(payload)
        offset = start % self._ring_bytes
        first = min(size, self._ring_bytes - offset)
        self._ring[offset : offset + first] = payload[:first]
        if first < size:
            self._ring[: size - first] = payload[first:]

    def _write_rows(self, start: int, rows: NDArray[np.uint8]) -> None:
        """Copy (m, p) equally sized consecutive payloads starting at stream offset ``start``."""
        m, p = rows.shape
        offset = start % self._ring_bytes
        fit = min(m, (self._ring_bytes - offset) // p)  # rows that fit before the ring wraps
        if fit:
            self._ring[offset : offset + fit * p].reshape(fit, p)[:] = rows[:fit]
        if fit < m:
            self._write(start + fit * p, rows[fit])
            rest = m - fit - 1
            if rest:
                offset = (start + (fit + 1) * p) % self._ring_bytes
                self._ring[offset : offset + rest * p].reshape(rest, p)[:] = rows[fit + 1 :]

    # --- emission -----------------------------------------------------------------------------
    def _make_room(self, last_frame: int) -> None:
        """Emit the oldest frames (complete or not) so that ``last_frame`` has a ring slot."""
        while last_frame - self._first_open >= self.ring_frames:
            self._emit(self._first_open)

    def _emit_ready(self) -> None:
        """Emit leading frames that are complete (nothing late can change them)."""
        bpf = self.bytes_per_frame
        while True:
            stop = (self._first_open + 1) * bpf
            if stop > self._high_water or (self._gaps and self._gaps[0][0] < stop):
                return
            self._emit(self._first_open)

    def _emit(self, index: int, *, end_of_stream: bool = False) -> None:
        bpf = self.bytes_per_frame
        start, stop = index * bpf, (index + 1) * bpf
        lost: list[tuple[int, int]] = []
        keep: list[list[int]] = []
        for g0, g1 in self._gaps:
            if g0 < stop and g1 > start:
                lost.append((max(g0, start) - start, min(g1, stop) - start))
            if g1 > stop:
                keep.append([max(g0, stop), g1])
        self._gaps = keep
        tail = max(self._high_water, start)
        if tail < stop:  # only at the end of the stream (flush) or after a jump
            if lost and lost[-1][1] == tail - start:
                lost[-1] = (lost[-1][0], bpf)
            else:
                lost.append((tail - start, bpf))
        offset = start % self._ring_bytes
        slot = self._ring[offset : offset + bpf]
        for a, b in lost:
            slot[a:b] = 0  # stale bytes of the frame that used this ring slot before
        lost_bytes = sum(b - a for a, b in lost)
        meta = self._meta.pop(index, None) or _FrameMeta()
        frame = RawFrame(
            index=index,
            data=slot.tobytes(),
            lost_bytes=lost_bytes,
            lost_ranges=tuple(lost),
            packets=meta.packets,
            first_seq=meta.first_seq,
            first_rx_mono_ns=meta.first_mono,
            last_rx_mono_ns=meta.last_mono,
            first_rx_wall_ns=meta.first_wall,
            last_rx_wall_ns=meta.last_wall,
        )
        self._first_open = index + 1
        if end_of_stream and self._high_water < stop:
            self._high_water = stop
        if lost_bytes:
            self.stats.frames_incomplete += 1
            self.stats.lost_bytes += lost_bytes
        else:
            self.stats.frames_complete += 1
        self._on_frame(frame)
