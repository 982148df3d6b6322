"""Pinhole projection and the RGB-D renderer."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.geometry import Pose
from acquisition.sim.camera import (
    PinholeCamera,
    RgbdRenderer,
    keypoints_2d,
    render_depth,
    render_person,
    render_rgbd,
)
from acquisition.sim.person import JOINT_INDEX, PersonMotion

POSE = Pose.from_xyz_rpy((0.05, 0.1, 0.2), (0.0, 5.0, -8.0))


def camera(pose: Pose = POSE) -> PinholeCamera:
    return PinholeCamera(600.0, 610.0, 330.0, 235.0, 640, 480, pose)


@pytest.mark.parametrize("distance", [0.5, 3.0, 10.0])
def test_point_on_the_optical_axis_projects_to_the_principal_point(distance: float) -> None:
    cam = camera()
    point = POSE.body_to_rig(np.array([distance, 0.0, 0.0]))
    uv, depth = cam.project(point)
    np.testing.assert_allclose(uv, [330.0, 235.0], atol=1e-9)
    assert float(depth) == pytest.approx(distance)


def test_image_axes_left_up_and_behind() -> None:
    cam = camera(Pose())
    uv, depth = cam.project(np.array([[3.0, 0.5, 0.0], [3.0, 0.0, 0.5], [-1.0, 0.0, 0.0]]))
    assert uv[0, 0] < cam.cx  # rig +y (left) -> image left
    assert uv[0, 1] == pytest.approx(cam.cy)
    assert uv[1, 1] < cam.cy  # up -> image top
    assert uv[0, 0] == pytest.approx(cam.cx - 600.0 * 0.5 / 3.0)
    assert depth[2] < 0 and np.all(np.isnan(uv[2]))


def test_from_fov_puts_the_fov_edge_at_the_image_border() -> None:
    cam = PinholeCamera.from_fov(hfov_deg=90.0, width=640, height=480)
    uv, _ = cam.project(np.array([2.0, -2.0, 0.0]))  # 45 degrees to the right
    assert uv[0] == pytest.approx(640.0)
    assert (cam.cx, cam.cy) == (320.0, 240.0)
    expected = np.array([[320.0, 0.0, 320.0], [0.0, 320.0, 240.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(cam.matrix, expected)


def test_render_shows_the_person_where_it_projects() -> None:
    cam = PinholeCamera.from_fov(hfov_deg=70.0, width=320, height=240)
    joints = PersonMotion("wave_one_hand", seed=0, floor_z=-1.0).joints_at(1.5)[0]
    rgb, depth = render_rgbd(cam, joints)
    assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8
    assert depth.shape == (240, 320) and depth.dtype == np.uint16
    empty_rgb, empty_depth = render_rgbd(cam, joints + np.array([0.0, 100.0, 0.0]))
    changed = np.any(rgb != empty_rgb, axis=-1)
    assert 0.02 < changed.mean() < 0.5
    kp = keypoints_2d(cam, joints)
    for name in ("pelvis", "neck", "left_knee", "right_shoulder"):
        u, v = (int(c) for c in kp[JOINT_INDEX[name]])
        assert changed[v, u], name
        # Depth at the joint's pixel: the body surface, in front of the joint centre by < 20 cm.
        joint_depth_mm = 1000.0 * cam.project(joints[JOINT_INDEX[name]])[1]
        assert -50.0 < joint_depth_mm - float(depth[v, u]) < 200.0, name
        assert depth[v, u] < empty_depth[v, u]
    # Nothing changes far from the body's projected box.
    u_max = int(np.nanmax(kp[:, 0])) + 40
    assert not changed[:, u_max:].any()


def test_background_depth_is_the_wall_and_the_floor() -> None:
    cam = PinholeCamera.from_fov(hfov_deg=60.0, width=64, height=48)
    joints = PersonMotion("standing", seed=0).joints_at(0.0)[0] + np.array([0.0, 50.0, 0.0])
    depth = render_depth(cam, joints)
    assert depth[24, 32] == 6000  # wall at x = 6 m straight ahead
    # Bottom row: the floor 1 m below, closer than the wall.
    v = 47.5
    ray_down = (v - cam.cy) / cam.fy
    assert depth[47, 32] == round(1000.0 / ray_down)
    assert render_person(cam, joints).shape == (48, 64, 3)


def test_renderer_reuses_the_background() -> None:
    cam = PinholeCamera.from_fov(hfov_deg=70.0, width=160, height=120)
    joints = PersonMotion("squat", seed=1).joints_at(0.8)[0]
    renderer = RgbdRenderer(cam)
    a = renderer.render(joints)
    b = render_rgbd(cam, joints)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="joints must have shape"):
        renderer.render(joints[:5])
