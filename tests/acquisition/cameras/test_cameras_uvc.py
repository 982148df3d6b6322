"""UVC backend over OpenCV, exercised on a small video file written by OpenCV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.cameras import create_camera
from acquisition.errors import DeviceNotFound, MissingDependency

try:
    from acquisition.cameras.uvc import UvcCamera, import_cv2

    cv2: Any = import_cv2()
except MissingDependency as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"opencv-python is not installed ({exc})", allow_module_level=True)

W, H, N = 64, 48, 8
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # RGB


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uvc") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (W, H))
    assert writer.isOpened()
    for n in range(N):
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[:] = COLOURS[n % len(COLOURS)]
        writer.write(np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV writes BGR
    writer.release()
    return path


def test_video_file_frames_in_rgb_with_host_times(video: Path) -> None:
    with UvcCamera(video, name="web") as camera:
        frames = []
        while (frame := camera.read(timeout_s=5.0)) is not None:
            frames.append(frame)
        assert camera.state == "ended"
    assert [f.frame_number for f in frames] == list(range(N))
    for n, frame in enumerate(frames):
        assert frame.color.shape == (H, W, 3) and frame.color.dtype == np.uint8
        assert frame.depth is None and frame.device_time_ns == 0 and frame.host_time_ns > 0
        mean = frame.color.reshape(-1, 3).mean(axis=0)
        np.testing.assert_allclose(mean, COLOURS[n % len(COLOURS)], atol=12)  # JPEG is lossy
    assert camera.has_depth is False
    assert camera.intrinsics.width == W and camera.intrinsics.height == H
    assert camera.counters.frames == N and camera.counters.dropped == 0


def test_factory_builds_a_uvc_camera_on_a_file(video: Path) -> None:
    with create_camera("uvc", name="web2", source=str(video)) as camera:
        frame = camera.read(timeout_s=5.0)
    assert frame is not None and frame.camera == "web2"


def test_missing_device_node() -> None:
    with pytest.raises(DeviceNotFound, match="/dev/video-nonexistent"):
        UvcCamera("/dev/video-nonexistent", name="x").open()
