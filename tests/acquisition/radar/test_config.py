"""TI .cfg parsing, derived parameters, validation and round-trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from acquisition.cli.radar_config import main as radar_config_main
from acquisition.radar import RadarConfigError, load_radar_config, parse_radar_config
from acquisition.radar.commands import FrameCfg, ProfileCfg
from tests.conftest import repo_cfgs, third_party_cfgs

ALL_CFGS = repo_cfgs() + third_party_cfgs()

HUPR_LIKE = """\
% HuPR-like test configuration
sensorStop
flushCfg
dfeDataOutputMode 1
channelCfg 15 7 0
adcCfg 2 1
adcbufCfg -1 0 1 1 1
profileCfg 0 77 10 6 72 0 0 60.012 1 256 4400 0 0 30
chirpCfg 0 0 0 0 0 0 0 1
chirpCfg 1 1 0 0 0 0 0 2
chirpCfg 2 2 0 0 0 0 0 4
frameCfg 0 2 64 0 99.75 2 0
lowPower 0 0
lvdsStreamCfg -1 0 1 0
sensorStart
"""


def test_third_party_configs_are_present() -> None:
    # tests/data/ti_cfgs holds four real third-party configurations (PROVENANCE.tsv).
    assert len(third_party_cfgs()) >= 4


@pytest.mark.parametrize("path", ALL_CFGS, ids=lambda p: p.name)
def test_every_cfg_parses_validates_and_round_trips(path: Path) -> None:
    cfg = load_radar_config(path)
    errors = [i for i in cfg.validate(trigger_period_s=0.1) if i.severity == "error"]
    assert errors == []
    again = parse_radar_config(cfg.to_text(), source="roundtrip")
    assert [c for _, c in again.commands()] == [c for _, c in cfg.commands()]
    assert again.derived() == cfg.derived()
    # Comments survive the round trip too.
    comments = [ln.text for ln in cfg.lines if ln.command is None]
    assert comments == [ln.text for ln in again.lines if ln.command is None]


def test_hupr_derived_values() -> None:
    d = parse_radar_config(HUPR_LIKE).derived("IWR1843BOOST")
    assert (d["num_tx"], d["num_rx"], d["num_virtual_antennas"]) == (3, 4, 12)
    assert d["chirps_per_frame"] == 192
    # 192 chirps x 4 RX x 256 samples x 4 bytes (REFERENCE section 1: 786,432 bytes per frame).
    assert d["bytes_per_frame"] == 786_432
    # Max range from the IF bandwidth: 4.4 Msps * c / (2 * 60.012 MHz/us) = 10.99 m (paper: 11 m).
    assert d["max_range_m"] == pytest.approx(4.4e6 * 299_792_458 / (2 * 60.012e12), rel=1e-9)
    assert d["max_range_m"] == pytest.approx(11.0, abs=0.05)
    bandwidth = 60.012e12 * 256 / 4.4e6
    assert d["range_resolution_m"] == pytest.approx(299_792_458 / (2 * bandwidth), rel=1e-9)
    lam = 299_792_458 / (77e9 + 60.012e12 * (6e-6 + 256 / 4.4e6 / 2))
    loop = 3 * 82e-6
    assert d["max_velocity_mps"] == pytest.approx(lam / (4 * loop), rel=1e-9)
    assert d["velocity_resolution_mps"] == pytest.approx(lam / (2 * 64 * loop), rel=1e-9)
    assert d["frame_period_ms"] == 99.75
    assert d["hardware_trigger"] is True and d["raw_adc_over_lvds"] is True
    assert d["data_rate_mbps"] == pytest.approx(786_432 * 8 / 0.09975 / 1e6)


def test_tx_order_follows_chirp_cfg_masks() -> None:
    cfg = load_radar_config(next(p for p in third_party_cfgs() if "1843_3d_hw_trig" in p.name))
    # chirp 1 -> tx mask 4 (TX2), chirp 2 -> tx mask 2 (TX1)
    assert cfg.params().tx_order == (0, 2, 1)
    assert cfg.hardware_triggered


@pytest.mark.parametrize(
    ("old", "new", "line", "needle"),
    [
        ("profileCfg 0 77 10 6 72", "profileCfg 0 77 10 20 72", 8, "does not fit in the ramp"),
        ("frameCfg 0 2 64 0 99.75", "frameCfg 0 2 64 0 10", 12, "shorter than the active frame"),
        ("frameCfg 0 2 64", "frameCfg 0 3 64", 12, "no chirpCfg defines it"),
        ("chirpCfg 2 2 0 0 0 0 0 4", "chirpCfg 2 2 1 0 0 0 0 4", 11, "profile 1"),
        ("4400 0 0 30", "14000 0 0 30", 8, "exceeds the xwr18xx limit"),
        ("channelCfg 15 7 0", "channelCfg 15 3 0", 11, "not enabled by channelCfg"),
        ("profileCfg 0 77 ", "profileCfg 0 60 ", 8, "leaves the xwr18xx band"),
        ("10 6 72 0 0 60.012", "10 6 72 0 0 80", 8, "over the 4000 MHz maximum"),
    ],
)
def test_invalid_configs_name_the_line(old: str, new: str, line: int, needle: str) -> None:
    text = HUPR_LIKE.replace(old, new)
    assert text != HUPR_LIKE
    issues = parse_radar_config(text, source="bad.cfg").validate("IWR1843BOOST")
    errors = [i for i in issues if i.severity == "error"]
    assert errors, "expected a validation error"
    assert any(needle in e.message and e.line == line for e in errors), errors
    assert str(errors[0]).startswith("bad.cfg:")


def test_trigger_period_must_exceed_frame_period() -> None:
    cfg = parse_radar_config(HUPR_LIKE.replace("99.75", "100"), source="t.cfg")
    issues = cfg.validate(trigger_period_s=0.1)
    assert [i.line for i in issues if i.severity == "error"] == [12]
    assert [i for i in cfg.validate(trigger_period_s=0.2) if i.severity == "error"] == []
    # The paper's 72 us ramp runs past 81 GHz after the samples: a warning, not an error.
    assert any("band edge" in i.message for i in issues if i.severity == "warning")


def test_data_rate_over_capture_card_is_rejected() -> None:
    # 255 loops x 3 TX x 4 RX x 512 samples at a 30 ms frame: ~ 1.67 Gbit/s average.
    text = HUPR_LIKE.replace("frameCfg 0 2 64 0 99.75 2 0", "frameCfg 0 2 255 0 30 1 0").replace(
        "10 6 72 0 0 60.012 1 256 4400", "2 3 42 0 0 60.012 1 512 12500"
    )
    messages = [i.message for i in parse_radar_config(text).validate() if i.severity == "error"]
    assert any("DCA1000" in m for m in messages) or any("LVDS" in m for m in messages), messages


@pytest.mark.parametrize(
    ("line_text", "needle"),
    [
        ("profileCfg 0 77 10 6 72 0 0 60.012 1 256", "takes 14 arguments"),
        ("frameCfg 0 2 64 0 abc 2 0", "must be a number"),
        ("frameCfg 0 2 64.5 0 100 2 0", "must be an integer"),
        ("frameCfg 0 2 64 0 100 3 0", "trigger select"),
        ("chirpCfg 3 1 0 0 0 0 0 1", "end index"),
    ],
)
def test_parse_errors_name_file_and_line(tmp_path: Path, line_text: str, needle: str) -> None:
    path = tmp_path / "broken.cfg"
    lines = HUPR_LIKE.splitlines()
    lines.insert(12, line_text)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RadarConfigError) as info:
        load_radar_config(path)
    assert info.value.line == 13
    assert needle in str(info.value)
    assert str(info.value).startswith(f"{path}:13:")


def test_unknown_commands_are_kept_with_a_warning() -> None:
    text = HUPR_LIKE.replace("lowPower 0 0", "lowPower 0 0\nfancyNewCmd 1 2 3")
    cfg = parse_radar_config(text)
    warnings = [i for i in cfg.validate() if i.severity == "warning"]
    assert any("fancyNewCmd" in w.message and w.line == 14 for w in warnings)
    assert "fancyNewCmd 1 2 3" in cfg.to_text()


def test_replace_edits_typed_commands() -> None:
    cfg = parse_radar_config(HUPR_LIKE)
    frame = cfg.frame
    faster = cfg.replace(
        FrameCfg(**{**frame.__dict__, "frame_period_ms": 49.5, "trigger_select": 1})
    )
    assert faster.params().frame_period_s == pytest.approx(0.0495)
    assert "frameCfg 0 2 64 0 49.5 1 0" in faster.to_text()
    profile = cfg.profiles[0]
    slower = cfg.replace(ProfileCfg(**{**profile.__dict__, "sample_rate_ksps": 2200.0}))
    assert math.isclose(slower.params().sample_rate_hz, 2.2e6)


def test_show_json_and_check_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.cfg"
    good.write_text(HUPR_LIKE)
    assert radar_config_main(["show", str(good), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    for key in (
        "range_resolution_m",
        "max_range_m",
        "velocity_resolution_mps",
        "max_velocity_mps",
        "num_tx",
        "num_rx",
        "num_virtual_antennas",
        "chirps_per_frame",
        "bytes_per_frame",
        "frame_period_ms",
        "data_rate_mbps",
    ):
        assert key in shown
    assert shown["bytes_per_frame"] == 786_432
    bad = tmp_path / "bad.cfg"
    bad.write_text(HUPR_LIKE.replace("frameCfg 0 2 64 0 99.75", "frameCfg 0 2 64 0 5"))
    assert radar_config_main(["check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{good}: ok" in out
    assert f"{bad}:12: error:" in out
    assert radar_config_main(["check", str(good), "--trigger-period-ms", "100"]) == 0
