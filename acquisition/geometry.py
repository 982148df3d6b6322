"""Rigid transforms between the rig frame, each sensor's body frame and TI's radar frame.

Frames (all right-handed, metres):

* **rig frame**: REP-103, ``x`` forward (into the scene), ``y`` left, ``z`` up. Extrinsics in rig
  files and ground-truth joints of the simulator are in this frame.
* **sensor body frame**: REP-103 attached to a sensor, ``x`` along its boresight. A ``Pose`` gives
  this frame in the rig frame.
* **TI radar frame**: what TI's demos and this toolkit's radar maps use: ``x`` along the azimuth
  antenna array (to the right when looking out of the antennas), ``y`` along the boresight, ``z``
  along the elevation direction of the antenna plane. A radar mounted "vertical" (rotated 90 degrees
  about its boresight, as in HuPR's rig) has its ``x`` axis pointing up in the world.
* **camera optical frame**: ``x`` right, ``y`` down, ``z`` along the optical axis (OpenCV).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

# Rotation taking TI-radar-frame vectors to body-frame vectors (columns: TI x, y, z in body frame).
TI_TO_BODY: NDArray[np.float64] = np.array(
    [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float64
)
# Rotation taking camera-optical-frame vectors to body-frame vectors.
OPTICAL_TO_BODY: NDArray[np.float64] = np.array(
    [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=np.float64
)


def rotation_from_rpy(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """3 x 3 rotation for fixed-axis roll (x), pitch (y), yaw (z) in radians: R = Rz Ry Rx."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]], dtype=np.float64)
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]], dtype=np.float64)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]], dtype=np.float64)
    return rz @ ry @ rx


def rpy_from_rotation(rotation: NDArray[np.float64]) -> tuple[float, float, float]:
    """Inverse of :func:`rotation_from_rpy` (radians), away from gimbal lock."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = float(np.arcsin(-np.clip(r[2, 0], -1.0, 1.0)))
    roll = float(np.arctan2(r[2, 1], r[2, 2]))
    yaw = float(np.arctan2(r[1, 0], r[0, 0]))
    return roll, pitch, yaw


def quaternion_from_rotation(rotation: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """(x, y, z, w) unit quaternion of a rotation matrix (for tf2 messages)."""
    r = np.asarray(rotation, dtype=np.float64)
    w = np.sqrt(max(0.0, 1.0 + r[0, 0] + r[1, 1] + r[2, 2])) / 2
    x = np.sqrt(max(0.0, 1.0 + r[0, 0] - r[1, 1] - r[2, 2])) / 2
    y = np.sqrt(max(0.0, 1.0 - r[0, 0] + r[1, 1] - r[2, 2])) / 2
    z = np.sqrt(max(0.0, 1.0 - r[0, 0] - r[1, 1] + r[2, 2])) / 2
    x = float(np.copysign(x, r[2, 1] - r[1, 2]))
    y = float(np.copysign(y, r[0, 2] - r[2, 0]))
    z = float(np.copysign(z, r[1, 0] - r[0, 1]))
    return x, y, z, float(w)


@dataclass(frozen=True)
class Pose:
    """A sensor body frame expressed in the rig frame.

    ``rig_point = rotation @ body_point + position``.
    """

    position: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    rotation: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))

    @classmethod
    def from_xyz_rpy(
        cls, xyz: tuple[float, float, float], rpy_deg: tuple[float, float, float]
    ) -> Pose:
        roll, pitch, yaw = np.deg2rad(np.asarray(rpy_deg, dtype=np.float64))
        return cls(np.asarray(xyz, dtype=np.float64), rotation_from_rpy(roll, pitch, yaw))

    def body_to_rig(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) body-frame points to the rig frame."""
        return np.asarray(points) @ self.rotation.T + self.position

    def rig_to_body(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) rig-frame points to the body frame."""
        return (np.asarray(points) - self.position) @ self.rotation

    def rig_to_radar(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) rig-frame points to this radar's TI frame (x array, y boresight, z up)."""
        return self.rig_to_body(points) @ TI_TO_BODY

    def radar_to_rig(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) TI-radar-frame points to the rig frame."""
        return self.body_to_rig(np.asarray(points) @ TI_TO_BODY.T)

    def rig_to_optical(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) rig-frame points to this camera's optical frame (x right, y down, z forward)."""
        return self.rig_to_body(points) @ OPTICAL_TO_BODY

    def rig_vectors_to_radar(self, vectors: NDArray[np.float64]) -> NDArray[np.float64]:
        """(..., 3) rig-frame direction vectors (velocities) to the TI radar frame."""
        return np.asarray(vectors) @ self.rotation @ TI_TO_BODY
