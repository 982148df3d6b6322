"""The simulated world behind the emulated rig: one instant per pulse, shared by every sensor."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from acquisition.emulation.sim_world import world_from_rig
from acquisition.radar import load_radar_config
from acquisition.rig import load_rig
from acquisition.sim.person import JOINT_INDEX
from dataset_tools.dsp import decode_adc_frames, range_doppler_map

RIG = Path(__file__).parents[3] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"


def test_radar_sees_the_subject_at_the_pelvis_range() -> None:
    rig = load_rig(RIG)
    world = world_from_rig(rig)
    radar = rig.radars[0]
    params = load_radar_config(radar.cfg_path).params(radar.board)
    for pulse in (0, 7):
        raw = world.radar_bytes(radar.name, pulse)
        assert len(raw) == params.bytes_per_frame
        rd = range_doppler_map(decode_adc_frames(raw, params), remove_clutter=True)[0]
        peak_m = rd.sum(axis=0).argmax() * params.range_resolution_m
        pelvis = world.instant(pulse).joints[JOINT_INDEX["pelvis"]]
        assert abs(peak_m - np.linalg.norm(pelvis - radar.pose.position)) < 0.2


def test_all_sensors_share_one_instant_per_pulse_across_threads() -> None:
    rig = load_rig(RIG)
    world = world_from_rig(rig)
    results: dict[str, list[np.ndarray]] = {}

    def sensor(name: str) -> None:
        results[name] = [world.instant(k).joints for k in range(6)]

    threads = [threading.Thread(target=sensor, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        assert results["a"][k] is results["b"][k] is results["c"][k]
    rgb, depth = world.camera_images("rgb", 3)
    assert rgb.shape == (480, 640, 3) and depth.dtype == np.uint16
    truth = world.ground_truth()
    assert truth["trigger_index"].tolist() == list(range(6))
    kp = truth["keypoints_2d/rgb"]
    assert np.isnan(kp[0]).all() and np.isfinite(kp[3]).all()


def test_world_is_deterministic_per_seed() -> None:
    a = world_from_rig(load_rig(RIG)).radar_bytes("vertical", 2)
    b = world_from_rig(load_rig(RIG)).radar_bytes("vertical", 2)
    assert a == b
