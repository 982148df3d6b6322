"""Typed configuration of a Mission run (``training/configs/mission.yaml``), torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.config import ConfigError, _set_dotted, dataclass_from_dict
from training.mmjoints.config import load_tree


@dataclass
class MissionModelConfig:
    """Sizes and loss weights (paper values as defaults).

    Attributes:
        point_mlp: per-point MLP sizes of the RF branch (paper 5-12-24-48-64).
        rf_lstm_hidden: BiLSTM hidden size per direction.
        embed_dim: width of both branches' frame features and of the coordinated space.
        backbone: ``resnet50`` (paper) or ``tiny`` (a 3-layer CNN for CPU tests).
        resnet50_weights: local ImageNet state-dict file for ResNet-50 (none can be
            downloaded); null = random initialisation.
        freeze_backbone: do not train the image backbone.
        image_size: side of the square frames given to the backbone (paper 224).
        vision_mlp_hidden: hidden width of the MLP from backbone features to embed_dim.
        box_features: also give that MLP the person's box in each frame (top / bottom rows,
            left / right columns, area; ``pipeline.person_boxes``): with a fixed camera, the
            stature and distance cues that the image backbone's global pooling discards.
        attention_dim: inner width of the non-local blocks.
        triplet_margin: paper 0.3.
        triplet_mining: ``hard`` (batch-hard) or ``all`` (mean over active triplets; the paper
            does not say which; batch-hard collapsed on small simulated sets).
        alpha: weight of the auxiliary pose loss (paper 1).
        beta: weight of the triplet loss (paper 2).
    """

    point_mlp: list[int] = field(default_factory=lambda: [5, 12, 24, 48, 64])
    rf_lstm_hidden: int = 64
    embed_dim: int = 256
    backbone: str = "resnet50"
    resnet50_weights: str | None = None
    freeze_backbone: bool = False
    image_size: int = 224
    vision_mlp_hidden: int = 512
    box_features: bool = True
    attention_dim: int = 128
    triplet_margin: float = 0.3
    triplet_mining: str = "all"
    alpha: float = 1.0
    beta: float = 2.0

    def validate(self) -> None:
        if len(self.point_mlp) < 2 or self.point_mlp[0] != 5:
            raise ConfigError("model.point_mlp must start with 5 (x, y, z, doppler, intensity)")
        if self.triplet_mining not in ("hard", "all"):
            raise ConfigError("model.triplet_mining must be hard or all")
        if self.backbone not in ("resnet50", "tiny"):
            raise ConfigError("model.backbone must be resnet50 or tiny")
        if self.embed_dim % 2 or min(self.embed_dim, self.attention_dim, self.image_size) < 2:
            raise ConfigError("model.embed_dim must be even; sizes >= 2")


@dataclass
class MissionDataConfig:
    """Clips and protocols.

    Attributes:
        actions: actions used (the walking takes); null = every action.
        skeleton: schema of the auxiliary 3-D pose targets.
        radars: radars whose points are merged (null = all).
        camera: camera name (null = the first).
        clip_frames: frames per clip (T).
        clip_stride: frames between clip starts.
        max_points: points per radar frame kept.
        subtract_background: camera frames minus the per-pixel median of their take (a fixed
            camera's background subtraction; the person is then the only content).
        protocol: ``75/25`` (takes of every subject split 75 / 25) or ``unseen``
            (subjects split, ``test_subject_fraction`` held out).
        test_subject_fraction: unseen protocol: fraction of subjects held out (paper 18/58).
        gallery_sizes: gallery identity counts of the sweep (clipped to the available ones).
    """

    actions: list[str] | None = field(default_factory=lambda: ["walk_across", "walk_wave"])
    skeleton: str = "coco17"
    radars: list[str] | None = None
    camera: str | None = None
    clip_frames: int = 8
    clip_stride: int = 4
    max_points: int = 32
    subtract_background: bool = True
    protocol: str = "75/25"
    test_subject_fraction: float = 0.31
    gallery_sizes: list[int] = field(default_factory=lambda: [2, 5, 10, 20])

    def validate(self) -> None:
        if self.protocol not in ("75/25", "unseen"):
            raise ConfigError("data.protocol must be 75/25 or unseen")
        if self.clip_frames < 1 or self.clip_stride < 1 or self.max_points < 1:
            raise ConfigError("data.clip_frames, clip_stride and max_points must be >= 1")
        if not 0 < self.test_subject_fraction < 1:
            raise ConfigError("data.test_subject_fraction must be in (0, 1)")


@dataclass
class MissionOptimConfig:
    """Adam settings (paper: lr 2e-4, batch 16)."""

    lr: float = 2e-4
    weight_decay: float = 0.0
    batch_size: int = 16
    epochs: int = 60
    steps_per_epoch: int = 20

    def validate(self) -> None:
        if self.lr <= 0 or self.batch_size < 2 or self.epochs < 1 or self.steps_per_epoch < 1:
            raise ConfigError("optim: lr > 0, batch_size >= 2, epochs and steps_per_epoch >= 1")


@dataclass
class MissionConfig:
    """A whole Mission run."""

    model: MissionModelConfig = field(default_factory=MissionModelConfig)
    data: MissionDataConfig = field(default_factory=MissionDataConfig)
    optim: MissionOptimConfig = field(default_factory=MissionOptimConfig)
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        self.model.validate()
        self.data.validate()
        self.optim.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_mission_config(
    path: str | Path | None = None, overrides: list[tuple[str, Any]] | None = None
) -> MissionConfig:
    """Load, override (dotted keys) and validate a Mission config."""
    tree = load_tree(path, "mission")
    tree.pop("name", None)
    for key, value in overrides or []:
        _set_dotted(tree, key, value)
    cfg = dataclass_from_dict(MissionConfig, tree)
    cfg.validate()
    return cfg
