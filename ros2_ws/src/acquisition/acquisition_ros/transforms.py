"""The rig's static transforms as plain data (no ROS imports); see :mod:`rig_tf_node`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from acquisition.geometry import OPTICAL_TO_BODY, TI_TO_BODY, Pose, quaternion_from_rotation
from acquisition.rig import RigConfig


@dataclass(frozen=True)
class StaticTransform:
    """``child`` expressed in ``parent``: p_parent = R @ p_child + translation."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    quaternion: tuple[float, float, float, float]  # x, y, z, w


def _transform(parent: str, child: str, pose: Pose) -> StaticTransform:
    t = pose.position
    return StaticTransform(
        parent,
        child,
        (float(t[0]), float(t[1]), float(t[2])),
        quaternion_from_rotation(pose.rotation),
    )


def _rotation_only(parent: str, child: str, rotation: NDArray[np.float64]) -> StaticTransform:
    return StaticTransform(parent, child, (0.0, 0.0, 0.0), quaternion_from_rotation(rotation))


def rig_transforms(rig: RigConfig, rig_frame: str = "rig") -> list[StaticTransform]:
    """Every sensor's body frame in the rig frame, and the TI / optical frames below them."""
    out: list[StaticTransform] = []
    for radar in rig.radars:
        out.append(_transform(rig_frame, f"{radar.name}_link", radar.pose))
        out.append(_rotation_only(f"{radar.name}_link", radar.name, TI_TO_BODY))
    for cam in rig.cameras:
        out.append(_transform(rig_frame, f"{cam.name}_link", cam.pose))
        for stream in ("color", "depth") if cam.depth else ("color",):
            optical = f"{cam.name}_{stream}_optical_frame"
            out.append(_rotation_only(f"{cam.name}_link", optical, OPTICAL_TO_BODY))
    return out
