"""Ultralytics YOLO person detector and YOLO-pose estimator (imported only when chosen).

Ultralytics is run offline (``YOLO_OFFLINE=1`` unless set): weights come from local files only,
and a checkpoint path is checked to exist before ultralytics sees it (it would otherwise try to
download a missing ``.pt`` by name). Images are RGB here; ultralytics expects BGR numpy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.errors import MissingDependency
from labeling.backends.base import ModelInfo, checkpoint_and_hash, resolve_device
from labeling.config import LabelingConfig
from labeling.models import MODEL_FILES
from labeling.tracking import box_iou


def _import_yolo() -> Any:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        import ultralytics
    except ImportError as exc:
        raise MissingDependency("ultralytics", "labeling", "YOLO detection and pose") from exc
    yolo: Any = getattr(ultralytics, "YOLO")  # noqa: B009  (not re-exported for mypy)
    return yolo, ultralytics.__version__


def _versions(ultralytics_version: str) -> dict[str, str]:
    import torch

    return {"ultralytics": str(ultralytics_version), "torch": str(torch.__version__)}


def _build(
    config: LabelingConfig, role: str, model: str, architecture: str | None, task: str
) -> tuple[Any, ModelInfo]:
    yolo_cls, version = _import_yolo()
    device = resolve_device(config.device)
    path, digest = checkpoint_and_hash(config, role, model)
    arch = architecture or (MODEL_FILES[model].architecture if model in MODEL_FILES else "")
    if path is None:
        if not arch:
            raise ValueError(f"{role} {model!r}: random weights need an architecture YAML")
        net = yolo_cls(arch, task=task)
    else:
        net = yolo_cls(str(path), task=task)
    info = ModelInfo(
        name=model,
        backend="ultralytics",
        architecture=arch,
        checkpoint=None if path is None else str(path),
        checkpoint_sha256=digest,
        random_weights=path is None,
        device=device,
        versions=_versions(version),
    )
    return net, info


class UltralyticsDetector:
    """YOLO person detector (COCO class 0), batched."""

    def __init__(self, config: LabelingConfig) -> None:
        d = config.detector
        self.config = d
        self.net, self.info = _build(config, "detector", d.model, d.architecture, "detect")

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[NDArray[np.float32]]:
        if not images:
            return []
        results = self.net.predict(
            [np.ascontiguousarray(im[..., ::-1]) for im in images],
            conf=self.config.min_score,
            iou=self.config.iou,
            imgsz=self.config.image_size,
            classes=[0],
            device=self.info.device,
            batch=len(images),
            verbose=False,
        )
        out = []
        for r in results:
            boxes = r.boxes
            xyxy = boxes.xyxy.cpu().numpy().reshape(-1, 4)
            conf = boxes.conf.cpu().numpy().reshape(-1, 1)
            out.append(np.concatenate([xyxy, conf], axis=1).astype(np.float32))
        return out


class UltralyticsPose:
    """YOLO-pose as a top-down estimator: the pose instance of best IoU with each requested box.

    YOLO-pose is one-stage (it finds people and keypoints together); it runs on the whole image
    once and its instances are matched to the subject boxes (IoU >= ``min_iou``).
    """

    def __init__(self, config: LabelingConfig, *, min_iou: float = 0.3) -> None:
        p = config.pose
        self.min_iou = min_iou
        self.config = config
        self.net, self.info = _build(config, "pose", p.model, p.architecture, "pose")

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        boxes: NDArray[np.float64],
        image_index: NDArray[np.int64],
    ) -> NDArray[np.float32]:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        index = np.asarray(image_index, dtype=np.int64).reshape(-1)
        out = np.full((boxes.shape[0], 17, 3), np.nan, dtype=np.float32)
        out[..., 2] = 0.0
        needed = sorted(set(index.tolist()))
        if not needed:
            return out
        results = self.net.predict(
            [np.ascontiguousarray(images[i][..., ::-1]) for i in needed],
            conf=0.05,
            imgsz=self.config.detector.image_size,
            device=self.info.device,
            batch=len(needed),
            verbose=False,
        )
        for i, r in zip(needed, results, strict=True):
            if r.keypoints is None or len(r.boxes) == 0:
                continue
            inst_boxes = r.boxes.xyxy.cpu().numpy().reshape(-1, 4)
            kps = r.keypoints.data.cpu().numpy().reshape(-1, 17, 3)
            rows = np.flatnonzero(index == i)
            iou = box_iou(boxes[rows], inst_boxes)
            for row, ious in zip(rows, iou, strict=True):
                best = int(np.argmax(ious))
                if ious[best] >= self.min_iou:
                    out[row] = kps[best]
        return out
