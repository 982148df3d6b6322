"""The labels file of a take: ``<take>/labels/<labeler>.h5`` (format ``radar-sensing-labels``
version 1), plus a human-readable ``<take>/labels/<labeler>.qa.json``.

One row per labelled camera frame that carries a trigger index (F rows, ascending trigger
index). Keypoints are COCO-17 (:data:`labeling.skeletons.COCO17`); other skeletons are derived
with :func:`labeling.skeletons.convert`. NaN marks a missing value everywhere; masks say which
values are usable.

Root attributes: ``format``, ``format_version``, ``labeler``, ``camera``, ``skeleton``
(``coco17``), ``joint_names`` (JSON list), ``flag_bits`` (JSON ``{name: bit}``), ``take``,
``session``, ``created_at`` (ISO 8601 UTC), ``config`` (JSON of the labeling config), ``models``
(JSON ``{"detector": ModelInfo, "pose": ModelInfo}`` with checkpoint paths, sha256 and package
versions, and ``random_weights``), ``intrinsics`` (JSON fx, fy, cx, cy, width, height),
``camera_pose_rig`` (JSON xyz + 3x3 rotation of the camera body frame in the rig), ``qa`` (JSON,
as the ``.qa.json``).

Datasets (F = frames):

=============================  ============  =====================================================
``trigger_index``              (F,) int64    trigger pulse of the frame (join key with radar frames)
``frame_number``               (F,) int64    camera frame number
``stamp_ns``                   (F,) int64    frame time stamp
``flags``                      (F,) uint8    bitmask, ``flag_bits``: no_subject 1,
                                             multiple_candidates 2, low_confidence 4, no_depth 8,
                                             frame_invalid 16
``box``                        (F, 4) f32    subject box x1, y1, x2, y2 (pixels), NaN if none
``box_score``                  (F,) f32      detector score of the subject box
``track_id``                   (F,) int32    subject track (a new id after each loss), -1 none
``num_candidates``             (F,) int16    person detections that passed the thresholds
``keypoints_2d``               (F, 17, 3)    raw u, v (pixels), score
``keypoints_2d_smooth``        (F, 17, 3)    temporally filtered u, v; score copied
``valid_2d``                   (F, 17) bool  score >= min_joint_score on an unflagged frame
``keypoints_3d_camera``        (F, 17, 3)    raw lifted joints, camera optical frame, metres
``keypoints_3d_camera_smooth`` (F, 17, 3)    filtered
``keypoints_3d_rig``           (F, 17, 3)    raw, rig frame (REP-103), metres
``keypoints_3d_rig_smooth``    (F, 17, 3)    filtered
``valid_3d``                   (F, 17) bool  valid_2d and a depth was found
``radar/<name>/keypoints_3d``  (F, 17, 3)    smoothed joints in that radar's TI frame, metres
``radar/<name>/bins``          (F, 17, 3)    fractional (range, azimuth, elevation) bins of the
                                             smoothed joints in that radar's maps
                                             (:func:`labeling.geometry.radar_bins`; attrs give
                                             n_range, n_azimuth, n_elevation)
=============================  ============  =====================================================

Without a depth stream the 3-D arrays are all NaN, ``valid_3d`` all False and ``no_depth`` set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LABELS_FORMAT",
    "LABELS_FORMAT_VERSION",
    "RadarLabels",
    "TakeLabels",
    "labels_path",
    "list_labelers",
    "read_labels",
    "write_labels",
]

LABELS_FORMAT = "radar-sensing-labels"
LABELS_FORMAT_VERSION = 1
LABELS_DIR = "labels"

_FRAME_ARRAYS = (
    "trigger_index",
    "frame_number",
    "stamp_ns",
    "flags",
    "box",
    "box_score",
    "track_id",
    "num_candidates",
    "keypoints_2d",
    "keypoints_2d_smooth",
    "valid_2d",
    "keypoints_3d_camera",
    "keypoints_3d_camera_smooth",
    "keypoints_3d_rig",
    "keypoints_3d_rig_smooth",
    "valid_3d",
)


@dataclass
class RadarLabels:
    """Joints of one radar: (F, 17, 3) TI-frame metres and (F, 17, 3) fractional map bins."""

    keypoints_3d: NDArray[np.float32]
    bins: NDArray[np.float32]
    n_range: int
    n_azimuth: int
    n_elevation: int


@dataclass
class TakeLabels:
    """In-memory labels of one take (field meanings: module docstring)."""

    trigger_index: NDArray[np.int64]
    frame_number: NDArray[np.int64]
    stamp_ns: NDArray[np.int64]
    flags: NDArray[np.uint8]
    box: NDArray[np.float32]
    box_score: NDArray[np.float32]
    track_id: NDArray[np.int32]
    num_candidates: NDArray[np.int16]
    keypoints_2d: NDArray[np.float32]
    keypoints_2d_smooth: NDArray[np.float32]
    valid_2d: NDArray[np.bool_]
    keypoints_3d_camera: NDArray[np.float32]
    keypoints_3d_camera_smooth: NDArray[np.float32]
    keypoints_3d_rig: NDArray[np.float32]
    keypoints_3d_rig_smooth: NDArray[np.float32]
    valid_3d: NDArray[np.bool_]
    radars: dict[str, RadarLabels] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.trigger_index.shape[0])

    @property
    def qa(self) -> dict[str, Any]:
        value = self.attrs.get("qa", {})
        return dict(value) if isinstance(value, dict) else {}


def labels_path(take_dir: str | Path, labeler: str) -> Path:
    """``<take>/labels/<labeler>.h5``."""
    return Path(take_dir) / LABELS_DIR / f"{labeler}.h5"


def list_labelers(take_dir: str | Path) -> list[str]:
    """Labelers with a labels file in the take, sorted."""
    folder = Path(take_dir) / LABELS_DIR
    return sorted(p.stem for p in folder.glob("*.h5")) if folder.is_dir() else []


def _json_attr(value: Any) -> Any:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True)
    return value


def write_labels(path: str | Path, labels: TakeLabels) -> Path:
    """Write atomically (temporary file, then rename); also writes ``<stem>.qa.json``."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".h5.part")
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = LABELS_FORMAT
        f.attrs["format_version"] = LABELS_FORMAT_VERSION
        for key, value in labels.attrs.items():
            f.attrs[key] = _json_attr(value)
        for name in _FRAME_ARRAYS:
            data = np.asarray(getattr(labels, name))
            f.create_dataset(name, data=data, compression="gzip" if data.ndim > 1 else None)
        for radar, rl in labels.radars.items():
            g = f.create_group(f"radar/{radar}")
            g.create_dataset("keypoints_3d", data=rl.keypoints_3d, compression="gzip")
            bins = g.create_dataset("bins", data=rl.bins, compression="gzip")
            bins.attrs["n_range"] = rl.n_range
            bins.attrs["n_azimuth"] = rl.n_azimuth
            bins.attrs["n_elevation"] = rl.n_elevation
    tmp.replace(path)
    qa_path = path.with_suffix(".qa.json")
    qa_path.write_text(json.dumps(labels.qa, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


_JSON_ATTRS = {"config", "models", "qa", "joint_names", "flag_bits", "intrinsics"}
_JSON_ATTRS |= {"camera_pose_rig"}


def read_labels(take_dir_or_file: str | Path, labeler: str | None = None) -> TakeLabels:
    """Read a labels file: a path to the ``.h5``, or a take folder and a labeler (default: the
    only labels file of the take)."""
    import h5py

    path = Path(take_dir_or_file)
    if path.is_dir():
        if labeler is None:
            names = list_labelers(path)
            if len(names) != 1:
                raise FileNotFoundError(
                    f"{path}: {'no' if not names else 'several'} labels files "
                    f"({names}); name the labeler"
                )
            labeler = names[0]
        path = labels_path(path, labeler)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != LABELS_FORMAT:
            raise ValueError(f"{path}: not a {LABELS_FORMAT} file")
        version = int(f.attrs["format_version"])
        if version > LABELS_FORMAT_VERSION:
            raise ValueError(f"{path}: format version {version} is newer than this reader")
        attrs: dict[str, Any] = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if key in _JSON_ATTRS and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, np.generic):
                value = value.item()
            attrs[key] = value
        arrays = {name: np.asarray(f[name]) for name in _FRAME_ARRAYS}
        radars: dict[str, RadarLabels] = {}
        if "radar" in f:
            for name, g in f["radar"].items():
                bins = g["bins"]
                radars[name] = RadarLabels(
                    keypoints_3d=np.asarray(g["keypoints_3d"]),
                    bins=np.asarray(bins),
                    n_range=int(bins.attrs["n_range"]),
                    n_azimuth=int(bins.attrs["n_azimuth"]),
                    n_elevation=int(bins.attrs["n_elevation"]),
                )
    return TakeLabels(**arrays, radars=radars, attrs=attrs)
