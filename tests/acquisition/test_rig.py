"""Rig files: the shipped rigs load, geometry is right, broken files fail with key path and line."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from acquisition.rig import RigConfig, RigFileError, RigFileWarning, load_rig, parse_rig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "sensor_configs"
RIGS = sorted((CONFIGS / "rigs").glob("*.yaml"))

# A two-radar hardware rig; the tests below break one thing at a time.
BASE = """\
name: test_rig
radars:
  - name: horizontal
    board: IWR1843BOOST
    cfg: {cfg_h}
    cli_port: /dev/ttyACM0
    data_port: /dev/ttyACM1
    output: raw_adc
    mounting: horizontal
    pose: {{xyz: [0.0, 0.015, 1.0], rpy_deg: [0.0, 0.0, 0.0]}}
    capture:
      ip: 192.168.33.180
      host_ip: 192.168.33.30
      config_port: 4096
      data_port: 4098
  - name: vertical
    board: IWR1843BOOST
    cfg: {cfg_v}
    cli_port: /dev/ttyACM2
    data_port: /dev/ttyACM3
    output: raw_adc
    mounting: vertical
    pose: {{xyz: [0.0, -0.015, 1.0], rpy_deg: [-90.0, 0.0, 0.0]}}
    capture:
      ip: 192.168.34.180
      host_ip: 192.168.34.30
      config_port: 4096
      data_port: 4098
trigger:
  port: /dev/ttyUSB0
  rate_hz: 10.0
cameras:
  - name: rgb
    kind: realsense
    width: 640
    height: 480
    fps: 10
    sync_role: external-trigger
    pose: {{xyz: [0.0, 0.0, 1.12]}}
"""


def base_text() -> str:
    return BASE.format(cfg_h=CONFIGS / "hupr_horizontal.cfg", cfg_v=CONFIGS / "hupr_vertical.cfg")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not in the test text"
    return hits[occurrence - 1]


def replace_nth(text: str, old: str, new: str, occurrence: int) -> str:
    parts = text.split(old)
    assert len(parts) > occurrence, f"{old!r} occurs fewer than {occurrence} times"
    return old.join(parts[:occurrence]) + new + old.join(parts[occurrence:])


def write(tmp_path: Path, text: str, name: str = "rig.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def expect_error(path: Path, key_path: str, line: int, *fragments: str) -> RigFileError:
    with pytest.raises(RigFileError) as info:
        load_rig(path)
    err = info.value
    message = str(err)
    assert err.key_path == key_path, message
    assert err.line == line, message
    assert message.startswith(f"{path}:{line}: {key_path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return err


# --- the shipped rigs ---------------------------------------------------------------------------
def test_rig_files_exist() -> None:
    names = {p.name for p in RIGS}
    assert {"dual_radar.yaml", "dual_radar_sim.yaml"} <= names


@pytest.mark.parametrize("path", RIGS, ids=[p.name for p in RIGS])
def test_shipped_rig_loads_without_warnings(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rig = load_rig(path)
    assert isinstance(rig, RigConfig)
    assert rig.radars
    for radar in rig.radars:
        assert radar.cfg_path.is_absolute() and radar.cfg_path.is_file()
        assert radar.cfg_path.parent == CONFIGS


def test_dual_radar_rig_contents() -> None:
    rig = load_rig(CONFIGS / "rigs" / "dual_radar.yaml")
    assert [r.name for r in rig.radars] == ["horizontal", "vertical"]
    assert [r.mounting for r in rig.radars] == ["horizontal", "vertical"]
    first, second = (r.capture for r in rig.radars)
    assert first is not None and second is not None
    assert (first.ip, first.host_ip, first.config_port, first.data_port) == (
        "192.168.33.180",
        "192.168.33.30",
        4096,
        4098,
    )
    assert (second.ip, second.host_ip) != (first.ip, first.host_ip)
    assert rig.radars[0].cli_port == "/dev/ttyACM0"
    assert rig.radars[1].cli_port == "/dev/ttyACM2"
    assert rig.trigger is not None and rig.trigger.rate_hz == 10.0
    assert rig.camera("rgb").sync_role == "external-trigger"
    separation = np.linalg.norm(rig.radars[0].pose.position - rig.radars[1].pose.position)
    assert separation == pytest.approx(0.03)
    assert not rig.simulated and rig.simulation is None


def test_sim_rig_mirrors_the_real_rig() -> None:
    real = load_rig(CONFIGS / "rigs" / "dual_radar.yaml")
    sim = load_rig(CONFIGS / "rigs" / "dual_radar_sim.yaml")
    assert sim.simulated and sim.simulation is not None
    assert sim.simulation.subject.action == "walk_wave"
    for r_real, r_sim in zip(real.radars, sim.radars, strict=True):
        assert r_sim.kind == "emulated" and r_sim.cli_port == "auto"
        assert r_sim.cfg_path == r_real.cfg_path
        np.testing.assert_allclose(r_sim.pose.position, r_real.pose.position)
        np.testing.assert_allclose(r_sim.pose.rotation, r_real.pose.rotation)
        assert r_sim.capture is not None and r_sim.capture.ip == "127.0.0.1"
        assert r_sim.capture.data_port == 0
    assert all(c.kind == "sim" for c in sim.cameras)


# --- frames -------------------------------------------------------------------------------------
def _direction(rig: RigConfig, name: str, ti_vector: list[float]) -> np.ndarray:
    pose = rig.radar(name).pose
    tip = pose.radar_to_rig(np.array(ti_vector, dtype=np.float64))
    return np.asarray(tip - pose.radar_to_rig(np.zeros(3)), dtype=np.float64)


@pytest.mark.parametrize("rig_file", ["dual_radar.yaml", "dual_radar_sim.yaml"])
def test_vertical_radar_ti_x_points_up(rig_file: str) -> None:
    rig = load_rig(CONFIGS / "rigs" / rig_file)
    np.testing.assert_allclose(_direction(rig, "vertical", [1, 0, 0]), [0, 0, 1], atol=1e-12)
    # Boresight (TI y) still looks forward into the scene.
    np.testing.assert_allclose(_direction(rig, "vertical", [0, 1, 0]), [1, 0, 0], atol=1e-12)
    assert rig.radar("vertical").ti_x_axis_in_rig() == pytest.approx((0, 0, 1), abs=1e-12)


def test_horizontal_radar_ti_x_points_right() -> None:
    rig = load_rig(CONFIGS / "rigs" / "dual_radar.yaml")
    np.testing.assert_allclose(_direction(rig, "horizontal", [1, 0, 0]), [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(_direction(rig, "horizontal", [0, 1, 0]), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(_direction(rig, "horizontal", [0, 0, 1]), [0, 0, 1], atol=1e-12)


# --- paths --------------------------------------------------------------------------------------
def test_relative_cfg_resolved_against_rig_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CONFIGS / "hupr_horizontal.cfg", tmp_path / "h.cfg")
    (tmp_path / "cfgs").mkdir()
    shutil.copy(CONFIGS / "hupr_vertical.cfg", tmp_path / "cfgs" / "v.cfg")
    text = BASE.format(cfg_h="../h.cfg", cfg_v="../cfgs/v.cfg")
    rig_path = write(tmp_path, text, "rigs/rig.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not relative to the working directory
    rig = load_rig(rig_path)
    assert rig.radars[0].cfg_path == (tmp_path / "h.cfg").resolve()
    assert rig.radars[1].cfg_path == (tmp_path / "cfgs" / "v.cfg").resolve()
    assert rig.source == rig_path.resolve()


# --- broken files -------------------------------------------------------------------------------
def test_base_text_is_valid(tmp_path: Path) -> None:
    rig = load_rig(write(tmp_path, base_text()))
    assert [r.name for r in rig.radars] == ["horizontal", "vertical"]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    text = replace_nth(base_text(), "    cfg: ", "    cfg_fle: ", 2)
    path = write(tmp_path, text)
    expect_error(
        path, "radars[1].cfg_fle", line_of(text, "cfg_fle"), "unknown key 'cfg_fle'", "'cfg'"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = base_text() + "recordings:\n  sessions_root: /tmp\n"
    path = write(tmp_path, text)
    expect_error(path, "recordings", line_of(text, "recordings:"), "did you mean 'recording'")


def test_missing_cfg_file(tmp_path: Path) -> None:
    text = base_text().replace("hupr_vertical.cfg", "no_such.cfg")
    path = write(tmp_path, text)
    expect_error(path, "radars[1].cfg", line_of(text, "no_such.cfg"), "not found")


def test_missing_required_key(tmp_path: Path) -> None:
    text = base_text().replace("    output: raw_adc\n", "", 1)
    path = write(tmp_path, text)
    expect_error(path, "radars[0]", line_of(text, "- name: horizontal"), "'output'")


def test_duplicate_radar_names(tmp_path: Path) -> None:
    text = base_text().replace("- name: vertical", "- name: horizontal")
    path = write(tmp_path, text)
    expect_error(
        path, "radars[1].name", line_of(text, "- name: horizontal", 2), "already used by radars[0]"
    )


def test_radar_and_camera_names_share_one_namespace(tmp_path: Path) -> None:
    text = base_text().replace("- name: rgb", "- name: vertical")
    path = write(tmp_path, text)
    expect_error(path, "cameras[0].name", line_of(text, "- name: vertical", 2), "radars[1]")


def test_bad_udp_port(tmp_path: Path) -> None:
    text = replace_nth(base_text(), "data_port: 4098", "data_port: 70000", 2)
    path = write(tmp_path, text)
    expect_error(path, "radars[1].capture.data_port", line_of(text, "70000"), "out of range")


def test_port_zero_only_for_emulators(tmp_path: Path) -> None:
    text = base_text().replace("config_port: 4096", "config_port: 0", 1)
    path = write(tmp_path, text)
    expect_error(path, "radars[0].capture.config_port", line_of(text, "config_port: 0"))


def test_port_must_be_an_integer(tmp_path: Path) -> None:
    text = base_text().replace("data_port: 4098", 'data_port: "4098"', 1)
    path = write(tmp_path, text)
    expect_error(path, "radars[0].capture.data_port", line_of(text, '"4098"'), "must be a UDP")


def test_duplicate_capture_address(tmp_path: Path) -> None:
    text = base_text().replace("ip: 192.168.34.180", "ip: 192.168.33.180")
    text = text.replace("host_ip: 192.168.34.30", "host_ip: 192.168.33.31")
    path = write(tmp_path, text)
    expect_error(
        path,
        "radars[1].capture.ip",
        line_of(text, "ip: 192.168.33.180", 2),
        "already used by radars[0].capture.ip",
    )


def test_duplicate_host_socket(tmp_path: Path) -> None:
    # Two cards sending to the same host address and port cannot be told apart.
    text = base_text().replace("host_ip: 192.168.34.30", "host_ip: 192.168.33.30")
    text = text.replace("ip: 192.168.34.180", "ip: 192.168.33.181")
    path = write(tmp_path, text)
    expect_error(
        path,
        "radars[1].capture.config_port",
        line_of(text, "config_port: 4096", 2),
        "192.168.33.30:4096",
    )


def test_duplicate_serial_port(tmp_path: Path) -> None:
    text = base_text().replace("cli_port: /dev/ttyACM2", "cli_port: /dev/ttyACM1")
    path = write(tmp_path, text)
    expect_error(path, "radars[1].cli_port", line_of(text, "cli_port: /dev/ttyACM1"), "ttyACM1")


def test_bad_ip_address(tmp_path: Path) -> None:
    text = base_text().replace("ip: 192.168.34.180", "ip: 192.168.34.300")
    path = write(tmp_path, text)
    expect_error(path, "radars[1].capture.ip", line_of(text, "192.168.34.300"), "IPv4")


def test_vertical_mounting_needs_rolled_pose(tmp_path: Path) -> None:
    text = base_text().replace("rpy_deg: [-90.0, 0.0, 0.0]", "rpy_deg: [0.0, 0.0, 0.0]")
    path = write(tmp_path, text)
    expect_error(path, "radars[1].pose", line_of(text, "xyz: [0.0, -0.015"), "vertical")


def test_horizontal_mounting_rejects_rolled_pose(tmp_path: Path) -> None:
    text = base_text().replace("mounting: vertical", "mounting: horizontal")
    path = write(tmp_path, text)
    expect_error(path, "radars[1].pose", line_of(text, "xyz: [0.0, -0.015"), "horizontal")


def test_vertical_radar_upside_down_warns(tmp_path: Path) -> None:
    text = base_text().replace("rpy_deg: [-90.0, 0.0, 0.0]", "rpy_deg: [90.0, 0.0, 0.0]")
    with pytest.warns(RigFileWarning, match=r"radars\[1\]\.pose.*DOWN"):
        rig = load_rig(write(tmp_path, text))
    assert rig.radar("vertical").ti_x_axis_in_rig()[2] == pytest.approx(-1.0)


def test_hardware_triggered_cfg_needs_trigger(tmp_path: Path) -> None:
    text = base_text()
    text = text.replace(text[text.index("trigger:") : text.index("cameras:")], "")
    text = text.replace("sync_role: external-trigger", "sync_role: free-run")
    path = write(tmp_path, text)
    expect_error(path, "radars[0].cfg", line_of(text, "hupr_horizontal.cfg"), "no 'trigger'")


def test_trigger_period_must_exceed_frame_period(tmp_path: Path) -> None:
    # 10.1 Hz -> 99.0 ms between pulses, shorter than the cfgs' 99.75 ms frame period.
    text = base_text().replace("rate_hz: 10.0", "rate_hz: 10.1").replace("fps: 10", "fps: 30")
    path = write(tmp_path, text)
    expect_error(path, "radars[0].cfg", line_of(text, "hupr_horizontal.cfg"), "trigger period")


def test_raw_adc_output_needs_lvds_stream(tmp_path: Path) -> None:
    cfg = (
        (CONFIGS / "hupr_horizontal.cfg")
        .read_text()
        .replace("lvdsStreamCfg -1 0 1 0", "lvdsStreamCfg -1 0 0 0")
    )
    (tmp_path / "no_lvds.cfg").write_text(cfg)
    text = base_text().replace(str(CONFIGS / "hupr_horizontal.cfg"), "no_lvds.cfg")
    path = write(tmp_path, text)
    expect_error(path, "radars[0].cfg", line_of(text, "no_lvds.cfg"), "lvdsStreamCfg")


def test_cfg_for_the_wrong_board_is_rejected(tmp_path: Path) -> None:
    # A 60 GHz IWR6843 cfg on a 77 GHz board.
    text = base_text().replace(
        str(CONFIGS / "hupr_horizontal.cfg"), str(CONFIGS / "mission_iwr6843.cfg")
    )
    path = write(tmp_path, text)
    expect_error(path, "radars[0].cfg", line_of(text, "mission_iwr6843.cfg"), "band")


def test_camera_fps_below_trigger_rate(tmp_path: Path) -> None:
    text = base_text().replace("fps: 10", "fps: 5")
    path = write(tmp_path, text)
    expect_error(path, "cameras[0].fps", line_of(text, "fps: 5"), "below the 10 Hz")


def test_unknown_board(tmp_path: Path) -> None:
    text = base_text().replace("board: IWR1843BOOST", "board: IWR1843BOST", 1)
    path = write(tmp_path, text)
    expect_error(path, "radars[0].board", line_of(text, "IWR1843BOST"), "'IWR1843BOOST'")


def test_emulated_device_in_hardware_rig(tmp_path: Path) -> None:
    text = base_text().replace("  port: /dev/ttyUSB0\n", "  port: auto\n  kind: emulated\n")
    path = write(tmp_path, text)
    expect_error(path, "trigger.kind", line_of(text, "kind: emulated"), "simulated: true")


def test_auto_port_needs_emulated_device(tmp_path: Path) -> None:
    text = base_text().replace("cli_port: /dev/ttyACM0", "cli_port: auto")
    path = write(tmp_path, text)
    expect_error(path, "radars[0].cli_port", line_of(text, "cli_port: auto"), "emulated")


def test_serial_number_must_be_quoted(tmp_path: Path) -> None:
    text = base_text().replace("    kind: realsense\n", "    kind: realsense\n    serial: 0123\n")
    path = write(tmp_path, text)
    expect_error(path, "cameras[0].serial", line_of(text, "serial: 0123"), "quote")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = base_text().replace(
        "    board: IWR1843BOOST\n", "    board: IWR1843BOOST\n    board: x\n", 1
    )
    path = write(tmp_path, text)
    expect_error(path, "radars[0].board", line_of(text, "board: x"), "twice")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    text = base_text().replace("rate_hz: 10.0", "rate_hz: [10.0")
    path = write(tmp_path, text)
    with pytest.raises(RigFileError, match=r"not valid YAML") as info:
        load_rig(path)
    assert info.value.line is not None and info.value.line >= line_of(text, "rate_hz")


def test_missing_rig_file(tmp_path: Path) -> None:
    with pytest.raises(RigFileError, match="cannot read rig file"):
        load_rig(tmp_path / "absent.yaml")


# --- manifests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", RIGS, ids=[p.name for p in RIGS])
def test_to_dict_round_trips(path: Path, tmp_path: Path) -> None:
    rig = load_rig(path)
    data = rig.to_dict()
    copy_path = write(tmp_path, yaml.safe_dump(data, sort_keys=False), "copy.yaml")
    again = load_rig(copy_path).to_dict()
    assert again.pop("source") == str(copy_path.resolve())
    data.pop("source")
    assert again == data


def test_parse_rig_without_cfg_checks_skips_trigger_check(tmp_path: Path) -> None:
    text = base_text().replace("rate_hz: 10.0", "rate_hz: 10.1").replace("fps: 10", "fps: 30")
    rig = parse_rig(text, source=tmp_path / "rig.yaml", check_configs=False)
    assert rig.trigger is not None and rig.trigger.rate_hz == pytest.approx(10.1)


def test_docs_example_is_a_valid_rig() -> None:
    text = (REPO / "docs" / "rig_files.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    rig = parse_rig(example, source=CONFIGS / "rigs" / "doc_example.yaml")
    assert rig.radar("vertical").ti_x_axis_in_rig() == pytest.approx((0, 0, 1), abs=1e-12)


def test_unknown_simulated_action_is_rejected(tmp_path: Path) -> None:
    source = Path(__file__).parents[2] / "sensor_configs" / "rigs" / "dual_radar_sim.yaml"
    text = source.read_text().replace("action: walk_wave", "action: moonwalk")
    bad = tmp_path / "rigs" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text(text.replace("cfg: ../", f"cfg: {source.parents[1]}/"))
    with pytest.raises(RigFileError, match=r"simulation\.subject\.action.*moonwalk"):
        load_rig(bad)


def test_recording_compression_is_checked(tmp_path: Path) -> None:
    assert load_rig(CONFIGS / "rigs" / "dual_radar_sim.yaml").recording.compression == "lz4"
    assert load_rig(write(tmp_path, base_text())).recording.compression == "zstd"  # default
    text = base_text() + "recording:\n  compression: brotli\n"
    path = write(tmp_path, text)
    expect_error(path, "recording.compression", line_of(text, "brotli"), "zstd, lz4, none")
