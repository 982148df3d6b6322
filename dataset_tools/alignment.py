"""Put every stream of a take on one time axis: one frame per trigger pulse.

Frame ``i`` of a sequence is trigger pulse ``first + i``. A stream's frame goes to the frame of
its trigger index (recorded by the acquisition's counter alignment). Frames without a trigger
index (``-1``: a free-running device, or the recorder could not match it) fall back to time: the
nearest pulse within ``tolerance_ns`` of the frame's timestamp, else they are dropped and counted.
A take with no pulse at all (no trigger board) uses a reference radar's frames as the axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from dataset_tools.take_index import StreamRows, TakeIndex


@dataclass(frozen=True)
class AlignmentConfig:
    """How streams are matched to the trigger axis.

    Attributes:
        tolerance_ns: largest |frame time - pulse time| accepted by the time fallback.
        reference_radar: radar whose frames define the axis when a take has no pulses
            (default: the first radar by name).
    """

    tolerance_ns: int = 20_000_000
    reference_radar: str | None = None


@dataclass
class Timeline:
    """The frame axis of a sequence.

    Attributes:
        trigger_index: (F,) int64 pulse of each frame (-1 for a time-only axis).
        stamp_ns: (F,) int64 pulse time (interpolated where the pulse report was lost).
        method: ``"trigger"`` or ``"timestamps:<radar>"``.
        interpolated: pulses whose time was interpolated (report lost).
    """

    trigger_index: NDArray[np.int64]
    stamp_ns: NDArray[np.int64]
    method: str
    interpolated: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.trigger_index.shape[0])


@dataclass
class StreamAlignment:
    """Where each frame of a stream went.

    Attributes:
        frame_of_row: (M,) int64 sequence frame of each stream row, -1 when dropped.
        row_of_frame: (F,) int64 stream row of each sequence frame, -1 when none.
        by_trigger, by_time: rows placed by trigger index / by the time fallback.
        dropped: reason -> rows dropped (``no_pulse_within_tolerance``, ``duplicate``,
            ``outside_axis``).
    """

    frame_of_row: NDArray[np.int64]
    row_of_frame: NDArray[np.int64]
    by_trigger: int = 0
    by_time: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "frames": int((self.row_of_frame >= 0).sum()),
            "by_trigger": self.by_trigger,
            "by_time": self.by_time,
            "dropped": dict(self.dropped),
        }


def build_timeline(index: TakeIndex, config: AlignmentConfig) -> Timeline:
    """The frame axis: every pulse from the first to the last one any stream saw."""
    known = [index.pulse_index]
    for rows in (*index.radars.values(), *index.cameras.values()):
        known.append(rows.trigger_index[rows.trigger_index >= 0])
    indexes = np.concatenate(known) if known else np.zeros(0, np.int64)
    if index.pulse_index.size and indexes.size:
        first, last = int(indexes.min()), int(indexes.max())
        trig = np.arange(first, last + 1, dtype=np.int64)
        stamps = np.full(trig.shape, -1, dtype=np.int64)
        stamps[index.pulse_index - first] = index.pulse_stamp_ns
        have = stamps >= 0
        interpolated = int((~have).sum())
        if interpolated and have.sum() >= 2:
            # lost pulse reports: the pulse happened (streams carry its index); its time is
            # interpolated (extrapolated at the ends) from the trigger clock's neighbours
            fit = np.polyfit(trig[have].astype(np.float64), stamps[have].astype(np.float64), 1)
            stamps[~have] = np.round(np.polyval(fit, trig[~have])).astype(np.int64)
        return Timeline(trig, stamps, "trigger", interpolated)
    if not index.radars:
        return Timeline(np.zeros(0, np.int64), np.zeros(0, np.int64), "empty")
    ref = config.reference_radar or sorted(index.radars)[0]
    if ref not in index.radars:
        raise ValueError(f"reference radar {ref!r} not in take (have {sorted(index.radars)})")
    stamps = np.unique(index.radars[ref].stamp_ns)
    return Timeline(np.full(stamps.shape, -1, np.int64), stamps, f"timestamps:{ref}")


def align_stream(rows: StreamRows, timeline: Timeline, config: AlignmentConfig) -> StreamAlignment:
    """Place the rows of one stream on the timeline (trigger index first, then time)."""
    n_rows, n_frames = len(rows), timeline.num_frames
    frame_of_row = np.full(n_rows, -1, dtype=np.int64)
    dropped: dict[str, int] = {}
    by_trigger = by_time = 0
    if timeline.method == "trigger" and n_frames:
        first = int(timeline.trigger_index[0])
        has_trigger = rows.trigger_index >= 0
        target = rows.trigger_index - first
        inside = has_trigger & (target >= 0) & (target < n_frames)
        frame_of_row[inside] = target[inside]
        by_trigger = int(inside.sum())
        outside = int((has_trigger & ~inside).sum())
        if outside:
            dropped["outside_axis"] = outside
        fallback = ~has_trigger
    else:
        fallback = np.ones(n_rows, dtype=bool)
    if fallback.any() and n_frames:
        stamps = timeline.stamp_ns
        order = np.argsort(stamps)
        sorted_stamps = stamps[order]
        t = rows.stamp_ns[fallback]
        pos = np.clip(np.searchsorted(sorted_stamps, t), 1, max(1, n_frames - 1))
        left = sorted_stamps[np.maximum(pos - 1, 0)]
        right = sorted_stamps[np.minimum(pos, n_frames - 1)]
        nearest = np.where(np.abs(t - left) <= np.abs(right - t), pos - 1, pos)
        nearest = np.clip(nearest, 0, n_frames - 1)
        ok = np.abs(sorted_stamps[nearest] - t) <= config.tolerance_ns
        placed = np.where(ok, order[nearest], -1)
        frame_of_row[fallback] = placed
        by_time = int(ok.sum())
        missed = int((~ok).sum())
        if missed:
            dropped["no_pulse_within_tolerance"] = missed
    elif fallback.any():
        dropped["outside_axis"] = dropped.get("outside_axis", 0) + int(fallback.sum())
    # one row per frame: a second row for the same frame (device resync) is dropped
    row_of_frame = np.full(n_frames, -1, dtype=np.int64)
    duplicates = 0
    for r in np.nonzero(frame_of_row >= 0)[0]:
        f = int(frame_of_row[r])
        if row_of_frame[f] >= 0:
            frame_of_row[r] = -1
            duplicates += 1
        else:
            row_of_frame[f] = r
    if duplicates:
        dropped["duplicate"] = duplicates
        by_time = min(by_time, int((frame_of_row >= 0).sum()))
    return StreamAlignment(frame_of_row, row_of_frame, by_trigger, by_time, dropped)
