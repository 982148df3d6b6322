"""Test helpers for dataset_tools: simulated takes written straight into the recording format.

``SimTakeFactory`` renders a few pulses of the simulated rig (``dual_radar_sim.yaml``) and writes
them with :class:`TakeWriter`, with exactly the faults a test asks for (a radar frame missing, a
radar frame with lost bytes, a late-starting radar, a camera frame missing, a camera frame
without trigger index that must be placed by time). Fast: no emulators, no sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from acquisition.emulation.sim_world import SimulatedWorld, world_from_rig
from acquisition.radar.config import load_radar_config
from acquisition.recording import (
    CameraFrameRecord,
    CameraIntrinsics,
    RadarFrameRecord,
    TakeWriter,
    TriggerPulseRecord,
)
from acquisition.rig import load_rig
from dataset_tools.build import BuildConfig
from dataset_tools.dataset.storage import Storage, open_storage
from dataset_tools.representations import RepresentationConfig

REPO = Path(__file__).resolve().parents[2]
SIM_RIG = REPO / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
T0_NS = 1_700_000_000_000_000_000
PERIOD_NS = 100_000_000


@dataclass
class TakeFaults:
    """Faults of a synthetic take (pulse indexes)."""

    radar_missing: dict[str, set[int]] = field(default_factory=dict)
    radar_lost: dict[str, set[int]] = field(default_factory=dict)
    radar_late_start: dict[str, int] = field(default_factory=dict)
    camera_missing: set[int] = field(default_factory=set)
    camera_untriggered: dict[int, int] = field(default_factory=dict)  # pulse -> stamp offset ns
    first_pulse: int = 0


@dataclass
class SimTake:
    path: Path
    world: SimulatedWorld
    pulses: list[int]
    faults: TakeFaults
    radar_bytes: dict[str, dict[int, bytes]]


def rig_variant(tmp: Path, *, action: str, seed: int, name: str) -> Path:
    """A copy of the simulated rig with another subject action / seed (absolute cfg paths)."""
    data: dict[str, Any] = yaml.safe_load(SIM_RIG.read_text())
    for radar in data["radars"]:
        radar["cfg"] = str((SIM_RIG.parent / radar["cfg"]).resolve())
    data["simulation"]["subject"]["action"] = action
    data["simulation"]["subject"]["seed"] = seed
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_sim_take(
    root: Path,
    session: str,
    take: str,
    *,
    frames: int = 12,
    subject: str = "S01",
    action: str = "walk_wave",
    seed: int = 7,
    faults: TakeFaults | None = None,
    scene: str | None = None,
) -> SimTake:
    faults = faults or TakeFaults()
    rig_path = rig_variant(root, action=action, seed=seed, name=f"rig_{take}")
    rig = load_rig(rig_path)
    world = world_from_rig(rig)
    writer = TakeWriter.create(
        root, session, take, subject=subject, action=action, scene=scene, flush_interval_s=60.0
    )
    writer.set_rig(rig.to_dict())
    for spec in rig.radars:
        cfg = load_radar_config(spec.cfg_path)
        writer.add_radar(
            spec.name,
            cfg_text=Path(spec.cfg_path).read_text(),
            info={
                "board": spec.board,
                "mounting": spec.mounting,
                "output": spec.output,
                "params": cfg.derived(spec.board),
            },
        )
    cam = rig.cameras[0]
    assert cam.intrinsics is not None
    intr = CameraIntrinsics(
        cam.width,
        cam.height,
        cam.intrinsics.fx,
        cam.intrinsics.fy,
        cam.intrinsics.cx,
        cam.intrinsics.cy,
    )
    writer.add_camera(cam.name, intrinsics=intr, info={"kind": "sim", "fps": 10.0})
    pulses = list(range(faults.first_pulse, faults.first_pulse + frames))
    written: dict[str, dict[int, bytes]] = {spec.name: {} for spec in rig.radars}
    for k in pulses:
        stamp = T0_NS + k * PERIOD_NS
        writer.write_trigger_pulse(TriggerPulseRecord(k, k * 100_000, stamp, stamp + 1000))
        for spec in rig.radars:
            name = spec.name
            if k in faults.radar_missing.get(name, set()):
                continue
            if k < faults.first_pulse + faults.radar_late_start.get(name, 0):
                continue
            data = bytearray(world.radar_bytes(name, k))
            lost = 0
            if k in faults.radar_lost.get(name, set()):
                lost = 1456 * 3
                data[1000 : 1000 + lost] = bytes(lost)
            written[name][k] = bytes(data)
            cube_shape = load_radar_config(spec.cfg_path).params(spec.board).cube_shape
            writer.write_radar_frame(
                RadarFrameRecord(
                    radar_id=name,
                    frame_number=k - faults.first_pulse,
                    trigger_index=k,
                    stamp_ns=stamp,
                    device_time_ns=k * PERIOD_NS,
                    host_time_ns=stamp + 2_000_000,
                    shape=cube_shape,
                    sample_format="int16_iq_sdk",
                    num_packets=540,
                    lost_packets=3 if lost else 0,
                    lost_bytes=lost,
                    valid=not lost,
                    data=bytes(data),
                )
            )
        if k not in faults.camera_missing:
            rgb, _ = world.camera_images(cam.name, k)
            untriggered = k in faults.camera_untriggered
            offset = faults.camera_untriggered.get(k, 0)
            writer.write_camera_frame(
                CameraFrameRecord(
                    camera_id=cam.name,
                    stream="color",
                    frame_number=k,
                    trigger_index=-1 if untriggered else k,
                    stamp_ns=stamp + offset,
                    device_time_ns=k * PERIOD_NS,
                    host_time_ns=stamp + 3_000_000,
                    image=rgb,
                    encoding="rgb8",
                )
            )
    arrays: dict[str, Any] = {
        "trigger_index": np.asarray(pulses, np.int64),
        "joints_rig": np.stack([world.instant(k).joints for k in pulses]),
        "joint_names": np.asarray(world.joint_names),
    }
    from acquisition.sim.camera import keypoints_2d

    arrays[f"keypoints_2d__{cam.name}"] = np.stack(
        [keypoints_2d(world.cameras[cam.name], world.instant(k).joints) for k in pulses]
    )
    np.savez_compressed(writer.directory / "sim_ground_truth.npz", **arrays)
    writer.update(
        simulation={
            "ground_truth_file": "sim_ground_truth.npz",
            "joint_names": list(world.joint_names),
            "frame": "rig",
            "action": action,
            "subject_seed": seed,
            "noise_seed": 0,
            "cameras": [cam.name],
        }
    )
    writer.close()
    return SimTake(writer.directory, world, pulses, faults, written)


SimTakeFactory = Callable[..., SimTake]


# --- shared by the build tests -------------------------------------------------------------
def build_config(root: Path, out: Path, **kw: Any) -> BuildConfig:
    base: dict[str, Any] = {
        "sessions": ("S",),
        "sessions_root": root,
        "out": out,
        "representations": RepresentationConfig(names=("rd", "ra")),
        "quiet": True,
    }
    base.update(kw)
    return BuildConfig(**base)


def dataset_arrays(storage: Storage, group: str = "") -> dict[str, np.ndarray[Any, Any]]:
    groups, arrays = storage.members(group)
    out = {}
    for a in arrays:
        path = f"{group}/{a}" if group else a
        out[path] = np.asarray(storage.array(path)[...])
    for g in groups:
        out.update(dataset_arrays(storage, f"{group}/{g}" if group else g))
    return out


def assert_same_dataset(a: Path, b: Path) -> None:
    with open_storage(a, "r") as sa, open_storage(b, "r") as sb:
        xa, xb = dataset_arrays(sa), dataset_arrays(sb)
        assert sorted(xa) == sorted(xb)
        for k in xa:
            assert xa[k].dtype == xb[k].dtype, k
            np.testing.assert_array_equal(xa[k], xb[k], err_msg=k)
        for seq in sa.members("sequences")[0]:
            assert sa.attrs(f"sequences/{seq}") == sb.attrs(f"sequences/{seq}")
