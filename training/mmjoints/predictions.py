"""Base-model prediction files: read (3-D, or 2-D lifted to 3-D) and write (numpy).

Format (``.npz``), as written by ``predict`` and by the mmJoints point-cloud baseline: per
sequence ``<seq_id>/keypoints_3d`` (F, J, 3) metres, rig frame, or ``<seq_id>/keypoints_2d``
(F, J, 3) [x, y, score] pixels of the label camera; optional ``<seq_id>/predicted`` (F,) bool;
``__meta__`` a JSON string with at least ``skeleton``. 2-D keypoints are lifted to 3-D along the
camera ray of each pixel, at the depth of the camera's depth image there (median of a 5 x 5
patch) when the dataset has depth, else at the depth of the frame's radar points (median).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from training.mmjoints.pointdata import rig_points


def write_predictions(
    path: str | Path, keypoints_3d: Mapping[str, NDArray[np.floating[Any]]], meta: dict[str, Any]
) -> Path:
    """Write ``seq -> (F, J, 3)`` rig-frame joints (NaN = no prediction) and ``meta``."""
    arrays: dict[str, Any] = {"__meta__": np.array(json.dumps(meta))}
    for seq, kp in keypoints_3d.items():
        arrays[f"{seq}/keypoints_3d"] = np.asarray(kp, np.float32)
        arrays[f"{seq}/predicted"] = np.isfinite(kp).all(axis=(-1, -2))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return out


def _camera(attrs: Mapping[str, Any], camera: str | None) -> tuple[str, Mapping[str, Any]]:
    cams = attrs.get("cameras") or {}
    if not cams:
        raise ValueError("2-D predictions need camera intrinsics and pose in the sequence attrs")
    name = camera if camera is not None else next(iter(cams))
    return name, cams[name]


def lift_keypoints_2d(
    seq: Any, keypoints_2d: NDArray[np.floating[Any]], *, camera: str | None = None
) -> NDArray[np.float64]:
    """(F, J, 3) pixel keypoints of ``seq``'s camera -> (F, J, 3) rig-frame metres (module
    docstring); NaN where a joint is missing or no depth is known."""
    from acquisition.geometry import OPTICAL_TO_BODY, Pose

    name, cam = _camera(seq.attrs, camera)
    intr, pose = cam["intrinsics"], cam["pose"]
    body = Pose.from_xyz_rpy(tuple(pose["xyz"]), tuple(pose["rpy_deg"]))
    kp = np.asarray(keypoints_2d, np.float64)
    f = kp.shape[0]
    depth_img: NDArray[Any] | None = None
    try:
        depth_img = np.asarray(seq.read_images(name, 0, f, stream="depth"), np.float64) / 1000.0
    except Exception:  # no depth stream in this dataset: fall back to the radar points
        depth_img = None
    out = np.full((*kp.shape[:2], 3), np.nan)
    for k in range(f):
        u, v = kp[k, :, 0], kp[k, :, 1]
        z = np.full(len(u), np.nan)
        if depth_img is not None:
            _h, _w = depth_img.shape[1:3]
            for j in range(len(u)):
                if np.isfinite(u[j]) and np.isfinite(v[j]):
                    x0, y0 = round(u[j]), round(v[j])
                    patch = depth_img[k, max(y0 - 2, 0) : y0 + 3, max(x0 - 2, 0) : x0 + 3]
                    good = patch[patch > 0]
                    if good.size:
                        z[j] = float(np.median(good))
        if not np.isfinite(z).any():
            pts = rig_points(seq, k, k + 1)[0]
            if len(pts):
                opt = body.rig_to_optical(pts[:, :3].astype(np.float64))
                z[:] = float(np.median(opt[:, 2]))
        rays = np.stack(
            [(u - intr["cx"]) / intr["fx"], (v - intr["cy"]) / intr["fy"], np.ones_like(u)], -1
        )
        optical = rays * z[:, None]
        out[k] = body.body_to_rig(optical @ OPTICAL_TO_BODY.T)
    return out


def load_predictions(
    path: str | Path, source: Any, seq_ids: Iterable[str], *, skeleton: str
) -> dict[str, NDArray[np.float64]]:
    """``seq -> (F, J, 3)`` rig-frame base predictions in ``skeleton`` (converted from the file's
    skeleton when it differs)."""
    from labeling.skeletons import convert

    data = np.load(path)
    meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    file_skeleton = meta.get("skeleton", skeleton)
    out: dict[str, NDArray[np.float64]] = {}
    for seq_id in seq_ids:
        if f"{seq_id}/keypoints_3d" in data.files:
            kp = np.asarray(data[f"{seq_id}/keypoints_3d"], np.float64)
        elif f"{seq_id}/keypoints_2d" in data.files:
            kp = lift_keypoints_2d(source.sequence(seq_id), data[f"{seq_id}/keypoints_2d"])
        else:
            raise KeyError(f"{path}: no predictions for sequence {seq_id!r}")
        if f"{seq_id}/predicted" in data.files:
            kp[~np.asarray(data[f"{seq_id}/predicted"], bool)] = np.nan
        if file_skeleton != skeleton:
            kp, _ = convert(kp, file_skeleton, skeleton)
        out[seq_id] = kp
    return out
