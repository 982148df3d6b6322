"""Image and 3-D geometry of the labeling pipeline: top-down crops, heatmap decoding, depth
lifting, frame changes and projection of joints into radar maps. Pure numpy.

Conventions:

* Pixel coordinates ``(u, v)``: ``u`` right, ``v`` down; pixel ``i`` spans ``[i, i + 1)`` (the
  simulator's and OpenCV's ``cv2.warpAffine`` convention for continuous coordinates up to the
  half-pixel, which the affine helpers carry consistently both ways).
* Heatmaps: joint ``j`` of a ``(H_h, W_h)`` heatmap at integer cell ``(x, y)`` stands for crop
  coordinates ``(x * stride_x, y * stride_y)`` with ``stride = input_size / heatmap_size`` (the
  mmpose ``MSRAHeatmap`` codec convention).
* 3-D frames: camera optical (x right, y down, z forward, metres), rig (REP-103) and TI radar
  frames as in :mod:`acquisition.geometry`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acquisition.geometry import OPTICAL_TO_BODY, Pose
from acquisition.radar.params import RadarParams

SPEED_OF_LIGHT_MPS = 299_792_458.0

__all__ = [
    "affine_points",
    "backproject",
    "box_to_center_scale",
    "crop_affine",
    "decode_heatmaps",
    "heatmap_argmax",
    "invert_affine",
    "lift_keypoints",
    "optical_to_rig",
    "radar_bins",
    "rig_to_optical",
    "sample_depth",
    "subpixel_refine",
]


# --- top-down crops ------------------------------------------------------------------------------
def box_to_center_scale(
    boxes: ArrayLike, *, aspect_ratio: float, padding: float = 1.25
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centre and size of the crop around each box, widened to the model's aspect ratio.

    Args:
        boxes: (..., 4) ``x1, y1, x2, y2`` pixels.
        aspect_ratio: model input width / height (e.g. 192 / 256).
        padding: enlargement factor of the box (mmpose uses 1.25).

    Returns:
        ``(center, size)``: (..., 2) pixels each; ``size[..., 0] / size[..., 1] == aspect_ratio``.
    """
    b = np.asarray(boxes, dtype=np.float64)
    center = (b[..., :2] + b[..., 2:4]) / 2.0
    w = (b[..., 2] - b[..., 0]) * padding
    h = (b[..., 3] - b[..., 1]) * padding
    w_fixed = np.maximum(w, h * aspect_ratio)
    h_fixed = np.maximum(h, w / aspect_ratio)
    return center, np.stack([w_fixed, h_fixed], axis=-1)


def crop_affine(
    center: ArrayLike,
    size: ArrayLike,
    output_size: tuple[int, int],
    *,
    rotation_deg: float = 0.0,
) -> NDArray[np.float64]:
    """(..., 2, 3) affine matrices taking image pixels to crop pixels.

    The crop of ``size`` (w, h) pixels centred on ``center`` maps onto an ``output_size`` (w, h)
    image, ``center`` going to the crop centre, rotated by ``rotation_deg`` (counter-clockwise in
    the image). The scale is ``output_w / size_w`` (equal to ``output_h / size_h`` for a size from
    :func:`box_to_center_scale`).
    """
    c = np.asarray(center, dtype=np.float64)
    s = np.asarray(size, dtype=np.float64)
    out_w, out_h = output_size
    k = out_w / s[..., 0]
    theta = math.radians(rotation_deg)
    cos, sin = math.cos(theta) * k, math.sin(theta) * k
    m = np.zeros((*c.shape[:-1], 2, 3))
    # crop = R(k) (p - c) + out/2 with R a rotation of -theta in image axes (y down).
    m[..., 0, 0], m[..., 0, 1] = cos, sin
    m[..., 1, 0], m[..., 1, 1] = -sin, cos
    m[..., 0, 2] = out_w / 2.0 - (cos * c[..., 0] + sin * c[..., 1])
    m[..., 1, 2] = out_h / 2.0 - (-sin * c[..., 0] + cos * c[..., 1])
    return m


def invert_affine(matrix: ArrayLike) -> NDArray[np.float64]:
    """Inverse of (..., 2, 3) affine matrices."""
    m = np.asarray(matrix, dtype=np.float64)
    a = m[..., :2, :2]
    inv = np.linalg.inv(a)
    t = -np.einsum("...ij,...j->...i", inv, m[..., :, 2])
    return np.concatenate([inv, t[..., None]], axis=-1)


def affine_points(points: ArrayLike, matrix: ArrayLike) -> NDArray[np.float64]:
    """Apply (..., 2, 3) matrices to (..., P, 2) points (broadcast over leading axes)."""
    p = np.asarray(points, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    out: NDArray[np.float64] = np.einsum("...ij,...pj->...pi", m[..., :2], p) + m[..., None, :, 2]
    return out


def warp_crops(
    images: Sequence[NDArray[np.uint8]],
    image_index: ArrayLike,
    matrices: ArrayLike,
    output_size: tuple[int, int],
) -> NDArray[np.uint8]:
    """Crops (N, out_h, out_w, 3) of ``images[image_index[n]]`` through ``matrices[n]`` (N, 2, 3)
    with bilinear interpolation and zero borders (OpenCV)."""
    import cv2

    idx = np.asarray(image_index, dtype=np.int64)
    mats = np.asarray(matrices, dtype=np.float64)
    out = np.zeros((idx.size, output_size[1], output_size[0], 3), dtype=np.uint8)
    for n, (i, m) in enumerate(zip(idx, mats, strict=True)):
        out[n] = cv2.warpAffine(images[int(i)], m, output_size, flags=cv2.INTER_LINEAR)
    return out


# --- heatmaps ------------------------------------------------------------------------------------
def heatmap_argmax(
    heatmaps: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Peak cell and score of each heatmap; always finite.

    The peak is the largest finite value. A heatmap without one -- no finite value, or all its
    finite values equal (flat) -- has no location: it gives the heatmap's centre (the crop
    centre, i.e. the box centre) with score 0. A heatmap whose peak is not positive (the model
    finds nothing there: trained heatmaps are about 0 away from joints, untrained ones of any
    sign) keeps its argmax cell with score 0, as does a heatmap holding any non-finite value
    (unreliable). Score 0 is below any ``min_joint_score``, so such joints are never valid.

    Args:
        heatmaps: (..., J, H, W).

    Returns:
        ``(coords, scores)``: (..., J, 2) ``(x, y)`` cells (float; integers except the centre of
        an odd-sized heatmap) and (..., J) scores: the peak value, or 0 as above.
    """
    h = np.asarray(heatmaps, dtype=np.float64)
    height, width = h.shape[-2:]
    flat = h.reshape(*h.shape[:-2], -1)
    finite = np.isfinite(flat)
    upper = np.where(finite, flat, -np.inf)
    idx = np.argmax(upper, axis=-1)
    peak = np.take_along_axis(upper, idx[..., None], axis=-1)[..., 0]
    floor = np.min(np.where(finite, flat, np.inf), axis=-1)
    located = peak > floor  # False when no finite value (-inf > inf) or flat
    coords = np.stack([idx % width, idx // width], axis=-1).astype(np.float64)
    coords[~located] = (width / 2.0, height / 2.0)
    scores = np.where(located & (peak > 0) & finite.all(axis=-1), peak, 0.0)
    return coords, scores


def subpixel_refine(
    heatmaps: ArrayLike, coords: ArrayLike, *, eps: float = 1e-10
) -> NDArray[np.float64]:
    """Sub-pixel peak by one Newton step on the log-heatmap (the DARK Taylor refinement).

    A Gaussian's logarithm is quadratic, so for an analytic Gaussian peak (not touching the
    border) the step lands exactly on its centre. Cells on the border, or with a non-negative-
    definite Hessian, keep the integer position.

    Args:
        heatmaps: (..., J, H, W) non-negative.
        coords: (..., J, 2) integer peaks from :func:`heatmap_argmax`.

    Returns:
        (..., J, 2) refined ``(x, y)`` in heatmap cells.
    """
    h = np.log(np.maximum(np.asarray(heatmaps, dtype=np.float64), eps))
    c = np.asarray(coords, dtype=np.float64)
    out = c.copy()
    height, width = h.shape[-2:]
    ok = np.all(np.isfinite(c), axis=-1)
    xi = np.where(ok, c[..., 0], 1).astype(np.int64)
    yi = np.where(ok, c[..., 1], 1).astype(np.int64)
    ok &= (xi >= 1) & (xi <= width - 2) & (yi >= 1) & (yi <= height - 2)
    xi = np.clip(xi, 1, width - 2)
    yi = np.clip(yi, 1, height - 2)

    def at(dy: int, dx: int) -> NDArray[np.float64]:
        flat = h.reshape(*h.shape[:-2], -1)
        index = ((yi + dy) * width + (xi + dx))[..., None]
        return np.take_along_axis(flat, index, axis=-1)[..., 0]

    f0 = at(0, 0)
    dx = (at(0, 1) - at(0, -1)) / 2.0
    dy = (at(1, 0) - at(-1, 0)) / 2.0
    dxx = at(0, 1) - 2 * f0 + at(0, -1)
    dyy = at(1, 0) - 2 * f0 + at(-1, 0)
    dxy = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4.0
    det = dxx * dyy - dxy * dxy
    ok &= (det > 1e-12) & (dxx < 0)
    safe_det = np.where(ok, det, 1.0)
    step_x = -(dyy * dx - dxy * dy) / safe_det
    step_y = -(dxx * dy - dxy * dx) / safe_det
    # A step beyond one cell means the log is far from quadratic here: keep the integer peak.
    ok &= (np.abs(step_x) <= 1.0) & (np.abs(step_y) <= 1.0)
    out[..., 0] = np.where(ok, c[..., 0] + step_x, c[..., 0])
    out[..., 1] = np.where(ok, c[..., 1] + step_y, c[..., 1])
    return out


def decode_heatmaps(
    heatmaps: ArrayLike,
    crop_to_image: ArrayLike,
    input_size: tuple[int, int],
    *,
    refine: bool = True,
) -> NDArray[np.float64]:
    """Keypoints in image pixels from top-down heatmaps.

    Args:
        heatmaps: (N, J, H_h, W_h) model outputs.
        crop_to_image: (N, 2, 3) inverse crop affines (:func:`invert_affine` of
            :func:`crop_affine`).
        input_size: model input (w, h) pixels.
        refine: apply :func:`subpixel_refine`.

    Returns:
        (N, J, 3) ``(u, v, score)``, score = heatmap peak value. Never NaN for finite
        ``crop_to_image``: a heatmap without a positive peak (flat, all non-positive, or with
        non-finite values) gives score 0 and a position inside the crop (see
        :func:`heatmap_argmax`).
    """
    h = np.asarray(heatmaps, dtype=np.float64)
    coords, scores = heatmap_argmax(h)
    if refine:
        clean = np.where(np.isfinite(h), np.maximum(h, 0.0), 0.0)
        refined = subpixel_refine(clean, coords)
        coords = np.where((scores > 0)[..., None], refined, coords)
    stride = np.array([input_size[0] / h.shape[-1], input_size[1] / h.shape[-2]])
    uv = affine_points(coords * stride, crop_to_image)
    return np.concatenate([uv, scores[..., None]], axis=-1)


# --- depth lifting -------------------------------------------------------------------------------
def sample_depth(
    depth_m: NDArray[np.floating] | NDArray[np.integer],
    uv: ArrayLike,
    *,
    window: int = 7,
    cluster_gap_m: float = 0.10,
    min_pixels: int = 4,
    depth_scale: float = 1.0,
    prefer: Literal["nearest", "centre"] = "nearest",
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Robust depth at keypoints: the median of one depth layer in a small window.

    The window around each keypoint may straddle a silhouette edge (person in front of a wall)
    or holes (zeros). Valid depths are sorted and split into layers wherever consecutive values
    differ by more than ``cluster_gap_m``. With ``prefer="nearest"`` (default) the nearest layer
    with at least ``min_pixels`` pixels is used: joints lie on the body, which is in front of
    the background, and keypoints of thin limbs or of a profile's nose often fall just off the
    silhouette. With ``prefer="centre"`` the layer holding the centre pixel is used when the
    centre is valid (else the nearest). The layer's median is returned.

    Args:
        depth_m: (H, W) depth image, 0 or NaN = no return; multiplied by ``depth_scale`` to get
            metres (0.001 for uint16 millimetres).
        uv: (..., 2) pixel coordinates.
        window: odd window side, pixels.

    Returns:
        ``(z, valid)``: (...,) optical depth in metres (NaN where invalid) and the mask.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number of pixels, got {window}")
    d = np.asarray(depth_m, dtype=np.float64) * depth_scale
    height, width = d.shape
    p = np.asarray(uv, dtype=np.float64)
    flat = p.reshape(-1, 2)
    z = np.full(flat.shape[0], np.nan)
    half = window // 2
    for n, (u, v) in enumerate(flat):
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        col, row = math.floor(u), math.floor(v)
        if not (0 <= col < width and 0 <= row < height):
            continue
        patch = d[max(row - half, 0) : row + half + 1, max(col - half, 0) : col + half + 1]
        values = patch[np.isfinite(patch) & (patch > 0)]
        if values.size < min_pixels:
            continue
        values = np.sort(values)
        breaks = np.flatnonzero(np.diff(values) > cluster_gap_m) + 1
        layers = np.split(values, breaks)
        centre = d[row, col]
        chosen: NDArray[np.float64] | None = None
        if prefer == "centre" and np.isfinite(centre) and centre > 0:
            for layer in layers:
                if layer[0] <= centre <= layer[-1] and layer.size >= min_pixels:
                    chosen = layer
                    break
        if chosen is None:
            for layer in layers:
                if layer.size >= min_pixels:
                    chosen = layer
                    break
        if chosen is not None:
            z[n] = float(np.median(chosen))
    result: NDArray[np.float64] = z.reshape(p.shape[:-1])
    return result, np.isfinite(result)


def backproject(
    uv: ArrayLike, z: ArrayLike, *, fx: float, fy: float, cx: float, cy: float
) -> NDArray[np.float64]:
    """(..., 3) optical-frame points of pixels (..., 2) at optical depth z (...,) metres."""
    p = np.asarray(uv, dtype=np.float64)
    depth = np.asarray(z, dtype=np.float64)
    x = (p[..., 0] - cx) / fx * depth
    y = (p[..., 1] - cy) / fy * depth
    return np.stack([x, y, depth], axis=-1)


def lift_keypoints(
    uv: ArrayLike,
    depth_m: NDArray[np.floating] | NDArray[np.integer],
    *,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    surface_offset_m: ArrayLike = 0.0,
    window: int = 7,
    cluster_gap_m: float = 0.10,
    min_pixels: int = 4,
    depth_scale: float = 1.0,
    body_depth_range_m: float | None = 1.0,
    uv_undistorted: ArrayLike | None = None,
    prefer: Literal["nearest", "centre"] = "nearest",
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Lift one frame's 2-D keypoints to 3-D with the depth image aligned to them.

    A depth camera sees the skin or clothes, in front of the joint centre: each joint is pushed
    back along its viewing ray by ``surface_offset_m`` (per joint, e.g. half the thickness of the
    limb; :data:`labeling.config.COCO_SURFACE_OFFSET_M`). Joints whose depth differs from the
    median depth of the body's valid joints by more than ``body_depth_range_m`` (a keypoint on the
    background or on a bystander) are invalid.

    Args:
        uv: (J, 2) pixels (NaN = missing).
        depth_m: (H, W) depth image (see :func:`sample_depth`).
        surface_offset_m: scalar or (J,) metres.
        uv_undistorted: (J, 2) the same keypoints with lens distortion removed (expressed in the
            ideal pinhole image of ``fx, fy, cx, cy``); depth is sampled at ``uv`` (the depth
            image is aligned to the distorted colour image) and the ray built from these.
            Default ``uv`` (no distortion).

    Returns:
        ``(points, valid)``: (J, 3) optical-frame metres (NaN where invalid) and (J,) mask.
    """
    p = np.asarray(uv, dtype=np.float64)
    z, valid = sample_depth(
        depth_m,
        p,
        window=window,
        cluster_gap_m=cluster_gap_m,
        min_pixels=min_pixels,
        depth_scale=depth_scale,
        prefer=prefer,
    )
    if body_depth_range_m is not None and valid.any():
        body = float(np.median(z[valid]))
        valid &= np.abs(z - body) <= body_depth_range_m
    ray_uv = p if uv_undistorted is None else np.asarray(uv_undistorted, dtype=np.float64)
    surface = backproject(ray_uv, z, fx=fx, fy=fy, cx=cx, cy=cy)
    offset = np.broadcast_to(np.asarray(surface_offset_m, dtype=np.float64), z.shape)
    norm = np.linalg.norm(surface, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        points = surface * ((norm + offset) / norm)[..., None]
    points[~valid] = np.nan
    return points, valid


# --- frames --------------------------------------------------------------------------------------
def optical_to_rig(points: ArrayLike, camera_pose: Pose) -> NDArray[np.float64]:
    """(..., 3) camera-optical-frame points to the rig frame (camera body pose in the rig)."""
    body = np.asarray(points, dtype=np.float64) @ OPTICAL_TO_BODY.T
    return camera_pose.body_to_rig(body)


def rig_to_optical(points: ArrayLike, camera_pose: Pose) -> NDArray[np.float64]:
    """(..., 3) rig-frame points to the camera optical frame."""
    return camera_pose.rig_to_optical(np.asarray(points, dtype=np.float64))


# --- radar maps ----------------------------------------------------------------------------------
def radar_bins(
    points_rig: ArrayLike,
    radar_pose: Pose,
    params: RadarParams,
    *,
    n_range: int | None = None,
    n_azimuth: int = 64,
    n_elevation: int = 16,
    spacing_wavelengths: float | None = None,
) -> NDArray[np.float64]:
    """Fractional (range bin, azimuth bin, elevation bin) of rig-frame points in one radar's maps.

    Bins follow ``dataset_tools.dsp``: range bin ``r / spacing`` of an unshifted ``n_range``-point
    range FFT (spacing ``fs / n_range * c / (2 S)``); angle bins of a shifted ``n``-point angle
    FFT, ``k = n / 2 + n * d * sine`` with ``d`` the element spacing in wavelengths and ``sine``
    the direction cosine along the TI ``x`` (azimuth) or ``z`` (elevation) axis. For a vertical
    (rolled) radar the TI axes roll with it, so its "azimuth" bin resolves world elevation, as in
    its maps. Round to get integer indices; crops such as HuPR's (range bins 94 down to 31) are
    applied by the caller.

    Args:
        points_rig: (..., 3) metres.
        radar_pose: the radar's body pose in the rig (``RadarSpec.pose``).
        params: the radar's frame geometry (``RadarConfig.params(board)``).
        spacing_wavelengths: default ``0.5 f_centre / f_design`` of the board.

    Returns:
        (..., 3) float bins (NaN for NaN input).
    """
    ti = radar_pose.rig_to_radar(np.asarray(points_rig, dtype=np.float64))
    r = np.linalg.norm(ti, axis=-1)
    n_r = params.num_samples if n_range is None else n_range
    bin_m = params.sample_rate_hz / n_r * SPEED_OF_LIGHT_MPS / (2.0 * params.slope_hz_per_s)
    d = (
        0.5 * params.center_freq_hz / params.board.design_freq_hz
        if spacing_wavelengths is None
        else spacing_wavelengths
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        sin_az = ti[..., 0] / r
        sin_el = ti[..., 2] / r
    return np.stack(
        [
            r / bin_m,
            n_azimuth // 2 + n_azimuth * d * sin_az,
            n_elevation // 2 + n_elevation * d * sin_el,
        ],
        axis=-1,
    )
