"""Typed run configuration, loaded from YAML (``training/configs/<model>.yaml``) and validated.

A config file has the sections ``model`` (name + ``params`` validated by the model's own
dataclass), ``data``, ``optim``, ``augment``, ``trainer`` and ``eval``; every key is checked
against the dataclasses below (unknown keys and wrong types are errors naming the key).
Overrides from the command line use dotted keys, ``--set optim.lr=3e-4 model.params.width=8``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override is invalid (the message names the key)."""


@dataclass
class DataConfig:
    """How windows are cut from a dataset and turned into inputs and targets.

    Attributes:
        representation: radar representation read (``vrdae``, ``rd``, ``ra``).
        radars: radars used, in input order; ``None`` = every radar of the first sequence.
        window: frames per window (T).
        stride: frames between consecutive window starts for training.
        eval_stride: same for validation / evaluation / prediction.
        target_offsets: frames of the window that carry targets (0 .. T-1).
        doppler_bins: ``[start, stop)`` kept on axis 1 of ``vrdae`` (HuPR: bins 4..11), or null.
        elevation_mean: average the ``vrdae`` elevation axis in the loader instead of the model
            (same result; 8x less memory per sample).
        skeleton: label schema trained on (``labeling.skeletons`` name).
        min_label_score: joints whose label score is below this get weight 0.
        heatmap_size: (height, width) of target heatmaps.
        heatmap_sigma: Gaussian sigma of target heatmaps, heatmap pixels.
        input_scale: divide inputs by this; null = estimated from training windows at start
            (median RMS, stored in the checkpoint).
        num_workers: DataLoader worker processes.
    """

    representation: str = "vrdae"
    radars: list[str] | None = None
    window: int = 8
    stride: int = 1
    eval_stride: int = 1
    target_offsets: list[int] = field(default_factory=lambda: [4])
    doppler_bins: list[int] | None = field(default_factory=lambda: [4, 12])
    elevation_mean: bool = False
    skeleton: str = "hupr14"
    min_label_score: float = 0.0
    heatmap_size: list[int] = field(default_factory=lambda: [64, 64])
    heatmap_sigma: float = 2.0
    input_scale: float | None = None
    num_workers: int = 0

    def validate(self) -> None:
        if self.window < 1 or self.stride < 1 or self.eval_stride < 1:
            raise ConfigError("data.window, data.stride and data.eval_stride must be >= 1")
        if not self.target_offsets or any(not 0 <= o < self.window for o in self.target_offsets):
            raise ConfigError(f"data.target_offsets must lie in [0, {self.window})")
        if self.doppler_bins is not None and (
            len(self.doppler_bins) != 2 or not 0 <= self.doppler_bins[0] < self.doppler_bins[1]
        ):
            raise ConfigError("data.doppler_bins must be [start, stop) with start < stop")
        if len(self.heatmap_size) != 2 or min(self.heatmap_size) < 1:
            raise ConfigError("data.heatmap_size must be [height, width]")
        if self.heatmap_sigma <= 0:
            raise ConfigError("data.heatmap_sigma must be > 0")


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (step decay every ``lr_step_iterations``)."""

    optimizer: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    batch_size: int = 20
    epochs: int = 200
    lr_gamma: float = 0.999
    lr_step_iterations: int = 2000
    grad_clip_norm: float | None = None

    def validate(self) -> None:
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise ConfigError("optim.optimizer must be adam, adamw or sgd")
        if self.lr <= 0 or self.batch_size < 1 or self.epochs < 1:
            raise ConfigError("optim.lr, optim.batch_size and optim.epochs must be positive")
        if self.lr_step_iterations < 1 or not 0 < self.lr_gamma <= 1:
            raise ConfigError("optim.lr_step_iterations >= 1 and 0 < optim.lr_gamma <= 1")


@dataclass
class AugmentConfig:
    """Input augmentation (training only). Neither HuPR nor milliMamba describes any, so the
    paper configs leave it off; both are physically plausible radar perturbations.

    Attributes:
        gain_std: std of a log-normal gain per radar and window (receiver gain differences).
        noise_std: complex white noise added, relative to the window's RMS.
    """

    gain_std: float = 0.0
    noise_std: float = 0.0

    def validate(self) -> None:
        if self.gain_std < 0 or self.noise_std < 0:
            raise ConfigError("augment.gain_std and augment.noise_std must be >= 0")


@dataclass
class TrainerConfig:
    """Loop, logging, checkpoints and selection.

    Attributes:
        seed: seeds Python, numpy and torch; data order and augmentation derive from it.
        device: ``auto`` (cuda when available), ``cpu``, ``cuda``, ``cuda:1`` ...
        amp: mixed precision (float16 autocast + GradScaler) when on CUDA.
        deterministic: ``torch.use_deterministic_algorithms`` (warn-only) and no cuDNN benchmark.
        log_every: iterations between progress lines and CSV rows.
        checkpoint_every: iterations between mid-epoch ``last.pt`` saves (0 = end of epoch only).
        val_every: epochs between validations.
        select_metric: validation metric for ``best.pt`` and early stopping (``AP``, ``loss``...).
        select_mode: ``max`` or ``min``.
        early_stopping_patience: validations without improvement before stopping (null = off).
        tensorboard: also write TensorBoard events when the package is installed.
    """

    seed: int = 0
    device: str = "auto"
    amp: bool = True
    deterministic: bool = True
    log_every: int = 50
    checkpoint_every: int = 0
    val_every: int = 1
    select_metric: str = "AP"
    select_mode: str = "max"
    early_stopping_patience: int | None = None
    tensorboard: bool = True

    def validate(self) -> None:
        if self.select_mode not in ("max", "min"):
            raise ConfigError("trainer.select_mode must be max or min")
        if self.log_every < 1 or self.val_every < 1 or self.checkpoint_every < 0:
            raise ConfigError("trainer.log_every/val_every >= 1, checkpoint_every >= 0")


@dataclass
class EvalConfig:
    """Evaluation metrics.

    Attributes:
        pck_thresholds: PCK thresholds as fractions of the ground-truth box diagonal (2-D).
        pck_thresholds_m: PCK thresholds in metres (3-D predictions).
    """

    pck_thresholds: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2])
    pck_thresholds_m: list[float] = field(default_factory=lambda: [0.05, 0.1])

    def validate(self) -> None:
        if any(t <= 0 for t in [*self.pck_thresholds, *self.pck_thresholds_m]):
            raise ConfigError("eval PCK thresholds must be > 0")


@dataclass
class ModelConfig:
    """Model name and its own parameters (validated by the model's params dataclass)."""

    name: str = "hupr"
    params: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        from training.model_params import MODELS

        if self.name not in MODELS:
            raise ConfigError(f"model.name {self.name!r} unknown; known: {', '.join(MODELS)}")


@dataclass
class RunConfig:
    """A whole training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> None:
        from training.model_params import model_params

        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()
        model_params(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_type(value: Any, tp: Any, key: str) -> Any:
    """``value`` checked (and int -> float widened) against annotation ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not {tp}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_check_type(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{key}: expected int, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dataclass_from_dict(tp, value, prefix=f"{key}.")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}")
    return value


def dataclass_from_dict(cls: type[T], data: dict[str, Any], *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types (recursively)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + u for u in unknown)}; known: {sorted(names)}"
        )
    kwargs = {k: _check_type(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {p} is not a section")
    node[parts[-1]] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["optim.lr=3e-4", "data.radars=[horizontal]"]`` -> [(key, YAML-parsed value)]."""
    out: list[tuple[str, Any]] = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must be key=value")
        out.append((key.strip(), yaml.safe_load(raw)))
    return out


def default_config_path(model: str) -> Path:
    return CONFIG_DIR / f"{model}.yaml"


def load_config(
    path: str | Path | None = None,
    *,
    model: str | None = None,
    overrides: list[tuple[str, Any]] | None = None,
) -> RunConfig:
    """Load and validate a run config.

    Args:
        path: YAML file; ``None`` = the model's paper config in ``training/configs``.
        model: model name (used when ``path`` is None; must match the file's otherwise).
        overrides: (dotted key, value) pairs applied after the file.
    """
    if path is None:
        if model is None:
            raise ConfigError("give a config file or a model name")
        path = default_config_path(model)
    try:
        tree = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    if model is not None:
        tree.setdefault("model", {})
        file_model = tree["model"].get("name")
        if file_model is not None and file_model != model:
            raise ConfigError(f"{path} is a config for {file_model!r}, not {model!r}")
        tree["model"]["name"] = model
    return config_from_tree(tree, overrides)


def config_from_tree(
    tree: dict[str, Any], overrides: list[tuple[str, Any]] | None = None
) -> RunConfig:
    """Validated :class:`RunConfig` from a nested mapping plus dotted overrides."""
    tree = yaml.safe_load(yaml.safe_dump(tree))  # deep copy of plain data
    for key, value in overrides or []:
        _set_dotted(tree, key, value)
    cfg = dataclass_from_dict(RunConfig, tree)
    cfg.validate()
    return cfg
