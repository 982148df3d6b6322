"""Build a camera by kind name or from a rig's camera spec, importing only that backend.

    camera = create_camera("uvc", name="webcam", source="/dev/video0", width=640, height=480)
    camera = create_camera(rig.camera("cam0"))                        # a hardware rig
    camera = create_camera(rig.camera("cam0"), frame_source=src, trigger_line=line)  # simulated

Backend modules are imported here, on demand, so ``import acquisition.cameras`` never loads a
vendor SDK; the SDK itself is imported when the backend's camera is constructed, and a missing one
raises :class:`~acquisition.errors.MissingDependency` naming the package to install.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from acquisition.cameras.base import Camera
from acquisition.recording.records import CameraIntrinsics

__all__ = ["CAMERA_BACKENDS", "CameraSpecLike", "create_camera"]

# kind -> (module, class)
CAMERA_BACKENDS: dict[str, tuple[str, str]] = {
    "realsense": ("acquisition.cameras.realsense", "RealSenseCamera"),
    "kinect": ("acquisition.cameras.kinect", "AzureKinectCamera"),
    "uvc": ("acquisition.cameras.uvc", "UvcCamera"),
    "sim": ("acquisition.cameras.sim", "SimulatedCamera"),
}

# Rig sync roles (acquisition.rig.SYNC_ROLES) in each backend's vocabulary.
_REALSENSE_SYNC = {
    "free-run": "default",
    "master": "master",
    "subordinate": "slave",
    "external-trigger": "external-trigger",
}
_KINECT_SYNC = {
    "free-run": "standalone",
    "master": "master",
    "subordinate": "subordinate",
    "external-trigger": "subordinate",
}


class CameraSpecLike(Protocol):
    """What the factory reads from :class:`acquisition.rig.CameraSpec`."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def serial(self) -> str | None: ...
    @property
    def device(self) -> str | None: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> float: ...
    @property
    def sync_role(self) -> str: ...
    @property
    def intrinsics(self) -> Any: ...
    @property
    def depth(self) -> bool: ...


def backend_class(kind: str) -> type[Camera]:
    """The camera class of ``kind``, importing its module now."""
    if kind not in CAMERA_BACKENDS:
        raise ValueError(f"unknown camera kind {kind!r}; known kinds: {', '.join(CAMERA_BACKENDS)}")
    module_name, class_name = CAMERA_BACKENDS[kind]
    cls: type[Camera] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_camera(kind_or_spec: str | CameraSpecLike, /, **options: Any) -> Camera:
    """A camera of a kind (``"realsense"``, ``"kinect"``, ``"uvc"``, ``"sim"``) built with
    ``options`` (the backend's constructor arguments), or from a rig camera spec, with
    ``options`` added or overriding (e.g. ``playback_file``, or ``frame_source`` and
    ``trigger_line`` for a simulated camera).

    Raises:
        ValueError: unknown kind, or a sync role the backend cannot do.
        MissingDependency: the backend's SDK is not installed.
    """
    if isinstance(kind_or_spec, str):
        return backend_class(kind_or_spec)(**options)
    spec = kind_or_spec
    cls = backend_class(spec.kind)
    return cls(**{**_options_from_spec(spec), **options})


def _options_from_spec(spec: CameraSpecLike) -> dict[str, Any]:
    role = spec.sync_role
    if spec.kind == "realsense":
        if role not in _REALSENSE_SYNC:
            raise ValueError(f"camera {spec.name!r}: RealSense cannot do sync role {role!r}")
        return {
            "serial": spec.serial,
            "name": spec.name,
            "width": spec.width,
            "height": spec.height,
            "fps": round(spec.fps),
            "depth": spec.depth,
            "sync_mode": _REALSENSE_SYNC[role],
        }
    if spec.kind == "kinect":
        if role not in _KINECT_SYNC:
            raise ValueError(f"camera {spec.name!r}: Azure Kinect cannot do sync role {role!r}")
        resolution = f"{spec.height}p"
        return {
            "device_id": spec.serial,
            "name": spec.name,
            "color_resolution": resolution,
            "fps": round(spec.fps),
            "depth": spec.depth,
            "sync_mode": _KINECT_SYNC[role],
        }
    intrinsics = _intrinsics(spec)
    if spec.kind == "uvc":
        if role != "free-run":
            raise ValueError(f"camera {spec.name!r}: a UVC camera can only free-run, not {role!r}")
        options: dict[str, Any] = {
            "source": spec.device if spec.device is not None else 0,
            "name": spec.name,
            "width": spec.width,
            "height": spec.height,
            "fps": spec.fps,
        }
        if intrinsics is not None:
            options["intrinsics"] = intrinsics
        return options
    # sim: the frame source and trigger line come from the simulated rig, through options.
    return {
        "name": spec.name,
        "fps": spec.fps,
        "sync_role": role,
        "depth": spec.depth,
        **({"intrinsics": intrinsics} if intrinsics is not None else {}),
    }


def _intrinsics(spec: CameraSpecLike) -> CameraIntrinsics | None:
    """The spec's pinhole intrinsics (fx, fy, cx, cy) at its resolution, if it has any."""
    given = spec.intrinsics
    if given is None:
        return None
    return CameraIntrinsics(
        width=spec.width,
        height=spec.height,
        fx=float(given.fx),
        fy=float(given.fy),
        cx=float(given.cx),
        cy=float(given.cy),
    )
