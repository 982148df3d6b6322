"""One-Euro and Savitzky-Golay filters: behaviour, gaps, raw values untouched."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.filters import one_euro, savgol

T = np.arange(200) / 10.0  # 10 Hz


def test_one_euro_keeps_a_constant_and_does_not_touch_its_input() -> None:
    x = np.full((200, 17, 2), 3.5)
    raw = x.copy()
    out = one_euro(x, T, min_cutoff_hz=1.0, beta=0.1)
    np.testing.assert_allclose(out, 3.5)
    np.testing.assert_array_equal(x, raw)


def test_one_euro_reduces_jitter_of_a_still_joint() -> None:
    rng = np.random.default_rng(0)
    x = 100.0 + rng.normal(0.0, 2.0, size=(200, 1))
    out = one_euro(x, T, min_cutoff_hz=0.5, beta=0.0)
    assert np.std(out[20:]) < 0.5 * np.std(x[20:])


def test_one_euro_step_response_is_monotone_and_beta_cuts_lag() -> None:
    x = np.where(T < 5.0, 0.0, 100.0)[:, None]
    slow = one_euro(x, T, min_cutoff_hz=0.5, beta=0.0)[:, 0]
    fast = one_euro(x, T, min_cutoff_hz=0.5, beta=0.05)[:, 0]
    after = T >= 5.0
    assert np.all(np.diff(slow[after]) >= 0) and np.all(slow <= 100.0)
    # First-order low-pass: alpha = 1 / (1 + tau / dt) exactly at the step.
    alpha = 1.0 / (1.0 + 1.0 / (2 * np.pi * 0.5 * 0.1))
    assert slow[50] == pytest.approx(100.0 * alpha)
    assert fast[50] > slow[50]  # speed raises the cutoff: less lag


def test_one_euro_keeps_nan_and_restarts_after_a_gap() -> None:
    x = np.concatenate([np.zeros(50), np.full(10, np.nan), np.full(140, 50.0)])[:, None]
    out = one_euro(x, T, min_cutoff_hz=0.5, max_gap_s=0.5)
    assert np.isnan(out[50:60]).all()
    assert out[60, 0] == 50.0  # restarted from the raw value, not dragged from 0
    with pytest.raises(ValueError, match="increasing"):
        one_euro(x, T[::-1])


def test_savgol_preserves_polynomials_and_splits_runs() -> None:
    x = (0.3 * T**2 - T + 2.0)[:, None]
    np.testing.assert_allclose(savgol(x, window=7, order=2), x, atol=1e-9)
    rng = np.random.default_rng(1)
    noisy = x + rng.normal(0, 1.0, x.shape)
    noisy[100:103] = np.nan
    out = savgol(noisy, window=7, order=2)
    assert np.isnan(out[100:103]).all() and np.isfinite(out[:100]).all()
    assert np.std(out[:100] - x[:100]) < np.std(noisy[:100] - x[:100])
    # A skipped frame index also splits a run: runs shorter than the window stay raw.
    idx = np.array([0, 1, 2, 10, 11, 12, 13, 14, 15, 16])
    short = np.arange(10, dtype=float)[:, None] ** 2 + rng.normal(0, 1, (10, 1))
    out = savgol(short, window=7, order=1, frame_index=idx)
    np.testing.assert_array_equal(out[:3], short[:3])
    assert not np.allclose(out[3:], short[3:])
