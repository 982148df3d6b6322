"""The camera package's import hygiene, the factory and the missing-SDK errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.typing import NDArray

from acquisition.cameras import CAMERA_BACKENDS, Camera, create_camera
from acquisition.cameras.factory import backend_class
from acquisition.cameras.sim import SimulatedCamera
from acquisition.emulation.trigger_line import TriggerLine
from acquisition.errors import MissingDependency
from acquisition.geometry import Pose
from acquisition.rig import CameraIntrinsics as RigIntrinsics
from acquisition.rig import CameraSpec

VENDOR_MODULES = ("pyrealsense2", "cv2", "pyk4a", "k4a_module")


def run_python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip()


def test_importing_the_package_and_backend_modules_imports_no_vendor_sdk() -> None:
    code = (
        "import json, sys\n"
        "import acquisition.cameras\n"
        "import acquisition.cameras.sim, acquisition.cameras.realsense\n"
        "import acquisition.cameras.kinect, acquisition.cameras.uvc\n"
        f"print(json.dumps([m for m in {VENDOR_MODULES!r} if m in sys.modules]))\n"
    )
    assert json.loads(run_python(code)) == []


def test_kinect_without_pyk4a_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['pyk4a'] = None  # as if not installed\n"
        "from acquisition.errors import MissingDependency\n"
        "from acquisition.cameras import create_camera\n"
        "try:\n"
        "    create_camera('kinect', name='k0', sync_mode='subordinate')\n"
        "except MissingDependency as exc:\n"
        "    print(exc.package + '|' + exc.extra + '|' + str(exc))\n"
    )
    package, extra, message = run_python(code).split("|", 2)
    assert (package, extra) == ("pyk4a", "kinect")
    assert "pip install" in message and "pyk4a" in message and "Azure Kinect" in message


def test_kinect_in_this_environment() -> None:
    try:
        import pyk4a  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependency, match="pyk4a"):
            create_camera("kinect")
    else:  # pragma: no cover - pyk4a cannot be built on CI
        pytest.skip("pyk4a is installed; the missing-SDK path is covered by the subprocess test")


def test_uvc_without_opencv_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['cv2'] = None\n"
        "from acquisition.errors import MissingDependency\n"
        "from acquisition.cameras import create_camera\n"
        "try:\n"
        "    create_camera('uvc', source=0)\n"
        "except MissingDependency as exc:\n"
        "    print(exc.package)\n"
    )
    assert run_python(code) == "opencv-python"


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(ValueError, match="realsense, kinect, uvc, sim"):
        create_camera("gopro")


def test_backend_classes_implement_the_interface() -> None:
    for kind in CAMERA_BACKENDS:
        cls = backend_class(kind)
        assert issubclass(cls, Camera) and cls.kind == kind


def _source(time_ns: int) -> tuple[NDArray[np.uint8], NDArray[np.uint16] | None]:
    return np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6), np.uint16)


def spec(kind: str, sync_role: str = "external-trigger", **overrides: object) -> CameraSpec:
    fields: dict[str, object] = {
        "name": "cam0",
        "kind": kind,
        "serial": None,
        "device": None,
        "width": 6,
        "height": 4,
        "fps": 10.0,
        "sync_role": sync_role,
        "pose": Pose(),
        "intrinsics": RigIntrinsics(fx=5.0, fy=5.0, cx=3.0, cy=2.0),
        "depth": True,
    }
    fields.update(overrides)
    return CameraSpec(**fields)  # type: ignore[arg-type]


def test_sim_camera_from_a_rig_spec() -> None:
    line = TriggerLine()
    camera = create_camera(spec("sim"), frame_source=_source, trigger_line=line)
    assert isinstance(camera, SimulatedCamera)
    assert camera.name == "cam0" and camera.triggered and camera.has_depth
    assert (camera.intrinsics.width, camera.intrinsics.height, camera.intrinsics.fx) == (6, 4, 5.0)


def test_sync_roles_a_backend_cannot_do_are_rejected() -> None:
    with pytest.raises(ValueError, match="only free-run"):
        create_camera(spec("uvc", sync_role="external-trigger"))
