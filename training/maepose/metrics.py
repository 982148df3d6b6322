"""MPJPE in metres and PCK@5 cm for 2-D (image) predictions, as MAEPose reports them.

MAEPose predicts joints in normalised image coordinates but reports MPJPE in metres and PCK at
5 cm. Here an image error is converted to metres with the frame's weak-perspective scale,
fitted from the frame's own 2-D and 3-D labels: the affine camera x2 - mean ~ A (X3 - mean)
(A: 2 x 3, least squares over the valid joints) has singular values ~ 1 / (metres per pixel),
so metres per pixel = 2 / (s1 + s2). The metric error is thus the error in the plane facing the
camera at the person's depth; frames with fewer than 4 joints valid in both 2-D and 3-D are
left out of the metric figures (not of the pixel ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from training.evaluation import FramePredictions
from training.metrics.pose_errors import joint_errors

MIN_JOINTS = 4


def metres_per_pixel(
    keypoints_2d: NDArray[np.floating], keypoints_3d: NDArray[np.floating], valid: NDArray[np.bool_]
) -> float:
    """Weak-perspective scale of one frame (module docstring); NaN with < 4 valid joints.

    Args:
        keypoints_2d: (J, 2) pixels; keypoints_3d: (J, 3) metres; valid: (J,).
    """
    v = np.asarray(valid, dtype=bool)
    if v.sum() < MIN_JOINTS:
        return math.nan
    x2 = np.asarray(keypoints_2d, float)[v]
    x3 = np.asarray(keypoints_3d, float)[v]
    x2 = x2 - x2.mean(0)
    x3 = x3 - x3.mean(0)
    a, *_ = np.linalg.lstsq(x3, x2, rcond=None)  # (3, 2): x2 = x3 @ a
    s = np.linalg.svd(a, compute_uv=False)
    if s.sum() <= 0:
        return math.nan
    return float(2.0 / s.sum())


def metric_pose_report(
    dataset: Any,
    predictions: FramePredictions,
    *,
    thresholds_m: Sequence[float] = (0.05,),
) -> dict[str, float]:
    """MPJPE (m), PCK at metre thresholds (percent) and normalised-image MPJPE over the
    labelled target frames of ``dataset`` (a :class:`training.data.RadarWindowDataset`) that
    have predictions.

    Returns:
        ``mpjpe_m``, ``pck@<t*100:g>cm`` (e.g. ``pck@5cm``), ``mpjpe_norm`` (error in image
        fractions, x / W and y / H), ``metric_frames``; NaN when nothing qualifies.
    """
    frames: set[tuple[str, int]] = set()
    for w in range(len(dataset)):
        seq_id, fs = dataset.frame_of(w)
        frames.update((seq_id, int(f)) for f in fs)
    errs_m: list[NDArray[np.float64]] = []
    errs_n: list[NDArray[np.float64]] = []
    n_frames = 0
    for seq_id, f in sorted(frames):
        lab = dataset._labels[seq_id]
        det = predictions.keypoints.get(seq_id)
        if det is None or not np.isfinite(det[f]).all():
            continue
        valid = lab.weights[f] > 0
        if not valid.any():
            continue
        size = np.asarray(lab.image_size, float)
        errs_n.append(joint_errors(det[f] / size, lab.keypoints[f] / size)[valid])
        if lab.keypoints_3d is None or lab.weights_3d is None:
            continue
        v3 = valid & (lab.weights_3d[f] > 0)
        scale = metres_per_pixel(lab.keypoints[f], lab.keypoints_3d[f], v3)
        if not math.isfinite(scale):
            continue
        errs_m.append(joint_errors(det[f], lab.keypoints[f])[v3] * scale)
        n_frames += 1
    out: dict[str, float] = {
        "mpjpe_norm": float(np.concatenate(errs_n).mean()) if errs_n else math.nan,
        "metric_frames": float(n_frames),
    }
    em = np.concatenate(errs_m) if errs_m else np.zeros(0)
    out["mpjpe_m"] = float(em.mean()) if em.size else math.nan
    for t in thresholds_m:
        out[f"pck@{t * 100:g}cm"] = 100.0 * float((em <= t).mean()) if em.size else math.nan
    return out
