"""The model files labeling needs: where they come from, where they live, how they are checked.

Weights are never downloaded while labeling. ``label-models download`` (on a machine with
internet access) fetches the files of :data:`MODEL_FILES` into the models folder and checks them:

* mmpose checkpoints carry the first 8 hex digits of their sha256 in their file name (the
  OpenMMLab publishing convention); the download must match that prefix;
* the ultralytics releases publish no checksum; the sha256 of the downloaded file is recorded in
  ``<models_dir>/models.lock.json`` and every later ``check`` verifies it (trust on first use).

Labels files record the sha256 of every checkpoint used.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_MODELS_DIR",
    "MODEL_FILES",
    "MissingWeights",
    "ModelFile",
    "WeightsMismatch",
    "default_models_dir",
    "download_model",
    "file_sha256",
    "locked_sha256",
    "require_weights",
    "verify_model",
]

DEFAULT_MODELS_DIR = Path("~/.cache/radar-sensing-toolkit/models")
MODELS_DIR_ENV = "RADAR_LABELING_MODELS"
LOCK_NAME = "models.lock.json"


@dataclass(frozen=True)
class ModelFile:
    """One downloadable checkpoint.

    Attributes:
        name: registry key used in labeling configs (``hrnet_w32``).
        filename: file name inside the models folder.
        url: where ``label-models download`` gets it.
        sha256_prefix: leading hex digits of its sha256 when published, else None.
        role: ``detector`` or ``pose``.
        backend: ``ultralytics`` or ``mmpose``.
        architecture: ultralytics model YAML, or mmpose config path relative to mmpose's
            packaged ``.mim/configs`` folder (also used to build random-weight models in tests).
        input_size: model input (w, h) for top-down pose models, else None.
        description: what it is.
    """

    name: str
    filename: str
    url: str
    sha256_prefix: str | None
    role: str
    backend: str
    architecture: str
    input_size: tuple[int, int] | None
    description: str


_MMPOSE_COCO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
_ULTRALYTICS = "https://github.com/ultralytics/assets/releases/download/v8.3.0/"

MODEL_FILES: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            name="yolo11m",
            filename="yolo11m.pt",
            url=_ULTRALYTICS + "yolo11m.pt",
            sha256_prefix=None,
            role="detector",
            backend="ultralytics",
            architecture="yolo11m.yaml",
            input_size=None,
            description="Ultralytics YOLO11-m COCO detector (person = class 0)",
        ),
        ModelFile(
            name="yolo11n",
            filename="yolo11n.pt",
            url=_ULTRALYTICS + "yolo11n.pt",
            sha256_prefix=None,
            role="detector",
            backend="ultralytics",
            architecture="yolo11n.yaml",
            input_size=None,
            description="Ultralytics YOLO11-n COCO detector (fast, less accurate)",
        ),
        ModelFile(
            name="yolo11m_pose",
            filename="yolo11m-pose.pt",
            url=_ULTRALYTICS + "yolo11m-pose.pt",
            sha256_prefix=None,
            role="pose",
            backend="ultralytics",
            architecture="yolo11m-pose.yaml",
            input_size=None,
            description="Ultralytics YOLO11-m pose (COCO-17, one-stage, the light alternative)",
        ),
        ModelFile(
            name="hrnet_w32",
            filename="td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
            url=_MMPOSE_COCO + "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
            sha256_prefix="81c58e40",
            role="pose",
            backend="mmpose",
            architecture=(
                "body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"
            ),
            input_size=(192, 256),
            description="mmpose HRNet-W32 top-down heatmap, COCO 256x192 (HuPR's labeler)",
        ),
        ModelFile(
            name="vitpose_b",
            filename="td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth",
            url=_MMPOSE_COCO + "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth",
            sha256_prefix="216eae50",
            role="pose",
            backend="mmpose",
            architecture=(
                "body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py"
            ),
            input_size=(192, 256),
            description="mmpose ViTPose-B top-down heatmap, COCO 256x192 (MAEPose's labeler)",
        ),
    )
}


class MissingWeights(FileNotFoundError):
    """A checkpoint file is not where the labeling config says."""

    def __init__(self, model: str, path: Path) -> None:
        known = model in MODEL_FILES
        how = (
            f"label-models download {model} --models-dir {path.parent}"
            if known
            else "point the labeling config at an existing checkpoint file"
        )
        super().__init__(
            f"weights of model {model!r} not found at {path}. Model weights are never downloaded "
            f"while labeling; on a machine with internet access run: {how} (then copy the file "
            f"to {path} if that machine is another one)"
        )
        self.model = model
        self.path = path


class WeightsMismatch(ValueError):
    """A checkpoint's sha256 differs from the published or locked one."""


def default_models_dir() -> Path:
    """``$RADAR_LABELING_MODELS`` or ``~/.cache/radar-sensing-toolkit/models``."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_MODELS_DIR.expanduser()


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _read_lock(models_dir: Path) -> dict[str, str]:
    path = models_dir / LOCK_NAME
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def locked_sha256(models_dir: Path, filename: str) -> str | None:
    """sha256 recorded for ``filename`` in the models folder's lock file, if any."""
    return _read_lock(models_dir).get(filename)


def verify_model(model: ModelFile, path: Path) -> str:
    """Check a downloaded file against the published prefix and the lock file.

    Returns:
        its sha256. Raises :class:`WeightsMismatch` on a mismatch, :class:`MissingWeights` when
        the file does not exist.
    """
    if not path.is_file():
        raise MissingWeights(model.name, path)
    digest = file_sha256(path)
    if model.sha256_prefix is not None and not digest.startswith(model.sha256_prefix):
        raise WeightsMismatch(
            f"{path}: sha256 {digest} does not start with the published {model.sha256_prefix}"
        )
    locked = locked_sha256(path.parent, path.name)
    if locked is not None and locked != digest:
        raise WeightsMismatch(f"{path}: sha256 {digest} differs from {locked} in {LOCK_NAME}")
    return digest


def download_model(model: ModelFile, models_dir: Path, *, timeout_s: float = 60.0) -> Path:
    """Download ``model`` into ``models_dir`` (atomically), check it and record its sha256."""
    import urllib.request

    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.filename
    partial = target.with_suffix(target.suffix + ".part")
    with urllib.request.urlopen(model.url, timeout=timeout_s) as response, open(partial, "wb") as f:
        while block := response.read(1 << 20):
            f.write(block)
    digest = file_sha256(partial)
    if model.sha256_prefix is not None and not digest.startswith(model.sha256_prefix):
        partial.unlink()
        raise WeightsMismatch(
            f"{model.url}: sha256 {digest} does not start with the published "
            f"{model.sha256_prefix}; file discarded"
        )
    partial.replace(target)
    lock = _read_lock(models_dir)
    lock[model.filename] = digest
    (models_dir / LOCK_NAME).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    return target


def require_weights(model: str, path: Path) -> Path:
    """``path`` when it is a file, else :class:`MissingWeights` naming the fix."""
    if not path.is_file():
        raise MissingWeights(model, path)
    return path
