"""Labeling configuration: typed dataclasses, checked when built, loadable from YAML.

A config names the detector and the 2-D pose model (registry names of
:data:`labeling.models.MODEL_FILES`, or ``checkpoint``/``architecture`` given explicitly), the
subject tracking, smoothing and 3-D lifting settings. Checkpoints are local files only.

Example YAML (every key optional; ``preset`` picks the starting point)::

    preset: hrnet            # hrnet | vitpose | yolo-pose
    labeler: yolo11m+hrnet_w32
    camera: rgb
    device: auto             # auto | cpu | cuda | cuda:1
    batch_size: 16
    models_dir: /data/models
    detector: {model: yolo11m, min_score: 0.25}
    pose: {model: hrnet_w32, checkpoint: /data/models/hrnet.pth}
    tracking: {min_score: 0.5, min_iou: 0.3}
    smoothing: {method: one_euro, min_cutoff_hz: 1.0, beta: 0.05}
    lifting: {window: 7}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from labeling.models import MODEL_FILES, ModelFile, default_models_dir
from labeling.tracking import TrackingConfig

__all__ = [
    "COCO_SURFACE_OFFSET_M",
    "PRESETS",
    "DetectorConfig",
    "LabelingConfig",
    "LabelingConfigError",
    "LiftingConfig",
    "PoseConfig",
    "SmoothingConfig",
    "load_config",
]

# Distance from the visible surface to the joint centre along the viewing ray, metres, COCO
# order: about half the thickness of the body part at the joint for an adult seen from the front
# (nose and eyes on the surface; ears and hips deepest).
COCO_SURFACE_OFFSET_M: tuple[float, ...] = (
    0.0, 0.01, 0.01, 0.06, 0.06, 0.06, 0.06, 0.045, 0.045,
    0.035, 0.035, 0.08, 0.08, 0.06, 0.06, 0.045, 0.045,
)  # fmt: skip


class LabelingConfigError(ValueError):
    """A labeling config value is out of range or unknown; the message names the key."""


def _check(cond: bool, key: str, reason: str) -> None:
    if not cond:
        raise LabelingConfigError(f"labeling config: {key}: {reason}")


@dataclass(frozen=True)
class DetectorConfig:
    """Person detector (ultralytics YOLO).

    Attributes:
        model: registry name (``yolo11m``) or a free name when ``architecture`` is given.
        checkpoint: local weights; default ``<models_dir>/<registry filename>``.
        architecture: ultralytics model YAML, used with ``random_weights``.
        min_score: detections below are dropped before tracking.
        iou: NMS IoU threshold.
        image_size: inference size (pixels, long side).
        random_weights: build the architecture untrained (tests, benchmarks): labels are noise.
    """

    model: str = "yolo11m"
    checkpoint: Path | None = None
    architecture: str | None = None
    min_score: float = 0.25
    iou: float = 0.7
    image_size: int = 640
    random_weights: bool = False

    def __post_init__(self) -> None:
        _check(0.0 <= self.min_score <= 1.0, "detector.min_score", "must be in [0, 1]")
        _check(0.0 < self.iou <= 1.0, "detector.iou", "must be in (0, 1]")
        _check(self.image_size % 32 == 0, "detector.image_size", "must be a multiple of 32")
        _check(
            self.model in MODEL_FILES or self.architecture is not None,
            "detector.model",
            f"unknown model {self.model!r} (known: {sorted(MODEL_FILES)}) and no architecture",
        )


@dataclass(frozen=True)
class PoseConfig:
    """Top-down 2-D pose model.

    Attributes:
        model: registry name (``hrnet_w32``, ``vitpose_b``, ``yolo11m_pose``).
        backend: ``mmpose`` or ``ultralytics``; default from the registry.
        checkpoint: local weights; default ``<models_dir>/<registry filename>``.
        architecture: mmpose config file (absolute, or relative to mmpose's packaged configs)
            or ultralytics YAML; default from the registry.
        input_size: top-down input (w, h); default from the registry.
        bbox_padding: box enlargement before cropping.
        min_joint_score: joints scoring below are not valid (kept in the raw arrays).
        low_confidence_score: a frame whose mean joint score is below is ``low_confidence``.
        refine: sub-pixel heatmap refinement.
        random_weights: build the architecture untrained (tests, benchmarks).
    """

    model: str = "hrnet_w32"
    backend: Literal["mmpose", "ultralytics"] | None = None
    checkpoint: Path | None = None
    architecture: str | None = None
    input_size: tuple[int, int] | None = None
    bbox_padding: float = 1.25
    min_joint_score: float = 0.3
    low_confidence_score: float = 0.4
    refine: bool = True
    random_weights: bool = False

    def __post_init__(self) -> None:
        _check(
            self.model in MODEL_FILES or (self.backend is not None and bool(self.architecture)),
            "pose.model",
            f"unknown model {self.model!r} (known: {sorted(MODEL_FILES)}); give backend and "
            "architecture for another one",
        )
        _check(self.bbox_padding >= 1.0, "pose.bbox_padding", "must be >= 1")
        _check(0.0 <= self.min_joint_score <= 1.0, "pose.min_joint_score", "must be in [0, 1]")
        _check(
            0.0 <= self.low_confidence_score <= 1.0,
            "pose.low_confidence_score",
            "must be in [0, 1]",
        )

    @property
    def resolved_backend(self) -> str:
        if self.backend is not None:
            return self.backend
        return MODEL_FILES[self.model].backend

    @property
    def resolved_input_size(self) -> tuple[int, int]:
        if self.input_size is not None:
            return self.input_size
        entry = MODEL_FILES.get(self.model)
        return entry.input_size if entry and entry.input_size else (192, 256)


@dataclass(frozen=True)
class SmoothingConfig:
    """Temporal filter applied to 2-D and 3-D tracks (raw values are kept beside).

    Attributes:
        method: ``one_euro``, ``savgol`` or ``none``.
        min_cutoff_hz, beta, d_cutoff_hz: One-Euro parameters.
        window, order: Savitzky-Golay window (frames, odd) and polynomial order.
    """

    method: Literal["one_euro", "savgol", "none"] = "one_euro"
    min_cutoff_hz: float = 1.0
    beta: float = 0.05
    d_cutoff_hz: float = 1.0
    window: int = 7
    order: int = 2

    def __post_init__(self) -> None:
        _check(
            self.method in ("one_euro", "savgol", "none"),
            "smoothing.method",
            f"unknown {self.method!r}",
        )
        _check(self.min_cutoff_hz > 0, "smoothing.min_cutoff_hz", "must be > 0")
        _check(self.d_cutoff_hz > 0, "smoothing.d_cutoff_hz", "must be > 0")
        _check(self.beta >= 0, "smoothing.beta", "must be >= 0")
        _check(
            self.window % 2 == 1 and self.window > self.order,
            "smoothing.window",
            "must be odd and larger than order",
        )


@dataclass(frozen=True)
class LiftingConfig:
    """Depth lifting (see :func:`labeling.geometry.lift_keypoints`).

    Attributes:
        window: odd pixel window for the depth median.
        cluster_gap_m: depth gap separating layers (person / background) in the window.
        min_pixels: valid depth pixels needed in the chosen layer.
        surface_offset_m: per-COCO-joint surface-to-joint-centre offsets (17 values).
        body_depth_range_m: joints farther than this from the body's median depth are invalid.
        depth_scale: metres per depth unit (0.001 for uint16 millimetres).
        depth_layer: ``nearest`` (the nearest depth layer in the window) or ``centre`` (the
            layer of the keypoint's own pixel); see :func:`labeling.geometry.sample_depth`.
    """

    window: int = 7
    cluster_gap_m: float = 0.10
    min_pixels: int = 4
    surface_offset_m: tuple[float, ...] = COCO_SURFACE_OFFSET_M
    body_depth_range_m: float = 1.0
    depth_scale: float = 0.001
    depth_layer: Literal["nearest", "centre"] = "nearest"

    def __post_init__(self) -> None:
        _check(
            self.depth_layer in ("nearest", "centre"),
            "lifting.depth_layer",
            f"unknown {self.depth_layer!r}",
        )
        _check(self.window >= 1 and self.window % 2 == 1, "lifting.window", "must be odd")
        _check(len(self.surface_offset_m) == 17, "lifting.surface_offset_m", "needs 17 values")
        _check(self.min_pixels >= 1, "lifting.min_pixels", "must be >= 1")
        _check(self.depth_scale > 0, "lifting.depth_scale", "must be > 0")


@dataclass(frozen=True)
class LabelingConfig:
    """Everything ``label-session`` needs.

    Attributes:
        labeler: name of the labels file (``labels/<labeler>.h5``); default
            ``<detector>+<pose>``.
        camera: rig camera to label; default the first camera of the take.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: frames per inference batch.
        models_dir: where registry checkpoints live; default :func:`default_models_dir`.
        radars: radars to express joints in (default: every radar of the rig).
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    lifting: LiftingConfig = field(default_factory=LiftingConfig)
    labeler: str | None = None
    camera: str | None = None
    device: str = "auto"
    batch_size: int = 16
    models_dir: Path | None = None
    radars: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
            "device",
            f"unknown device {self.device!r}",
        )
        if self.labeler is not None:
            _check(
                bool(self.labeler) and "/" not in self.labeler and not self.labeler.startswith("."),
                "labeler",
                "must be a plain file name",
            )
        if self.pose.resolved_backend == "ultralytics" and self.pose.model in MODEL_FILES:
            _check(
                MODEL_FILES[self.pose.model].role == "pose",
                "pose.model",
                "is not a pose model",
            )

    @property
    def labeler_name(self) -> str:
        return self.labeler or f"{self.detector.model}+{self.pose.model}"

    def resolved_models_dir(self) -> Path:
        return (self.models_dir or default_models_dir()).expanduser()

    def checkpoint_path(self, role: Literal["detector", "pose"]) -> Path | None:
        """Local checkpoint of the detector or pose model (None with random weights)."""
        part: DetectorConfig | PoseConfig = self.detector if role == "detector" else self.pose
        if part.random_weights:
            return None
        if part.checkpoint is not None:
            return Path(part.checkpoint).expanduser()
        entry: ModelFile = MODEL_FILES[part.model]
        return self.resolved_models_dir() / entry.filename

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-serialisable form (paths as strings)."""

        def plain(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return {k: plain(v) for k, v in dataclasses.asdict(self).items()}


PRESETS: dict[str, LabelingConfig] = {
    "hrnet": LabelingConfig(pose=PoseConfig(model="hrnet_w32")),
    "vitpose": LabelingConfig(pose=PoseConfig(model="vitpose_b")),
    "yolo-pose": LabelingConfig(pose=PoseConfig(model="yolo11m_pose")),
}

_SECTIONS: dict[str, type] = {
    "detector": DetectorConfig,
    "pose": PoseConfig,
    "tracking": TrackingConfig,
    "smoothing": SmoothingConfig,
    "lifting": LiftingConfig,
}
_PATH_KEYS = {"checkpoint", "models_dir"}
_TUPLE_KEYS = {"input_size", "surface_offset_m", "radars"}


def _convert(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in _PATH_KEYS:
        return Path(str(value)).expanduser()
    if key in _TUPLE_KEYS:
        _check(isinstance(value, list | tuple), key, "must be a list")
        return tuple(value)
    return value


def _section(cls: type, base: Any, values: Any, name: str) -> Any:
    _check(isinstance(values, dict), name, "must be a mapping")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    _check(not unknown, name, f"unknown keys {unknown} (known: {sorted(known)})")
    try:
        return replace(base, **{k: _convert(k, v) for k, v in values.items()})
    except TypeError as exc:
        raise LabelingConfigError(f"labeling config: {name}: {exc}") from exc


def config_from_dict(data: dict[str, Any]) -> LabelingConfig:
    """Build a config from a mapping (a preset plus overrides); checked."""
    data = dict(data)
    preset = str(data.pop("preset", "hrnet"))
    _check(preset in PRESETS, "preset", f"unknown {preset!r} (known: {sorted(PRESETS)})")
    base = PRESETS[preset]
    sections = {
        name: _section(cls, getattr(base, name), data.pop(name), name)
        for name, cls in _SECTIONS.items()
        if name in data
    }
    known = {f.name for f in dataclasses.fields(LabelingConfig)}
    unknown = sorted(set(data) - known)
    _check(not unknown, "<top level>", f"unknown keys {unknown}")
    try:
        return replace(base, **sections, **{k: _convert(k, v) for k, v in data.items()})
    except TypeError as exc:
        raise LabelingConfigError(f"labeling config: {exc}") from exc


def load_config(path: str | Path | None = None, *, preset: str | None = None) -> LabelingConfig:
    """Load a YAML labeling config (or just a preset when ``path`` is None)."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        _check(isinstance(loaded, dict), str(path), "must be a YAML mapping")
        data = dict(loaded)
    if preset is not None:
        data["preset"] = preset
    return config_from_dict(data)
