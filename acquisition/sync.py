"""Assign trigger pulse indexes to sensor frames.

Every sensor of a rig is triggered by the same microcontroller pulse; a frame belongs to the pulse
that started it. The host learns the pulses from the trigger board's reports (board time mapped to
host time by :class:`~acquisition.trigger.clock.TriggerClock`) and the frames from each device, with
a device-specific latency: a radar's first UDP packet arrives a few milliseconds after the edge, a
camera frame after exposure and read-out. A frame is matched to the last pulse before
``frame_time - min_latency`` if it lies within ``max_latency`` of it; each pulse takes at most one
frame per stream.

What cannot be matched is counted, never hidden:

* ``missed_pulses``: pulses inside a stream's active span that got no frame (a dropped frame);
* ``late_start_pulses`` / ``early_stop_pulses``: pulses before a stream's first frame / after its
  last (a sensor that started late or stopped early);
* ``extra_frames``: frames with no pulse (an untriggered or duplicated frame).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

NO_TRIGGER = -1


@dataclass(frozen=True)
class SyncWindow:
    """Latency window of one stream, nanoseconds after the trigger edge."""

    min_latency_ns: int
    max_latency_ns: int

    @classmethod
    def for_period(cls, period_ns: int, *, min_latency_ns: int = 0) -> SyncWindow:
        """Accept frames up to 90 % of a trigger period after their pulse."""
        return cls(min_latency_ns, min_latency_ns + int(0.9 * period_ns))


@dataclass
class MatchResult:
    """Outcome of matching one stream's frames to the pulses.

    Attributes:
        trigger_index: (F,) int64 pulse index per frame, ``NO_TRIGGER`` when unmatched.
        latency_ns: (F,) int64 frame time minus pulse time; 0 for unmatched frames.
    """

    trigger_index: NDArray[np.int64]
    latency_ns: NDArray[np.int64]
    missed_pulses: list[int] = field(default_factory=list)
    late_start_pulses: int = 0
    early_stop_pulses: int = 0
    extra_frames: int = 0

    def summary(self) -> dict[str, int | float]:
        matched = self.trigger_index >= 0
        return {
            "frames": int(self.trigger_index.size),
            "matched_frames": int(matched.sum()),
            "extra_frames": self.extra_frames,
            "missed_pulses": len(self.missed_pulses),
            "late_start_pulses": self.late_start_pulses,
            "early_stop_pulses": self.early_stop_pulses,
            "median_latency_ms": float(np.median(self.latency_ns[matched]) / 1e6)
            if matched.any()
            else float("nan"),
        }


def match_frames_to_pulses(
    frame_times_ns: NDArray[np.int64],
    pulse_indexes: NDArray[np.int64],
    pulse_times_ns: NDArray[np.int64],
    window: SyncWindow,
) -> MatchResult:
    """Match frames to pulses (both sorted by time).

    Args:
        frame_times_ns: (F,) host time of each frame (first packet / reception), ascending.
        pulse_indexes: (P,) pulse counters, ascending.
        pulse_times_ns: (P,) host time of each pulse edge, ascending.
        window: accepted latency after the edge.

    Returns:
        A :class:`MatchResult`; when two frames fall on one pulse the one with the shorter
        latency keeps it and the other counts as an extra frame.
    """
    frames = np.asarray(frame_times_ns, dtype=np.int64)
    pulses = np.asarray(pulse_times_ns, dtype=np.int64)
    indexes = np.asarray(pulse_indexes, dtype=np.int64)
    if pulses.size != indexes.size:
        raise ValueError("pulse_indexes and pulse_times_ns must have the same length")
    # Last pulse at or before (frame - min latency).
    pos = np.searchsorted(pulses, frames - window.min_latency_ns, side="right") - 1
    trigger = np.full(frames.shape, NO_TRIGGER, dtype=np.int64)
    latency = np.zeros(frames.shape, dtype=np.int64)
    ok = pos >= 0
    lat = np.where(ok, frames - pulses[np.clip(pos, 0, None)], 0)
    ok &= lat <= window.max_latency_ns
    trigger[ok] = indexes[pos[ok]]
    latency[ok] = lat[ok]
    # One frame per pulse: keep the earliest-latency frame of each pulse.
    matched = np.flatnonzero(ok)
    if matched.size:
        order = matched[np.lexsort((latency[matched], trigger[matched]))]
        dup = np.zeros(order.size, dtype=bool)
        dup[1:] = trigger[order[1:]] == trigger[order[:-1]]
        trigger[order[dup]] = NO_TRIGGER
        latency[order[dup]] = 0
    extra = int((trigger == NO_TRIGGER).sum())
    result = MatchResult(trigger, latency, extra_frames=extra)
    got = trigger[trigger >= 0]
    if got.size == 0:
        result.late_start_pulses = int(indexes.size)
        return result
    first, last = int(got.min()), int(got.max())
    seen = set(got.tolist())
    result.missed_pulses = [int(i) for i in indexes if first <= i <= last and int(i) not in seen]
    result.late_start_pulses = int((indexes < first).sum())
    result.early_stop_pulses = int((indexes > last).sum())
    return result


class OnlinePulseMatcher:
    """Live version of :func:`match_frames_to_pulses` for one stream.

    Pulses arrive over USB and may be reported after the frames they triggered, so frames wait
    until a pulse later than them is known (or :meth:`drain` at the end of the take).
    """

    def __init__(self, window: SyncWindow) -> None:
        self.window = window
        self._pulse_times: list[int] = []
        self._pulse_indexes: list[int] = []
        self._taken: set[int] = set()

    def add_pulse(self, index: int, time_ns: int) -> None:
        if self._pulse_times and time_ns < self._pulse_times[-1]:
            raise ValueError(f"pulse {index} goes back in time")
        self._pulse_times.append(time_ns)
        self._pulse_indexes.append(index)

    def ready(self, frame_time_ns: int) -> bool:
        """True once pulses up to the frame's time are known (no later report can change it)."""
        return bool(self._pulse_times) and self._pulse_times[-1] >= (
            frame_time_ns - self.window.min_latency_ns
        )

    def match(self, frame_time_ns: int) -> int:
        """Pulse index of a frame, or ``NO_TRIGGER``; each pulse is given out once."""
        pos = bisect.bisect_right(self._pulse_times, frame_time_ns - self.window.min_latency_ns) - 1
        if pos < 0:
            return NO_TRIGGER
        if frame_time_ns - self._pulse_times[pos] > self.window.max_latency_ns:
            return NO_TRIGGER
        index = self._pulse_indexes[pos]
        if index in self._taken:
            return NO_TRIGGER
        self._taken.add(index)
        return index


class CounterAligner:
    """Pulse index of frames that carry a device frame counter (radar byte-count frames, camera
    frame counters), robust to timing jitter.

    The counter is exact where host timing is not: once one frame is matched to a pulse by time,
    ``trigger = counter + offset`` for the frames that follow. Timing is still checked for every
    frame: when a frame's latency after its counter-predicted pulse departs from the typical
    latency by more than half a period (the device skipped a pulse, or was restarted), the frame
    is matched by time again and the offset is updated (counted in ``resyncs``).
    """

    def __init__(self, period_ns: int, window: SyncWindow | None = None) -> None:
        self.period_ns = period_ns
        self.matcher = OnlinePulseMatcher(window or SyncWindow.for_period(period_ns))
        self._pulse_time: dict[int, int] = {}
        self.offset: int | None = None
        self._latencies: list[int] = []
        self.resyncs = 0

    def add_pulse(self, index: int, time_ns: int) -> None:
        self.matcher.add_pulse(index, time_ns)
        self._pulse_time[index] = time_ns

    def ready(self, frame_time_ns: int) -> bool:
        return self.matcher.ready(frame_time_ns)

    def _typical_latency(self) -> int | None:
        if not self._latencies:
            return None
        recent = sorted(self._latencies[-50:])
        return recent[len(recent) // 2]

    def assign(self, counter: int, frame_time_ns: int | None) -> int:
        """Pulse index of the frame with device counter ``counter`` received at
        ``frame_time_ns`` (None when the frame has no time, e.g. all its packets were lost)."""
        if frame_time_ns is None:
            return counter + self.offset if self.offset is not None else NO_TRIGGER
        typical = self._typical_latency()
        if self.offset is not None and typical is not None:
            candidate = counter + self.offset
            edge = self._pulse_time.get(candidate)
            if edge is not None and abs(frame_time_ns - edge - typical) < self.period_ns // 2:
                self._latencies.append(frame_time_ns - edge)
                self.matcher._taken.add(candidate)
                return candidate
            self.resyncs += 1
        index = self.matcher.match(frame_time_ns)
        if index != NO_TRIGGER:
            self.offset = index - counter
            self._latencies.append(frame_time_ns - self._pulse_time[index])
        return index
