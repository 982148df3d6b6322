"""mmJoints ground-truth joint descriptors (numpy): sensing score xi and reliability score kappa.

Definitions (REFERENCE.md section 1, from the paper), per frame and joint j:

    psi_j   = sum_n I_n / d_{j,n}^2          points n of the frame, intensity I_n, distance d_{j,n}
    xi_j    = sigmoid(psi_j - mean_j' psi_j')
    f(D)    = 1 - sigmoid(D - D0 / 2)        D0 = mean torso length of the dataset
    kappa_j = f(D_j) / f(0)                  D_j = || predicted joint j - ground truth joint j ||

Units: distances are expressed in ``length_unit_m`` (the paper's D0 = 20 is in its dataset's
units); intensities are divided by ``intensity_scale`` (the dataset's point intensity is linear
power in ADC units, which would saturate the sigmoid). Both are calibration constants chosen
once per dataset (:func:`calibrate_intensity_scale`); the formulas themselves are exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

_EPS_D2 = 1e-12


def sigmoid(x: ArrayLike) -> NDArray[np.float64]:
    """Numerically stable logistic function."""
    a = np.asarray(x, dtype=np.float64)
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * a)), dtype=np.float64)


def sensing_psi(
    points_xyz: ArrayLike, intensity: ArrayLike, joints: ArrayLike, *, min_distance: float = 0.0
) -> NDArray[np.float64]:
    """psi_j = sum_n I_n / d_{j,n}^2.

    Args:
        points_xyz: (P, 3) point positions (same units as ``joints``).
        intensity: (P,) point intensities.
        joints: (J, 3) joint positions.
        min_distance: distances are clamped to at least this (guards a point on a joint).

    Returns:
        (J,) psi (0 for a frame without points).
    """
    p = np.asarray(points_xyz, np.float64).reshape(-1, 3)
    i = np.asarray(intensity, np.float64).reshape(-1)
    j = np.asarray(joints, np.float64)
    d2 = ((j[:, None, :] - p[None, :, :]) ** 2).sum(-1)
    d2 = np.maximum(d2, max(min_distance**2, _EPS_D2))
    return np.asarray((i[None, :] / d2).sum(-1), dtype=np.float64)


def sensing_score(psi: ArrayLike) -> NDArray[np.float64]:
    """xi = sigmoid(psi - mean over joints of psi): (..., J) -> (..., J)."""
    s = np.asarray(psi, np.float64)
    return sigmoid(s - s.mean(axis=-1, keepdims=True))


def reliability_f(error: ArrayLike, torso_length: float) -> NDArray[np.float64]:
    """f(D) = 1 - sigmoid(D - D0/2)."""
    return 1.0 - sigmoid(np.asarray(error, np.float64) - torso_length / 2.0)


def reliability_score(error: ArrayLike, torso_length: float) -> NDArray[np.float64]:
    """kappa = f(D) / f(0), (...) joint errors -> (...) in (0, 1]."""
    return reliability_f(error, torso_length) / reliability_f(0.0, torso_length)


def torso_joint_indexes(landmarks: Sequence[str]) -> tuple[list[int], list[int]]:
    """(shoulder indexes, hip indexes) of a skeleton's landmark names."""
    names = list(landmarks)
    shoulders = [names.index(n) for n in ("left_shoulder", "right_shoulder") if n in names]
    hips = [names.index(n) for n in ("left_hip", "right_hip") if n in names]
    if not shoulders or not hips:
        raise ValueError("skeleton has no shoulder / hip landmarks to measure the torso")
    return shoulders, hips


def torso_lengths(keypoints: ArrayLike, landmarks: Sequence[str]) -> NDArray[np.float64]:
    """Distance mid-shoulders -> mid-hips of every pose: (..., J, 3) -> (...) (NaN if unknown)."""
    k = np.asarray(keypoints, np.float64)
    sh, hp = torso_joint_indexes(landmarks)
    return np.asarray(
        np.linalg.norm(k[..., sh, :].mean(-2) - k[..., hp, :].mean(-2), axis=-1), np.float64
    )


def calibrate_intensity_scale(
    frames_points: Sequence[NDArray[np.float32]],
    frames_joints: Sequence[NDArray[np.float64]],
    *,
    length_unit_m: float,
    min_distance_m: float = 0.0,
) -> float:
    """Scale s such that psi computed with I / s has a unit median spread (std over joints) over
    the given frames; 1.0 when nothing can be measured. ``min_distance_m`` as in
    :func:`ground_truth_descriptors`."""
    spreads = []
    for pts, joints in zip(frames_points, frames_joints, strict=True):
        if len(pts) == 0 or not np.isfinite(joints).all():
            continue
        psi = sensing_psi(
            pts[:, :3] / length_unit_m,
            pts[:, 4],
            joints / length_unit_m,
            min_distance=min_distance_m / length_unit_m,
        )
        spreads.append(float(psi.std()))
    positive = [s for s in spreads if s > 0]
    return float(np.median(positive)) if positive else 1.0


def ground_truth_descriptors(
    points: Sequence[NDArray[np.float32]],
    gt: ArrayLike,
    pred: ArrayLike,
    *,
    torso_length: float,
    length_unit_m: float,
    intensity_scale: float,
    min_distance_m: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """xi and kappa of every frame of a sequence.

    Args:
        points: F arrays (P_f, >=5) rig-frame points, columns x, y, z (m), doppler, intensity.
        gt: (F, J, 3) ground-truth joints, metres (NaN = unknown).
        pred: (F, J, 3) the black-box model's joints, metres.
        torso_length: D0 in ``length_unit_m``.
        length_unit_m: metres per distance unit of the formulas.
        intensity_scale: intensities are divided by this.
        min_distance_m: point-joint distances below this are raised to it in psi (0 = the bare
            formula, whose 1 / d^2 lets one point within a few cm of a joint decide every xi of
            the frame although radar points are only placed to ~10 cm).

    Returns:
        xi (F, J) (psi measured around the ground-truth joints), kappa (F, J); NaN where the
        ground truth or the prediction is unknown.
    """
    g = np.asarray(gt, np.float64) / length_unit_m
    p = np.asarray(pred, np.float64) / length_unit_m
    f, j = g.shape[:2]
    xi = np.full((f, j), np.nan)
    for k in range(f):
        if not np.isfinite(g[k]).all():
            continue
        pts = points[k]
        psi = sensing_psi(
            pts[:, :3] / length_unit_m,
            pts[:, 4] / intensity_scale,
            g[k],
            min_distance=min_distance_m / length_unit_m,
        )
        xi[k] = sensing_score(psi)
    kappa = reliability_score(np.linalg.norm(p - g, axis=-1), torso_length)
    return xi, kappa


def smape(pred: ArrayLike, target: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, % (mean of 2|p - t| / (|p| + |t|))."""
    p, t = np.asarray(pred, np.float64).ravel(), np.asarray(target, np.float64).ravel()
    ok = np.isfinite(p) & np.isfinite(t)
    den = np.abs(p[ok]) + np.abs(t[ok])
    terms = np.where(den > 0, 2.0 * np.abs(p[ok] - t[ok]) / np.where(den > 0, den, 1.0), 0.0)
    return float(100.0 * terms.mean()) if ok.any() else float("nan")


def wmape(pred: ArrayLike, target: ArrayLike) -> float:
    """Weighted MAPE, %: sum |p - t| / sum |t|."""
    p, t = np.asarray(pred, np.float64).ravel(), np.asarray(target, np.float64).ravel()
    ok = np.isfinite(p) & np.isfinite(t)
    den = np.abs(t[ok]).sum()
    return float(100.0 * np.abs(p[ok] - t[ok]).sum() / den) if den > 0 else float("nan")
