"""COCO keypoint OKS average precision, own implementation (numpy).

Follows the COCO keypoint evaluation (what ``pycocotools.cocoeval.COCOeval`` with
``iouType="keypoints"`` computes for area range "all" and maxDets 20):

- OKS(det, gt) = mean over the gt's labelled joints of ``exp(-d^2 / (2 area (2 sigma)^2))``;
  a gt with no labelled joint is *ignored* (a det matched to it counts neither way);
- per image, detections sorted by score (top 20) are matched greedily to the unmatched gt of
  highest OKS >= threshold, non-ignored gts first;
- per threshold in 0.50:0.05:0.95, precision is made monotone and sampled at 101 recall points;
  AP is their mean (-1 where there is no gt at all), and AP over thresholds the mean of those.

Per-joint AP (HuPR reports it): the same with OKS computed from joint j alone, over the gts in
which joint j is labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 20


@dataclass(frozen=True)
class ImageKeypoints:
    """Ground truth and detections of one image.

    Attributes:
        gt: (G, J, 2) pixels; gt_visible: (G, J) bool (labelled joints); gt_area: (G,) pixel^2.
        det: (D, J, 2) pixels; det_score: (D,).
    """

    gt: NDArray[np.float64]
    gt_visible: NDArray[np.bool_]
    gt_area: NDArray[np.float64]
    det: NDArray[np.float64]
    det_score: NDArray[np.float64]

    @classmethod
    def single(
        cls,
        gt: ArrayLike,
        visible: ArrayLike,
        area: float,
        det: ArrayLike,
        score: float,
    ) -> ImageKeypoints:
        """One person, one detection (J, 2) each: the radar pose case."""
        return cls(
            np.asarray(gt, dtype=np.float64)[None],
            np.asarray(visible, dtype=bool)[None],
            np.asarray([area], dtype=np.float64),
            np.asarray(det, dtype=np.float64)[None],
            np.asarray([score], dtype=np.float64),
        )


def oks(
    det: NDArray[np.float64],
    gt: NDArray[np.float64],
    visible: NDArray[np.bool_],
    area: NDArray[np.float64],
    sigmas: NDArray[np.float64],
) -> NDArray[np.float64]:
    """OKS matrix (D, G) between detections (D, J, 2) and ground truths (G, J, 2)."""
    var = (2.0 * sigmas) ** 2
    d2 = ((det[:, None] - gt[None]) ** 2).sum(-1)  # (D, G, J)
    e = d2 / var / (area[None, :, None] + np.spacing(1)) / 2.0
    k = visible.sum(-1)  # (G,)
    out = (np.exp(-e) * visible[None]).sum(-1) / np.maximum(k, 1)[None]
    return np.where(k[None] > 0, out, 0.0)


def _match_image(
    o: NDArray[np.float64], ignore: NDArray[np.bool_], threshold: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Greedy COCO matching of sorted dets (rows of ``o``) to gts; (matched, det_ignored)."""
    num_det, num_gt = o.shape
    gt_order = np.argsort(ignore, kind="stable")  # non-ignored gts first
    o, ignore = o[:, gt_order], ignore[gt_order]
    gt_taken = np.zeros(num_gt, dtype=bool)
    matched = np.zeros(num_det, dtype=bool)
    det_ignored = np.zeros(num_det, dtype=bool)
    for d in range(num_det):
        best, best_iou = -1, min(threshold, 1 - 1e-10)
        for g in range(num_gt):
            if gt_taken[g]:
                continue
            if best > -1 and not ignore[best] and ignore[g]:
                break
            if o[d, g] < best_iou:
                continue
            best, best_iou = g, o[d, g]
        if best >= 0:
            gt_taken[best] = True
            matched[d] = True
            det_ignored[d] = ignore[best]
    return matched, det_ignored


def _average_precision(scores: NDArray[np.float64], tp: NDArray[np.bool_], num_gt: int) -> float:
    """101-point interpolated AP of detections (already filtered of ignored ones)."""
    if num_gt == 0:
        return -1.0
    order = np.argsort(-scores, kind="mergesort")
    tps = np.cumsum(tp[order]).astype(np.float64)
    fps = np.cumsum(~tp[order]).astype(np.float64)
    recall = tps / num_gt
    precision = tps / np.maximum(tps + fps, np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(idx < precision.size, precision[np.minimum(idx, precision.size - 1)], 0.0)
    return float(sampled.mean())


def keypoint_ap(
    images: Sequence[ImageKeypoints],
    sigmas: ArrayLike,
    *,
    joint: int | None = None,
) -> dict[str, float]:
    """COCO keypoint AP over ``images``.

    Args:
        images: per-image ground truths and detections.
        sigmas: (J,) OKS sigmas.
        joint: compute the per-joint AP of this joint (OKS of that joint alone).

    Returns:
        ``AP`` (mean over thresholds 0.50:0.95), ``AP50``, ``AP75``, as fractions (-1 when
        there is no ground truth).
    """
    sig = np.asarray(sigmas, dtype=np.float64)
    per_thr_scores: list[list[NDArray[np.float64]]] = [[] for _ in THRESHOLDS]
    per_thr_tp: list[list[NDArray[np.bool_]]] = [[] for _ in THRESHOLDS]
    num_gt = 0
    for im in images:
        vis = im.gt_visible
        gt, det, s = im.gt, im.det, sig
        if joint is not None:
            vis, gt, det, s = vis[:, [joint]], gt[:, [joint]], det[:, [joint]], sig[[joint]]
        ignore = vis.sum(-1) == 0
        num_gt += int((~ignore).sum())
        order = np.argsort(-im.det_score, kind="mergesort")[:MAX_DETS]
        scores = im.det_score[order]
        o = oks(det[order], gt, vis, im.gt_area, s)
        for t, thr in enumerate(THRESHOLDS):
            matched, det_ignored = _match_image(o, ignore, float(thr))
            keep = ~det_ignored
            per_thr_scores[t].append(scores[keep])
            per_thr_tp[t].append(matched[keep])
    aps = np.array(
        [
            _average_precision(
                np.concatenate(per_thr_scores[t]) if per_thr_scores[t] else np.zeros(0),
                np.concatenate(per_thr_tp[t]) if per_thr_tp[t] else np.zeros(0, dtype=bool),
                num_gt,
            )
            for t in range(len(THRESHOLDS))
        ]
    )
    if num_gt == 0:
        return {"AP": -1.0, "AP50": -1.0, "AP75": -1.0}
    return {"AP": float(aps.mean()), "AP50": float(aps[0]), "AP75": float(aps[5])}


def per_joint_ap(
    images: Sequence[ImageKeypoints], sigmas: ArrayLike, joint_names: Sequence[str]
) -> dict[str, float]:
    """AP (0.50:0.95) of each joint alone, by joint name."""
    return {name: keypoint_ap(images, sigmas, joint=j)["AP"] for j, name in enumerate(joint_names)}
