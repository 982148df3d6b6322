"""Pose metrics (numpy only): COCO OKS AP, MPJPE, PCK, fold bookkeeping."""

from training.metrics.folds import Fold, lopo_fold, lopo_folds, resolve_fold, summarise_folds
from training.metrics.oks import ImageKeypoints, keypoint_ap, oks, per_joint_ap
from training.metrics.pose_errors import joint_errors, mpjpe, pck

__all__ = [
    "Fold",
    "ImageKeypoints",
    "joint_errors",
    "keypoint_ap",
    "lopo_fold",
    "lopo_folds",
    "mpjpe",
    "oks",
    "pck",
    "per_joint_ap",
    "resolve_fold",
    "summarise_folds",
]
