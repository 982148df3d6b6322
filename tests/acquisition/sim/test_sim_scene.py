"""Scene orchestration: per-frame streams of joints, ADC cubes and camera images."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.geometry import Pose
from acquisition.sim.camera import PinholeCamera
from acquisition.sim.person import JOINT_INDEX, SIM_JOINTS
from acquisition.sim.presets import hupr_radar_params
from acquisition.sim.scene import SimulatedRadar, SimulatedScene, static_room_clutter

PARAMS = hupr_radar_params()


def make_scene(seed: int = 0, camera: bool = True) -> SimulatedScene:
    cam = PinholeCamera.from_fov(hfov_deg=70.0, width=160, height=120, pose=Pose())
    return SimulatedScene(
        [
            SimulatedRadar("hori", PARAMS, Pose()),
            ("vert", PARAMS, Pose.from_xyz_rpy((0.0, 0.03, 0.0), (90.0, 0.0, 0.0))),
        ],
        camera=cam if camera else None,
        action="walk_wave",
        subject_seed=seed,
        num_frames=3,
        fps=10.0,
        clutter=static_room_clutter(num_points=10),
    )


def test_frames_carry_every_stream() -> None:
    scene = make_scene()
    frames = list(scene.frames())
    assert len(frames) == len(scene) == 3
    for i, frame in enumerate(frames):
        assert frame.index == i and frame.time_s == pytest.approx(i / 10.0)
        assert frame.joints_rig.shape == (len(SIM_JOINTS), 3)
        np.testing.assert_allclose(frame.joints_rig, scene.motion.joints_at(frame.time_s)[0])
        assert set(frame.adc) == {"hori", "vert"}
        for cube in frame.adc.values():
            assert cube.shape == PARAMS.cube_shape and cube.dtype == np.complex64
        assert frame.clipped_samples == {"hori": 0, "vert": 0}
        assert frame.rgb is not None and frame.rgb.shape == (120, 160, 3)
        assert frame.depth_mm is not None and frame.depth_mm.shape == (120, 160)
        assert frame.keypoints_2d is not None and frame.keypoints_2d.shape == (len(SIM_JOINTS), 2)
    assert not np.array_equal(frames[0].adc["hori"], frames[0].adc["vert"])


def test_person_range_shows_in_the_radar_cube() -> None:
    frame = next(iter(make_scene(camera=False)))
    pelvis = frame.joints_rig[JOINT_INDEX["pelvis"]]
    rbin = round(float(np.linalg.norm(pelvis)) / PARAMS.range_resolution_m)
    cube = frame.adc["hori"]
    moving = cube - cube.mean(axis=0, keepdims=True)  # remove the static wall
    profile = (np.abs(np.fft.fft(moving, axis=-1)) ** 2).sum(axis=(0, 1, 2))
    assert abs(int(np.argmax(profile[5:128])) + 5 - rbin) <= round(0.5 / PARAMS.range_resolution_m)
    assert frame.rgb is None and frame.keypoints_2d is None


def test_scene_is_deterministic_and_streams() -> None:
    a = make_scene(seed=2, camera=False).frames()
    b = make_scene(seed=2, camera=False).frames()
    c = make_scene(seed=3, camera=False).frames()
    first, again, other = next(a), next(b), next(c)
    np.testing.assert_array_equal(first.adc["hori"], again.adc["hori"])
    np.testing.assert_array_equal(first.joints_rig, again.joints_rig)
    assert not np.allclose(first.joints_rig, other.joints_rig)


def test_radar_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        SimulatedScene([("a", PARAMS, Pose()), ("a", PARAMS, Pose())], num_frames=1)
