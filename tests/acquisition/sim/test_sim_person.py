"""The simulated person: skeleton plausibility, motion, velocities and radar scatterers."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.sim.person import (
    ACTIONS,
    JOINT_INDEX,
    SIM_JOINTS,
    SKELETON_BONES,
    PersonMotion,
    PersonScattererLayout,
    SubjectBody,
    finite_difference_velocities,
    person_scatterers,
    simulate_motion,
)

FLOOR_Z = -1.0
REQUIRED_ACTIONS = {
    "standing",
    "wave_one_hand",
    "wave_both_hands",
    "walk_wave",
    "arm_raise",
    "squat",
    "walk_across",
}
COCO17 = (
    "nose left_eye right_eye left_ear right_ear left_shoulder right_shoulder left_elbow "
    "right_elbow left_wrist right_wrist left_hip right_hip left_knee right_knee left_ankle "
    "right_ankle"
).split()


def test_skeleton_and_action_names() -> None:
    assert SIM_JOINTS[:17] == tuple(COCO17)
    assert set(SIM_JOINTS[17:]) == {"neck", "head_top", "pelvis"}
    assert REQUIRED_ACTIONS <= set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_bone_lengths_are_constant(action: str) -> None:
    joints = simulate_motion(action, num_frames=120, fps=30.0, seed=4, floor_z=FLOOR_Z)
    assert joints.shape == (120, len(SIM_JOINTS), 3)
    for a, b in SKELETON_BONES:
        length = np.linalg.norm(joints[:, JOINT_INDEX[a]] - joints[:, JOINT_INDEX[b]], axis=-1)
        assert float(np.ptp(length)) < 1e-3, (a, b)


@pytest.mark.parametrize("action", ACTIONS)
def test_joints_are_plausible(action: str) -> None:
    motion = PersonMotion(action, seed=7, floor_z=FLOOR_Z)
    joints = motion.joints_at(np.arange(100) / 20.0)
    body = motion.body
    assert float(joints[..., 2].min()) >= FLOOR_Z - 1e-6  # never below the floor
    ankles = joints[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 2]
    # One foot is always on the floor (ankle at its height above the sole, within 1.5 cm).
    assert np.all(ankles.min(axis=1) - FLOOR_Z < body.ankle_height_m + 0.015)
    head_top = joints[:, JOINT_INDEX["head_top"], 2] - FLOOR_Z
    assert float(head_top.max()) <= body.height_m + 0.01
    if action != "squat":
        assert float(head_top.min()) > 0.9 * body.height_m
    # In front of the rig, within a room.
    assert np.all(joints[..., 0] > 1.0) and np.all(np.abs(joints[..., 1]) < 6.0)


def test_standing_feet_on_the_floor_and_facing_the_rig() -> None:
    motion = PersonMotion("standing", seed=1, floor_z=FLOOR_Z)
    joints = motion.joints_at(np.linspace(0, 5, 50))
    ankles = joints[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 2] - FLOOR_Z
    np.testing.assert_allclose(ankles, motion.body.ankle_height_m, atol=0.01)
    # Facing the rig (heading pi): the person's left is the rig's -y.
    left = joints[:, JOINT_INDEX["left_shoulder"], 1] - joints[:, JOINT_INDEX["right_shoulder"], 1]
    assert np.all(left < 0)
    nose_ahead = joints[:, JOINT_INDEX["nose"], 0] - joints[:, JOINT_INDEX["neck"], 0]
    assert np.all(nose_ahead < 0)  # nose towards the rig (smaller x)


@pytest.mark.parametrize("action", ACTIONS)
def test_velocities_match_finite_differences(action: str) -> None:
    motion = PersonMotion(action, seed=2, floor_z=FLOOR_Z)
    fps = 1000.0
    times = np.arange(0.0, 3.0, 1.0 / fps)
    joints = motion.joints_at(times)
    numeric = finite_difference_velocities(joints, fps)
    analytic = motion.velocities_at(times)
    np.testing.assert_allclose(analytic[1:-1], numeric[1:-1], atol=2e-3)
    # The motion is smooth: no velocity jumps (accelerations within human range, < 100 m/s^2)
    # and speeds a body can reach (swinging foot < 6 m/s).
    assert float(np.abs(np.diff(analytic, axis=0)).max()) * fps < 100.0
    assert float(np.linalg.norm(analytic, axis=-1).max()) < 6.0


def test_walk_across_crosses_the_scene_at_walking_speed() -> None:
    motion = PersonMotion("walk_across", seed=3, floor_z=FLOOR_Z)
    assert 0.8 < motion.walking_speed_mps < 1.6
    pelvis = motion.joints_at(np.array([0.0, 4.0]))[:, JOINT_INDEX["pelvis"]]
    travelled = pelvis[1] - pelvis[0]
    assert travelled[1] == pytest.approx(4.0 * motion.walking_speed_mps, rel=0.05)  # +y (left)
    assert abs(travelled[0]) < 0.05
    assert pelvis[0, 1] < 0 < pelvis[1, 1]  # crosses the rig's boresight plane
    # Legs alternate: the ankles overtake each other.
    ankles = motion.joints_at(np.linspace(0, 4, 200))[
        :, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 1
    ]
    assert len(np.flatnonzero(np.diff(np.sign(ankles[:, 0] - ankles[:, 1])))) >= 4


def test_waving_hand_is_raised_and_oscillates() -> None:
    motion = PersonMotion("wave_one_hand", seed=5, floor_z=FLOOR_Z)
    times = np.arange(1.0, 4.0, 0.01)
    joints = motion.joints_at(times)
    wrist, shoulder = JOINT_INDEX["right_wrist"], JOINT_INDEX["right_shoulder"]
    assert np.all(joints[:, wrist, 2] > joints[:, shoulder, 2])
    other = JOINT_INDEX["left_wrist"]
    assert np.all(joints[:, other, 2] < joints[:, JOINT_INDEX["left_shoulder"], 2])
    lateral = joints[:, wrist, 1] - joints[:, wrist, 1].mean()
    crossings = len(np.flatnonzero(np.diff(np.sign(lateral))))
    assert 6 <= crossings <= 18  # 1.5 - 2.5 Hz over 3 s: 9 - 15 zero crossings


def test_squat_lowers_the_pelvis() -> None:
    motion = PersonMotion("squat", seed=6, floor_z=FLOOR_Z)
    pelvis = motion.joints_at(np.linspace(0, 6, 300))[:, JOINT_INDEX["pelvis"], 2]
    assert float(np.ptp(pelvis)) > 0.25


def test_subject_bodies_vary_realistically() -> None:
    bodies = [SubjectBody.sample(seed) for seed in range(200)]
    heights = np.array([b.height_m for b in bodies])
    assert 1.5 <= heights.min() and heights.max() <= 1.95
    assert 0.05 < heights.std() < 0.12
    for b in bodies[:20]:
        assert 0.22 < b.shoulder_width_m / b.height_m < 0.30
        assert b.neck_to_head_centre_m > 0
    assert SubjectBody.sample(3) == SubjectBody.sample(3)
    assert SubjectBody.sample(3) != SubjectBody.sample(4)


def test_motion_is_deterministic_per_seed() -> None:
    a = simulate_motion("walk_wave", num_frames=30, fps=10.0, seed=11)
    b = simulate_motion("walk_wave", num_frames=30, fps=10.0, seed=11)
    c = simulate_motion("walk_wave", num_frames=30, fps=10.0, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_person_scatterers_follow_the_body() -> None:
    motion = PersonMotion("standing", seed=0, floor_z=FLOOR_Z)
    joints = motion.joints_at(0.0)[0]
    shift = np.array([0.3, -0.2, 0.1])
    velocities = np.tile(shift, (len(SIM_JOINTS), 1))
    scat = person_scatterers(joints, velocities, rng=np.random.default_rng(0))
    assert 60 <= scat.count <= 200
    # Pure translation of every joint moves every scatterer with the same velocity.
    np.testing.assert_allclose(scat.velocities, np.tile(shift, (scat.count, 1)), atol=1e-12)
    assert 0.3 < float(scat.rcs.sum()) < 1.5
    # Every scatterer within ~25 cm of the skeleton's bounding box.
    lo, hi = joints.min(axis=0) - 0.25, joints.max(axis=0) + 0.25
    assert np.all((scat.positions >= lo) & (scat.positions <= hi))
    again = person_scatterers(joints, velocities, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(scat.positions, again.positions)


def test_scatterer_velocities_interpolate_the_joints() -> None:
    motion = PersonMotion("wave_one_hand", seed=0, floor_z=FLOOR_Z)
    joints = motion.joints_at(2.0)[0]
    velocities = motion.velocities_at(2.0)[0]
    layout = PersonScattererLayout.sample(joints, rng=np.random.default_rng(1))
    scat = layout.scatterers(joints, velocities)
    np.testing.assert_allclose(layout.weights.sum(axis=1), 1.0)
    # Moving the joints along their velocities for dt moves the scatterers by velocities * dt.
    dt = 1e-3
    later = layout.scatterers(joints + dt * velocities, velocities)
    np.testing.assert_allclose(later.positions - scat.positions, dt * scat.velocities, atol=1e-12)
    # The waving forearm's scatterers move faster than the torso's.
    speeds = np.linalg.norm(scat.velocities, axis=1)
    wrist_weight = layout.weights[:, JOINT_INDEX["right_wrist"]]
    hip_weight = layout.weights[:, JOINT_INDEX["left_hip"]]
    assert speeds[wrist_weight > 0.5].mean() > 3 * speeds[hip_weight > 0.2].mean()
