"""Constant-false-alarm-rate detectors: cell-averaging (CA) and ordered-statistic (OS), 1-D and 2-D.

Input is linear *power* (|X|^2, e.g. ``range_doppler_map(..., db=False)``), any leading axes.
Around each cell under test (CUT) ``guard`` cells on each side are skipped and the next ``train``
cells on each side estimate the noise. The threshold is ``alpha * noise`` with ``alpha`` either
from a design false-alarm probability (exact for i.i.d. exponential noise power, i.e. complex
Gaussian noise after a square-law detector) or a fixed scale in dB.

Edge handling: the array is padded by ``guard + train`` cells per side before the sliding window,
with numpy's pad modes: ``"wrap"`` (circular; right for a Doppler axis, keeps the design Pfa
exactly), ``"symmetric"`` (mirror including the edge cell; a sensible choice for range),
``"edge"`` (repeat the edge cell). Non-wrap modes reuse cells near the edges, so the false-alarm
rate there departs slightly from the design value.

Everything is vectorised: cumulative sums for CA, ``scipy.ndimage.rank_filter`` for OS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

EdgeMode = Literal["wrap", "symmetric", "edge"]


@dataclass(frozen=True)
class CfarResult:
    """Detector output, every array the shape of the input power.

    Attributes:
        detections: True where power > threshold.
        threshold: detection threshold, same units as the power.
        noise: noise power estimate at each cell (training-cell mean for CA, the order statistic
            divided by its expected value for unit noise for OS), for SNR = power / noise.
    """

    detections: NDArray[np.bool_]
    threshold: NDArray[np.float64]
    noise: NDArray[np.float64]


def ca_scale(num_train: int, pfa: float) -> float:
    """CA-CFAR threshold factor on the training mean: ``N (pfa^(-1/N) - 1)``."""
    return float(num_train * (pfa ** (-1.0 / num_train) - 1.0))


def os_scale(num_train: int, rank: int, pfa: float) -> float:
    """OS-CFAR factor on the ``rank``-th smallest (1-based) of N cells for a design pfa.

    Solves ``pfa = prod_{i=0}^{rank-1} (N - i) / (N - i + alpha)`` (Rohling 1983).
    """

    def log_pfa_error(alpha: float) -> float:
        i = np.arange(rank)
        return float(np.sum(np.log((num_train - i) / (num_train - i + alpha))) - math.log(pfa))

    hi = 1.0
    while log_pfa_error(hi) > 0:
        hi *= 2.0
    import scipy.optimize  # lazy: scipy.optimize costs 0.5 s to import

    return float(scipy.optimize.brentq(log_pfa_error, 0.0, hi, xtol=1e-12))


def _os_noise_mean(num_train: int, rank: int) -> float:
    """Expected ``rank``-th order statistic of N unit exponentials: sum_{i=N-rank+1}^{N} 1/i."""
    return float(sum(1.0 / i for i in range(num_train - rank + 1, num_train + 1)))


DEFAULT_PFA = 1e-3


def _design_pfa(pfa: float | None, scale_db: float | None) -> float | None:
    """The pfa to design for, or None when a fixed ``scale_db`` threshold is used."""
    if scale_db is not None:
        if pfa is not None:
            raise ValueError("give either pfa or scale_db, not both")
        return None
    pfa = DEFAULT_PFA if pfa is None else pfa
    if not 0.0 < pfa < 1.0:
        raise ValueError(f"pfa must be in (0, 1), got {pfa}")
    return pfa


def _fixed_scale(scale_db: float | None) -> float:
    assert scale_db is not None
    return float(10.0 ** (scale_db / 10.0))


def _pad(
    power: NDArray[Any], axes: tuple[int, ...], widths: tuple[int, ...], modes: tuple[EdgeMode, ...]
) -> NDArray[np.float64]:
    out = np.asarray(power, dtype=np.float64)
    for axis, width, mode in zip(axes, widths, modes, strict=True):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (width, width)
        out = np.pad(out, pad, mode=mode)
    return out


def _sliding_sum(
    x: NDArray[np.float64], axis: int, length: int, offset: int, n_out: int
) -> NDArray[np.float64]:
    """Sum of ``length`` consecutive cells starting at ``offset + i`` for i < n_out, along axis."""
    shape = list(x.shape)
    shape[axis] = 1
    cs = np.concatenate([np.zeros(shape), np.cumsum(x, axis=axis)], axis=axis)
    hi = np.take(cs, np.arange(n_out) + offset + length, axis=axis)
    lo = np.take(cs, np.arange(n_out) + offset, axis=axis)
    out: NDArray[np.float64] = hi - lo
    return out


def _normalise_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a % ndim for a in axes)


def _ca(
    power: NDArray[Any],
    axes: tuple[int, ...],
    guard: tuple[int, ...],
    train: tuple[int, ...],
    modes: tuple[EdgeMode, ...],
) -> tuple[NDArray[np.float64], int]:
    """Training-cell mean over the window minus the guard box, and the number of cells."""
    axes = _normalise_axes(power.ndim, axes)
    reach = tuple(g + t for g, t in zip(guard, train, strict=True))
    padded = _pad(power, axes, reach, modes)
    outer = padded
    inner = padded
    for axis, g, r in zip(axes, guard, reach, strict=True):
        n = power.shape[axis]
        outer = _sliding_sum(outer, axis, 2 * r + 1, 0, n)
        inner = _sliding_sum(inner, axis, 2 * g + 1, r - g, n)
    num = math.prod(2 * r + 1 for r in reach) - math.prod(2 * g + 1 for g in guard)
    return (outer - inner) / num, num


def _os(
    power: NDArray[Any],
    axes: tuple[int, ...],
    guard: tuple[int, ...],
    train: tuple[int, ...],
    modes: tuple[EdgeMode, ...],
    rank: int | None,
) -> tuple[NDArray[np.float64], int, int]:
    """rank-th smallest training cell per CUT, the number of training cells and the rank used."""
    axes = _normalise_axes(power.ndim, axes)
    reach = tuple(g + t for g, t in zip(guard, train, strict=True))
    padded = _pad(power, axes, reach, modes)
    footprint_shape = [1] * power.ndim
    for axis, r in zip(axes, reach, strict=True):
        footprint_shape[axis] = 2 * r + 1
    footprint = np.ones(footprint_shape, dtype=bool)
    guard_box = [slice(None)] * power.ndim
    for axis, g, r in zip(axes, guard, reach, strict=True):
        guard_box[axis] = slice(r - g, r + g + 1)
    footprint[tuple(guard_box)] = False
    num = int(footprint.sum())
    k = rank if rank is not None else max(1, round(0.75 * num))
    if not 1 <= k <= num:
        raise ValueError(f"rank must be in 1..{num} training cells, got {k}")
    import scipy.ndimage  # lazy: scipy.ndimage costs 0.6 s to import

    filtered = scipy.ndimage.rank_filter(padded, k - 1, footprint=footprint, mode="constant")
    crop = [slice(None)] * power.ndim
    for axis, r in zip(axes, reach, strict=True):
        crop[axis] = slice(r, r + power.shape[axis])
    return filtered[tuple(crop)], num, k


def _result(power: NDArray[Any], noise: NDArray[np.float64], alpha: float) -> CfarResult:
    threshold = noise * alpha
    return CfarResult(np.asarray(power) > threshold, threshold, noise)


def ca_cfar_1d(
    power: NDArray[Any],
    *,
    guard: int = 2,
    train: int = 8,
    pfa: float | None = None,
    scale_db: float | None = None,
    axis: int = -1,
    mode: EdgeMode = "symmetric",
) -> CfarResult:
    """Cell-averaging CFAR along one axis.

    Args:
        power: (...) linear power.
        guard, train: cells per side.
        pfa: design false-alarm probability (default ``DEFAULT_PFA`` = 1e-3 unless ``scale_db``).
        scale_db: fixed threshold above the training mean, dB (instead of ``pfa``).
        axis: the axis to slide along.
        mode: edge padding (module docstring).
    """
    noise, num = _ca(power, (axis,), (guard,), (train,), (mode,))
    design = _design_pfa(pfa, scale_db)
    alpha = ca_scale(num, design) if design is not None else _fixed_scale(scale_db)
    return _result(power, noise, alpha)


def ca_cfar_2d(
    power: NDArray[Any],
    *,
    guard: tuple[int, int] = (1, 2),
    train: tuple[int, int] = (4, 8),
    pfa: float | None = None,
    scale_db: float | None = None,
    mode: tuple[EdgeMode, EdgeMode] = ("wrap", "symmetric"),
) -> CfarResult:
    """Cell-averaging CFAR over the last two axes, e.g. (..., n_doppler, n_range).

    The training region is the ``(2 (g + t) + 1)`` rectangle minus the ``(2 g + 1)`` guard
    rectangle (CUT included) per axis. ``guard``, ``train`` and ``mode`` are (axis -2, axis -1);
    the default wraps the Doppler axis and mirrors the range axis.
    """
    noise, num = _ca(power, (-2, -1), guard, train, mode)
    design = _design_pfa(pfa, scale_db)
    alpha = ca_scale(num, design) if design is not None else _fixed_scale(scale_db)
    return _result(power, noise, alpha)


def os_cfar_1d(
    power: NDArray[Any],
    *,
    guard: int = 2,
    train: int = 8,
    rank: int | None = None,
    pfa: float | None = None,
    scale_db: float | None = None,
    axis: int = -1,
    mode: EdgeMode = "wrap",
) -> CfarResult:
    """Ordered-statistic CFAR along one axis (robust to neighbouring targets in the window).

    Args:
        rank: 1-based rank of the order statistic among the ``2 * train`` cells; default 3/4 of
            them.
        Others: as ``ca_cfar_1d``; ``scale_db`` is relative to the unbiased noise estimate.
    """
    stat, num, k = _os(power, (axis,), (guard,), (train,), (mode,), rank)
    noise = stat / _os_noise_mean(num, k)
    design = _design_pfa(pfa, scale_db)
    if design is None:
        return _result(power, noise, _fixed_scale(scale_db))
    return _result(power, noise, os_scale(num, k, design) * _os_noise_mean(num, k))


def os_cfar_2d(
    power: NDArray[Any],
    *,
    guard: tuple[int, int] = (1, 2),
    train: tuple[int, int] = (4, 8),
    rank: int | None = None,
    pfa: float | None = None,
    scale_db: float | None = None,
    mode: tuple[EdgeMode, EdgeMode] = ("wrap", "symmetric"),
) -> CfarResult:
    """Ordered-statistic CFAR over the last two axes (training rectangle as ``ca_cfar_2d``)."""
    stat, num, k = _os(power, (-2, -1), guard, train, mode, rank)
    noise = stat / _os_noise_mean(num, k)
    design = _design_pfa(pfa, scale_db)
    if design is None:
        return _result(power, noise, _fixed_scale(scale_db))
    return _result(power, noise, os_scale(num, k, design) * _os_noise_mean(num, k))
