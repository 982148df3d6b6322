"""The simulated camera: one frame per trigger pulse, free-run, injected faults, counters."""

from __future__ import annotations

import time

import numpy as np
import pytest
from numpy.typing import NDArray

from acquisition.cameras import NO_TRIGGER, Camera, CameraFrame, CameraLost
from acquisition.cameras.sim import (
    DEFAULT_EXPOSURE_OFFSET_NS,
    SimulatedCamera,
    renderer_source,
)
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.errors import DeviceError
from acquisition.recording.records import CameraIntrinsics
from acquisition.sim.camera import PinholeCamera, RgbdRenderer
from acquisition.sim.person import PersonMotion


def state(camera: Camera) -> str:
    """The camera's state, as a plain str (mypy would otherwise narrow it across calls)."""
    return camera.state


W, H = 16, 12
INTRINSICS = CameraIntrinsics(W, H, 20.0, 20.0, W / 2, H / 2)
READ_TIMEOUT_S = 5.0  # generous: other test runs share the machine


def stamp_source(time_ns: int) -> tuple[NDArray[np.uint8], NDArray[np.uint16] | None]:
    """An image whose pixels encode the capture time (ms, mod 256) and depth = ms mod 65536."""
    ms = time_ns // 1_000_000
    rgb = np.full((H, W, 3), ms % 256, dtype=np.uint8)
    depth = np.full((H, W), ms % 65536, dtype=np.uint16)
    return rgb, depth


def pulse(index: int) -> TriggerPulse:
    return TriggerPulse(index=index, board_time_us=1_000_000 + 100_000 * index, host_time_ns=0)


def triggered(line: TriggerLine, **kwargs: object) -> SimulatedCamera:
    return SimulatedCamera(
        "cam0",
        frame_source=stamp_source,
        intrinsics=INTRINSICS,
        trigger_line=line,
        sync_role="external-trigger",
        **kwargs,  # type: ignore[arg-type]
    )


def read_all(camera: SimulatedCamera, quiet_s: float = 0.3) -> list[CameraFrame]:
    frames = []
    while (frame := camera.read(timeout_s=quiet_s)) is not None:
        frames.append(frame)
    return frames


def wait_captured(camera: SimulatedCamera, count: int) -> None:
    deadline = time.monotonic() + READ_TIMEOUT_S
    while camera._device_frame_number < count and time.monotonic() < deadline:
        time.sleep(0.005)


def test_one_frame_per_pulse_with_trigger_index_and_device_time() -> None:
    line = TriggerLine()
    with triggered(line) as camera:
        for i in range(5):
            line.fire(pulse(i))
        frames = [camera.read(timeout_s=READ_TIMEOUT_S) for _ in range(5)]
        assert camera.read(timeout_s=0.05) is None  # no pulse, no frame
    assert state(camera) == "closed"
    for i, frame in enumerate(frames):
        assert frame is not None
        board_time_ns = pulse(i).board_time_us * 1000
        assert frame.trigger_index == i
        assert frame.frame_number == i
        assert frame.device_time_ns == board_time_ns + DEFAULT_EXPOSURE_OFFSET_NS
        assert frame.camera == "cam0"
        assert frame.color.shape == (H, W, 3) and frame.color.dtype == np.uint8
        assert frame.depth is not None and frame.depth.dtype == np.uint16
        # The image was rendered at the exposure time of its own pulse.
        assert int(frame.depth[0, 0]) == (frame.device_time_ns // 1_000_000) % 65536
        assert frame.host_time_ns > 0
    assert camera.counters.as_dict() == {
        "frames": 5,
        "dropped": 0,
        "overflow": 0,
        "timeouts": 1,
        "errors": 0,
    }


def test_pulses_before_start_and_after_stop_are_not_captured() -> None:
    line = TriggerLine()
    camera = triggered(line)
    camera.open()
    line.fire(pulse(0))
    camera.start()
    line.fire(pulse(1))
    frame = camera.read(timeout_s=READ_TIMEOUT_S)
    camera.stop()
    line.fire(pulse(2))
    camera.close()
    assert frame is not None and frame.trigger_index == 1 and frame.frame_number == 0
    assert camera.counters.frames == 1


def test_free_run_uses_its_own_clock() -> None:
    camera = SimulatedCamera(
        "cam1", frame_source=stamp_source, intrinsics=INTRINSICS, fps=200.0, depth=False
    )
    with camera:
        frames = [camera.read(timeout_s=READ_TIMEOUT_S) for _ in range(4)]
    assert camera.has_depth is False
    numbers = [f.frame_number for f in frames if f is not None]
    assert numbers == [0, 1, 2, 3] or camera.counters.dropped > 0  # a slow machine may overflow
    for frame in frames:
        assert frame is not None
        assert frame.trigger_index == NO_TRIGGER
        assert frame.depth is None
        assert frame.device_time_ns == frame.frame_number * 5_000_000 + DEFAULT_EXPOSURE_OFFSET_NS


def test_dropped_frames_are_counted_exactly_from_frame_number_gaps() -> None:
    seed, p, n = 3, 0.3, 60
    lost = np.random.default_rng(seed).random(n) < p
    last_kept = int(np.flatnonzero(~lost)[-1])
    line = TriggerLine()
    with triggered(line, drop_probability=p, seed=seed, queue_size=n) as camera:
        for i in range(n):
            line.fire(pulse(i))
        wait_captured(camera, n)
        frames = read_all(camera)
    kept = [f.frame_number for f in frames]
    assert kept == [int(i) for i in np.flatnonzero(~lost)]
    assert [f.trigger_index for f in frames] == kept  # device counter and pulse index agree
    # Losses after the last delivered frame leave no gap to see; all others are counted.
    assert camera.counters.dropped == int(lost[: last_kept + 1].sum())
    assert camera.counters.dropped > 0
    assert camera.counters.frames == len(kept)
    assert camera.counters.overflow == 0


def test_full_queue_discards_the_oldest_and_counts_it() -> None:
    line = TriggerLine()
    with triggered(line, queue_size=2) as camera:
        for i in range(5):
            line.fire(pulse(i))
        wait_captured(camera, 5)
        frames = read_all(camera)
    assert [f.frame_number for f in frames] == [3, 4]
    assert camera.counters.overflow == 3
    assert camera.counters.dropped == 3


def test_unplug_mid_take_raises_once_then_returns_none() -> None:
    line = TriggerLine()
    camera = triggered(line, unplug_after_frames=3)
    camera.open()
    camera.start()
    for i in range(6):
        line.fire(pulse(i))
    frames = [camera.read(timeout_s=READ_TIMEOUT_S) for _ in range(3)]
    assert all(f is not None for f in frames)
    with pytest.raises(CameraLost) as info:
        camera.read(timeout_s=READ_TIMEOUT_S)
    assert isinstance(info.value, DeviceError)
    assert info.value.device == "cam0" and "cam0" in str(info.value)
    assert state(camera) == "lost"
    assert camera.read(timeout_s=0.05) is None
    assert camera.read(timeout_s=0.05) is None
    assert camera.counters.as_dict() == {
        "frames": 3,
        "dropped": 0,
        "overflow": 0,
        "timeouts": 0,
        "errors": 1,
    }
    camera.stop()  # safe on a lost camera
    assert state(camera) == "lost"
    camera.close()
    assert state(camera) == "closed"


def test_failing_frame_source_loses_the_camera_without_crashing() -> None:
    def broken(time_ns: int) -> tuple[NDArray[np.uint8], NDArray[np.uint16] | None]:
        raise RuntimeError("renderer exploded")

    line = TriggerLine()
    camera = SimulatedCamera(
        "cam2",
        frame_source=broken,
        intrinsics=INTRINSICS,
        trigger_line=line,
        sync_role="subordinate",
    )
    with camera:
        line.fire(pulse(0))
        with pytest.raises(CameraLost, match="renderer exploded"):
            camera.read(timeout_s=READ_TIMEOUT_S)
        assert camera.read(timeout_s=0.01) is None


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="trigger_line"):
        SimulatedCamera(
            "c", frame_source=stamp_source, intrinsics=INTRINSICS, sync_role="external-trigger"
        )
    with pytest.raises(ValueError, match="sync_role"):
        SimulatedCamera("c", frame_source=stamp_source, intrinsics=INTRINSICS, sync_role="x")
    with pytest.raises(ValueError, match="drop_probability"):
        SimulatedCamera("c", frame_source=stamp_source, intrinsics=INTRINSICS, drop_probability=2)
    camera = SimulatedCamera("c", frame_source=stamp_source, intrinsics=INTRINSICS)
    with pytest.raises(RuntimeError, match="not streaming"):
        camera.read()


def test_frames_from_the_simulator_renderer_and_their_records() -> None:
    pinhole = PinholeCamera.from_fov(hfov_deg=70.0, width=32, height=24)
    motion = PersonMotion("wave_one_hand", seed=0, floor_z=-1.0)
    source = renderer_source(RgbdRenderer(pinhole).render, lambda t: motion.joints_at(t)[0])
    line = TriggerLine()
    intrinsics = CameraIntrinsics(32, 24, pinhole.fx, pinhole.fy, pinhole.cx, pinhole.cy)
    with SimulatedCamera(
        "rgbd", frame_source=source, intrinsics=intrinsics, trigger_line=line,
        sync_role="external-trigger",
    ) as camera:  # fmt: skip
        line.fire(pulse(7))
        frame = camera.read(timeout_s=READ_TIMEOUT_S)
    assert frame is not None and frame.depth is not None
    assert frame.color.shape == (24, 32, 3) and frame.depth.shape == (24, 32)
    assert frame.depth.max() > 0  # the room (and the person) are in view
    color, depth = frame.to_records(stamp_ns=123)
    assert (color.stream, color.encoding, color.trigger_index) == ("color", "rgb8", 7)
    assert (depth.stream, depth.encoding, depth.stamp_ns) == ("depth", "16UC1", 123)
    assert depth.device_time_ns == frame.device_time_ns
