"""TriggerClock on synthetic (board, host) pairs with a known offset, drift and latency."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.trigger import ClockNotReady, TriggerClock

HOST0_NS = 1_234_567_890_123
LATENCY_FLOOR_US = 180.0


def synthetic(
    n: int,
    *,
    drift_ppm: float,
    board0_us: int,
    period_s: float = 0.1,
    seed: int = 1,
    bits: int = 64,
) -> tuple[list[int], list[int], list[int]]:
    """Board times (wrapped to ``bits``), host receive times, true host edge times."""
    rng = np.random.default_rng(seed)
    host_edge_us = np.arange(n) * period_s * 1e6
    board = [board0_us + int(t * (1 + drift_ppm * 1e-6)) for t in host_edge_us]
    # One-sided latency: a floor, exponential USB/OS jitter, and 5 % of long scheduler stalls.
    latency = LATENCY_FLOOR_US + rng.exponential(400.0, n)
    latency += np.where(rng.random(n) < 0.05, rng.uniform(2_000, 30_000, n), 0.0)
    truth = [HOST0_NS + int(t * 1000) for t in host_edge_us]
    received = [h + int(lat * 1000) for h, lat in zip(truth, latency, strict=True)]
    return [b % (1 << bits) for b in board], received, truth


def test_recovers_drift_and_maps_edges() -> None:
    board, received, truth = synthetic(600, drift_ppm=50.0, board0_us=987_654_321)
    clock = TriggerClock()
    for b, h in zip(board, received, strict=True):
        clock.add(b, h)
    fit = clock.fit()
    assert fit.samples == 600
    assert fit.span_s == pytest.approx(59.9, abs=0.01)
    assert fit.drift_ppm == pytest.approx(50.0, abs=2.0)
    # Residuals describe the latency above the envelope: heavy here, and reported.
    assert 300.0 < fit.residual_rms_us < 10_000.0
    assert fit.residual_max_us > 2_000.0
    # Mapped edges land on the true edge plus the latency floor, within a few microseconds,
    # although single receive times are up to 30 ms late.
    errors_us = [
        (clock.to_host_ns(b) - t) / 1000.0 - LATENCY_FLOOR_US
        for b, t in zip(board, truth, strict=True)
    ]
    assert max(abs(e) for e in errors_us) < 25.0
    # A known latency floor can be taken out.
    floor_aware = TriggerClock(fixed_latency_us=LATENCY_FLOOR_US)
    for b, h in zip(board, received, strict=True):
        floor_aware.add(b, h)
    assert abs(floor_aware.to_host_ns(board[300]) - truth[300]) < 25_000


def test_least_squares_would_be_worse() -> None:
    # Why the envelope: a plain fit absorbs the mean latency and the stalls.
    board, received, _ = synthetic(600, drift_ppm=50.0, board0_us=0)
    x = np.array(board, dtype=np.float64)
    y = (np.array(received, dtype=np.float64) - HOST0_NS) / 1000.0 - x
    slope = np.polyfit(x, y, 1)[0]
    ls_ppm = (1.0 / (1.0 + slope) - 1.0) * 1e6
    clock = TriggerClock()
    for b, h in zip(board, received, strict=True):
        clock.add(b, h)
    assert abs(clock.fit().drift_ppm - 50.0) < abs(ls_ppm - 50.0)


def test_32_bit_board_clock_wraps() -> None:
    # Start 20 s before the 32-bit microsecond counter wraps (every 71.6 minutes).
    board, received, truth = synthetic(
        400, drift_ppm=-30.0, board0_us=(1 << 32) - 20_000_000, bits=32
    )
    assert board[-1] < board[0]  # wrapped inside the window
    clock = TriggerClock(board_time_bits=32)
    for b, h in zip(board, received, strict=True):
        clock.add(b, h)
    fit = clock.fit()
    assert clock.resets == 0
    assert fit.drift_ppm == pytest.approx(-30.0, abs=3.0)
    assert fit.span_s == pytest.approx(39.9, abs=0.01)
    for i in (0, 150, 399):
        assert abs((clock.to_host_ns(board[i]) - truth[i]) / 1000.0 - LATENCY_FLOOR_US) < 25.0


def test_window_follows_a_drift_change() -> None:
    clock = TriggerClock(window=200)
    board, received, _ = synthetic(300, drift_ppm=10.0, board0_us=0)
    for b, h in zip(board, received, strict=True):
        clock.add(b, h)
    # Continue from the last point with a board now 80 ppm fast (it warmed up).
    later, later_rx, _ = synthetic(300, drift_ppm=80.0, board0_us=board[-1] + 100_000, seed=2)
    for b, h in zip(later, later_rx, strict=True):
        clock.add(b, h + (received[-1] - HOST0_NS) + 100_000_000)
    assert clock.fit().samples == 200
    assert clock.fit().drift_ppm == pytest.approx(80.0, abs=3.0)


def test_board_reset_restarts_the_window() -> None:
    clock = TriggerClock()
    clock.add(50_000_000, HOST0_NS)
    clock.add(50_100_000, HOST0_NS + 100_000_000)
    clock.add(1_000, HOST0_NS + 200_000_000)  # the board rebooted
    assert clock.resets == 1
    assert clock.samples == 1


def test_not_ready_and_single_sample() -> None:
    clock = TriggerClock()
    with pytest.raises(ClockNotReady):
        clock.fit()
    with pytest.raises(ClockNotReady):
        clock.to_host_ns(0)
    clock.add(1_000_000, HOST0_NS)
    assert clock.fit().drift_ppm == 0.0
    assert clock.to_host_ns(1_500_000) == HOST0_NS + 500_000_000
    with pytest.raises(ValueError):
        TriggerClock(window=1)
