"""Temporal clean-up of keypoint tracks: One-Euro and Savitzky-Golay filters. Pure numpy/scipy.

Both work on (F, J, D) arrays with NaN for missing samples and never fill gaps: a NaN input gives
a NaN output, and the filter restarts after a gap (a track re-acquired after the subject was lost
must not be pulled towards where it was seconds ago). Callers keep the raw array beside the
smoothed one.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["one_euro", "savgol"]


def one_euro(
    values: ArrayLike,
    times_s: ArrayLike,
    *,
    min_cutoff_hz: float = 1.0,
    beta: float = 0.0,
    d_cutoff_hz: float = 1.0,
    max_gap_s: float = 0.5,
) -> NDArray[np.float64]:
    """One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) along the first axis.

    Each channel is low-passed with a cutoff ``min_cutoff_hz + beta * |speed|``, the speed itself
    low-passed at ``d_cutoff_hz``: slow motion is smoothed hard (jitter removed), fast motion
    follows with little lag. ``beta = 0`` is a plain first-order low-pass.

    Args:
        values: (F, ...) samples (e.g. (F, J, 2) pixels); NaN = missing.
        times_s: (F,) increasing sample times, seconds (use trigger times: frames may be
            missing).
        max_gap_s: a filter channel restarts from the raw value after a gap (NaN samples or a
            time step) longer than this.

    Returns:
        (F, ...) filtered, NaN where the input is NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if t.shape != x.shape[:1]:
        raise ValueError(f"times_s must have shape ({x.shape[0]},), got {t.shape}")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times_s must be strictly increasing")
    out = np.full_like(x, np.nan)
    prev = np.full(x.shape[1:], np.nan)
    prev_d = np.zeros(x.shape[1:])
    last_t = np.full(x.shape[1:], -np.inf)
    for i in range(x.shape[0]):
        xi = x[i]
        ok = np.isfinite(xi)
        dt_all = t[i] - last_t
        restart = ok & (~np.isfinite(prev) | (dt_all > max_gap_s))
        cont = ok & ~restart
        if np.any(cont):
            dt = dt_all[cont]
            dx = (xi[cont] - prev[cont]) / dt
            a_d = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * d_cutoff_hz * dt))
            d_hat = a_d * dx + (1.0 - a_d) * prev_d[cont]
            cutoff = min_cutoff_hz + beta * np.abs(d_hat)
            a = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))
            prev[cont] = a * xi[cont] + (1.0 - a) * prev[cont]
            prev_d[cont] = d_hat
        prev[restart] = xi[restart]
        prev_d[restart] = 0.0
        last_t[ok] = t[i]
        out[i] = np.where(ok, prev, np.nan)
    return out


def savgol(
    values: ArrayLike,
    *,
    window: int = 7,
    order: int = 2,
    frame_index: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Savitzky-Golay smoothing along the first axis, run by run.

    The filter assumes evenly spaced samples: it is applied separately to every run of
    consecutive frames (``frame_index`` steps of 1, e.g. trigger indexes) in which a channel is
    finite. Runs shorter than ``window`` are returned unchanged (raw).

    Args:
        values: (F, ...) samples, NaN = missing.
        window: odd window length, frames (> order).
        frame_index: (F,) integer frame indexes; default ``arange(F)``.

    Returns:
        (F, ...) smoothed, NaN where the input is NaN.
    """
    from scipy.signal import savgol_filter

    if window % 2 == 0 or window <= order:
        raise ValueError(f"window must be odd and larger than order, got {window}, {order}")
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0]
    idx = np.arange(n) if frame_index is None else np.asarray(frame_index, dtype=np.int64)
    flat = x.reshape(n, -1)
    out = flat.copy()
    for c in range(flat.shape[1]):
        ok = np.isfinite(flat[:, c])
        # Start a new run wherever the channel is missing or a frame is skipped.
        start = np.ones(n, dtype=bool)
        start[1:] = ~(ok[:-1] & ok[1:] & (np.diff(idx) == 1))
        run_ids = np.cumsum(start)
        for run in np.unique(run_ids[ok]):
            sel = np.flatnonzero((run_ids == run) & ok)
            if sel.size >= window:
                out[sel, c] = savgol_filter(flat[sel, c], window, order, mode="interp")
    return out.reshape(x.shape)
