"""Cameras: one interface, backends for Intel RealSense, Azure Kinect, UVC and the simulator.

    from acquisition.cameras import create_camera

    with create_camera("realsense", name="cam0", width=640, height=480, fps=30) as camera:
        frame = camera.read(timeout_s=1.0)   # CameraFrame | None

This package exports the interface and the factory only. Backends (``acquisition.cameras.sim``,
``.realsense``, ``.kinect``, ``.uvc``) are imported by :func:`create_camera` when asked for, and
vendor SDKs (pyrealsense2, pyk4a, cv2) only when such a camera is constructed. Reference:
``docs/cameras.md``.
"""

from acquisition.cameras.base import (
    NO_TRIGGER,
    Camera,
    CameraCounters,
    CameraFrame,
    CameraLost,
    CameraState,
)
from acquisition.cameras.factory import CAMERA_BACKENDS, CameraSpecLike, create_camera

__all__ = [
    "CAMERA_BACKENDS",
    "NO_TRIGGER",
    "Camera",
    "CameraCounters",
    "CameraFrame",
    "CameraLost",
    "CameraSpecLike",
    "CameraState",
    "create_camera",
]
