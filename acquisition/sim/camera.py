"""A pinhole camera and a simple RGB-D renderer of the simulated person.

The renderer ray-casts a room (floor plane ``z = floor_z`` with 0.5 m tiles, a back wall at
``x = wall_x_m`` in the rig frame) and z-buffers the body as shaded 3-D capsules (limbs, torso,
feet) and a sphere (head), in pure numpy. Colour and depth come from the same z-buffer, so they are
pixel-aligned; depth is the optical-axis distance (``z`` of the optical frame) in millimetres, 0
where nothing is hit. Ground-truth 2-D keypoints are :meth:`PinholeCamera.project` of the joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acquisition.geometry import OPTICAL_TO_BODY, Pose
from acquisition.sim.person import SIM_JOINTS


@dataclass(frozen=True)
class PinholeCamera:
    """Ideal pinhole camera (no distortion); intrinsics in pixels, pose of its body frame in the
    rig frame (body x = optical axis)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    pose: Pose = field(default_factory=Pose)

    @classmethod
    def from_fov(
        cls, *, hfov_deg: float, width: int, height: int, pose: Pose | None = None
    ) -> PinholeCamera:
        """Square pixels, principal point at the image centre, horizontal field of view given."""
        f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0, width, height, pose or Pose())

    @property
    def matrix(self) -> NDArray[np.float64]:
        """3 x 3 intrinsic matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def centre_rig(self) -> NDArray[np.float64]:
        return np.asarray(self.pose.position, dtype=np.float64)

    def project(self, points_rig: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project rig-frame points (..., 3) m.

        Returns:
            ``(uv, depth)``: (..., 2) pixel coordinates ``u = fx x / z + cx``, ``v = fy y / z + cy``
            (u right, v down; pixel ``i`` spans [i, i + 1)) and (...,) optical depth z, metres.
            Points with depth <= 0 are behind the camera and get NaN pixel coordinates.
        """
        optical = self.pose.rig_to_optical(np.asarray(points_rig, dtype=np.float64))
        z = optical[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            safe = np.where(z > 0, z, np.nan)
            u = self.fx * optical[..., 0] / safe + self.cx
            v = self.fy * optical[..., 1] / safe + self.cy
        return np.stack([u, v], axis=-1), z

    def pixel_rays_rig(self) -> NDArray[np.float64]:
        """(H, W, 3) rig-frame ray directions through the pixel centres, scaled to optical z = 1."""
        u = np.arange(self.width, dtype=np.float64) + 0.5
        v = np.arange(self.height, dtype=np.float64) + 0.5
        x = (u - self.cx) / self.fx
        y = (v - self.cy) / self.fy
        optical = np.empty((self.height, self.width, 3))
        optical[..., 0] = x[None, :]
        optical[..., 1] = y[:, None]
        optical[..., 2] = 1.0
        to_rig = np.asarray(self.pose.rotation, dtype=np.float64) @ OPTICAL_TO_BODY
        result: NDArray[np.float64] = optical @ to_rig.T
        return result


@dataclass(frozen=True)
class RenderStyle:
    """Colours (RGB 0-255) and room geometry of the renderer."""

    floor_z: float = -1.0
    wall_x_m: float = 6.0
    shirt: tuple[int, int, int] = (40, 90, 170)
    trousers: tuple[int, int, int] = (50, 50, 60)
    skin: tuple[int, int, int] = (225, 180, 150)
    shoes: tuple[int, int, int] = (30, 25, 20)
    wall_top: tuple[int, int, int] = (200, 205, 215)
    wall_bottom: tuple[int, int, int] = (160, 165, 175)
    floor_light: tuple[int, int, int] = (150, 130, 105)
    floor_dark: tuple[int, int, int] = (125, 105, 85)


@dataclass(frozen=True)
class _Capsule:
    a: NDArray[np.float64]  # (3,) rig frame
    b: NDArray[np.float64]
    radius_m: float
    colour: tuple[int, int, int]


def _body_capsules(joints: NDArray[np.float64], style: RenderStyle) -> list[_Capsule]:
    """Capsules of a body posed as ``joints`` (J, 3); sizes scale with the stature."""
    j = {name: joints[i] for i, name in enumerate(SIM_JOINTS)}
    scale = float(np.linalg.norm(j["head_top"] - j["pelvis"])) / 0.82  # ~1 for 1.7 m
    head_centre = (j["left_ear"] + j["right_ear"]) / 2.0
    head_r = float(np.linalg.norm(j["head_top"] - head_centre))
    left = j["left_hip"] - j["right_hip"]
    up = j["neck"] - j["pelvis"]
    fwd = np.cross(left, up)
    fwd /= max(float(np.linalg.norm(fwd)), 1e-9)
    caps = [
        _Capsule(j["pelvis"], j["neck"], 0.12 * scale, style.shirt),
        _Capsule(j["left_shoulder"], j["left_hip"], 0.075 * scale, style.shirt),
        _Capsule(j["right_shoulder"], j["right_hip"], 0.075 * scale, style.shirt),
        _Capsule(j["left_shoulder"], j["right_shoulder"], 0.065 * scale, style.shirt),
        _Capsule(j["left_hip"], j["right_hip"], 0.09 * scale, style.trousers),
        _Capsule(j["neck"], head_centre, 0.05 * scale, style.skin),
        _Capsule(head_centre, head_centre, head_r, style.skin),
    ]
    for side in ("left", "right"):
        caps += [
            _Capsule(j[f"{side}_shoulder"], j[f"{side}_elbow"], 0.048 * scale, style.shirt),
            _Capsule(j[f"{side}_elbow"], j[f"{side}_wrist"], 0.036 * scale, style.skin),
            _Capsule(j[f"{side}_hip"], j[f"{side}_knee"], 0.07 * scale, style.trousers),
            _Capsule(j[f"{side}_knee"], j[f"{side}_ankle"], 0.052 * scale, style.trousers),
            _Capsule(
                j[f"{side}_ankle"],
                j[f"{side}_ankle"] + 0.15 * scale * fwd - 0.03 * scale * up / np.linalg.norm(up),
                0.038 * scale,
                style.shoes,
            ),
        ]
    return caps


def _render_background(
    camera: PinholeCamera, style: RenderStyle
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """(H, W, 3) float colour and (H, W) optical depth (m, inf where nothing) of the room."""
    rays = camera.pixel_rays_rig()
    c = camera.centre_rig
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[..., 2] < 0, (style.floor_z - c[2]) / rays[..., 2], np.inf)
        t_wall = np.where(rays[..., 0] > 0, (style.wall_x_m - c[0]) / rays[..., 0], np.inf)
    t_floor = np.where(t_floor > 0, t_floor, np.inf)
    t_wall = np.where(t_wall > 0, t_wall, np.inf)
    depth = np.minimum(t_floor, t_wall)  # rays have optical z = 1, so t is the depth
    on_floor = t_floor < t_wall

    hit = c + rays * np.where(np.isfinite(depth), depth, 0.0)[..., None]
    wall_height = np.clip((hit[..., 2] - style.floor_z) / 3.0, 0.0, 1.0)[..., None]
    top = np.asarray(style.wall_top, dtype=np.float32)
    bottom = np.asarray(style.wall_bottom, dtype=np.float32)
    colour = (bottom + (top - bottom) * wall_height).astype(np.float32)
    tiles = (np.floor(hit[..., 0] / 0.5) + np.floor(hit[..., 1] / 0.5)) % 2 == 0
    floor = np.where(
        tiles[..., None],
        np.asarray(style.floor_light, dtype=np.float32),
        np.asarray(style.floor_dark, dtype=np.float32),
    )
    colour = np.where(on_floor[..., None], floor, colour).astype(np.float32)
    return colour, depth


def _draw_capsule(
    camera: PinholeCamera,
    capsule: _Capsule,
    colour_buf: NDArray[np.float32],
    depth_buf: NDArray[np.float64],
) -> None:
    """Z-buffer one capsule into the buffers (in place), shading by the surface normal."""
    ends = np.stack([capsule.a, capsule.b])
    uv, z = camera.project(ends)
    if np.any(z <= 0.05):
        return
    r_px = camera.fx * capsule.radius_m / z  # (2,) projected radius at each end
    lo = np.floor(np.min(uv - r_px[:, None], axis=0)).astype(int)
    hi = np.ceil(np.max(uv + r_px[:, None], axis=0)).astype(int)
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0] + 1, camera.width), min(hi[1] + 1, camera.height)
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    py = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    seg = uv[1] - uv[0]
    seg_len2 = float(seg @ seg)
    if seg_len2 > 1e-12:
        t = np.clip(((px - uv[0, 0]) * seg[0] + (py - uv[0, 1]) * seg[1]) / seg_len2, 0.0, 1.0)
    else:
        t = np.zeros((y1 - y0, x1 - x0))
    dx = px - (uv[0, 0] + t * seg[0])
    dy = py - (uv[0, 1] + t * seg[1])
    radius = r_px[0] + t * (r_px[1] - r_px[0])
    rel2 = (dx * dx + dy * dy) / np.maximum(radius * radius, 1e-12)
    inside = rel2 < 1.0
    bulge = np.sqrt(np.clip(1.0 - rel2, 0.0, 1.0))
    depth = z[0] + t * (z[1] - z[0]) - capsule.radius_m * bulge
    window = depth_buf[y0:y1, x0:x1]
    closer = inside & (depth < window)
    if not np.any(closer):
        return
    window[closer] = depth[closer]
    shade = (0.45 + 0.55 * bulge[closer])[:, None]
    colour_buf[y0:y1, x0:x1][closer] = np.asarray(capsule.colour, dtype=np.float32) * shade


class RgbdRenderer:
    """Renders one camera's view; the room (background colour and depth) is ray-cast once."""

    def __init__(self, camera: PinholeCamera, *, style: RenderStyle | None = None) -> None:
        self.camera = camera
        self.style = style or RenderStyle()
        self._background = _render_background(camera, self.style)

    def render(self, joints: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
        """Colour image and aligned depth of a body posed as ``joints`` (J, 3) rig frame, m.

        Returns:
            ``(rgb, depth_mm)``: uint8 (H, W, 3) and uint16 (H, W) optical depth in millimetres
            (0 = no return, saturating at 65535).
        """
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape != (len(SIM_JOINTS), 3):
            raise ValueError(f"joints must have shape ({len(SIM_JOINTS)}, 3), got {joints.shape}")
        colour = self._background[0].copy()
        depth = self._background[1].copy()
        for capsule in _body_capsules(joints, self.style):
            _draw_capsule(self.camera, capsule, colour, depth)
        rgb = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
        depth_mm = np.where(np.isfinite(depth), np.clip(np.rint(depth * 1000.0), 0, 65535), 0)
        return rgb, depth_mm.astype(np.uint16)


def render_rgbd(
    camera: PinholeCamera, joints: NDArray[np.float64], *, style: RenderStyle | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
    """One-off :meth:`RgbdRenderer.render` (use the class to render many frames of a camera)."""
    return RgbdRenderer(camera, style=style).render(joints)


def render_person(
    camera: PinholeCamera, joints: NDArray[np.float64], *, style: RenderStyle | None = None
) -> NDArray[np.uint8]:
    """uint8 (H, W, 3) RGB image of the body ``joints`` (J, 3) in front of a floor and a wall."""
    return render_rgbd(camera, joints, style=style)[0]


def render_depth(
    camera: PinholeCamera, joints: NDArray[np.float64], *, style: RenderStyle | None = None
) -> NDArray[np.uint16]:
    """uint16 (H, W) depth in millimetres aligned to :func:`render_person` (same z-buffer)."""
    return render_rgbd(camera, joints, style=style)[1]


def keypoints_2d(camera: PinholeCamera, joints: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ground-truth 2-D keypoints: (..., J, 2) pixel coordinates of (..., J, 3) rig joints."""
    return camera.project(joints)[0]
