"""The recording format: write, read back, crash recovery, clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

from acquisition.recording import (
    CameraFrameRecord,
    CameraIntrinsics,
    PointCloudRecord,
    RadarFrameRecord,
    RecordingError,
    TakeReader,
    TakeWriter,
    TriggerPulseRecord,
    list_takes,
    schemas,
)

SHAPE = (4, 3, 4, 32)
NBYTES = 4 * 3 * 4 * 32 * 4


def radar_frame(i: int, radar: str = "radar_h", *, lost: int = 0) -> RadarFrameRecord:
    rng = np.random.default_rng(i)
    data = rng.integers(-2000, 2000, NBYTES // 2, dtype=np.int16).astype("<i2").tobytes()
    return RadarFrameRecord(
        radar_id=radar,
        frame_number=i,
        trigger_index=i + 5,
        stamp_ns=1_700_000_000_000_000_000 + i * 100_000_000,
        device_time_ns=i * 100_000_000,
        host_time_ns=1_700_000_000_000_000_000 + i * 100_000_000 + 1_500_000,
        shape=SHAPE,
        sample_format="int16_iq_sdk",
        num_packets=3,
        lost_packets=1 if lost else 0,
        lost_bytes=lost,
        valid=lost == 0,
        data=data,
    )


def test_schemas_match_the_ros_interface_package() -> None:
    names = schemas.own_message_names()
    assert "acquisition_interfaces/RadarFrame" in names
    text = schemas.schema_text("acquisition_interfaces/RadarFrame")
    assert "MSG: std_msgs/Header" in text and "MSG: builtin_interfaces/Time" in text
    ros_msg = Path(__file__).parents[3] / "ros2_ws/src/acquisition_interfaces/msg/RadarFrame.msg"
    assert ros_msg.read_text() == schemas.message_text("acquisition_interfaces/RadarFrame")


def test_write_and_read_back_every_stream(tmp_path: Path) -> None:
    intr = CameraIntrinsics(64, 48, 50.0, 51.0, 32.0, 24.0)
    color = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    depth = np.random.default_rng(1).integers(0, 5000, (48, 64), dtype=np.uint16)
    points = np.arange(15, dtype=np.float32).reshape(3, 5)
    with TakeWriter.create(tmp_path, "2024-05", "take1", subject="S01", action="wave") as w:
        w.add_radar("radar_h", cfg_text="sensorStop\n", info={"board": "IWR1843BOOST"})
        w.add_camera("camera0", intrinsics=intr, info={"kind": "sim"})
        for i in range(5):
            w.write_trigger_pulse(TriggerPulseRecord(i + 5, (i + 5) * 100_000, i, i + 1))
            w.write_radar_frame(radar_frame(i, lost=100 if i == 2 else 0))
            w.write_camera_frame(
                CameraFrameRecord("camera0", "color", i, i + 5, i, i, i, color, "rgb8")
            )
            w.write_camera_frame(
                CameraFrameRecord("camera0", "depth", i, i + 5, i, i, i, depth, "16UC1")
            )
            w.write_point_cloud(PointCloudRecord("radar_h", i, i + 5, i, 0, i, points))
        w.write_camera_info("camera0", intr, 0)
    take = TakeReader(tmp_path / "2024-05" / "take1")
    assert take.status == "complete"
    frames = list(take.radar_frames("radar_h"))
    assert [f.frame_number for f in frames] == list(range(5))
    for i, f in enumerate(frames):
        expected = radar_frame(i, lost=100 if i == 2 else 0)
        assert f == expected
    cams = list(take.camera_frames("camera0", "color"))
    assert len(cams) == 5 and np.array_equal(cams[3].image, color)
    assert [c.trigger_index for c in cams] == [5, 6, 7, 8, 9]
    depths = list(take.camera_frames("camera0", "depth"))
    assert np.array_equal(depths[0].image, depth) and depths[0].image.dtype == np.uint16
    assert np.array_equal(next(take.point_clouds("radar_h")).points, points)
    assert [p.index for p in take.trigger_pulses()] == [5, 6, 7, 8, 9]
    table = take.sync_table()
    assert table["/radar_h"] == {i + 5: i for i in range(5)}
    assert table["/camera0/color"] == {i + 5: i for i in range(5)}
    m = take.manifest
    stats = m.streams["/radar_h/frames"]
    assert (stats.frames, stats.invalid_frames, stats.lost_bytes, stats.lost_packets) == (
        5,
        1,
        100,
        1,
    )
    assert (tmp_path / "2024-05/take1/cfg/radar_h.cfg").read_text() == "sensorStop\n"
    # both checksums of the closed file, as an independent hash / CRC computes them
    mcap_bytes = (tmp_path / "2024-05/take1/streams.mcap").read_bytes()
    assert m.files["streams.mcap"]["sha256"] == hashlib.sha256(mcap_bytes).hexdigest()
    assert m.files["streams.mcap"]["crc32c"] == f"{google_crc32c.value(mcap_bytes):08x}"
    assert m.files["streams.mcap"]["bytes"] == len(mcap_bytes)
    assert m.cameras["camera0"]["intrinsics"]["fx"] == 50.0
    assert list_takes(tmp_path, "2024-05") == [tmp_path / "2024-05" / "take1"]


def test_mcap_is_readable_by_the_generic_mcap_ros2_reader(tmp_path: Path) -> None:
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with TakeWriter.create(tmp_path, "s", "t") as w:
        w.write_radar_frame(radar_frame(0))
    with open(tmp_path / "s/t/streams.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        msgs = list(reader.iter_decoded_messages())
    assert len(msgs) == 1
    schema, channel, _, decoded = msgs[0]
    assert decoded.radar_id == "radar_h" and channel.topic == "/radar_h/frames"
    assert schema is not None and schema.name == "acquisition_interfaces/RadarFrame"


_KILLED_RECORDER = """
import sys, time
from tests.acquisition.recording.test_recording import radar_frame
from acquisition.recording import TakeWriter
w = TakeWriter.create(sys.argv[1], "s", "killed", flush_interval_s=1e9)
for i in range(20):
    w.write_radar_frame(radar_frame(i))
w.flush()
for i in range(20, 25):
    w.write_radar_frame(radar_frame(i))   # not flushed: lost with the process
print("ready", flush=True)
time.sleep(60)
"""


def test_sigkilled_recorder_recovers_up_to_last_flush(tmp_path: Path) -> None:
    repo = Path(__file__).parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RECORDER, str(tmp_path)],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    take_dir = tmp_path / "s" / "killed"
    assert json.loads((take_dir / "manifest.json").read_text())["status"] == "recording"
    take = TakeReader(take_dir, repair=True)
    assert take.status == "interrupted"
    frames = list(take.radar_frames("radar_h"))
    assert [f.frame_number for f in frames] == list(range(20))
    assert frames[-1] == radar_frame(19)
    assert take.last_report.truncated
    saved = json.loads((take_dir / "manifest.json").read_text())
    assert saved["status"] == "interrupted"
    assert saved["files"]["streams.mcap"]["recovered_messages"] == 20


def test_live_recording_is_not_reported_interrupted(tmp_path: Path) -> None:
    w = TakeWriter.create(tmp_path, "s", "live")
    w.write_radar_frame(radar_frame(0))
    w.flush()
    assert TakeReader(tmp_path / "s" / "live").status == "recording"
    w.close()


def test_clear_errors_for_bad_paths(tmp_path: Path) -> None:
    TakeWriter.create(tmp_path, "s", "t").close()
    with pytest.raises(RecordingError, match="already exists"):
        TakeWriter.create(tmp_path, "s", "t")
    with pytest.raises(RecordingError, match="invalid take name"):
        TakeWriter.create(tmp_path, "s", "../x")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RecordingError, match="cannot create take folder"):
        TakeWriter.create(blocker, "s", "t")
    with pytest.raises(RecordingError, match="MiB free"):
        TakeWriter.create(tmp_path, "s", "t2", min_free_bytes=1 << 60)


def test_disk_full_is_reported_and_marks_the_take_failed(tmp_path: Path) -> None:
    w = TakeWriter.create(tmp_path, "s", "t", flush_interval_s=1e9)
    w.write_radar_frame(radar_frame(0))
    w.flush()
    # Point the MCAP stream at /dev/full: every write now fails with a real ENOSPC.
    w._mcap._Writer__stream = open("/dev/full", "wb", buffering=0)  # type: ignore[attr-defined]
    w.write_radar_frame(radar_frame(1))
    with pytest.raises(RecordingError, match="disk full"):
        w.flush()
    saved = json.loads((tmp_path / "s/t/manifest.json").read_text())
    assert saved["status"] == "failed"
    assert saved["events"][-1]["kind"] == "write_error"
    assert [f.frame_number for f in TakeReader(tmp_path / "s/t").radar_frames("radar_h")] == [0]


def test_flush_interval_bounds_what_a_crash_loses(tmp_path: Path) -> None:
    now = [0.0]
    w = TakeWriter.create(tmp_path, "s", "t", flush_interval_s=1.0, clock=lambda: now[0])
    size0 = w.path.stat().st_size
    w.write_radar_frame(radar_frame(0))
    assert w.path.stat().st_size == size0  # buffered in the open chunk
    now[0] = 1.5
    w.write_radar_frame(radar_frame(1))
    assert w.path.stat().st_size > size0 + NBYTES  # both frames flushed once the interval passed
    w.close()
