"""Typed configuration of an mmJoints run (``training/configs/mmjoints.yaml``), torch-free.

Loaded with :func:`load_mmjoints_config`; every key is checked (unknown keys and wrong types are
errors naming the key) by the shared :func:`training.config.dataclass_from_dict`. Overrides use
dotted keys: ``--set model.signal_dim=16 optim.epochs=3``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from training.config import CONFIG_DIR, ConfigError, _set_dotted, dataclass_from_dict


@dataclass
class MmJointsModelConfig:
    """Sizes and loss weights.

    Attributes:
        pose_basis: D_p, orthogonal cluster poses of the pose VAE (paper 32).
        gmm_max_clusters: largest cluster count tried by BIC on the training poses.
        signal_dim: D_S, signal latent size (paper 64); D_C = 2 D_S + 1 (paper 129).
        mixture_components: components of the latent signal GMM generated from the pose.
        hidden: width of the MLPs and of the point encoder.
        attention_heads: heads of the point-sequence transformer.
        attention_layers: its layers.
        triplet_margin: margin of the signal triplet loss.
        kl_weight: weight of the KL terms (VAE and signal encoder).
        orthogonal_weight: weight of the orthogonal projection loss of the pose basis.
        huber_delta: Huber delta of the refinement loss, metres.
    """

    pose_basis: int = 32
    gmm_max_clusters: int = 8
    signal_dim: int = 64
    mixture_components: int = 4
    hidden: int = 128
    attention_heads: int = 4
    attention_layers: int = 2
    triplet_margin: float = 1.0
    kl_weight: float = 1e-3
    orthogonal_weight: float = 1.0
    huber_delta: float = 0.05

    def validate(self) -> None:
        if min(self.pose_basis, self.signal_dim, self.mixture_components, self.hidden) < 1:
            raise ConfigError("model: sizes must be >= 1")
        if self.hidden % self.attention_heads:
            raise ConfigError("model.hidden must divide by model.attention_heads")
        if self.gmm_max_clusters < 1:
            raise ConfigError("model.gmm_max_clusters must be >= 1")


@dataclass
class MmJointsDataConfig:
    """Inputs and descriptor units.

    Attributes:
        skeleton: label schema of the ground truth and of the base predictions.
        radars: radars whose points are merged (null = all).
        window: K frames of points per sample (paper: half a second = 5 frames at 10 Hz).
        max_points: points kept per frame (strongest first; random subset in training).
        length_unit_m: metres per distance unit of the descriptor formulas.
        torso_length: D0 in those units; null = mean torso length of the training labels.
        intensity_scale: point intensities are divided by this; null = calibrated on the
            training frames (``descriptors.calibrate_intensity_scale``).
        min_point_distance_m: point-joint distances in psi are at least this (about the
            position resolution of radar points: 4 cm range bins, ~10 cm angle bins at 3 m);
            0 = the bare formula (one point next to a joint then decides the frame's xi).
        pck_thresholds_m: PCK thresholds of the refined-pose evaluation, metres.
    """

    skeleton: str = "coco17"
    radars: list[str] | None = None
    window: int = 5
    max_points: int = 32
    length_unit_m: float = 0.01
    torso_length: float | None = None
    intensity_scale: float | None = None
    min_point_distance_m: float = 0.1
    pck_thresholds_m: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2])

    def validate(self) -> None:
        if self.min_point_distance_m < 0:
            raise ConfigError("data.min_point_distance_m must be >= 0")
        if self.window < 1 or self.max_points < 1 or self.length_unit_m <= 0:
            raise ConfigError("data.window, data.max_points >= 1 and data.length_unit_m > 0")


@dataclass
class MmJointsOptimConfig:
    """Adam settings of each stage.

    Attributes:
        baseline_cross_fit_folds: with the point-cloud baseline as the base model, k >= 2
            predicts the training sequences' base poses with baselines trained on the other
            folds of the training subjects; 0 or 1 (default): with the baseline trained on all
            of them (docs/mmjoints.md: with few subjects the fold baselines are much weaker).
    """

    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 32
    epochs: int = 30
    baseline_epochs: int = 30
    activity_epochs: int = 40
    baseline_cross_fit_folds: int = 0

    def validate(self) -> None:
        if self.lr <= 0 or self.batch_size < 2 or self.epochs < 1:
            raise ConfigError("optim.lr > 0, optim.batch_size >= 2, optim.epochs >= 1")


@dataclass
class ActivityConfig:
    """Downstream activity-recognition LSTM.

    Attributes:
        window: frames per classified window.
        stride: frames between windows.
        hidden: LSTM hidden size.
    """

    window: int = 8
    stride: int = 2
    hidden: int = 64

    def validate(self) -> None:
        if self.window < 1 or self.stride < 1 or self.hidden < 1:
            raise ConfigError("activity sizes must be >= 1")


@dataclass
class MmJointsConfig:
    """A whole mmJoints run."""

    model: MmJointsModelConfig = field(default_factory=MmJointsModelConfig)
    data: MmJointsDataConfig = field(default_factory=MmJointsDataConfig)
    optim: MmJointsOptimConfig = field(default_factory=MmJointsOptimConfig)
    activity: ActivityConfig = field(default_factory=ActivityConfig)
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        self.model.validate()
        self.data.validate()
        self.optim.validate()
        self.activity.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_tree(path: str | Path | None, default_name: str) -> dict[str, Any]:
    """YAML mapping of ``path`` (default ``training/configs/<default_name>.yaml``)."""
    p = Path(path) if path else CONFIG_DIR / f"{default_name}.yaml"
    try:
        tree = yaml.safe_load(p.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    return tree


def load_mmjoints_config(
    path: str | Path | None = None, overrides: list[tuple[str, Any]] | None = None
) -> MmJointsConfig:
    """Load, override (dotted keys) and validate an mmJoints config."""
    tree = load_tree(path, "mmjoints")
    tree.pop("name", None)
    for key, value in overrides or []:
        _set_dotted(tree, key, value)
    cfg = dataclass_from_dict(MmJointsConfig, tree)
    cfg.validate()
    return cfg
