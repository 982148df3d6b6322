"""Trigger-index assignment: drops, extras, late start are counted, not hidden."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.sync import (
    NO_TRIGGER,
    CounterAligner,
    SyncWindow,
    match_frames_to_pulses,
)

PERIOD = 100_000_000


def pulses(n: int, start: int = 7) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(start, start + n, dtype=np.int64)
    rng = np.random.default_rng(0)
    times = 5_000_000_000 + np.arange(n, dtype=np.int64) * PERIOD + rng.integers(-50_000, 50_000, n)
    return idx, times


def test_every_frame_matched_with_latency() -> None:
    idx, times = pulses(20)
    frames = times + 3_000_000  # 3 ms after each edge
    r = match_frames_to_pulses(frames, idx, times, SyncWindow.for_period(PERIOD))
    assert r.trigger_index.tolist() == idx.tolist()
    assert r.summary()["median_latency_ms"] == pytest.approx(3.0)
    assert (r.missed_pulses, r.extra_frames, r.late_start_pulses) == ([], 0, 0)


def test_dropped_extra_and_late_frames_are_counted() -> None:
    idx, times = pulses(30)
    keep = np.ones(30, dtype=bool)
    keep[:4] = False  # sensor started late: first 4 pulses have no frame
    keep[10] = False  # one dropped frame
    keep[-2:] = False  # stopped early
    frames = times[keep] + 40_000_000
    # A duplicated frame 5 ms after the one of pulse 15 and an untriggered frame before any pulse.
    frames = np.sort(np.concatenate([frames, [times[15] + 45_000_000, times[0] - 10_000_000]]))
    r = match_frames_to_pulses(frames, idx, times, SyncWindow.for_period(PERIOD))
    assert r.missed_pulses == [int(idx[10])]
    assert r.late_start_pulses == 4
    assert r.early_stop_pulses == 2
    assert r.extra_frames == 2
    matched = r.trigger_index[r.trigger_index != NO_TRIGGER]
    assert len(set(matched.tolist())) == matched.size == 30 - 4 - 1 - 2


def test_frames_outside_the_window_are_not_forced_onto_a_pulse() -> None:
    idx, times = pulses(5)
    window = SyncWindow(min_latency_ns=1_000_000, max_latency_ns=20_000_000)
    frames = np.array([times[0] + 2_000_000, times[1] + 60_000_000, times[2] + 500_000])
    r = match_frames_to_pulses(frames, idx, times, window)
    assert r.trigger_index.tolist() == [idx[0], NO_TRIGGER, NO_TRIGGER]


def _aligner(times: np.ndarray, idx: np.ndarray) -> CounterAligner:
    edges = dict(zip(idx.tolist(), times.tolist(), strict=True))
    aligner = CounterAligner(PERIOD, edges.get)
    for i in idx:
        aligner.add_pulse(int(i))
    return aligner


def test_counter_aligner_survives_jitter_and_detects_a_skipped_pulse() -> None:
    idx, times = pulses(40, start=0)
    aligner = _aligner(times, idx)
    rng = np.random.default_rng(5)
    decided: list[tuple[object, int]] = []
    counter = 0
    for k in range(40):
        if k == 25:
            continue  # the device skipped pulse 25: its counter goes on without a gap
        latency = 5_000_000
        if k in (3, 10):
            latency += 150_000_000  # host jitter pushes a frame past the next edge
        latency += int(rng.integers(0, 2_000_000))
        decided += aligner.push(counter, int(times[k]) + latency, payload=k)
        counter += 1
    decided += aligner.push(counter, None, payload=40)  # all packets lost: no time
    decided += aligner.flush()
    assert [trigger for _, trigger in decided] == [k for k, _ in decided]
    assert [k for k, _ in decided] == [k for k in range(41) if k != 25]
    assert (aligner.resyncs, aligner.jitter_outliers) == (1, 2)


def test_counter_aligner_warm_up_votes_past_a_late_first_frame() -> None:
    idx, times = pulses(20, start=3)
    aligner = _aligner(times, idx)
    decided: list[tuple[object, int]] = []
    for k in range(20):
        late = 120_000_000 if k == 0 else 0  # the very first frame arrives late
        decided += aligner.push(100 + k, int(times[k]) + 4_000_000 + late, payload=int(idx[k]))
    decided += aligner.flush()
    assert [t for _, t in decided] == [p for p, _ in decided]
    with pytest.raises(ValueError, match="not after"):
        aligner.add_pulse(3)


def test_late_warm_up_frames_do_not_shift_the_offset() -> None:
    idx, times = pulses(30, start=0)
    aligner = _aligner(times, idx)
    decided: list[tuple[object, int]] = []
    for k in range(30):
        # Most of the warm-up arrives 1.3 periods late (a loaded host), then frames come fast:
        # the vote by time alone would put every frame one pulse late.
        latency = 130_000_000 if k < 3 else 3_000_000
        decided += aligner.push(k, int(times[k]) + latency, payload=k)
    decided += aligner.flush()
    assert [t for _, t in decided] == [k for k, _ in decided]
    assert aligner.resyncs == 0


def test_an_offset_voted_too_high_is_lowered_by_the_first_early_frame() -> None:
    idx, times = pulses(30, start=0)
    aligner = _aligner(times, idx)
    decided: list[tuple[object, int]] = []
    for k in range(30):
        latency = 130_000_000 if k < 12 else 3_000_000  # the whole warm-up was late
        decided += aligner.push(k, int(times[k]) + latency, payload=k)
    decided += aligner.flush()
    # The late warm-up could not be told from a one-pulse offset; the first fast frame proves
    # the offset wrong and every frame from there on is right again.
    assert [t for k, t in decided if isinstance(k, int) and k >= 12] == list(range(12, 30))
    assert aligner.causal_corrections == 1


def test_a_burst_of_late_frames_is_jitter_unless_it_persists() -> None:
    idx, times = pulses(30, start=0)
    for detect in (True, False):
        edges = dict(zip(idx.tolist(), times.tolist(), strict=True))
        aligner = CounterAligner(PERIOD, edges.get, detect_skips=detect)
        for i in idx:
            aligner.add_pulse(int(i))
        decided: list[tuple[object, int]] = []
        for k in range(30):
            latency = 4_000_000 + (100_000_000 if k in (12, 13) else 0)  # two late frames
            decided += aligner.push(k, int(times[k]) + latency, payload=k)
        decided += aligner.flush()
        assert [t for _, t in decided] == list(range(30))
        assert aligner.resyncs == 0 and aligner.jitter_outliers == 2
