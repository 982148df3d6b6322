"""Running a model over windows, per-frame predictions, metrics report and printed table."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import DataLoader

from training.config import EvalConfig
from training.data.windows import RadarWindowDataset
from training.metrics import ImageKeypoints, keypoint_ap, mpjpe, pck, per_joint_ap
from training.models.base import PoseModel


@dataclass
class FramePredictions:
    """Per-frame predictions, one per (sequence, frame) at most.

    Attributes:
        keypoints: seq_id -> (F, J, 2) pixels, NaN where not predicted.
        scores: seq_id -> (F, J), NaN where not predicted.
        loss: mean loss over the windows run (NaN when not computed).
    """

    keypoints: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    scores: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    loss: float = math.nan


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def predict_frames(
    model: PoseModel,
    dataset: RadarWindowDataset,
    *,
    device: torch.device,
    batch_size: int,
    amp: bool = False,
    with_loss: bool = True,
) -> FramePredictions:
    """Run ``model`` over every window; each frame keeps the prediction of the window in which
    it sits closest to the window's centre (several windows predict a frame when the stride is
    smaller than the window or several target frames are predicted)."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    centre = (dataset.cfg.window - 1) / 2
    dist_of = np.abs(np.asarray(dataset.cfg.target_offsets, dtype=np.float64) - centre)
    out = FramePredictions()
    best: dict[str, NDArray[np.float64]] = {}
    losses: list[float] = []
    weights: list[float] = []
    for batch in loader:
        batch = _to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            outputs = model(batch["radar"])
        if with_loss:
            loss, _ = model.loss(outputs, batch)
            losses.append(float(loss))
            weights.append(float(batch["radar"].shape[0]))
        kp, sc = model.decode(outputs, batch)
        kp_np, sc_np = kp.float().cpu().numpy(), sc.float().cpu().numpy()
        for i, w in enumerate(batch["window"].cpu().numpy()):
            seq_id, frames = dataset.frame_of(int(w))
            if seq_id not in out.keypoints:
                n = dataset.source.sequence(seq_id).num_frames
                j = kp_np.shape[2]
                out.keypoints[seq_id] = np.full((n, j, 2), np.nan, dtype=np.float32)
                out.scores[seq_id] = np.full((n, j), np.nan, dtype=np.float32)
                best[seq_id] = np.full(n, np.inf)
            for p, f in enumerate(frames):
                if dist_of[p] < best[seq_id][f]:
                    best[seq_id][f] = dist_of[p]
                    out.keypoints[seq_id][f] = kp_np[i, p]
                    out.scores[seq_id][f] = sc_np[i, p]
    if losses:
        out.loss = float(np.average(losses, weights=weights))
    return out


def mean_pose_predictions(
    train: RadarWindowDataset, target: RadarWindowDataset
) -> FramePredictions:
    """The mean-pose baseline: every labelled frame of ``target`` gets the mean (per joint) of
    the training labels, score 1."""
    kps, ws = [], []
    for window in range(len(train)):
        seq_id, frames = train.frame_of(window)
        lab = train._labels[seq_id]
        kps.append(lab.keypoints[frames])
        ws.append(lab.weights[frames])
    k, w = np.concatenate(kps), np.concatenate(ws)
    mean = (k * w[..., None]).sum(0) / np.maximum(w.sum(0), 1.0)[:, None]
    out = FramePredictions()
    for seq_id, lab in target._labels.items():
        n, j = lab.weights.shape
        out.keypoints[seq_id] = np.broadcast_to(mean, (n, j, 2)).astype(np.float32).copy()
        out.scores[seq_id] = np.ones((n, j), dtype=np.float32)
    return out


def evaluate_predictions(
    dataset: RadarWindowDataset,
    predictions: FramePredictions,
    *,
    sigmas: Sequence[float],
    joint_names: Sequence[str],
    cfg: EvalConfig,
) -> dict[str, Any]:
    """Metrics over every labelled target frame of ``dataset`` that has a prediction.

    OKS area = the ground-truth box area (``boxes``), or the area of the valid joints' extent
    when the dataset has no box. Image score = mean joint score.

    Returns:
        ``AP``, ``AP50``, ``AP75`` (percent), ``per_joint_AP`` (percent), ``mpjpe_px``,
        ``pck@<t>`` (percent of joints within t x box diagonal), ``frames``.
    """
    frames: set[tuple[str, int]] = set()
    for w in range(len(dataset)):
        seq_id, fs = dataset.frame_of(w)
        frames.update((seq_id, int(f)) for f in fs)
    images: list[ImageKeypoints] = []
    preds, gts, valids, diags = [], [], [], []
    for seq_id, f in sorted(frames):
        lab = dataset._labels[seq_id]
        valid = lab.weights[f] > 0
        if not valid.any() or seq_id not in predictions.keypoints:
            continue
        det = predictions.keypoints[seq_id][f]
        if not np.isfinite(det).all():
            continue
        gt = lab.keypoints[f]
        box = lab.boxes[f]
        if np.isfinite(box).all():
            w_, h_ = box[2] - box[0], box[3] - box[1]
        else:
            w_, h_ = np.ptp(gt[valid], axis=0)
        area = float(max(w_ * h_, 1.0))
        score = float(np.nanmean(predictions.scores[seq_id][f]))
        images.append(ImageKeypoints.single(gt, valid, area, det, score))
        preds.append(det)
        gts.append(gt)
        valids.append(valid)
        diags.append(math.hypot(w_, h_))
    if not images:
        return {"frames": 0}
    ap = keypoint_ap(images, sigmas)
    pred_a, gt_a, valid_a, diag_a = (
        np.stack(preds),
        np.stack(gts),
        np.stack(valids),
        np.array(diags),
    )
    report: dict[str, Any] = {k: 100.0 * v for k, v in ap.items()}
    report["per_joint_AP"] = {
        k: 100.0 * v for k, v in per_joint_ap(images, sigmas, joint_names).items()
    }
    report["mpjpe_px"] = mpjpe(pred_a, gt_a, valid_a)
    for t in cfg.pck_thresholds:
        report[f"pck@{t:g}"] = 100.0 * pck(pred_a, gt_a, valid_a, t * diag_a)
    report["frames"] = len(images)
    if not math.isnan(predictions.loss):
        report["loss"] = predictions.loss
    return report


def format_table(reports: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: one column per report (e.g. model, baseline), one row per metric."""
    names = list(reports)
    keys: list[str] = []
    for r in reports.values():
        keys += [k for k, v in r.items() if not isinstance(v, dict) and k not in keys]
    joint_keys: list[str] = []
    for r in reports.values():
        joint_keys += [k for k in r.get("per_joint_AP", {}) if k not in joint_keys]
    width = max(12, *(len(n) + 2 for n in names))
    lines = ["metric".ljust(14) + "".join(n.rjust(width) for n in names)]
    lines.append("-" * len(lines[0]))

    def cell(v: Any) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    for k in keys:
        lines.append(k.ljust(14) + "".join(cell(reports[n].get(k, "")).rjust(width) for n in names))
    if joint_keys:
        lines.append("per-joint AP")
        for k in joint_keys:
            row = "".join(
                cell(reports[n].get("per_joint_AP", {}).get(k, "")).rjust(width) for n in names
            )
            lines.append(("  " + k).ljust(14) + row)
    return "\n".join(lines)


def write_report(path: Path, report: dict[str, Any]) -> None:
    """JSON report (NaN written as null)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(report), indent=2) + "\n")
