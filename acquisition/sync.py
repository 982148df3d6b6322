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

:func:`match_frames_to_pulses` matches by time alone (offline, for streams without a frame
counter); :class:`CounterAligner` combines time with a device frame counter, live.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
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


def pulse_coverage(matched: Iterable[int], pulses: Sequence[int]) -> dict[str, int]:
    """How a stream's matched pulse indexes cover the take's pulses.

    Returns ``matched_frames``, ``missed_pulses`` (pulses between the stream's first and last
    matched pulse without a frame), ``late_start_pulses`` and ``early_stop_pulses`` (pulses before
    its first / after its last frame; all pulses count as a late start when nothing matched).
    """
    got = set(matched)
    if not got:
        return {
            "matched_frames": 0,
            "missed_pulses": 0,
            "late_start_pulses": len(pulses),
            "early_stop_pulses": 0,
        }
    first, last = min(got), max(got)
    return {
        "matched_frames": len(got),
        "missed_pulses": sum(1 for i in pulses if first <= i <= last and i not in got),
        "late_start_pulses": sum(1 for i in pulses if i < first),
        "early_stop_pulses": sum(1 for i in pulses if i > last),
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


@dataclass
class _Pending:
    counter: int
    time_ns: int | None
    payload: object


EdgeLookup = Callable[[int], int | None]


class CounterAligner:
    """Pulse index of frames that carry a device frame counter (radar byte-count frames, camera
    frame counters), robust to host timing jitter of up to a whole trigger period.

    The counter is exact where host reception times are not; only the offset
    ``trigger - counter`` has to be found, from timing:

    * warm-up: each of the first ``warmup`` timed frames is matched to the last pulse edge before
      it (edges come from ``edge_of``, so they improve as the trigger clock model learns); a
      late frame can only land on a later pulse, never an earlier one, so the smallest offset
      wins (minimum latency). Causality backs it up: whenever a frame would precede the edge of
      the pulse it is given, the offset is lowered (``causal_corrections``);
    * afterwards, with ``detect_skips``, a frame late by ``m > 0`` whole periods (within a
      quarter period) whose next ``confirm`` frames are late by the same ``m`` means the device
      skipped ``m`` pulses: the offset moves (``resyncs``). Anything else is host jitter and the
      counter is kept (``jitter_outliers``). Frames are therefore decided ``confirm`` frames
      late: :meth:`push` returns the frames it could decide, :meth:`flush` the rest.

    Turn ``detect_skips`` off for emulated devices, which never skip a pulse once started but
    whose timing follows the host's load (a late start is still found by the warm-up).

    Args:
        period_ns: trigger period.
        edge_of: host time of a pulse's edge (None when unknown), evaluated when deciding.
        window: latency window for the time matches of the warm-up.
        warmup: frames voting for the first offset.
        confirm: following frames that must agree before a skip is accepted.
        detect_skips: whether the offset may move after the warm-up.
    """

    def __init__(
        self,
        period_ns: int,
        edge_of: EdgeLookup,
        *,
        window: SyncWindow | None = None,
        warmup: int = 10,
        confirm: int = 3,
        detect_skips: bool = True,
    ) -> None:
        self.period_ns = period_ns
        self.edge_of = edge_of
        self.window = window or SyncWindow.for_period(period_ns)
        self.warmup = warmup
        self.confirm = max(1, confirm)
        self.detect_skips = detect_skips
        self._pulses: list[int] = []
        self.offset: int | None = None
        self._latencies: list[int] = []
        self._pending: list[_Pending] = []
        self.resyncs = 0
        self.jitter_outliers = 0
        self.causal_corrections = 0

    def add_pulse(self, index: int) -> None:
        if self._pulses and index <= self._pulses[-1]:
            raise ValueError(f"pulse {index} is not after pulse {self._pulses[-1]}")
        self._pulses.append(index)

    def ready(self, frame_time_ns: int) -> bool:
        """True once a pulse at or after the frame's time is known (no later report changes
        the frame's match)."""
        if not self._pulses:
            return False
        edge = self.edge_of(self._pulses[-1])
        return edge is not None and edge >= frame_time_ns - self.window.min_latency_ns

    # --- warm-up --------------------------------------------------------------------------------
    def _match_by_time(self, time_ns: int) -> int:
        edges = [(self.edge_of(i), i) for i in self._pulses[-200:]]
        known = [(e, i) for e, i in edges if e is not None]
        times = [e for e, _ in known]
        pos = bisect.bisect_right(times, time_ns - self.window.min_latency_ns) - 1
        if pos < 0 or time_ns - times[pos] > self.window.max_latency_ns:
            return NO_TRIGGER
        return known[pos][1]

    def _precedes_its_pulse(self, frame: _Pending, offset: int) -> bool:
        # Edge estimates carry the trigger report's minimum latency as a bias (the clock model
        # follows the fastest reports): allow a quarter period before calling a frame early.
        edge = self.edge_of(frame.counter + offset)
        return (
            edge is not None
            and frame.time_ns is not None
            and frame.time_ns < edge - self.period_ns // 4
        )

    def _choose_offset(self) -> None:
        # Latency is never negative, so each timed frame's time match can only put it on its
        # own pulse or a later one: the smallest offset seen is the best estimate, exact as soon
        # as one warm-up frame arrived within a period of its pulse. Matching allows a quarter
        # period before the edge estimate, which carries the trigger reports' minimum latency.
        timed = [f for f in self._pending if f.time_ns is not None and self.ready(f.time_ns)]
        if not timed:  # end of a take without a later pulse: use what there is
            timed = [f for f in self._pending if f.time_ns is not None]
        offsets = []
        for frame in timed:
            assert frame.time_ns is not None
            index = self._match_by_time(frame.time_ns + self.period_ns // 4)
            if index != NO_TRIGGER:
                offsets.append(index - frame.counter)
        if not offsets:
            return
        offset = min(offsets)
        for _ in range(len(self._pulses) + 1):
            if not any(self._precedes_its_pulse(f, offset) for f in timed):
                break
            offset -= 1
            self.causal_corrections += 1
        self.offset = offset
        # Seed the typical latency with the warm-up frames (the median is robust to late ones).
        for frame in timed:
            edge = self.edge_of(frame.counter + offset)
            if frame.time_ns is not None and edge is not None:
                self._latencies.append(frame.time_ns - edge)

    # --- deciding ---------------------------------------------------------------------------
    def _typical_latency(self) -> int | None:
        if not self._latencies:
            return None
        recent = sorted(self._latencies[-50:])
        return recent[len(recent) // 2]

    def _deviation(self, frame: _Pending) -> int | None:
        if self.offset is None or frame.time_ns is None:
            return None
        edge = self.edge_of(frame.counter + self.offset)
        if edge is None:
            return None
        typical = self._typical_latency()
        return frame.time_ns - edge - (typical if typical is not None else 0)

    def _skip(self, frame: _Pending) -> int | None:
        """Whole periods a frame is off its predicted pulse (0: on time; None: unknown)."""
        deviation = self._deviation(frame)
        if deviation is None:
            return None
        if self._typical_latency() is None or abs(deviation) < self.period_ns // 2:
            return 0
        return round(deviation / self.period_ns)

    def _late_by(self, frame: _Pending, m: int) -> bool:
        deviation = self._deviation(frame)
        return (
            self._skip(frame) == m
            and deviation is not None
            and abs(deviation - m * self.period_ns) < self.period_ns // 4
        )

    def _decide(self, frame: _Pending, ahead: list[_Pending]) -> int:
        if self.offset is None:
            return NO_TRIGGER
        # Causality, again: a frame that would come before its pulse means the offset is too
        # high (it was voted while the host delayed every frame by more than a period).
        while self._precedes_its_pulse(frame, self.offset):
            self.offset -= 1
            self.causal_corrections += 1
            self._latencies.clear()
        m = self._skip(frame)
        if m and m > 0 and self.detect_skips and self._late_by(frame, m):
            # Near the end of a take fewer frames follow; a skip needs at least one witness.
            if ahead and all(self._late_by(f, m) for f in ahead):
                self.offset += m
                self.resyncs += 1
                m = 0
            else:
                self.jitter_outliers += 1
        elif m:
            self.jitter_outliers += 1
        index = frame.counter + self.offset
        edge = self.edge_of(index)
        if edge is not None and frame.time_ns is not None and m == 0:
            self._latencies.append(frame.time_ns - edge)
        return index

    def _drain(self, keep: int, *, final: bool = False) -> list[tuple[object, int]]:
        decided: list[tuple[object, int]] = []
        while len(self._pending) > keep:
            frame = self._pending[0]
            if not final and frame.time_ns is not None and not self.ready(frame.time_ns):
                break  # its pulse report may still be on the way
            self._pending.pop(0)
            decided.append((frame.payload, self._decide(frame, self._pending[: self.confirm])))
        return decided

    def push(
        self, counter: int, time_ns: int | None, payload: object = None
    ) -> list[tuple[object, int]]:
        """Add a frame; returns ``(payload, trigger_index)`` for the frames now decided.

        Never blocks: a frame is decided once ``confirm`` frames follow it and the pulse reports
        up to its time have arrived (see :meth:`ready`).
        """
        self._pending.append(_Pending(counter, time_ns, payload))
        if self.offset is None:
            ready = [f for f in self._pending if f.time_ns is not None and self.ready(f.time_ns)]
            if len(ready) < self.warmup:
                return []
            self._choose_offset()
        return self._drain(keep=self.confirm)

    def flush(self) -> list[tuple[object, int]]:
        """Decide every frame still held (end of the take)."""
        if self.offset is None:
            self._choose_offset()
        return self._drain(keep=0, final=True)
