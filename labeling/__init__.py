"""Pseudo ground truth from RGB(-D): person detection -> subject tracking -> top-down 2-D pose
-> depth lifting -> rig and radar frames -> QA, written as ``<take>/labels/<labeler>.h5``.

Importing this package (or any module re-exported here) imports no deep learning framework:
torch, ultralytics and mmpose are imported by :mod:`labeling.backends` when a model is built.
See docs/labeling.md.
"""

from labeling.config import (
    PRESETS,
    DetectorConfig,
    LabelingConfig,
    LabelingConfigError,
    LiftingConfig,
    PoseConfig,
    SmoothingConfig,
    load_config,
)
from labeling.labels_file import (
    LABELS_FORMAT,
    LABELS_FORMAT_VERSION,
    RadarLabels,
    TakeLabels,
    labels_path,
    list_labelers,
    read_labels,
    write_labels,
)
from labeling.models import MODEL_FILES, MissingWeights, ModelFile, WeightsMismatch
from labeling.pipeline import TakeLabeler
from labeling.skeletons import SCHEMAS, SkeletonSchema, convert, get_schema
from labeling.tracking import FLAG_BITS, TrackingConfig

__all__ = [
    "FLAG_BITS",
    "LABELS_FORMAT",
    "LABELS_FORMAT_VERSION",
    "MODEL_FILES",
    "PRESETS",
    "SCHEMAS",
    "DetectorConfig",
    "LabelingConfig",
    "LabelingConfigError",
    "LiftingConfig",
    "MissingWeights",
    "ModelFile",
    "PoseConfig",
    "RadarLabels",
    "SkeletonSchema",
    "SmoothingConfig",
    "TakeLabeler",
    "TakeLabels",
    "TrackingConfig",
    "WeightsMismatch",
    "convert",
    "get_schema",
    "labels_path",
    "list_labelers",
    "load_config",
    "read_labels",
    "write_labels",
]
