"""Trigger alignment of one sensor stream inside a node, and its counters (no ROS imports).

A sensor node learns the pulses from the trigger node's ``TriggerPulse`` messages and its frames
from its device. Both carry host wall-clock times taken on this host (the trigger node's report
receive time, the first UDP packet / camera frame reception), so the same machinery as the
plain-Python recorder applies unchanged: :class:`acquisition.recorder.PulseTimeline` (the trigger
clock model: board time -> host time of the edge) and :class:`acquisition.sync.CounterAligner`
(device frame counter + time vote). Only the clock differs: wall instead of monotonic, because
two processes share the wall clock but a message carries no monotonic stamp. Nodes on several
hosts therefore need synchronised clocks (chrony / PTP).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from acquisition.recorder import PulseTimeline
from acquisition.sync import NO_TRIGGER, CounterAligner
from acquisition.trigger.driver import PulseRecord


class CausalCounterAligner(CounterAligner):
    """:class:`acquisition.sync.CounterAligner` as the nodes configure it: ``resync`` names its
    ``detect_skips`` (off for emulated rigs, whose timing follows the host's load) and skips
    need ``confirm`` following frames (default 3)."""

    def __init__(self, *args: Any, confirm: int = 3, resync: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, confirm=confirm, detect_skips=resync, **kwargs)

    @property
    def resync(self) -> bool:
        return self.detect_skips


class PulseBook:
    """The pulses a node has heard of, with edge estimates on the host wall clock."""

    def __init__(self) -> None:
        self.timeline = PulseTimeline()
        self.lock = threading.Lock()
        self.last_index: int | None = None
        self.gaps = 0
        self.board_us_to_index: dict[int, int] = {}
        self._board_us: dict[int, int] = {}
        self._aligners: list[CounterAligner] = []

    def attach(self, aligner: CounterAligner) -> None:
        with self.lock:
            self._aligners.append(aligner)

    def add(self, index: int, board_time_us: int, host_receive_wall_ns: int) -> int | None:
        """Record a pulse message; returns its edge (wall ns), None for a duplicate or a pulse
        older than the last one (messages are not reordered by a reliable topic, but a
        restarted trigger node starts again from 0)."""
        with self.lock:
            if self.last_index is not None and index <= self.last_index:
                return None
            if self.last_index is not None and index > self.last_index + 1:
                self.gaps += index - self.last_index - 1
            self.last_index = index
            self.board_us_to_index[board_time_us] = index
            self._board_us[index] = board_time_us
            for aligner in self._aligners:
                aligner.add_pulse(index)
        record = PulseRecord(index, board_time_us, host_receive_wall_ns, host_receive_wall_ns)
        return self.timeline.add(record)

    def edge_of(self, index: int) -> int | None:
        return self.timeline.edge_of(index)

    def board_us_of(self, index: int) -> int | None:
        """Board time (us) of a pulse, None when unknown."""
        with self.lock:
            return self._board_us.get(index)


@dataclass
class AlignedStream:
    """One stream's aligner, fed from a device thread; see :class:`CounterAligner`."""

    name: str
    book: PulseBook
    period_ns: int
    warmup: int = 5
    wait_for_pulse_s: float = 1.0
    confirm: int = 3
    resync: bool = True
    aligner: CounterAligner = field(init=False)

    def __post_init__(self) -> None:
        self.aligner = CausalCounterAligner(
            self.period_ns,
            self.book.edge_of,
            warmup=self.warmup,
            confirm=self.confirm,
            resync=self.resync,
        )
        self.book.attach(self.aligner)

    def push(self, counter: int, time_ns: int | None, payload: Any) -> list[tuple[Any, int]]:
        """Add a frame (device counter, host wall time of reception); returns the decided
        ``(payload, trigger_index)`` pairs. Waits (bounded) for the frame's pulse first."""
        if time_ns is not None:
            deadline = time.monotonic() + self.wait_for_pulse_s
            while time.monotonic() < deadline:
                with self.book.lock:
                    if self.aligner.ready(time_ns):
                        break
                time.sleep(0.005)
        with self.book.lock:
            return self.aligner.push(counter, time_ns, payload)

    def flush(self) -> list[tuple[Any, int]]:
        with self.book.lock:
            return self.aligner.flush()

    def stamp_of(self, trigger: int, fallback_ns: int) -> int:
        """Header stamp of a frame: the edge of its pulse (wall ns), else ``fallback_ns``."""
        if trigger == NO_TRIGGER:
            return fallback_ns
        edge = self.book.edge_of(trigger)
        return edge if edge is not None else fallback_ns


class RateMeter:
    """Events per second over a sliding window (seconds, monotonic clock)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        self._times.append(t)
        while self._times and t - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        t = time.monotonic() if now is None else now
        while self._times and t - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = max(t - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0


@dataclass
class StreamCounters:
    """What one published stream delivered and lost (the numbers of its diagnostics)."""

    frames: int = 0
    invalid_frames: int = 0
    lost_packets: int = 0
    lost_bytes: int = 0
    unmatched_frames: int = 0
    sync_mismatches: int = 0
    meter: RateMeter = field(default_factory=RateMeter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(
        self, *, valid: bool = True, lost_packets: int = 0, lost_bytes: int = 0, trigger: int = 0
    ) -> None:
        with self.lock:
            self.frames += 1
            self.invalid_frames += 0 if valid else 1
            self.lost_packets += lost_packets
            self.lost_bytes += lost_bytes
            self.unmatched_frames += 1 if trigger == NO_TRIGGER else 0
            self.meter.tick()

    def values(self) -> dict[str, str]:
        with self.lock:
            return {
                "frames": str(self.frames),
                "rate_hz": f"{self.meter.rate():.2f}",
                "invalid_frames": str(self.invalid_frames),
                "lost_packets": str(self.lost_packets),
                "lost_bytes": str(self.lost_bytes),
                "unmatched_frames": str(self.unmatched_frames),
                "sync_mismatches": str(self.sync_mismatches),
            }


OK, WARN, ERROR, STALE = 0, 1, 2, 3


def stream_level(counters: StreamCounters, expected_hz: float, running: bool) -> tuple[int, str]:
    """Diagnostic level and message of a stream: ERROR when a running stream delivers under
    half the trigger rate, WARN when frames arrive incomplete or unmatched, else OK."""
    with counters.lock:
        rate = counters.meter.rate()
        invalid, unmatched, frames = (
            counters.invalid_frames,
            counters.unmatched_frames,
            counters.frames,
        )
    if running and frames and rate < 0.5 * expected_hz:
        return ERROR, f"{rate:.1f} Hz, expected {expected_hz:.1f} Hz"
    if invalid or unmatched:
        return WARN, f"{rate:.1f} Hz; {invalid} incomplete, {unmatched} unmatched frames"
    return OK, f"{rate:.1f} Hz"
