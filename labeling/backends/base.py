"""The backend interface and the factory that imports a backend only when it is chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from acquisition.errors import MissingDependency
from labeling.config import LabelingConfig
from labeling.models import file_sha256, require_weights

__all__ = [
    "ModelInfo",
    "PersonDetector",
    "PoseEstimator",
    "create_detector",
    "create_pose_estimator",
    "resolve_device",
]


@dataclass(frozen=True)
class ModelInfo:
    """What produced a label: recorded in every labels file.

    Attributes:
        name: model name (registry key or free name).
        backend: ``ultralytics``, ``mmpose`` or another implementation's name.
        architecture: model YAML / config it was built from.
        checkpoint: checkpoint path, None for random weights or a test double.
        checkpoint_sha256: sha256 of the checkpoint file, None without one.
        random_weights: True when the model was built untrained (labels are noise).
        device: inference device.
        versions: package versions (``torch``, ``ultralytics``, ``mmpose`` ...).
    """

    name: str
    backend: str
    architecture: str
    checkpoint: str | None
    checkpoint_sha256: str | None
    random_weights: bool
    device: str
    versions: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class PersonDetector(Protocol):
    """Detects people in RGB images."""

    info: ModelInfo

    def detect(self, images: Sequence[NDArray[np.uint8]]) -> list[NDArray[np.float32]]:
        """One (N_i, 5) ``x1, y1, x2, y2, score`` array of person boxes per (H, W, 3) RGB image."""
        ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Top-down 2-D pose: COCO-17 keypoints of given person boxes."""

    info: ModelInfo

    def estimate(
        self,
        images: Sequence[NDArray[np.uint8]],
        boxes: NDArray[np.float64],
        image_index: NDArray[np.int64],
    ) -> NDArray[np.float32]:
        """Keypoints of the person in ``boxes[n]`` (N, 4) of image ``image_index[n]``.

        Returns:
            (N, 17, 3) ``(u, v, score)`` in image pixels (COCO order), score >= 0. Heatmap
            models always give finite u, v (score 0 for a joint without a positive heatmap
            peak); NaN u, v and score 0 where a model finds no instance for a box (YOLO-pose).
        """
        ...


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; others unchanged."""
    if device != "auto":
        return device
    try:
        import torch
    except ImportError as exc:
        raise MissingDependency("torch", "torch", "labeling inference") from exc
    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpoint_and_hash(
    config: LabelingConfig, role: str, model: str
) -> tuple[Path | None, str | None]:
    """Local checkpoint (checked to exist) and its sha256, or (None, None) for random weights."""
    path = config.checkpoint_path("detector" if role == "detector" else "pose")
    if path is None:
        return None, None
    require_weights(model, path)
    return path, file_sha256(path)


def create_detector(config: LabelingConfig) -> PersonDetector:
    """The configured person detector (ultralytics YOLO); weights must exist locally."""
    from labeling.backends.ultralytics_backend import UltralyticsDetector

    return UltralyticsDetector(config)


def create_pose_estimator(config: LabelingConfig) -> PoseEstimator:
    """The configured top-down pose model (mmpose or ultralytics)."""
    backend = config.pose.resolved_backend
    if backend == "mmpose":
        from labeling.backends.mmpose_backend import MMPoseTopDown

        return MMPoseTopDown(config)
    if backend == "ultralytics":
        from labeling.backends.ultralytics_backend import UltralyticsPose

        return UltralyticsPose(config)
    raise ValueError(f"unknown pose backend {backend!r}")
