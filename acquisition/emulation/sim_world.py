"""The simulated world behind an emulated rig: what each sensor sees at each trigger pulse.

Emulators of different devices run on different threads (the DCA1000 emulators of both radars,
the simulated camera). They ask the world for "radar ``radar_h`` at pulse ``k``" or "the camera at
pulse ``k``"; the person's pose and scatterers at pulse ``k`` are computed once and shared, so
every sensor sees the same instant. Ground truth (3-D joints, 2-D keypoints) is kept per pulse
for the recorder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from acquisition.rig import RigConfig
from acquisition.sim.camera import PinholeCamera, RgbdRenderer, keypoints_2d
from acquisition.sim.fmcw import Scatterers
from acquisition.sim.person import SIM_JOINTS
from acquisition.sim.scene import SimulatedRadar, SimulatedScene, static_room_clutter
from dataset_tools.dsp.raw import encode_adc_frames


@dataclass(frozen=True)
class WorldInstant:
    """The person at one pulse (rig frame)."""

    index: int
    time_s: float
    joints: NDArray[np.float64]
    velocities: NDArray[np.float64]
    scatterers: Scatterers


class SimulatedWorld:
    """Random access to a :class:`SimulatedScene` by trigger pulse index (thread-safe).

    Args:
        radars: the rig's radars.
        cameras: camera name -> pinhole model (pose and intrinsics from the rig).
        action, subject_seed, fps, floor_z, seed, start_position, heading: see
            :class:`~acquisition.sim.scene.SimulatedScene` (heading in radians).
        iq_order: I/Q order of the emulated LVDS byte stream.
    """

    def __init__(
        self,
        radars: Sequence[SimulatedRadar],
        *,
        cameras: dict[str, PinholeCamera] | None = None,
        action: str = "wave_one_hand",
        subject_seed: int = 0,
        fps: float = 10.0,
        floor_z: float = 0.0,
        seed: int = 0,
        start_position: tuple[float, float] | None = None,
        heading: float | None = None,
        clutter: bool = True,
        iq_order: Literal["sdk", "studio"] = "sdk",
    ) -> None:
        self.scene = SimulatedScene(
            radars,
            action=action,
            subject_seed=subject_seed,
            num_frames=0,
            fps=fps,
            floor_z=floor_z,
            seed=seed,
            start_position=start_position,
            heading=heading,
            clutter=static_room_clutter(floor_z=floor_z, seed=seed) if clutter else None,
        )
        self.fps = fps
        self.iq_order = iq_order
        self.cameras = dict(cameras or {})
        self._renderers = {
            name: RgbdRenderer(cam, style=self.scene.render_style)
            for name, cam in self.cameras.items()
        }
        self._lock = threading.Lock()
        self._radar_locks = {name: threading.Lock() for name in self.scene.simulators}
        self._instants: OrderedDict[int, WorldInstant] = OrderedDict()
        self._truth: dict[int, NDArray[np.float64]] = {}
        self._keypoints: dict[str, dict[int, NDArray[np.float64]]] = {n: {} for n in self.cameras}

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(SIM_JOINTS)

    def instant(self, index: int) -> WorldInstant:
        """The person at pulse ``index`` (cached for the most recent pulses)."""
        with self._lock:
            cached = self._instants.get(index)
            if cached is not None:
                return cached
            time_s = index / self.fps
            motion = self.scene.motion
            joints = motion.joints_at(time_s)[0]
            velocities = motion.velocities_at(time_s)[0]
            scatterers = self.scene.layout.scatterers(joints, velocities, reference_time_s=time_s)
            instant = WorldInstant(index, time_s, joints, velocities, scatterers)
            self._instants[index] = instant
            self._truth[index] = joints
            while len(self._instants) > 64:
                self._instants.popitem(last=False)
            return instant

    def radar_cube(self, radar: str, index: int) -> NDArray[np.complex64]:
        """Complex int16-valued ADC cube (loops, T, R, N) of ``radar`` at pulse ``index``."""
        instant = self.instant(index)
        with self._radar_locks[radar]:
            return self.scene.simulators[radar].simulate_frame(instant.scatterers, instant.time_s)

    def radar_bytes(self, radar: str, index: int) -> bytes:
        """The LVDS byte stream of one frame, as the DCA1000 would send it."""
        return encode_adc_frames(self.radar_cube(radar, index), iq_order=self.iq_order)

    def camera_images(
        self, camera: str, index: int
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
        """RGB (H, W, 3) and depth (H, W) mm of ``camera`` at pulse ``index``."""
        instant = self.instant(index)
        renderer = self._renderers[camera]
        rgb, depth = renderer.render(instant.joints)
        with self._lock:
            self._keypoints[camera][index] = keypoints_2d(renderer.camera, instant.joints)
        return rgb, depth

    def ground_truth(self) -> dict[str, NDArray[np.generic]]:
        """Everything the world computed: pulse indexes, 3-D joints and per-camera 2-D keypoints.

        Returns:
            ``trigger_index`` (N,), ``joints_rig`` (N, J, 3) metres, and for every camera
            ``keypoints_2d/<camera>`` (N, J, 2) pixels with NaN where the camera saw no frame.
        """
        with self._lock:
            indexes = np.array(sorted(self._truth), dtype=np.int64)
            out: dict[str, NDArray[np.generic]] = {
                "trigger_index": indexes,
                "joints_rig": np.stack([self._truth[i] for i in indexes])
                if indexes.size
                else np.zeros((0, len(SIM_JOINTS), 3)),
            }
            for name, per_index in self._keypoints.items():
                kp = np.full((indexes.size, len(SIM_JOINTS), 2), np.nan)
                for row, i in enumerate(indexes):
                    if int(i) in per_index:
                        kp[row] = per_index[int(i)]
                out[f"keypoints_2d/{name}"] = kp
            return out


def world_from_rig(rig: RigConfig, *, fps: float | None = None) -> SimulatedWorld:
    """The simulated world of a simulated rig file (radars, cameras and subject from the rig)."""
    from acquisition.radar.config import load_radar_config

    if rig.simulation is None:
        raise ValueError(f"{rig.source}: rig {rig.name!r} has no simulation block")
    radars = [
        SimulatedRadar(r.name, load_radar_config(r.cfg_path).params(r.board), r.pose)
        for r in rig.radars
        if r.output == "raw_adc"
    ]
    cameras = {}
    for cam in rig.cameras:
        if cam.kind != "sim":
            continue
        if cam.intrinsics is not None:
            k = cam.intrinsics
            cameras[cam.name] = PinholeCamera(
                k.fx, k.fy, k.cx, k.cy, cam.width, cam.height, cam.pose
            )
        else:
            cameras[cam.name] = PinholeCamera.from_fov(
                hfov_deg=70.0, width=cam.width, height=cam.height, pose=cam.pose
            )
    rate = fps or (rig.trigger.rate_hz if rig.trigger is not None else 10.0)
    subject = rig.simulation.subject
    return SimulatedWorld(
        radars,
        cameras=cameras,
        action=subject.action,
        subject_seed=subject.seed,
        fps=rate,
        floor_z=0.0,
        seed=rig.simulation.seed,
        start_position=subject.position,
        heading=float(np.deg2rad(subject.heading_deg)),
    )
