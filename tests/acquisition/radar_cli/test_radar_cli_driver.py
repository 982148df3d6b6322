"""RadarCli against the CLI emulator over real pseudo terminals, opened by real pyserial."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from acquisition.errors import DeviceNotFound, DeviceTimeout
from acquisition.radar import RadarConfig, load_radar_config
from acquisition.radar_cli import RadarCli, RadarCliError
from acquisition.radar_cli.driver import cfg_command_lines
from acquisition.radar_cli.emulator import (
    INCOMPLETE_ERROR,
    USAGE_ERROR,
    RadarCliEmulator,
    random_boot_garbage,
)
from tests.conftest import repo_cfgs, third_party_cfgs

# The lab's own configurations where they exist; the third-party ones are always there.
CFGS = repo_cfgs() + third_party_cfgs()
# Generous for loaded CI machines; only the fault tests wait for it to expire, with short values.
TIMEOUT_S = 5.0


@contextmanager
def board(**kwargs: Any) -> Iterator[RadarCliEmulator]:
    emu = RadarCliEmulator(**kwargs)
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


@contextmanager
def radar(emu: RadarCliEmulator, **kwargs: Any) -> Iterator[RadarCli]:
    options: dict[str, Any] = {"name": "radar_h", "timeout_s": TIMEOUT_S, **kwargs}
    with RadarCli(emu.port_path, **options) as cli:
        yield cli


def state(emu: RadarCliEmulator) -> str:
    # A function, not the property inline: mypy would narrow emu.state across sends.
    return emu.state


def expected_lines(cfg: RadarConfig, *, start: bool) -> list[str]:
    return [text for _, name, text in cfg_command_lines(cfg) if start or name != "sensorStart"]


def first_cfg() -> Path:
    return CFGS[0]


def test_there_are_configurations_to_send() -> None:
    assert len(CFGS) >= 4


@pytest.mark.parametrize("path", CFGS, ids=lambda p: p.name)
def test_configure_sends_every_line_in_order(path: Path) -> None:
    cfg = load_radar_config(path)
    started: list[RadarConfig] = []
    with board(on_sensor_start=started.append) as emu, radar(emu) as cli:
        report = cli.configure(cfg)
        lines = expected_lines(cfg, start=False)
        # The board read exactly the file's command lines, in order, and nothing else.
        assert emu.received_lines == lines
        assert [s.command for s in report.sent] == lines
        assert [s.line for s in report.sent] == [n for n, name, _ in cfg_command_lines(cfg)][
            : len(lines)
        ]
        # On the wire: "<line>\n" per command, only empty lines besides (prompt syncs).
        assert b"\r" not in emu.wire
        assert [seg for seg in bytes(emu.wire).split(b"\n") if seg] == [ln.encode() for ln in lines]
        assert emu.wire.endswith(b"\n")
        assert state(emu) == "configured"
        assert started == []
        # TI's files begin with sensorStop: the stopped board answers "Ignored", tolerated.
        assert cli.stats.ignored == len(report.ignored) == 1
        assert cli.stats.commands_sent == len(lines)
        assert cli.stats.errors == cli.stats.retries == 0

        cli.start()
        assert state(emu) == "running"
        assert len(started) == 1
        # The emulator parsed what it received since flushCfg: the file's configuration.
        control = {"sensorStop", "sensorStart", "flushCfg"}
        want = [c for _, c in cfg.commands() if c.to_line().split()[0] not in control]
        assert [c for _, c in started[0].commands()] == want
        assert started[0].frame == cfg.frame
        assert emu.last_config is started[0]


def test_configure_with_start_sends_sensor_start() -> None:
    cfg = load_radar_config(first_cfg())
    with board() as emu, radar(emu) as cli:
        report = cli.configure(cfg, start=True)
        assert report.started
        assert emu.received_lines == expected_lines(cfg, start=True)
        assert state(emu) == "running"
        assert cli.stop().kind == "done"
        assert state(emu) == "configured"


def test_boot_garbage_is_skipped() -> None:
    garbage = random_boot_garbage(300, seed=7)
    with board(boot_garbage=garbage) as emu, radar(emu) as cli:
        assert cli.stats.garbage_bytes >= len(garbage)
        assert cli.send("adcCfg 2 1").kind == "done"
        # A board reset in the middle of a session: banner and prompt arrive unasked.
        emu.reboot()
        assert cli.send("channelCfg 15 7 0").kind == "done"
        assert cli.stats.stale_blocks >= 1
        assert emu.received_lines == ["adcCfg 2 1", "channelCfg 15 7 0"]


def test_error_names_radar_file_line_and_board_message() -> None:
    path = first_cfg()
    cfg = load_radar_config(path)
    lines = cfg_command_lines(cfg)
    failing = next(i for i, (_, name, _) in enumerate(lines) if name == "cfarCfg")
    with board(fail_on={"cfarCfg": "Error: CFAR config invalid"}) as emu, radar(emu) as cli:
        with pytest.raises(RadarCliError) as info:
            cli.configure(cfg, start=True)
        err = info.value
        number, _, text = lines[failing]
        assert (err.radar, err.device, err.source, err.line) == (
            "radar_h",
            "radar_h",
            cfg.source,
            number,
        )
        assert (err.command, err.code, err.board_message) == (
            text,
            -1,
            "Error: CFAR config invalid",
        )
        message = str(err)
        for part in ("radar_h", f"{path}:{number}", text, "Error -1", "CFAR config invalid"):
            assert part in message
        # The failing line was the last one the board saw.
        assert emu.received_lines == [t for _, _, t in lines[: failing + 1]]
        assert state(emu) != "running"
        assert cli.stats.errors == 1
        assert cli.stats.retries == 0


def test_wrong_argument_count_is_the_boards_usage_error() -> None:
    with board() as emu, radar(emu) as cli:
        with pytest.raises(RadarCliError) as info:
            cli.send("channelCfg 15 7")
        assert info.value.code == -1
        assert info.value.board_message == USAGE_ERROR
        assert info.value.source is None
        assert emu.config_lines == []


def test_unrecognised_command() -> None:
    with board() as emu, radar(emu) as cli:
        with pytest.raises(RadarCliError) as info:
            cli.send("fooCfg 1 2")
        assert info.value.answer.kind == "not_recognized"
        assert info.value.code is None
        assert "'fooCfg' is not recognized as a CLI command" in str(info.value)


def test_start_without_configuration_is_rejected() -> None:
    with board() as emu, radar(emu) as cli:
        with pytest.raises(RadarCliError) as info:
            cli.start()
        assert info.value.board_message == INCOMPLETE_ERROR
        assert state(emu) == "stopped"


def test_stop_when_stopped_is_tolerated_and_counted() -> None:
    with board() as emu, radar(emu) as cli:
        answer = cli.stop()
        assert answer.kind == "ignored"
        assert answer.message == ("Ignored: Sensor is already stopped",)
        assert cli.stats.ignored == 1
        assert emu.stops == 0


def test_silent_board_times_out_after_bounded_retries() -> None:
    with board(silent_after=2) as emu, radar(emu, timeout_s=0.2, retries=2) as cli:
        cli.send("adcCfg 2 1")
        cli.send("lowPower 0 0")
        with pytest.raises(DeviceTimeout) as info:
            cli.send("guiMonitor -1 1 0 0 0 0 0")
        assert info.value.device == "radar_h"
        assert emu.port_path in str(info.value)
        assert "guiMonitor" in str(info.value)
        assert cli.stats.retries == 2
        # The hung board never gave a prompt back, so the line was not written again.
        assert emu.received_lines.count("guiMonitor -1 1 0 0 0 0 0") == 1
        assert cli.stats.timeouts == 3  # the command, then one prompt sync per retry


def test_lost_answer_of_idempotent_command_is_retried() -> None:
    line = "cfarCfg -1 0 2 8 4 3 0 15 1"
    with board(drop_answers={"cfarCfg": 1}) as emu, radar(emu, timeout_s=0.3) as cli:
        assert cli.send(line).kind == "done"
        assert cli.stats.retries == 1
        assert emu.received_lines.count(line) == 2


def test_lost_answer_of_sensor_start_is_not_retried() -> None:
    cfg = load_radar_config(first_cfg())
    with board(drop_answers={"sensorStart": 1}) as emu, radar(emu, timeout_s=0.3) as cli:
        cli.configure(cfg)
        with pytest.raises(DeviceTimeout, match="not idempotent"):
            cli.start()
        assert cli.stats.retries == 0
        assert emu.received_lines.count("sensorStart") == 1
        assert state(emu) == "running"  # it did start: a second sensorStart would be wrong


def test_slow_answer_within_the_timeout_and_past_it() -> None:
    with board(answer_delay_s=0.05) as emu, radar(emu) as cli:
        assert cli.send("adcCfg 2 1").kind == "done"
    with board(answer_delay_s=0.4) as emu, radar(emu, timeout_s=0.1, retries=0) as cli:
        with pytest.raises(DeviceTimeout, match="1 attempts"):
            cli.send("adcCfg 2 1")
        assert cli.stats.timeouts == 1


def test_no_prompt_on_open_names_radar_and_port() -> None:
    with board(silent_after=0) as emu:
        cli = RadarCli(emu.port_path, name="radar_v", timeout_s=0.3)
        with pytest.raises(DeviceTimeout) as info:
            cli.open()
        assert info.value.device == "radar_v"
        assert emu.port_path in str(info.value)
        assert not cli.is_open  # a failed open() leaves no port behind


def test_missing_port_is_device_not_found(tmp_path: Path) -> None:
    cli = RadarCli(str(tmp_path / "ttyACM9"), name="radar_h")
    with pytest.raises(DeviceNotFound, match="radar_h"):
        cli.open()
    assert not cli.is_open


def test_query_version() -> None:
    with board(platform="xWR68xx", sdk_version="03.06.00.00") as emu, radar(emu) as cli:
        info = cli.query_version()
        assert info["Platform"] == "xWR68xx"
        assert info["mmWave SDK Version"] == "03.06.00.00"


def test_concurrent_senders_share_the_port() -> None:
    errors: list[BaseException] = []
    with board() as emu, radar(emu) as cli:

        def worker(commands: list[str]) -> None:
            try:
                for command in commands:
                    assert cli.send(command).command == command
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)

        a = [f"clutterRemoval -1 {i % 2}" for i in range(15)]
        b = [f"extendedMaxVelocity -1 {i % 2}" for i in range(15)]
        threads = [threading.Thread(target=worker, args=(c,)) for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert sorted(emu.received_lines) == sorted(a + b)
        assert cli.stats.commands_sent == 30


def test_send_rejects_empty_command_and_closed_port() -> None:
    with board() as emu:
        cli = RadarCli(emu.port_path, name="radar_h")
        with pytest.raises(Exception, match="not open"):
            cli.send("adcCfg 2 1")
        with cli:
            with pytest.raises(ValueError):
                cli.send("   ")
