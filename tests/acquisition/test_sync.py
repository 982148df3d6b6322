"""Trigger-index assignment: drops, extras, late start are counted, not hidden."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.sync import (
    NO_TRIGGER,
    OnlinePulseMatcher,
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


def test_online_matcher_agrees_with_offline() -> None:
    idx, times = pulses(50)
    rng = np.random.default_rng(3)
    frames = np.sort(times[rng.random(50) > 0.1] + rng.integers(1_000_000, 30_000_000, 1)[0])
    window = SyncWindow.for_period(PERIOD)
    offline = match_frames_to_pulses(frames, idx, times, window)
    online = OnlinePulseMatcher(window)
    got = []
    pending = list(frames)
    for i, t in zip(idx, times, strict=True):
        online.add_pulse(int(i), int(t))
        while pending and online.ready(int(pending[0])):
            got.append(online.match(int(pending.pop(0))))
    got += [online.match(int(f)) for f in pending]
    assert got == offline.trigger_index.tolist()
    with pytest.raises(ValueError, match="back in time"):
        online.add_pulse(999, 0)


def test_counter_aligner_survives_latency_jitter_and_detects_a_skipped_pulse() -> None:
    from acquisition.sync import CounterAligner

    idx, times = pulses(40, start=0)
    rng = np.random.default_rng(5)
    aligner = CounterAligner(PERIOD)
    for i, t in zip(idx, times, strict=True):
        aligner.add_pulse(int(i), int(t))
    got = []
    counter = 0
    for k in range(40):
        if k == 25:
            continue  # the device skipped pulse 25: counters go on without a gap
        # 5 ms typical latency with up to 40 ms of scheduling jitter now and then.
        latency = 5_000_000 + int(rng.integers(0, 40_000_000)) * (k % 7 == 3)
        got.append(aligner.assign(counter, int(times[k]) + latency))
        counter += 1
    expected = [k for k in range(40) if k != 25]
    assert got == expected
    assert aligner.resyncs == 1
    # A frame with no time (all its packets lost) still gets its pulse from the counter.
    assert aligner.assign(counter, None) == 40
