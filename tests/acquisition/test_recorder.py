"""Whole simulated takes through the real drivers and emulators (ptys, loopback UDP).

Each test records a take of a few seconds and reads it back with the toolkit's reader.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from acquisition.cli.acq_record import record_take
from acquisition.emulated_rig import EmulatedRig, EmulatedRigProcess, FaultPlan
from acquisition.emulation.sim_world import world_from_rig
from acquisition.errors import DeviceError
from acquisition.recorder import GROUND_TRUTH_NAME, Recorder, TakeInfo
from acquisition.recording import TakeReader
from acquisition.rig import load_rig

REPO = Path(__file__).resolve().parents[2]
RIG = REPO / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"


def _info(take: str) -> TakeInfo:
    return TakeInfo(session="s", take=take, subject="S01", action="wave")


def test_simulated_take_is_aligned_and_bit_exact(tmp_path: Path) -> None:
    manifest, take_dir = record_take(RIG, _info("clean"), 3.0, sessions_root=tmp_path, quiet=True)
    assert manifest.status == "complete"
    take = TakeReader(take_dir)
    pulses = [p.index for p in take.trigger_pulses()]
    assert len(pulses) >= 25 and pulses == list(range(pulses[0], pulses[0] + len(pulses)))

    # Every stream has one frame per pulse, with the same trigger indexes.
    table = take.sync_table()
    assert set(table) == {"/horizontal", "/vertical", "/rgb/color"}
    for stream, by_pulse in table.items():
        assert sorted(by_pulse) == pulses, stream
    for name, summary in manifest.sync["streams"].items():
        assert summary["missed_pulses"] == 0 and summary["extra_frames"] == 0, name

    # The bytes recorded for pulse k are the simulator's frame for pulse k, bit for bit: the
    # radar, the capture card, the receiver and the writer lost and shifted nothing.
    world = world_from_rig(load_rig(RIG))
    for radar in ("horizontal", "vertical"):
        frames = {f.trigger_index: f for f in take.radar_frames(radar)}
        for k in pulses:  # in pulse order: the simulator's noise stream advances per frame
            expected = world.radar_bytes(radar, k)
            assert frames[k].valid and frames[k].lost_bytes == 0
            assert frames[k].data == expected, f"{radar} pulse {k}"

    # The camera image of pulse k shows the person at pulse k.
    cams = list(take.camera_frames("rgb"))
    for frame in cams[:: max(1, len(cams) // 4)]:
        rgb, _ = world.camera_images("rgb", frame.trigger_index)
        assert np.array_equal(frame.image, rgb)

    truth = np.load(take_dir / GROUND_TRUTH_NAME)
    assert truth["trigger_index"].tolist() == pulses
    assert truth["joints_rig"].shape == (len(pulses), 20, 3)
    assert (take_dir / "rig.yaml").is_file() and load_rig(take_dir / "rig.yaml").simulated
    assert manifest.sync["trigger_clock"]["samples"] == len(pulses)


@pytest.mark.parametrize("loss", [0.01, 0.10])
def test_packet_loss_is_counted_exactly_and_frames_stay_aligned(
    tmp_path: Path, loss: float
) -> None:
    rig = load_rig(RIG)
    faults = FaultPlan(packet_loss=loss, reorder=0.01, duplicate=0.01, seed=7)
    with EmulatedRigProcess(RIG, faults=faults) as emu:
        recorder = Recorder(rig, endpoints=emu.endpoints, sessions_root=tmp_path)
        manifest = recorder.record(_info(f"loss{loss}"), 2.5)
    injected = {name: report["dca"] for name, report in emu.injected.items()}
    assert manifest.status == "complete" and set(injected) == {"horizontal", "vertical"}
    take = TakeReader(tmp_path / "s" / f"loss{loss}")
    for radar, stats in injected.items():
        frames = list(take.radar_frames(radar))
        assert len(frames) == stats["frames_sent"]
        # What the emulator dropped is exactly what the recording says was lost, per frame.
        lost = {str(f.frame_number): f.lost_bytes for f in frames if f.lost_bytes}
        assert lost == {k: v for k, v in stats["dropped_bytes_per_frame"].items() if v}
        assert sum(lost.values()) == stats["dropped_bytes"] > 0
        assert manifest.streams[f"/{radar}/frames"].lost_bytes == stats["dropped_bytes"]
        capture = manifest.radars[radar]["capture"]
        assert capture["lost_packets"] == stats["dropped_packets"]
        assert capture["duplicates"] == stats["duplicated"]
        # Zero-filled where lost, untouched elsewhere; still one frame per pulse.
        triggers = [f.trigger_index for f in frames]
        assert triggers == list(range(triggers[0], triggers[0] + len(frames)))
        assert all(f.valid == (f.lost_bytes == 0) for f in frames)


def test_radar_error_stops_the_take_naming_radar_and_line(tmp_path: Path) -> None:
    rig = load_rig(RIG)
    faults = FaultPlan(radar_error_on={"vertical": "frameCfg"})
    with EmulatedRig(rig, faults=faults) as emu:
        recorder = Recorder(
            rig,
            endpoints=emu.endpoints,
            camera_options={c.name: emu.camera_options(c.name) for c in rig.cameras},
            sessions_root=tmp_path,
        )
        with pytest.raises(DeviceError) as info:
            recorder.record(_info("radar_error"), 2.0)
        sent = emu.radars["vertical"].cli.config_lines
    message = str(info.value)
    assert "vertical" in message and "frameCfg" in message and "hupr_vertical.cfg:" in message
    assert not any(line.startswith("lowPower") for line in sent)  # nothing sent after the error
    saved = json.loads((tmp_path / "s" / "radar_error" / "manifest.json").read_text())
    assert saved["status"] == "failed"
    assert any(e["kind"] == "device_error" for e in saved["events"])


def test_late_radar_lost_camera_and_dropped_camera_frames_are_recorded(tmp_path: Path) -> None:
    faults = FaultPlan(
        radar_late_start_pulses={"vertical": 4},
        camera_unplug_after={"rgb": 15},
        camera_drop={"rgb": 0.1},
        seed=3,
    )
    manifest, take_dir = record_take(
        RIG, _info("faults"), 3.0, sessions_root=tmp_path, faults=faults, quiet=True
    )
    assert manifest.status == "complete"
    sync = manifest.sync["streams"]
    assert sync["vertical"]["late_start_pulses"] == 4
    assert sync["horizontal"]["late_start_pulses"] == 0
    assert any(e["kind"] == "late_start" and e["stream"] == "vertical" for e in manifest.events)
    lost = [e for e in manifest.events if e["kind"] == "device_lost"]
    assert len(lost) == 1 and "rgb" in lost[0]["message"]
    counters = manifest.cameras["rgb"]["counters"]
    # Frames lost inside the camera show as gaps in its frame counter: counted, and the
    # frames that did arrive still carry the right pulse.
    take = TakeReader(take_dir)
    cams = list(take.camera_frames("rgb"))
    assert 0 < len(cams) < 15
    assert counters["dropped"] == cams[-1].frame_number + 1 - len(cams)
    world = world_from_rig(load_rig(RIG))
    for frame in cams:
        assert np.array_equal(frame.image, world.camera_images("rgb", frame.trigger_index)[0])
    radar_v = [f.trigger_index for f in take.radar_frames("vertical")]
    assert radar_v[0] == 4


def test_killed_acq_record_leaves_a_recoverable_interrupted_take(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acquisition.cli.acq_record",
            "--rig",
            str(RIG),
            "--session",
            "s",
            "--subject",
            "S01",
            "--action",
            "wave",
            "--take",
            "killed",
            "--duration",
            "30",
            "--sessions-root",
            str(tmp_path),
            "--quiet",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    take_dir = tmp_path / "s" / "killed"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (take_dir / "streams.mcap").is_file() and (
                take_dir / "streams.mcap"
            ).stat().st_size > 12_000_000:  # ~3 flushed chunks (the rig records with lz4)
                break
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        # The emulated rig runs in a grandchild; take the whole process group down.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    take = TakeReader(take_dir, repair=True)
    assert take.status == "interrupted"
    frames = list(take.radar_frames("horizontal"))
    assert len(frames) >= 2
    assert all(f.valid for f in frames)
    assert json.loads((take_dir / "manifest.json").read_text())["status"] == "interrupted"
