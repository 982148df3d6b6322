"""RealSense backend: a real librealsense recording, made without a camera, played back.

The recording is produced by pyrealsense2 itself: a ``software_device`` with a colour and a depth
sensor, recorded by ``rs.recorder`` (librealsense 2.59 writes ``.db3``), frames injected, closed.
Playing it back exercises the real pipeline, alignment, depth scale and timestamp code paths.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.cameras import Camera, CameraLost, create_camera
from acquisition.errors import DeviceNotFound, MissingDependency

try:
    from acquisition.cameras.realsense import RealSenseCamera, import_pyrealsense2

    rs: Any = import_pyrealsense2()
except MissingDependency as exc:  # pragma: no cover - depends on the environment
    pytest.skip(
        f"pyrealsense2 cannot be imported ({exc}); pip install pyrealsense2 and "
        "apt-get install libusb-1.0-0 to run the RealSense playback tests",
        allow_module_level=True,
    )


def state(camera: Camera) -> str:
    """The camera's state, as a plain str (mypy would otherwise narrow it across calls)."""
    return camera.state


W, H, FPS = 32, 24, 30
T0_MS = 5000.0
PERIOD_MS = 1000.0 / FPS
DEPTH_NUMBER_OFFSET = 101


def color_image(n: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    image = np.zeros((H, W, 3), dtype=np.uint8)
    image[..., 0] = 10 * n
    image[..., 1] = np.arange(W, dtype=np.uint8)[None, :]
    image[..., 2] = 200
    return image


def depth_raw(n: int, units_per_mm: int) -> np.ndarray[Any, np.dtype[np.uint16]]:
    mm = 1000 + 10 * n + np.arange(H, dtype=np.uint16)[:, None] + np.zeros((1, W), np.uint16)
    return (mm * units_per_mm).astype(np.uint16)


def _intrinsics() -> Any:
    intr = rs.intrinsics()
    intr.width, intr.height = W, H
    intr.fx, intr.fy, intr.ppx, intr.ppy = 30.0, 31.0, 15.5, 11.5
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = [0.0, 0.0, 0.0, 0.0, 0.0]
    return intr


def record(
    path: Path,
    frames: int,
    *,
    depth_units: float = 0.001,
    sensor_timestamps: bool = False,
    depth_number_offset: int = 1,
) -> Path:
    """Record ``frames`` colour + depth frames of a software device to ``path`` (.db3).

    Colour frames are numbered 1, 2, ...; depth frames from ``depth_number_offset`` (a D400 keeps
    separate counters)."""
    device = rs.software_device()
    depth_sensor = device.add_sensor("Depth")
    color_sensor = device.add_sensor("Color")
    streams = []
    for sensor, stream, fmt, bpp, uid in (
        (depth_sensor, rs.stream.depth, rs.format.z16, 2, 1),
        (color_sensor, rs.stream.color, rs.format.rgb8, 3, 2),
    ):
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = stream, 0, uid
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = W, H, FPS, bpp, fmt
        vs.intrinsics = _intrinsics()
        streams.append(sensor.add_video_stream(vs))
    depth_profile, color_profile = streams
    depth_sensor.add_read_only_option(rs.option.depth_units, depth_units)
    identity = rs.extrinsics()
    identity.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    identity.translation = [0.0, 0.0, 0.0]
    depth_profile.register_extrinsics_to(color_profile, identity)

    recorder = rs.recorder(str(path), device)
    for sensor, profile in ((depth_sensor, depth_profile), (color_sensor, color_profile)):
        sensor.open(profile)
        sensor.start(lambda frame: None)
    units_per_mm = round(0.001 / depth_units)
    for n in range(frames):
        timestamp_ms = T0_MS + n * PERIOD_MS
        # Depth first: the player then pairs each colour frame with its own depth frame.
        for sensor, profile, image, bpp in (
            (depth_sensor, depth_profile, depth_raw(n, units_per_mm), 2),
            (color_sensor, color_profile, color_image(n), 3),
        ):
            frame = rs.software_video_frame()
            frame.pixels = image
            frame.stride, frame.bpp = W * bpp, bpp
            frame.timestamp = timestamp_ms
            frame.domain = rs.timestamp_domain.hardware_clock
            frame.frame_number = n + 1 if sensor is color_sensor else n + depth_number_offset
            frame.profile = profile.as_video_stream_profile()
            if sensor is depth_sensor:
                frame.depth_units = depth_units
            if sensor_timestamps:  # microseconds, middle of exposure
                sensor.set_metadata(
                    rs.frame_metadata_value.sensor_timestamp, int(timestamp_ms * 1000) - 2000
                )
            sensor.on_video_frame(frame)
    for sensor in (depth_sensor, color_sensor):
        sensor.stop()
        sensor.close()
    del recorder  # closing the recorder writes the file
    assert path.is_file() and path.stat().st_size > 0
    return path


def assert_aligned_depth(
    depth: np.ndarray[Any, np.dtype[np.uint16]], expected: np.ndarray[Any, np.dtype[np.uint16]]
) -> None:
    """Depth equal to ``expected`` wherever rs.align filled the pixel: reprojection leaves a few
    0 (no depth) holes where depth changes between rows, even with identical intrinsics."""
    filled = depth != 0
    assert filled.mean() > 0.98
    np.testing.assert_array_equal(depth[filled], expected[filled])


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("rs") / "take.db3", 12)


def test_playback_delivers_every_frame_aligned_and_hardware_stamped(recording: Path) -> None:
    camera = RealSenseCamera(name="cam0", playback_file=recording)
    with camera:
        assert state(camera) == "streaming"
        assert camera.has_depth
        frames = []
        while (frame := camera.read(timeout_s=5.0)) is not None:
            frames.append(frame)
        assert state(camera) == "ended"
    intr = camera.intrinsics
    assert (intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy) == (
        W, H, 30.0, 31.0, 15.5, 11.5,
    )  # fmt: skip
    assert [f.frame_number for f in frames] == list(range(1, 13))
    for n, frame in enumerate(frames):
        assert frame.camera == "cam0"
        assert frame.color.shape == (H, W, 3) and frame.color.dtype == np.uint8
        np.testing.assert_array_equal(frame.color, color_image(n))
        assert frame.depth is not None
        assert frame.depth.shape == (H, W) and frame.depth.dtype == np.uint16
        assert_aligned_depth(frame.depth, depth_raw(n, 1))
        assert frame.device_time_ns == round((T0_MS + n * PERIOD_MS) * 1e6)
        assert frame.trigger_index == -1 and frame.host_time_ns > 0
    assert camera.timestamp_domain == "hardware_clock"
    assert camera.counters.frames == 12
    assert camera.counters.dropped == 0 and camera.counters.errors == 0
    assert camera.pair_mismatches == 0
    assert state(camera) == "closed"


def test_depth_scale_and_sensor_timestamp_metadata(tmp_path: Path) -> None:
    path = record(tmp_path / "fine.db3", 4, depth_units=0.0001, sensor_timestamps=True)
    with create_camera("realsense", name="cam1", playback_file=path) as camera:
        frames = [camera.read(timeout_s=5.0) for _ in range(4)]
    assert isinstance(camera, RealSenseCamera)
    for n, frame in enumerate(frames):
        assert frame is not None and frame.depth is not None
        assert_aligned_depth(frame.depth, depth_raw(n, 1))  # 0.1 mm units -> mm
        expected_us = int((T0_MS + n * PERIOD_MS) * 1000) - 2000
        assert frame.device_time_ns == expected_us * 1000
    assert "sensor_timestamp" in camera.timestamp_domain


def test_external_trigger_frames_follow_the_depth_stream(tmp_path: Path) -> None:
    # Genlock triggers the depth module: frames are numbered and stamped by the depth stream.
    path = record(tmp_path / "genlock.db3", 6, depth_number_offset=DEPTH_NUMBER_OFFSET)
    camera = RealSenseCamera(name="gl", sync_mode="external-trigger", playback_file=path)
    assert camera.primary_stream == "depth"
    with camera:
        frames = []
        while (frame := camera.read(timeout_s=5.0)) is not None:
            frames.append(frame)
    numbers = [f.frame_number for f in frames]
    assert len(numbers) >= 3 and all(n >= DEPTH_NUMBER_OFFSET for n in numbers)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    for frame in frames:
        assert frame.depth is not None
        # Stamped by the depth frame: depth value (mm) and device time belong together.
        n = (frame.device_time_ns / 1e6 - T0_MS) / PERIOD_MS
        assert round(n) == frame.frame_number - DEPTH_NUMBER_OFFSET
        assert int(np.median(frame.depth[0])) == 1000 + 10 * round(n)
    # librealsense's playback syncer pairs these streams one frame apart; it is counted.
    assert camera.pair_mismatches <= len(frames)


def test_colour_only_playback(recording: Path) -> None:
    with RealSenseCamera(name="c", depth=False, playback_file=recording) as camera:
        frame = camera.read(timeout_s=5.0)
    assert camera.has_depth is False
    assert frame is not None and frame.depth is None
    np.testing.assert_array_equal(frame.color, color_image(frame.frame_number - 1))


def test_device_lost_mid_take_raises_once_then_none(recording: Path) -> None:
    camera = RealSenseCamera(name="cam9", playback_file=recording)
    camera.open()
    camera.start()
    assert camera.read(timeout_s=5.0) is not None

    def unplugged(timeout_ms: int) -> tuple[bool, Any]:
        raise RuntimeError("No device connected")

    # What librealsense does when the USB device vanishes: the wait fails and the device is gone.
    camera._wait_for_frames = unplugged  # type: ignore[method-assign]
    camera._device_gone = lambda: True  # type: ignore[method-assign]
    with pytest.raises(CameraLost, match="cam9"):
        camera.read(timeout_s=1.0)
    assert state(camera) == "lost"
    assert camera.read(timeout_s=0.1) is None
    assert camera.counters.errors == 1 and camera.counters.frames == 1
    camera.close()
    assert state(camera) == "closed"


def test_missing_recording_and_missing_camera() -> None:
    with pytest.raises(DeviceNotFound, match="no such recording"):
        RealSenseCamera(name="x", playback_file="/nonexistent/take.db3").open()
    if len(rs.context().query_devices()) == 0:
        with pytest.raises(DeviceNotFound, match="no RealSense camera"):
            RealSenseCamera(name="x").open()


def test_missing_sdk_names_the_package() -> None:
    code = (
        "import sys; sys.modules['pyrealsense2'] = None\n"
        "from acquisition.errors import MissingDependency\n"
        "from acquisition.cameras import create_camera\n"
        "try:\n"
        "    create_camera('realsense')\n"
        "except MissingDependency as exc:\n"
        "    print(exc.package, '|', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.startswith("pyrealsense2 |")
    assert "pip install" in out.stdout
