"""Labels for a sequence: simulator ground truth or a labels file, in every requested skeleton.

Sources (``--labels``):

* ``sim``: ``sim_ground_truth.npz`` of a simulated take (exact 3-D joints in the rig frame and
  their projection into each camera, SIM-20 skeleton), score 1.
* ``labeling:<labeler>`` (or a ``.h5`` path): the labeling stage's ``<take>/labels/<labeler>.h5``
  (``labeling.labels_file``): smoothed COCO-17 keypoints with their valid masks, rig-frame 3-D
  joints where depth was available, the subject box; flagged frames are not labelled.
* ``FILE``: a labels file in the take folder (relative name, e.g. ``labels/hrnet.npz``) or a
  folder holding ``<take>.npz``. Keys: ``schema`` (skeleton name), ``trigger_index`` (N,),
  ``keypoints_2d`` (N, J, 3) x, y pixels and score, optional ``keypoints_3d`` (N, J, 3) metres
  rig frame, optional ``camera`` and ``image_size`` (w, h).
* ``auto``: the only ``labels/<labeler>.h5`` of the take when there is one, else ``labels.npz``
  in the take folder, else ``sim`` for simulated takes, else none.

Every label set is converted (``labeling.skeletons.convert``) into each requested schema;
joints a schema cannot be given exactly are NaN with ``valid == False`` (see that module).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.recording import TakeManifest
from dataset_tools.alignment import Timeline

SIM_GROUND_TRUTH = "sim_ground_truth.npz"
AUTO_LABELS_FILE = "labels.npz"
DEFAULT_SCHEMAS = ("sim20", "coco17", "hupr14", "maepose13")
BOX_MARGIN = 0.1


@dataclass
class LabelSet:
    """Labels of one schema on a sequence's frame axis (F frames, J joints)."""

    schema: str
    keypoints_2d: NDArray[np.float32]  # (F, J, 3)
    keypoints_3d: NDArray[np.float32]  # (F, J, 3)
    valid: NDArray[np.bool_]  # (F, J)
    boxes: NDArray[np.float32]  # (F, 4)
    present: NDArray[np.bool_]  # (F,)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RawLabels:
    """Labels as found, before schema conversion (N labelled pulses)."""

    schema: str
    trigger_index: NDArray[np.int64]
    keypoints_2d: NDArray[np.float64]  # (N, J, 3) x, y, score
    keypoints_3d: NDArray[np.float64]  # (N, J, 3), NaN when unknown
    camera: str | None
    image_size: tuple[int, int]
    source: str
    file: Path


def find_labels(take_dir: Path, manifest: TakeManifest, spec: str) -> RawLabels | None:
    """The labels ``spec`` (auto | sim | none | FILE) gives for a take, or None."""
    if spec == "none":
        return None
    if spec == "auto":
        labelers = sorted(p.stem for p in (take_dir / "labels").glob("*.h5"))
        if len(labelers) == 1:
            return _labeling_labels(take_dir / "labels" / f"{labelers[0]}.h5", manifest)
        if (take_dir / AUTO_LABELS_FILE).exists():
            return _file_labels(take_dir / AUTO_LABELS_FILE, manifest)
        if manifest.simulation and (take_dir / SIM_GROUND_TRUTH).exists():
            return _sim_labels(take_dir, manifest)
        return None
    if spec == "sim":
        if not (take_dir / SIM_GROUND_TRUTH).exists():
            raise FileNotFoundError(f"{take_dir}: no {SIM_GROUND_TRUTH} (not a simulated take)")
        return _sim_labels(take_dir, manifest)
    if spec.startswith("labeling:"):
        return _labeling_labels(
            take_dir / "labels" / f"{spec.removeprefix('labeling:')}.h5", manifest
        )
    path = Path(spec)
    if path.suffix == ".h5":
        path = path if path.is_absolute() else take_dir / path
        return _labeling_labels(path, manifest)
    if path.is_dir():
        path = path / f"{manifest.take}.npz"
    elif not path.is_absolute():
        path = take_dir / spec
    if not path.exists():
        raise FileNotFoundError(f"{take_dir}: labels file {path} not found")
    return _file_labels(path, manifest)


def _camera_size(manifest: TakeManifest, camera: str | None) -> tuple[int, int]:
    if camera is None:
        return (0, 0)
    intr = manifest.cameras.get(camera, {}).get("intrinsics") or {}
    return (int(intr.get("width", 0)), int(intr.get("height", 0)))


def _sim_labels(take_dir: Path, manifest: TakeManifest) -> RawLabels:
    path = take_dir / SIM_GROUND_TRUTH
    with np.load(path) as gt:
        trig = gt["trigger_index"].astype(np.int64)
        joints = gt["joints_rig"].astype(np.float64)
        cams = sorted(k.removeprefix("keypoints_2d__") for k in gt.files if "keypoints_2d__" in k)
        camera = cams[0] if cams else None
        if camera is not None:
            xy = gt[f"keypoints_2d__{camera}"].astype(np.float64)
        else:
            xy = np.full((*joints.shape[:2], 2), np.nan)
    score = np.where(np.isnan(xy).any(axis=-1), np.nan, 1.0)
    return RawLabels(
        schema="sim20",
        trigger_index=trig,
        keypoints_2d=np.concatenate([xy, score[..., None]], axis=-1),
        keypoints_3d=joints,
        camera=camera,
        image_size=_camera_size(manifest, camera),
        source="sim",
        file=path,
    )


def _labeling_labels(path: Path, manifest: TakeManifest) -> RawLabels:
    """The labeling stage's labels file (``labeling.labels_file``); flagged frames dropped."""
    from labeling.labels_file import read_labels
    from labeling.tracking import FLAG_NO_DEPTH

    if not path.exists():
        raise FileNotFoundError(f"labels file {path} not found")
    t = read_labels(path)
    kp2 = np.asarray(t.keypoints_2d_smooth, dtype=np.float64).copy()
    kp2[~np.asarray(t.valid_2d, bool)] = np.nan
    kp3 = np.asarray(t.keypoints_3d_rig_smooth, dtype=np.float64).copy()
    kp3[~np.asarray(t.valid_3d, bool)] = np.nan
    # "no depth" only means no 3-D (already NaN through valid_3d): its 2-D labels are kept.
    flags = np.asarray(t.flags) & ~np.uint8(FLAG_NO_DEPTH)
    keep = (flags == 0) & (np.asarray(t.trigger_index) >= 0)
    camera = t.attrs.get("camera")
    intr = t.attrs.get("intrinsics") or {}
    size = (int(intr.get("width", 0)), int(intr.get("height", 0)))
    if not all(size):
        size = _camera_size(manifest, camera)
    return RawLabels(
        schema=str(t.attrs.get("skeleton", "coco17")),
        trigger_index=np.asarray(t.trigger_index, np.int64)[keep],
        keypoints_2d=kp2[keep],
        keypoints_3d=kp3[keep],
        camera=None if camera is None else str(camera),
        image_size=size,
        source=f"labeling:{t.attrs.get('labeler', path.stem)}",
        file=path,
    )


def _file_labels(path: Path, manifest: TakeManifest) -> RawLabels:
    with np.load(path, allow_pickle=False) as f:
        kp2 = f["keypoints_2d"].astype(np.float64)
        if kp2.shape[-1] == 2:
            kp2 = np.concatenate([kp2, np.ones((*kp2.shape[:-1], 1))], axis=-1)
        kp3 = (
            f["keypoints_3d"].astype(np.float64)
            if "keypoints_3d" in f.files
            else np.full(kp2.shape, np.nan)
        )
        cams = sorted(manifest.cameras)
        camera = str(f["camera"]) if "camera" in f.files else (cams[0] if cams else None)
        size = (
            tuple(int(v) for v in f["image_size"])
            if "image_size" in f.files
            else _camera_size(manifest, camera)
        )
        return RawLabels(
            schema=str(f["schema"]),
            trigger_index=f["trigger_index"].astype(np.int64),
            keypoints_2d=kp2,
            keypoints_3d=kp3,
            camera=camera,
            image_size=(int(size[0]), int(size[1])),
            source=f"file:{path.name}",
            file=path,
        )


def boxes_from_keypoints(
    kp: NDArray[np.float64], valid: NDArray[np.bool_], image_size: tuple[int, int]
) -> NDArray[np.float32]:
    """(F, 4) x1, y1, x2, y2 around the valid joints plus a 10 % margin, clipped to the image;
    NaN for frames without a valid joint."""
    xy = np.where(valid[..., None], kp[..., :2], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames give NaN boxes
        lo = np.nanmin(xy, axis=-2)
        hi = np.nanmax(xy, axis=-2)
    margin = (hi - lo) * BOX_MARGIN
    boxes = np.concatenate([lo - margin, hi + margin], axis=-1)
    w, h = image_size
    if w and h:
        boxes = np.clip(boxes, 0, [w, h, w, h])
    return boxes.astype(np.float32)


def label_sets(raw: RawLabels, timeline: Timeline, schemas: tuple[str, ...]) -> list[LabelSet]:
    """Put raw labels on the frame axis (by trigger index) and convert them to each schema."""
    from labeling.skeletons import conversion_table, convert, get_schema

    n = timeline.num_frames
    first = int(timeline.trigger_index[0]) if n else 0
    frame = raw.trigger_index - first
    inside = (frame >= 0) & (frame < n) & (timeline.method == "trigger")
    src = get_schema(raw.schema)
    out: list[LabelSet] = []
    for name in schemas:
        dst = get_schema(name)
        kp2, ok2 = convert(raw.keypoints_2d, src, dst, score_channel=2)
        kp3, ok3 = convert(raw.keypoints_3d, src, dst)
        j = dst.num_joints
        k2 = np.full((n, j, 3), np.nan, np.float32)
        k3 = np.full((n, j, 3), np.nan, np.float32)
        valid = np.zeros((n, j), bool)
        present = np.zeros(n, bool)
        k2[frame[inside]] = kp2[inside]
        k3[frame[inside]] = kp3[inside]
        valid[frame[inside]] = np.logical_or(ok2, ok3)[inside]
        present[frame[inside]] = True
        table = conversion_table(src, dst)
        out.append(
            LabelSet(
                schema=dst.name,
                keypoints_2d=k2,
                keypoints_3d=k3,
                valid=valid,
                boxes=boxes_from_keypoints(k2.astype(np.float64), ok2_frame(k2), raw.image_size),
                present=present,
                attrs={
                    "schema": dst.name,
                    "joint_names": list(dst.joints),
                    "camera": raw.camera,
                    "image_size": list(raw.image_size),
                    "source": raw.source,
                    "source_schema": src.name,
                    "conversion": [
                        {"joint": t, "from": list(s), "approximate": a} for t, s, a in table
                    ],
                    "units": {"keypoints_2d": "pixels", "keypoints_3d": "m, rig frame"},
                },
            )
        )
    return out


def ok2_frame(k2: NDArray[np.float32]) -> NDArray[np.bool_]:
    """(F, J) joints with finite 2-D coordinates."""
    finite: NDArray[np.bool_] = np.asarray(np.isfinite(k2[..., :2]).all(axis=-1), dtype=bool)
    return finite
