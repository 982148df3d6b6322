"""Detector and 2-D pose backends behind one interface. Importing this package imports no deep
learning framework: :func:`create_detector` and :func:`create_pose_estimator` import the chosen
backend (ultralytics, mmpose) when called."""

from labeling.backends.base import (
    ModelInfo,
    PersonDetector,
    PoseEstimator,
    create_detector,
    create_pose_estimator,
    resolve_device,
)

__all__ = [
    "ModelInfo",
    "PersonDetector",
    "PoseEstimator",
    "create_detector",
    "create_pose_estimator",
    "resolve_device",
]
