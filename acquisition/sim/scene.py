"""A simulated capture: one person, any number of radars and an optional camera, frame by frame.

All sensors are triggered together (as with HuPR's trigger board): frame ``k`` of every sensor
starts at ``k / fps``. Frames are produced by a generator, so long takes stream in constant memory::

    scene = SimulatedScene(
        [SimulatedRadar("hori", hupr_radar_params(), Pose())],
        camera=PinholeCamera.from_fov(hfov_deg=70, width=640, height=480, pose=Pose()),
        action="wave_one_hand", subject_seed=3, num_frames=600, fps=10.0,
    )
    for frame in scene.frames():
        frame.adc["hori"]            # complex64 (loops, T, R, N) ADC counts
        frame.rgb, frame.keypoints_2d
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from acquisition.geometry import Pose
from acquisition.radar.params import RadarParams
from acquisition.sim.camera import PinholeCamera, RenderStyle, RgbdRenderer, keypoints_2d
from acquisition.sim.fmcw import DEFAULT_NOISE_STD_COUNTS, RadarSimulator, Scatterers
from acquisition.sim.person import PersonMotion, PersonScattererLayout, SubjectBody, SubjectGait


@dataclass(frozen=True)
class SimulatedRadar:
    """One radar of the simulated rig."""

    name: str
    params: RadarParams
    pose: Pose


@dataclass(frozen=True)
class SceneFrame:
    """Everything the rig sees at one trigger.

    Attributes:
        index: frame number from 0.
        time_s: trigger time (start of every sensor's frame), seconds.
        joints_rig: (J, 3) ground-truth joints at ``time_s``, rig frame, metres (SIM_JOINTS order).
        joint_velocities_rig: (J, 3) m/s.
        adc: radar name -> complex64 (loops, T, R, N) ADC cube in counts.
        clipped_samples: radar name -> complex samples clipped to int16 in this frame.
        rgb: uint8 (H, W, 3) camera image, or None without a camera.
        depth_mm: uint16 (H, W) depth aligned to ``rgb``, or None.
        keypoints_2d: (J, 2) pixel coordinates of ``joints_rig``, or None.
    """

    index: int
    time_s: float
    joints_rig: NDArray[np.float64]
    joint_velocities_rig: NDArray[np.float64]
    adc: dict[str, NDArray[np.complex64]]
    clipped_samples: dict[str, int]
    rgb: NDArray[np.uint8] | None
    depth_mm: NDArray[np.uint16] | None
    keypoints_2d: NDArray[np.float64] | None


def static_room_clutter(
    *,
    floor_z: float = -1.0,
    wall_x_m: float = 6.0,
    half_width_m: float = 3.0,
    num_points: int = 40,
    rcs_m2: float = 0.5,
    seed: int = 0,
) -> Scatterers:
    """Static scatterers on a back wall at ``x = wall_x_m`` (rig frame), floor to 2.5 m above it.

    Returns:
        ``num_points`` scatterers with zero velocity, ``rcs_m2`` each (log-normally varied).
    """
    rng = np.random.default_rng(seed)
    y = rng.uniform(-half_width_m, half_width_m, num_points)
    z = floor_z + rng.uniform(0.0, 2.5, num_points)
    x = wall_x_m + rng.normal(0.0, 0.02, num_points)
    rcs = rcs_m2 * rng.lognormal(0.0, 0.5, num_points)
    return Scatterers(np.stack([x, y, z], axis=1), np.zeros((num_points, 3)), rcs)


class SimulatedScene:
    """One subject performing one action in front of a simulated rig.

    Args:
        radars: the rig's radars, as :class:`SimulatedRadar` or ``(name, params, pose)``.
        camera: optional camera; frames then carry RGB, depth and 2-D keypoints.
        action: one of ``person.ACTIONS``.
        subject_seed: draws the body, the gait (:class:`~acquisition.sim.person.SubjectGait`)
            and the action's randomness (rates, phases, scatterers).
        num_frames: frames to produce.
        fps: trigger rate, frames per second.
        floor_z: floor height in the rig frame, metres.
        start_position, heading: see :class:`~acquisition.sim.person.PersonMotion`.
        noise_std: radar thermal noise, ADC counts per I/Q component.
        clutter: static scatterers seen by every radar (e.g. :func:`static_room_clutter`).
        quantize: int16 rounding and clipping of the ADC cubes.
        seed: radar noise seed (radar ``i`` uses a stream derived from ``(seed, i)``).
        render_style: colours and room of the camera image.
    """

    def __init__(
        self,
        radars: Sequence[SimulatedRadar | tuple[str, RadarParams, Pose]],
        *,
        camera: PinholeCamera | None = None,
        action: str = "standing",
        subject_seed: int = 0,
        num_frames: int,
        fps: float = 10.0,
        floor_z: float = -1.0,
        start_position: tuple[float, float] | None = None,
        heading: float | None = None,
        noise_std: float = DEFAULT_NOISE_STD_COUNTS,
        clutter: Scatterers | None = None,
        quantize: bool = True,
        seed: int = 0,
        render_style: RenderStyle | None = None,
    ) -> None:
        self.radars = [r if isinstance(r, SimulatedRadar) else SimulatedRadar(*r) for r in radars]
        names = [r.name for r in self.radars]
        if len(set(names)) != len(names):
            raise ValueError(f"radar names must be unique, got {names}")
        self.camera = camera
        self.num_frames = int(num_frames)
        self.fps = float(fps)
        rng = np.random.default_rng(subject_seed)
        self.body = SubjectBody.sample(rng)
        self.motion_seed = int(rng.integers(2**31))

        def motion(gait: SubjectGait | None) -> PersonMotion:
            return PersonMotion(
                action,
                body=self.body,
                start_position=start_position,
                heading=heading,
                floor_z=floor_z,
                seed=self.motion_seed,
                gait=gait,
            )

        self.layout = PersonScattererLayout.sample(motion(None).joints_at(0.0)[0], rng=rng)
        # drawn last so that the body, motion seed and layout of a subject seed are unchanged
        self.gait = SubjectGait.sample(rng)
        self.motion = motion(self.gait)
        self.render_style = render_style or RenderStyle(floor_z=floor_z)
        self._renderer = (
            RgbdRenderer(camera, style=self.render_style) if camera is not None else None
        )
        self.simulators = {
            radar.name: RadarSimulator(
                radar.params,
                radar.pose,
                noise_std=noise_std,
                clutter=clutter,
                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                quantize=quantize,
            )
            for i, radar in enumerate(self.radars)
        }

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[SceneFrame]:
        return self.frames()

    def frames(self) -> Iterator[SceneFrame]:
        """Yield the take's frames in order (each radar's noise stream advances per frame)."""
        for index in range(self.num_frames):
            time_s = index / self.fps
            joints_k, velocities_k = self.motion.state_at(time_s)
            joints, velocities = joints_k[0], velocities_k[0]
            scatterers = self.layout.scatterers(joints, velocities, reference_time_s=time_s)
            adc: dict[str, NDArray[np.complex64]] = {}
            clipped: dict[str, int] = {}
            for name, simulator in self.simulators.items():
                adc[name] = simulator.simulate_frame(scatterers, time_s)
                clipped[name] = simulator.last_clipped_samples
            rgb: NDArray[np.uint8] | None = None
            depth: NDArray[np.uint16] | None = None
            keypoints: NDArray[np.float64] | None = None
            if self._renderer is not None:
                rgb, depth = self._renderer.render(joints)
                keypoints = keypoints_2d(self._renderer.camera, joints)
            yield SceneFrame(index, time_s, joints, velocities, adc, clipped, rgb, depth, keypoints)
