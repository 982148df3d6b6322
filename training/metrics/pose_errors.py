"""Joint position errors: MPJPE and PCK (numpy)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def joint_errors(pred: ArrayLike, gt: ArrayLike) -> np.ndarray:
    """Euclidean distance per joint: (..., J, D) x 2 -> (..., J)."""
    return np.asarray(
        np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1), dtype=float
    )


def mpjpe(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike) -> float:
    """Mean per-joint position error over valid joints (units of the inputs; NaN if none).

    Args:
        pred, gt: (..., J, D) (D = 2 pixels or 3 metres).
        valid: (..., J) bool.
    """
    v = np.asarray(valid, dtype=bool)
    if not v.any():
        return float("nan")
    return float(joint_errors(pred, gt)[v].mean())


def pck(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike, threshold: float | ArrayLike) -> float:
    """Fraction of valid joints within ``threshold`` (same units, or (...,) per-sample
    thresholds, e.g. a fraction of each box diagonal); NaN if no valid joint."""
    v = np.asarray(valid, dtype=bool)
    if not v.any():
        return float("nan")
    err = joint_errors(pred, gt)
    thr = np.asarray(threshold, dtype=float)
    if thr.ndim:
        thr = thr[..., None]
    return float((err <= thr)[np.broadcast_to(v, err.shape)].mean())
