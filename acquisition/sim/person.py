"""A simulated person: skeleton, body proportions, actions and radar scatterers.

The skeleton (``SIM_JOINTS``) is COCO-17 plus ``neck`` (mid-shoulders), ``head_top`` and
``pelvis`` (mid-hips). Motion is forward kinematics of smooth closed-form joint angles, evaluated
at any continuous time, so bone lengths are constant by construction and velocities are exact to
O(h^2) (central differences with a 1 ms step of the continuous motion, see
:meth:`PersonMotion.velocities_at`).

Frames: joints are in the rig frame (REP-103: x forward, y left, z up; metres). The person stands
on the floor plane ``z = floor_z`` (e.g. -1.0 when the sensors are 1 m above the floor).
``heading`` is the yaw of the person's facing direction in the rig frame, radians: 0 faces +x
(away from the rig), pi faces the rig.

Body proportions follow Drillis & Contini's segment fractions of stature (thigh 0.245 H, shank
0.246 H, upper arm 0.186 H, forearm 0.146 H, shoulder width 0.259 H, hip joint centres 0.191 H
apart ...), each varied by a few per cent per subject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acquisition.sim.fmcw import Scatterers

SIM_JOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "neck",
    "head_top",
    "pelvis",
)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SIM_JOINTS)}

# Rigid segments of the skeleton (constant length over time).
SKELETON_BONES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("pelvis", "neck"),
    ("neck", "head_top"),
    ("neck", "nose"),
    ("left_ear", "right_ear"),
    ("left_eye", "right_eye"),
)

ACTIONS: tuple[str, ...] = (
    "standing",
    "wave_one_hand",
    "wave_both_hands",
    "walk_wave",
    "arm_raise",
    "squat",
    "walk_across",
)

_DEG = math.pi / 180.0


@dataclass(frozen=True)
class SubjectBody:
    """Body dimensions of one subject, metres."""

    height_m: float
    thigh_m: float
    shank_m: float
    ankle_height_m: float
    trunk_m: float  # pelvis (mid-hips) to neck (mid-shoulders)
    upper_arm_m: float
    forearm_m: float
    shoulder_width_m: float
    hip_width_m: float  # between the hip joint centres
    head_radius_m: float

    @classmethod
    def from_height(cls, height_m: float) -> SubjectBody:
        """Average proportions for a stature of ``height_m``."""
        h = float(height_m)
        return cls(
            height_m=h,
            thigh_m=0.245 * h,
            shank_m=0.246 * h,
            ankle_height_m=0.039 * h,
            trunk_m=0.288 * h,
            upper_arm_m=0.186 * h,
            forearm_m=0.146 * h,
            shoulder_width_m=0.259 * h,
            hip_width_m=0.110 * h,
            head_radius_m=0.060 * h,
        )

    @classmethod
    def sample(cls, seed: int | np.random.Generator) -> SubjectBody:
        """A random adult: stature ~ N(1.71 m, 0.09 m) clipped to 1.50-1.95 m, segment fractions
        varied by ~3 % and shoulder width by ~5 % (deterministic per seed)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        height = float(np.clip(rng.normal(1.71, 0.09), 1.50, 1.95))
        base = cls.from_height(height)
        f = 1.0 + np.clip(rng.normal(0.0, 0.03, size=7), -0.08, 0.08)
        wide = 1.0 + float(np.clip(rng.normal(0.0, 0.05), -0.12, 0.12))
        legs = (base.thigh_m * f[0], base.shank_m * f[1])
        # Keep stature: the trunk absorbs the change in leg length.
        trunk = base.trunk_m + (base.thigh_m + base.shank_m - sum(legs))
        return cls(
            height_m=height,
            thigh_m=legs[0],
            shank_m=legs[1],
            ankle_height_m=base.ankle_height_m,
            trunk_m=trunk,
            upper_arm_m=base.upper_arm_m * f[2],
            forearm_m=base.forearm_m * f[3],
            shoulder_width_m=base.shoulder_width_m * wide,
            hip_width_m=base.hip_width_m * f[4],
            head_radius_m=base.head_radius_m * f[5],
        )

    @property
    def leg_m(self) -> float:
        return self.thigh_m + self.shank_m

    @property
    def neck_to_head_centre_m(self) -> float:
        return self.height_m - self.ankle_height_m - self.leg_m - self.trunk_m - self.head_radius_m


@dataclass(frozen=True)
class SubjectGait:
    """How one subject walks; fixed for a subject, jittered a little per take by
    :class:`PersonMotion` (people keep their cadence, stride and arm swing across recordings).

    Attributes:
        cadence_hz: stride frequency (one left + one right step per stride).
        hip_amp_deg: hip flexion amplitude of the gait.
        arm_swing: arm swing amplitude as a fraction of ``hip_amp_deg``.
        knee_peak_deg: extra knee flexion at mid-swing.
        lean_deg: forward trunk lean while walking.
    """

    cadence_hz: float = 0.92
    hip_amp_deg: float = 21.0
    arm_swing: float = 0.9
    knee_peak_deg: float = 55.0
    lean_deg: float = 5.0

    @classmethod
    def sample(cls, seed: int | np.random.Generator) -> SubjectGait:
        """A random adult gait (deterministic per seed): cadence ~ N(0.92, 0.06) Hz, hip
        amplitude ~ N(21, 2.5) deg, arm swing ~ N(0.9, 0.2), knee peak ~ N(55, 6) deg, lean
        ~ N(5, 2) deg, each clipped to a plausible range."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        v = rng.normal(size=5)
        return cls(
            cadence_hz=float(np.clip(0.92 + 0.06 * v[0], 0.8, 1.05)),
            hip_amp_deg=float(np.clip(21.0 + 2.5 * v[1], 16.0, 26.0)),
            arm_swing=float(np.clip(0.9 + 0.2 * v[2], 0.4, 1.3)),
            knee_peak_deg=float(np.clip(55.0 + 6.0 * v[3], 42.0, 68.0)),
            lean_deg=float(np.clip(5.0 + 2.0 * v[4], 1.0, 10.0)),
        )


#: per-take relative jitter of a subject's cadence and hip amplitude (:class:`PersonMotion`)
GAIT_TAKE_JITTER = 0.02


@dataclass
class _Angles:
    """Joint angles over K time samples (radians unless said), all arrays of shape (K,)."""

    hip_flex: dict[int, NDArray[np.float64]]  # side (+1 left, -1 right) -> forward flexion
    knee_flex: dict[int, NDArray[np.float64]]
    upper_elev: dict[int, NDArray[np.float64]]  # 0 hanging down, pi/2 horizontal, pi overhead
    upper_azim: dict[int, NDArray[np.float64]]  # 0 sideways out, pi/2 forward
    fore_elev: dict[int, NDArray[np.float64]]
    fore_azim: dict[int, NDArray[np.float64]]
    trunk_lean: NDArray[np.float64]  # forward pitch
    squat_feet_fixed: bool  # True: pelvis shifts back so that the ankles stay put


def _smoothstep(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0.0, 1.0)
    result: NDArray[np.float64] = x * x * (3.0 - 2.0 * x)
    return result


def _smooth_max(a: NDArray[np.float64], b: NDArray[np.float64], eps: float) -> NDArray[np.float64]:
    """Differentiable max(a, b), never below it and at most ``eps`` above."""
    half = (a - b) / 2.0
    result: NDArray[np.float64] = (a + b) / 2.0 + np.sqrt(half * half + eps * eps)
    return result


class PersonMotion:
    """One subject performing one action, as a continuous function of time.

    Args:
        action: one of :data:`ACTIONS`.
        body: subject dimensions (default: ``SubjectBody.sample(seed)``).
        start_position: (x, y) rig-frame floor position of the pelvis at t = 0, metres; for
            ``walk_wave`` the centre of the circle walked. Default (3, 0), or (3, -2) for
            ``walk_across``.
        heading: facing direction at t = 0, radians (yaw in the rig frame). Default pi (facing the
            rig), or pi/2 (walking to the rig's left) for ``walk_across``.
        floor_z: floor height in the rig frame, metres.
        seed: randomises the action (rates, amplitudes, phases) deterministically.
        gait: the subject's walking style; its cadence and hip amplitude are jittered by
            ``GAIT_TAKE_JITTER`` (relative, 1 sigma) per ``seed``. None: cadence and amplitude
            drawn from ``seed`` alone (every take a different walker).
    """

    def __init__(
        self,
        action: str,
        *,
        body: SubjectBody | None = None,
        start_position: tuple[float, float] | None = None,
        heading: float | None = None,
        floor_z: float = -1.0,
        seed: int = 0,
        gait: SubjectGait | None = None,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        rng = np.random.default_rng(seed)
        self.action = action
        self.body = body if body is not None else SubjectBody.sample(rng)
        default_start = (3.0, -2.0) if action == "walk_across" else (3.0, 0.0)
        self.start_position = start_position if start_position is not None else default_start
        default_heading = math.pi / 2 if action == "walk_across" else math.pi
        self.heading = float(heading) if heading is not None else default_heading
        self.floor_z = float(floor_z)
        # Action parameters (drawn in a fixed order: deterministic per seed).
        self._wave_hz = float(rng.uniform(1.5, 2.5))
        self._wave_amp = float(rng.uniform(20.0, 32.0)) * _DEG
        self._wave_elev = float(rng.uniform(95.0, 125.0)) * _DEG
        self._wave_phase = float(rng.uniform(0.0, 2 * math.pi))
        self._period_s = float(rng.uniform(2.5, 3.5))
        self._depth = float(rng.uniform(0.8, 1.0))
        self._stride_hz = float(rng.uniform(0.85, 1.0))
        self._hip_amp = float(rng.uniform(18.0, 24.0)) * _DEG
        self._gait_phase = float(rng.uniform(0.0, 2 * math.pi))
        self._circle_radius = float(rng.uniform(0.5, 0.8))
        self._sway_phase = float(rng.uniform(0.0, 2 * math.pi))
        self._wave_side = -1  # right hand for the one-hand actions
        if gait is None:
            self.gait = SubjectGait(
                cadence_hz=self._stride_hz, hip_amp_deg=self._hip_amp / _DEG, arm_swing=0.9
            )
        else:
            # drawn after every other parameter: the draws above do not depend on ``gait``
            jitter = 1.0 + GAIT_TAKE_JITTER * np.clip(rng.normal(size=2), -2.5, 2.5)
            self.gait = gait
            self._stride_hz = gait.cadence_hz * float(jitter[0])
            self._hip_amp = gait.hip_amp_deg * _DEG * float(jitter[1])

    # --- public -------------------------------------------------------------------------------
    @property
    def gait_cadence_hz(self) -> float:
        """Stride frequency of this take's walk (the subject's cadence with the take's jitter)."""
        return self._stride_hz

    @property
    def walking_speed_mps(self) -> float:
        """Forward speed of the gait (no foot sliding to first order): 4 f L sin(A)."""
        amp = self._hip_amp * (0.8 if self.action == "walk_wave" else 1.0)
        return 4.0 * self._stride_hz * self.body.leg_m * math.sin(amp)

    def joints_at(self, times_s: ArrayLike) -> NDArray[np.float64]:
        """Joint positions at ``times_s`` (K,) seconds: (K, J, 3) metres, rig frame."""
        t = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
        angles = self._angles(t)
        local = self._local_joints(angles, t)
        root_xy, yaw = self._root_path(t)
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        x = c * local[..., 0] - s * local[..., 1] + root_xy[:, None, 0]
        y = s * local[..., 0] + c * local[..., 1] + root_xy[:, None, 1]
        z = local[..., 2] + self.floor_z
        return np.stack([x, y, z], axis=-1)

    def velocities_at(self, times_s: ArrayLike, *, step_s: float = 1e-3) -> NDArray[np.float64]:
        """Joint velocities at ``times_s``: (K, J, 3) m/s, central difference of the motion."""
        return self.state_at(times_s, step_s=step_s)[1]

    def state_at(
        self, times_s: ArrayLike, *, step_s: float = 1e-3
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Joints (K, J, 3) m and velocities (K, J, 3) m/s at ``times_s`` (K,), in one pass.

        Velocities are central differences of the continuous motion with a ``step_s`` step
        (error O(step^2): well under 1 mm/s for the default 1 ms).
        """
        t = np.atleast_1d(np.asarray(times_s, dtype=np.float64))
        k = len(t)
        joints = self.joints_at(np.concatenate([t, t + step_s, t - step_s]))
        velocities: NDArray[np.float64] = (joints[k : 2 * k] - joints[2 * k :]) / (2.0 * step_s)
        return joints[:k], velocities

    # --- path of the body root ----------------------------------------------------------------
    def _root_path(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(K, 2) floor position of the local origin and (K,) yaw."""
        x0, y0 = self.start_position
        h0 = self.heading
        if self.action == "walk_across":
            d = self.walking_speed_mps * t
            return np.stack([x0 + d * math.cos(h0), y0 + d * math.sin(h0)], axis=1), np.full_like(
                t, h0
            )
        if self.action == "walk_wave":
            r = self._circle_radius
            omega = self.walking_speed_mps / r  # counter-clockwise
            yaw = h0 + omega * t
            # Facing along the tangent: the centre is on the person's left.
            cx = x0 + r * np.sin(yaw)
            cy = y0 - r * np.cos(yaw)
            return np.stack([cx, cy], axis=1), yaw
        sway = 0.012 * np.sin(2 * math.pi * 0.25 * t + self._sway_phase)
        side = np.array([-math.sin(h0), math.cos(h0)])
        xy = np.array([x0, y0])[None, :] + sway[:, None] * side[None, :]
        return xy, np.full_like(t, h0)

    # --- joint angles per action --------------------------------------------------------------
    def _rest_arms(self, t: NDArray[np.float64]) -> tuple[dict[int, NDArray[np.float64]], ...]:
        breath = np.sin(2 * math.pi * 0.25 * t + self._sway_phase)
        ue = {s: (9.0 + 1.5 * breath) * _DEG for s in (1, -1)}
        ua = {s: np.full_like(t, 20.0 * _DEG) for s in (1, -1)}
        fe = {s: (18.0 + 2.0 * breath) * _DEG for s in (1, -1)}
        fa = {s: np.full_like(t, 70.0 * _DEG) for s in (1, -1)}
        return ue, ua, fe, fa

    def _wave(self, t: NDArray[np.float64], side: int) -> tuple[NDArray[np.float64], ...]:
        swing = self._wave_amp * np.sin(2 * math.pi * self._wave_hz * t + self._wave_phase)
        # Mirror the second hand so that both hands swing outwards together.
        if side == 1 and self.action == "wave_both_hands":
            swing = -swing
        ue = np.full_like(t, self._wave_elev)
        ua = np.full_like(t, 25.0 * _DEG)
        fe = 150.0 * _DEG + swing
        fa = np.full_like(t, 10.0 * _DEG)
        return ue, ua, fe, fa

    def _angles(self, t: NDArray[np.float64]) -> _Angles:
        zeros = np.zeros_like(t)
        hip = {1: zeros.copy(), -1: zeros.copy()}
        knee = {1: np.full_like(t, 3.0 * _DEG), -1: np.full_like(t, 3.0 * _DEG)}
        ue, ua, fe, fa = self._rest_arms(t)
        lean = np.full_like(t, 2.0 * _DEG)
        feet_fixed = True
        action = self.action

        if action in ("walk_across", "walk_wave"):
            feet_fixed = False
            amp = self._hip_amp * (0.8 if action == "walk_wave" else 1.0)
            phase = 2 * math.pi * self._stride_hz * t + self._gait_phase
            for side, offset in ((-1, 0.0), (1, math.pi)):
                ph = phase + offset
                hip[side] = amp * np.sin(ph)
                # Knee flexes most in mid-swing (hip moving forward through 0).
                knee_peak = self.gait.knee_peak_deg
                knee[side] = (5.0 + knee_peak * ((1.0 + np.cos(ph)) / 2.0) ** 3) * _DEG
                arm = -self.gait.arm_swing * amp * np.sin(ph)  # opposite to the leg of its side
                ue[side] = arm
                ua[side] = np.full_like(t, 90.0 * _DEG)
                fe[side] = arm + 18.0 * _DEG
                fa[side] = np.full_like(t, 90.0 * _DEG)
            lean = np.full_like(t, self.gait.lean_deg * _DEG)

        if action in ("wave_one_hand", "wave_both_hands", "walk_wave"):
            sides = (-1, 1) if action == "wave_both_hands" else (self._wave_side,)
            onset = _smoothstep(t / 1.0)  # raise the hand(s) over the first second
            for side in sides:
                wave = self._wave(t, side)
                rest = (ue[side], ua[side], fe[side], fa[side])
                blended = [r + onset * (w - r) for r, w in zip(rest, wave, strict=True)]
                ue[side], ua[side], fe[side], fa[side] = blended

        if action == "arm_raise":
            s = (1.0 - np.cos(2 * math.pi * t / self._period_s)) / 2.0
            for side in (1, -1):
                ue[side] = (9.0 + 160.0 * s) * _DEG
                ua[side] = (20.0 - 12.0 * s) * _DEG
                fe[side] = ue[side] + (12.0 * (1.0 - s) + 4.0) * _DEG
                fa[side] = (60.0 - 50.0 * s) * _DEG

        if action == "squat":
            s = self._depth * (1.0 - np.cos(2 * math.pi * t / self._period_s)) / 2.0
            for side in (1, -1):
                knee[side] = (3.0 + 127.0 * s) * _DEG
                hip[side] = 100.0 * s * _DEG
                ue[side] = (9.0 + 78.0 * s) * _DEG
                ua[side] = (20.0 + 70.0 * s) * _DEG
                fe[side] = ue[side] + 8.0 * _DEG
                fa[side] = ua[side]
            lean = (2.0 + 38.0 * s) * _DEG

        return _Angles(hip, knee, ue, ua, fe, fa, lean, feet_fixed)

    # --- forward kinematics -------------------------------------------------------------------
    def _local_joints(self, a: _Angles, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """(K, J, 3) joints in the body-local floor frame (x forward, y left, z up from floor)."""
        b = self.body
        k = len(t)
        out = np.zeros((k, len(SIM_JOINTS), 3))

        def put(name: str, value: NDArray[np.float64]) -> None:
            out[:, JOINT_INDEX[name], :] = value

        def sagittal(angle: NDArray[np.float64]) -> NDArray[np.float64]:
            # Unit vector pointing down, rotated forward by ``angle``.
            return np.stack([np.sin(angle), np.zeros_like(angle), -np.cos(angle)], axis=1)

        # Legs relative to the pelvis; the pelvis height puts the lower ankle on the floor.
        thigh = {s: sagittal(a.hip_flex[s]) * b.thigh_m for s in (1, -1)}
        shank = {s: sagittal(a.hip_flex[s] - a.knee_flex[s]) * b.shank_m for s in (1, -1)}
        drop = {s: -(thigh[s][:, 2] + shank[s][:, 2]) for s in (1, -1)}
        pelvis = np.zeros((k, 3))
        pelvis[:, 2] = b.ankle_height_m + _smooth_max(drop[1], drop[-1], 0.01)
        if a.squat_feet_fixed:
            pelvis[:, 0] = -(thigh[1][:, 0] + shank[1][:, 0])
        put("pelvis", pelvis)
        for s, side in ((1, "left"), (-1, "right")):
            hip = pelvis + np.array([0.0, s * b.hip_width_m / 2.0, 0.0])
            put(f"{side}_hip", hip)
            put(f"{side}_knee", hip + thigh[s])
            put(f"{side}_ankle", hip + thigh[s] + shank[s])

        # Trunk frame: up along the spine, forward perpendicular to it, left unchanged.
        lean = a.trunk_lean
        up = np.stack([np.sin(lean), np.zeros(k), np.cos(lean)], axis=1)
        fwd = np.stack([np.cos(lean), np.zeros(k), -np.sin(lean)], axis=1)
        left = np.tile(np.array([0.0, 1.0, 0.0]), (k, 1))
        neck = pelvis + b.trunk_m * up
        put("neck", neck)

        def trunk_dir(
            elev: NDArray[np.float64], azim: NDArray[np.float64], s: int
        ) -> NDArray[np.float64]:
            d_fwd = np.sin(elev) * np.sin(azim)
            d_side = s * np.sin(elev) * np.cos(azim)
            d_up = -np.cos(elev)
            result: NDArray[np.float64] = (
                d_fwd[:, None] * fwd + d_side[:, None] * left + d_up[:, None] * up
            )
            return result

        for s, side in ((1, "left"), (-1, "right")):
            shoulder = neck + (s * b.shoulder_width_m / 2.0) * left
            elbow = shoulder + b.upper_arm_m * trunk_dir(a.upper_elev[s], a.upper_azim[s], s)
            wrist = elbow + b.forearm_m * trunk_dir(a.fore_elev[s], a.fore_azim[s], s)
            put(f"{side}_shoulder", shoulder)
            put(f"{side}_elbow", elbow)
            put(f"{side}_wrist", wrist)

        r = b.head_radius_m
        centre = neck + b.neck_to_head_centre_m * up
        put("head_top", centre + r * up)
        put("nose", centre + 0.95 * r * fwd - 0.15 * r * up)
        for s, side in ((1, "left"), (-1, "right")):
            put(f"{side}_eye", centre + 0.8 * r * fwd + 0.15 * r * up + s * 0.32 * r * left)
            put(f"{side}_ear", centre - 0.05 * r * fwd + s * 0.85 * r * left)
        return out


def simulate_motion(
    action: str,
    *,
    num_frames: int,
    fps: float,
    body: SubjectBody | None = None,
    start_position: tuple[float, float] | None = None,
    heading: float | None = None,
    floor_z: float = -1.0,
    seed: int = 0,
    gait: SubjectGait | None = None,
) -> NDArray[np.float64]:
    """Joint positions of ``action`` at frame times ``f / fps``: (F, J, 3) metres, rig frame.

    See :class:`PersonMotion` for the arguments; use it directly for velocities or off-grid times.
    """
    motion = PersonMotion(
        action,
        body=body,
        start_position=start_position,
        heading=heading,
        floor_z=floor_z,
        seed=seed,
        gait=gait,
    )
    return motion.joints_at(np.arange(num_frames) / fps)


def finite_difference_velocities(joints: NDArray[np.float64], fps: float) -> NDArray[np.float64]:
    """(F, J, 3) velocities, m/s, of a sampled joint track (F, J, 3) by ``np.gradient``."""
    result: NDArray[np.float64] = np.gradient(
        np.asarray(joints, dtype=np.float64), 1.0 / fps, axis=0
    )
    return result


# --- scatterers -------------------------------------------------------------------------------

# Limb segments carrying scatterers along them: (start joint, end joint, jitter radius m).
_LIMBS: tuple[tuple[str, str, float], ...] = (
    ("left_shoulder", "left_elbow", 0.04),
    ("left_elbow", "left_wrist", 0.03),
    ("right_shoulder", "right_elbow", 0.04),
    ("right_elbow", "right_wrist", 0.03),
    ("left_hip", "left_knee", 0.06),
    ("left_knee", "left_ankle", 0.045),
    ("right_hip", "right_knee", 0.06),
    ("right_knee", "right_ankle", 0.045),
)
# Torso corners for bilinear interpolation.
_TORSO = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")


@dataclass(frozen=True)
class PersonScattererLayout:
    """Where a person's scatterers sit relative to the joints; fixed for a subject.

    ``positions = weights @ joints + offsets``, ``velocities = weights @ joint_velocities``.

    Attributes:
        weights: (P, J) interpolation weights, rows summing to 1.
        offsets: (P, 3) metres, rig frame (fixed jitter off the skeleton).
        rcs: (P,) m^2.
    """

    weights: NDArray[np.float64]
    offsets: NDArray[np.float64]
    rcs: NDArray[np.float64]

    @property
    def count(self) -> int:
        return int(self.weights.shape[0])

    @classmethod
    def sample(
        cls,
        joints: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        points_per_metre: float = 24.0,
        torso_rcs_m2: float = 0.45,
        limb_rcs_m2_per_metre: float = 0.06,
        head_rcs_m2: float = 0.05,
    ) -> PersonScattererLayout:
        """Place scatterers on a body posed as ``joints`` (J, 3) (lengths set the counts).

        Limbs get ``points_per_metre`` points per metre of bone (at least 2), the torso
        ``points_per_metre**2 / 4`` points per m^2 of its shoulder-hip quad, the head 5. RCS
        totals are split evenly over a part's points, then varied log-normally (sigma 0.5).
        """
        j = np.asarray(joints, dtype=np.float64)
        n_joints = len(SIM_JOINTS)
        rows: list[NDArray[np.float64]] = []
        offsets: list[NDArray[np.float64]] = []
        rcs: list[NDArray[np.float64]] = []

        def spread(total: float, n: int) -> NDArray[np.float64]:
            w = rng.lognormal(0.0, 0.5, size=n)
            result: NDArray[np.float64] = total * w / w.sum()
            return result

        def jitter(n: int, radius: float) -> NDArray[np.float64]:
            result: NDArray[np.float64] = rng.normal(0.0, radius / 2.0, size=(n, 3))
            return result

        for a_name, b_name, radius in _LIMBS:
            a, b = JOINT_INDEX[a_name], JOINT_INDEX[b_name]
            length = float(np.linalg.norm(j[b] - j[a]))
            n = max(2, round(points_per_metre * length))
            u = (np.arange(n) + rng.uniform(0.0, 1.0, size=n)) / n
            w = np.zeros((n, n_joints))
            w[:, a] = 1.0 - u
            w[:, b] = u
            rows.append(w)
            offsets.append(jitter(n, radius))
            rcs.append(spread(limb_rcs_m2_per_metre * length, n))

        ls, rs, rh, lh = (JOINT_INDEX[name] for name in _TORSO)
        width = float(np.linalg.norm(j[ls] - j[rs]))
        height = float(np.linalg.norm((j[ls] + j[rs]) / 2 - (j[lh] + j[rh]) / 2))
        n = max(4, round(points_per_metre**2 * width * height / 4.0))
        u, v = rng.uniform(0.0, 1.0, size=n), rng.uniform(0.0, 1.0, size=n)
        w = np.zeros((n, n_joints))
        w[:, ls] = (1 - u) * (1 - v)
        w[:, rs] = u * (1 - v)
        w[:, rh] = u * v
        w[:, lh] = (1 - u) * v
        rows.append(w)
        offsets.append(jitter(n, 0.10))
        rcs.append(spread(torso_rcs_m2, n))

        n_head = 5
        w = np.zeros((n_head, n_joints))
        w[:, JOINT_INDEX["left_ear"]] = 0.5
        w[:, JOINT_INDEX["right_ear"]] = 0.5
        rows.append(w)
        offsets.append(jitter(n_head, 0.12))
        rcs.append(spread(head_rcs_m2, n_head))
        return cls(np.concatenate(rows), np.concatenate(offsets), np.concatenate(rcs))

    def scatterers(
        self,
        joints: NDArray[np.float64],
        joint_velocities: NDArray[np.float64],
        *,
        reference_time_s: float | None = None,
    ) -> Scatterers:
        """Scatterers of the body posed as ``joints`` (J, 3) m moving with (J, 3) m/s."""
        return Scatterers(
            self.weights @ joints + self.offsets,
            self.weights @ joint_velocities,
            self.rcs,
            reference_time_s,
        )


def person_scatterers(
    joints: NDArray[np.float64],
    joint_velocities: NDArray[np.float64],
    *,
    rng: np.random.Generator,
    points_per_metre: float = 24.0,
    torso_rcs_m2: float = 0.45,
    limb_rcs_m2_per_metre: float = 0.06,
    head_rcs_m2: float = 0.05,
    reference_time_s: float | None = None,
) -> Scatterers:
    """Scatterers along the limbs, over the torso and around the head of one posed body.

    Args:
        joints: (J, 3) rig-frame joint positions, metres, in :data:`SIM_JOINTS` order.
        joint_velocities: (J, 3) m/s.
        rng: draws the layout (counts follow bone lengths; :meth:`PersonScattererLayout.sample`).
        reference_time_s: time at which ``joints`` hold (None: the simulated frame's start).

    Returns:
        ~100 scatterers (at the default density) with velocities interpolated from the joints.
        A new layout is drawn per call; to keep a subject's scatterers fixed over a sequence,
        sample a :class:`PersonScattererLayout` once and call its ``scatterers`` per frame.
    """
    layout = PersonScattererLayout.sample(
        joints,
        rng=rng,
        points_per_metre=points_per_metre,
        torso_rcs_m2=torso_rcs_m2,
        limb_rcs_m2_per_metre=limb_rcs_m2_per_metre,
        head_rcs_m2=head_rcs_m2,
    )
    return layout.scatterers(joints, joint_velocities, reference_time_s=reference_time_s)
