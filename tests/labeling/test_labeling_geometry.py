"""Geometry with exact answers: crops, heatmap decoding, depth lifting, frames, radar bins."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.geometry import Pose
from acquisition.radar.config import load_radar_config
from acquisition.sim.camera import PinholeCamera
from dataset_tools.dsp.spectrum import angle_axis_deg, element_spacing_wavelengths, range_axis_m
from labeling.geometry import (
    affine_points,
    backproject,
    box_to_center_scale,
    crop_affine,
    decode_heatmaps,
    heatmap_argmax,
    invert_affine,
    lift_keypoints,
    optical_to_rig,
    radar_bins,
    rig_to_optical,
    sample_depth,
    subpixel_refine,
    warp_crops,
)
from tests.conftest import SENSOR_CONFIGS


def test_box_to_center_scale_keeps_the_aspect_ratio() -> None:
    center, size = box_to_center_scale([[100, 50, 160, 250]], aspect_ratio=0.75, padding=1.0)
    np.testing.assert_allclose(center, [[130, 150]])
    np.testing.assert_allclose(size, [[150, 200]])
    _, size = box_to_center_scale([[0, 0, 300, 100]], aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(size, [[375, 500]])


@pytest.mark.parametrize("rotation", [0.0, 30.0, -90.0])
def test_crop_affine_round_trip(rotation: float) -> None:
    center, size = np.array([[320.0, 200.0]]), np.array([[96.0, 128.0]])
    m = crop_affine(center, size, (192, 256), rotation_deg=rotation)
    inv = invert_affine(m)
    pts = np.random.default_rng(0).uniform(0, 640, size=(1, 9, 2))
    np.testing.assert_allclose(affine_points(affine_points(pts, m), inv), pts, atol=1e-9)
    np.testing.assert_allclose(affine_points(center[:, None], m), [[[96.0, 128.0]]], atol=1e-9)
    if rotation == 0.0:
        corner = center - size / 2
        np.testing.assert_allclose(affine_points(corner[:, None], m), [[[0.0, 0.0]]], atol=1e-9)


def test_warp_crop_moves_a_dot_where_the_affine_says() -> None:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    image[50, 100] = 255  # row 50, column 100
    center, size = np.array([[110.0, 60.0]]), np.array([[48.0, 64.0]])
    m = crop_affine(center, size, (48, 64))  # scale 1: the dot lands on a whole pixel
    crop = warp_crops([image], np.array([0]), m, (48, 64))
    row, col = np.unravel_index(np.argmax(crop[0, ..., 0]), crop.shape[1:3])
    np.testing.assert_allclose(affine_points([[[100.0, 50.0]]], m)[0, 0], [col, row])


def _gaussian(h: int, w: int, cx: float, cy: float, sx: float, sy: float, rho: float = 0.0):  # type: ignore[no-untyped-def]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = (x - cx) / sx, (y - cy) / sy
    q = (dx * dx - 2 * rho * dx * dy + dy * dy) / (1 - rho * rho)
    return np.exp(-q / 2)


@pytest.mark.parametrize(
    ("cx", "cy", "sx", "sy", "rho"),
    [(20.3, 31.7, 2.0, 2.0, 0.0), (5.9, 10.2, 1.5, 3.0, 0.0), (30.45, 40.55, 2.5, 1.8, 0.4)],
)
def test_subpixel_refinement_is_exact_for_gaussians(
    cx: float, cy: float, sx: float, sy: float, rho: float
) -> None:
    hm = _gaussian(64, 48, cx, cy, sx, sy, rho)[None, None]
    coords, maxvals = heatmap_argmax(hm)
    assert np.all(np.abs(coords[0, 0] - [cx, cy]) <= 1.0)
    refined = subpixel_refine(hm, coords)
    np.testing.assert_allclose(refined[0, 0], [cx, cy], atol=1e-6)
    assert 0.8 < maxvals[0, 0] <= 1.0


def test_heatmaps_without_a_positive_peak_give_finite_cells_and_score_0() -> None:
    rng = np.random.default_rng(0)
    hm = np.zeros((2, 3, 8, 6))
    hm[0, 1] = np.nan  # no finite value
    hm[0, 2] = -rng.uniform(0.1, 1.0, (8, 6))  # all negative: nothing found
    hm[0, 2, 5, 4] = -0.01
    hm[1, 0] = 0.7  # flat, positive
    hm[1, 1] = _gaussian(8, 6, 2.0, 3.0, 1.0, 1.0)
    hm[1, 1, 0, 0] = np.inf  # a peak, but the map holds a non-finite value
    hm[1, 2] = _gaussian(8, 6, 4.0, 5.0, 1.0, 1.0)  # a real peak
    coords, scores = heatmap_argmax(hm)
    assert np.isfinite(coords).all() and np.isfinite(scores).all()
    centre = [3.0, 4.0]  # (W / 2, H / 2): maps to the crop centre
    np.testing.assert_array_equal(coords[0, 0], centre)
    np.testing.assert_array_equal(coords[0, 1], centre)
    np.testing.assert_array_equal(coords[1, 0], centre)
    np.testing.assert_array_equal(coords[0, 2], [4.0, 5.0])  # argmax kept, score 0
    np.testing.assert_array_equal(coords[1, 1], [2.0, 3.0])
    np.testing.assert_array_equal(coords[1, 2], [4.0, 5.0])
    np.testing.assert_array_equal(scores[:, :2], 0.0)
    np.testing.assert_array_equal(scores[:, 2], [0.0, 1.0])


def test_decode_never_gives_nan_for_degenerate_heatmaps() -> None:
    box = np.array([[200.0, 100.0, 296.0, 356.0]])
    center, size = box_to_center_scale(box, aspect_ratio=192 / 256, padding=1.25)
    m = crop_affine(center, size, (192, 256))
    hm = np.zeros((1, 4, 64, 48))
    hm[0, 1] = np.nan
    hm[0, 2] = -np.linspace(1.0, 2.0, 64 * 48).reshape(64, 48)  # all negative, peak at (0, 0)
    hm[0, 3, 10:20, 10:20] = np.inf
    out = decode_heatmaps(hm, invert_affine(m), (192, 256))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[0, :, 2], 0.0)
    np.testing.assert_allclose(out[0, [0, 1, 3], :2], np.repeat(center, 3, axis=0), atol=1e-9)
    np.testing.assert_allclose(out[0, 2, :2], center[0] - size[0] / 2, atol=1e-9)  # crop corner


def test_decode_heatmaps_maps_back_to_image_pixels() -> None:
    box = np.array([[200.0, 100.0, 296.0, 356.0]])
    center, size = box_to_center_scale(box, aspect_ratio=192 / 256, padding=1.25)
    m = crop_affine(center, size, (192, 256))
    true_image = np.array([[250.0, 180.0], [220.0, 300.0]])
    crop_pts = affine_points(true_image[None], m)[0]
    hm = np.stack([_gaussian(64, 48, x / 4.0, y / 4.0, 2.0, 2.0) for x, y in crop_pts])[None]
    out = decode_heatmaps(hm, invert_affine(m), (192, 256))
    np.testing.assert_allclose(out[0, :, :2], true_image, atol=1e-5)
    np.testing.assert_allclose(out[0, :, 2], 1.0, atol=0.05)


def _plane_scene() -> np.ndarray:
    depth = np.full((100, 120), 5.0)  # wall at 5 m
    depth[20:80, 30:70] = 2.0  # person at 2 m
    depth[45:55, 45:55] = 0.0  # a hole on the person
    return depth


def test_sample_depth_layers_holes_and_edges() -> None:
    depth = _plane_scene()
    uv = np.array(
        [
            [50.5, 30.5],  # inside the person
            [30.5, 50.5],  # on the person's edge column: window half wall
            [29.5, 50.5],  # just off the silhouette: the nearest layer, the person
            [45.5, 45.5],  # on the hole's rim: nearest layer = person
            [50.5, 50.5],  # deep in the hole: no depth
            [500.0, 5.0],  # outside the image
            [np.nan, 1.0],
        ]
    )
    z, valid = sample_depth(depth, uv, window=7)
    np.testing.assert_allclose(z[:4], [2.0, 2.0, 2.0, 2.0])
    assert valid.tolist() == [True, True, True, True, False, False, False]
    z, _ = sample_depth(depth, uv[:4], window=7, prefer="centre")
    np.testing.assert_allclose(z, [2.0, 2.0, 5.0, 2.0])  # the keypoint's own pixel decides
    z, _ = sample_depth(depth, [[20.5, 50.5]], window=7)  # well off the body: the wall
    np.testing.assert_allclose(z, [5.0])
    z, valid = sample_depth(np.zeros((10, 10)), [[5.0, 5.0]])
    assert not valid[0]


def test_lifting_with_known_intrinsics() -> None:
    fx, fy, cx, cy = 500.0, 480.0, 60.0, 50.0
    depth_mm = (_plane_scene() * 1000).astype(np.uint16)
    uv = np.array([[35.5, 25.5], [65.5, 75.5], [3.5, 3.5]])
    pts, valid = lift_keypoints(
        uv, depth_mm, fx=fx, fy=fy, cx=cx, cy=cy, depth_scale=0.001, body_depth_range_m=1.0
    )
    # The wall keypoint is more than 1 m behind the body: not valid.
    assert valid.tolist() == [True, True, False]
    np.testing.assert_allclose(pts[:2], backproject(uv[:2], [2.0, 2.0], fx=fx, fy=fy, cx=cx, cy=cy))
    offset = np.array([0.1, 0.0, 0.0])
    pts2, _ = lift_keypoints(uv, depth_mm, fx=fx, fy=fy, cx=cx, cy=cy, depth_scale=0.001,
                             surface_offset_m=offset)  # fmt: skip
    assert np.linalg.norm(pts2[0]) == pytest.approx(np.linalg.norm(pts[0]) + 0.1)
    np.testing.assert_allclose(np.cross(pts2[0], pts[0]), 0.0, atol=1e-12)  # same ray


def test_backprojection_inverts_the_simulator_camera_and_frames_round_trip() -> None:
    pose = Pose.from_xyz_rpy((0.1, -0.2, 1.1), (2.0, 8.0, -15.0))
    cam = PinholeCamera(520.0, 510.0, 318.0, 244.0, 640, 480, pose)
    rng = np.random.default_rng(1)
    pts_rig = np.column_stack(
        [rng.uniform(2, 5, 20), rng.uniform(-1, 1, 20), rng.uniform(-0.5, 1.5, 20)]
    )
    uv, z = cam.project(pts_rig)
    optical = backproject(uv, z, fx=cam.fx, fy=cam.fy, cx=cam.cx, cy=cam.cy)
    np.testing.assert_allclose(optical, rig_to_optical(pts_rig, pose), atol=1e-9)
    np.testing.assert_allclose(optical_to_rig(optical, pose), pts_rig, atol=1e-9)


def test_radar_bins_against_the_dsp_axes() -> None:
    params = load_radar_config(SENSOR_CONFIGS / "hupr_horizontal.cfg").params("IWR1843BOOST")
    spacing = element_spacing_wavelengths(params)
    horizontal = Pose.from_xyz_rpy((0.0, 0.015, 1.0), (0.0, 0.0, 0.0))
    vertical = Pose.from_xyz_rpy((0.0, -0.015, 1.0), (-90.0, 0.0, 0.0))
    r, theta = 3.0, np.radians(12.0)
    # To the rig's left (+y) at 12 degrees, at the radar's height.
    p = horizontal.position + r * np.array([np.cos(theta), np.sin(theta), 0.0])
    rb, az, el = radar_bins(p, horizontal, params)
    assert range_axis_m(params)[round(rb)] == pytest.approx(r, abs=params.range_resolution_m)
    assert rb * params.range_resolution_m == pytest.approx(r, rel=1e-3)
    # TI x points right: a point on the left has a negative azimuth.
    angle = np.interp(az, np.arange(64), angle_axis_deg(64, spacing_wavelengths=spacing))
    assert angle == pytest.approx(-12.0, abs=0.2)
    assert el == pytest.approx(8.0)
    # Above the vertical radar's boresight: its "azimuth" axis (TI x) points up.
    q = vertical.position + r * np.array([np.cos(theta), 0.0, np.sin(theta)])
    _, az_v, _ = radar_bins(q, vertical, params)
    angle_v = np.interp(az_v, np.arange(64), angle_axis_deg(64, spacing_wavelengths=spacing))
    assert angle_v == pytest.approx(12.0, abs=0.2)
    assert np.isnan(radar_bins(np.full(3, np.nan), horizontal, params)).all()
