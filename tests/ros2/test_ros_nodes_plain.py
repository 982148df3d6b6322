"""The ROS-free logic of the ROS 2 package ``acquisition`` (module ``acquisition_ros``, in
``ros2_ws/src/acquisition``): parameter files, the shared node-set description, the aligner
guards, the recorder node's take bookkeeping, the rig transforms. No rclpy needed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from acquisition.recording.reader import TakeReader
from acquisition.recording.records import RadarFrameRecord, TriggerPulseRecord
from acquisition.rig import load_rig

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SRC = REPO_ROOT / "ros2_ws" / "src" / "acquisition"
SIM_RIG = REPO_ROOT / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
HW_RIG = REPO_ROOT / "sensor_configs" / "rigs" / "dual_radar.yaml"
if str(PACKAGE_SRC) not in sys.path:
    sys.path.insert(0, str(PACKAGE_SRC))


def _module(name: str) -> Any:
    return importlib.import_module(f"acquisition_ros.{name}")


params = _module("params")
nodeset = _module("nodeset")
sync_stream = _module("sync_stream")
take_session = _module("take_session")
transforms = _module("transforms")
launcher = _module("launcher")

PERIOD_NS = 100_000_000


# --- parameters -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(params.NODE_PARAMS))
def test_config_yaml_lists_every_parameter_with_its_default(kind: str) -> None:
    path = PACKAGE_SRC / "config" / f"{kind}.yaml"
    assert path.read_text() == params.render_yaml(kind), (
        f"{path} is stale: run `python -m acquisition_ros.params`"
    )
    loaded = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    flat = params.flatten(loaded)
    specs = params.NODE_PARAMS[kind]
    assert flat == {s.name: s.default for s in specs}
    for spec in specs:
        assert spec.description.strip(), f"{kind}.{spec.name} has no description"
        assert spec.default is not None


def test_the_package_module_does_not_shadow_the_toolkit() -> None:
    import acquisition

    assert Path(acquisition.__file__).resolve().parent == REPO_ROOT / "acquisition"
    assert not (PACKAGE_SRC / "acquisition").exists()
    setup = (PACKAGE_SRC / "setup.py").read_text()
    assert 'packages=["acquisition_ros"]' in setup


# --- node set ---------------------------------------------------------------------------------
def test_node_set_of_the_simulated_rig(tmp_path: Path) -> None:
    rig = load_rig(SIM_RIG)
    ns = nodeset.describe(
        {"rig": str(SIM_RIG), "session": "s", "subject": "S01", "action": "wave"},
        runtime_dir=tmp_path,
        python=sys.executable,
    )
    fqns = [n.fqn for n in ns.nodes]
    radars = [f"/{r.name}/radar" for r in rig.radars]
    cameras = [f"/{c.name}/camera" for c in rig.cameras]
    assert fqns == [*radars, *cameras, "/recorder", "/trigger", "/rig_tf"]
    assert ns.simulated and ns.emulator is not None
    assert ns.emulator.cmd[:3] == [sys.executable, "-m", "acquisition.emulated_rig"]
    assert ns.endpoints_file == str(tmp_path / "endpoints.json")
    # The start-order handshake: the trigger waits for every sensor and the recorder ...
    assert ns.node("/trigger").parameters["wait_for"] == [*radars, *cameras, "/recorder"]
    # ... and the recorder closes the take after the trigger and every sensor stopped.
    assert ns.node("/recorder").parameters["wait_for"] == ["/trigger", *radars, *cameras]
    assert ns.node("/horizontal/radar").parameters["radar_name"] == "horizontal"
    for spec in ns.nodes:
        assert (ns.config_dir / spec.config_file).is_file()
        assert spec.module == f"acquisition_ros.{spec.kind}_node"
        known = {p.name for p in params.NODE_PARAMS[spec.kind]}
        assert set(spec.parameters) <= known, spec.fqn
    doc = nodeset.parameters_yaml(ns.node("/horizontal/radar"))
    assert doc["/horizontal/radar"]["ros__parameters"]["previews"] == {"enable": False}
    assert doc["/horizontal/radar"]["ros__parameters"]["sync"] == {"resync": False}


def test_node_set_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hardware rig"):
        nodeset.describe({"rig": str(HW_RIG), "sim": "true"}, runtime_dir=tmp_path)
    with pytest.raises(KeyError, match="unknown launch argument"):
        nodeset.describe({"rig": str(SIM_RIG), "bogus": "1"}, runtime_dir=tmp_path)
    hw = nodeset.describe({"rig": str(HW_RIG), "record": "false"})
    assert hw.emulator is None and "/recorder" not in [n.fqn for n in hw.nodes]
    assert hw.node("/trigger").parameters["wait_for"] == [
        "/horizontal/radar",
        "/vertical/radar",
        "/rgb/camera",
    ]


def test_launcher_arguments_and_commands(tmp_path: Path) -> None:
    values, _ = launcher.parse_arguments(["--rig", str(SIM_RIG), "session:=x", "previews:=true"])
    assert values == {"rig": str(SIM_RIG), "session": "x", "previews": "true"}
    node_set = nodeset.describe(values, runtime_dir=tmp_path)
    commands = dict(launcher.node_commands(node_set, tmp_path))
    cmd = commands["horizontal_radar"]
    assert cmd[1:3] == ["-m", "acquisition_ros.radar_node"]
    assert "__ns:=/horizontal" in cmd and "__node:=radar" in cmd
    override = yaml.safe_load(Path(cmd[-1]).read_text())
    assert override["/horizontal/radar"]["ros__parameters"]["previews"]["enable"] is True


# --- alignment ----------------------------------------------------------------------------------
def _aligner(confirm: int = 3, warmup: int = 5) -> tuple[Any, dict[int, int]]:
    edges: dict[int, int] = {}
    aligner = sync_stream.CausalCounterAligner(PERIOD_NS, edges.get, warmup=warmup, confirm=confirm)
    return aligner, edges


def _feed(aligner: Any, edges: dict[int, int], latencies_ms: Sequence[float]) -> list[int]:
    decided: list[int] = []
    for k, latency in enumerate(latencies_ms):
        edges[k] = k * PERIOD_NS
        aligner.add_pulse(k)
        decided += [t for _, t in aligner.push(k, k * PERIOD_NS + int(latency * 1e6), k)]
    decided += [t for _, t in aligner.flush()]
    return decided


def test_warmup_offset_is_causal_when_most_frames_are_late_by_a_period() -> None:
    # Three of five warm-up frames arrive more than a period after their pulse: the time vote
    # alone says +1; the two early frames prove that +1 would precede their pulses.
    aligner, edges = _aligner()
    decided = _feed(aligner, edges, [104, 98, 104, 54, 40] + [50] * 10)
    assert decided == list(range(15))
    assert aligner.resyncs == 0


def test_a_burst_of_late_frames_is_jitter_but_a_lasting_skip_is_a_resync() -> None:
    aligner, edges = _aligner()
    burst = [20] * 10 + [120, 120] + [20] * 10
    assert _feed(aligner, edges, burst) == list(range(22))
    assert aligner.resyncs == 0 and aligner.jitter_outliers == 2

    aligner, edges = _aligner()
    # The device skipped pulse 10: from frame 10 on every frame is one period late.
    decided = _feed(aligner, edges, [20] * 10 + [120] * 10)
    assert decided == list(range(10)) + list(range(11, 21))
    assert aligner.resyncs == 1

    # resync=False (emulated rigs): the counter is trusted after the warm-up.
    edges = {}
    aligner = sync_stream.CausalCounterAligner(PERIOD_NS, edges.get, warmup=5, resync=False)
    assert _feed(aligner, edges, [20] * 10 + [120] * 10) == list(range(20))


def test_pulse_book_counts_gaps_and_ignores_repeats() -> None:
    book = sync_stream.PulseBook()
    assert book.add(0, 1_000, 10_000_000) is not None
    assert book.add(0, 1_000, 10_000_000) is None
    book.add(3, 301_000, 310_000_000)
    assert book.gaps == 2
    assert book.board_us_of(3) == 301_000
    edge = book.edge_of(3)
    assert edge is not None and edge <= 310_000_000


# --- the recorder node's take -------------------------------------------------------------------
def test_take_session_writes_the_recording_format(tmp_path: Path) -> None:
    rig = load_rig(SIM_RIG)
    session = take_session.TakeSession(
        rig, sessions_root=tmp_path, session="s", take="t", subject="S01", action="wave"
    )
    data = bytes(range(256)) * 4
    for k in range(6):
        session.trigger_pulse(
            TriggerPulseRecord(k, 1_000 + k * 100_000, k * PERIOD_NS, k * PERIOD_NS + 2_000_000)
        )
        for radar in ("horizontal", "vertical"):
            if radar == "vertical" and k == 3:
                continue  # a frame lost in transport
            session.radar_frame(
                RadarFrameRecord(
                    radar_id=radar,
                    frame_number=k,
                    trigger_index=k,
                    stamp_ns=k * PERIOD_NS,
                    device_time_ns=0,
                    host_time_ns=k * PERIOD_NS + 5,
                    shape=(1, 1, 1, 256),
                    sample_format="int16_iq_sdk",
                    num_packets=1,
                    lost_packets=0,
                    lost_bytes=0,
                    valid=True,
                    data=data,
                )
            )
        image = np.full((480, 640, 3), k, np.uint8)
        session.camera_sync(
            "rgb",
            "color",
            k * PERIOD_NS,
            frame_number=k,
            trigger_index=k,
            device_time_ns=7,
            host_time_ns=8,
            valid=True,
        )
        session.camera_image("rgb", "color", k * PERIOD_NS, image, "rgb8")
    manifest = session.close({"horizontal": {"resyncs": "0", "capture.lost_bytes": "0"}})
    assert manifest.status == "complete"
    assert manifest.sync["pulses"] == 6
    vertical = manifest.sync["streams"]["vertical"]
    assert vertical["transport_lost_frames"] == 1 and vertical["missed_pulses"] == 1
    assert manifest.radars["horizontal"]["capture"] == {"lost_bytes": 0}
    reader = TakeReader(tmp_path / "s" / "t")
    assert reader.status == "complete"
    frames = list(reader.radar_frames("horizontal"))
    assert [f.trigger_index for f in frames] == list(range(6))
    assert frames[2].data == data
    images = list(reader.camera_frames("rgb"))
    assert [int(f.image[0, 0, 0]) for f in images] == list(range(6))
    assert [f.trigger_index for f in images] == list(range(6))
    assert (tmp_path / "s" / "t" / "sim_ground_truth.npz").is_file()


# --- transforms ---------------------------------------------------------------------------------
def test_rig_transforms_follow_the_rig_file() -> None:
    rig = load_rig(SIM_RIG)
    by_child = {t.child: t for t in transforms.rig_transforms(rig)}
    assert set(by_child) == {
        "horizontal_link",
        "horizontal",
        "vertical_link",
        "vertical",
        "rgb_link",
        "rgb_color_optical_frame",
    }
    assert by_child["vertical_link"].parent == "rig"
    assert by_child["vertical_link"].translation == pytest.approx((0.0, -0.015, 1.0))
    # rolled -90 degrees about x: quaternion (-sin 45, 0, 0, cos 45)
    assert by_child["vertical_link"].quaternion == pytest.approx((-0.7071068, 0, 0, 0.7071068))
    assert by_child["horizontal"].parent == "horizontal_link"


# --- previews -----------------------------------------------------------------------------------
def test_radar_previews_of_one_raw_frame() -> None:
    from acquisition.radar.config import load_radar_config

    preview = _module("preview")
    rig = load_rig(SIM_RIG)
    spec = rig.radars[0]
    radar_params = load_radar_config(spec.cfg_path).params(spec.board)
    rng = np.random.default_rng(0)
    data = rng.integers(-500, 500, radar_params.bytes_per_frame // 2, dtype=np.int16).tobytes()
    image, cloud = preview.preview_frame(data, radar_params)
    loops, _, _, samples = radar_params.cube_shape
    assert image.dtype == np.uint8 and image.shape[0] == loops and image.max() == 255
    assert image.shape[1] <= samples
    assert cloud is not None and cloud.dtype == np.float32 and cloud.shape[1] == 5
    assert [name for name, _ in preview.point_cloud_fields()] == list(preview.CLOUD_FIELDS)
