"""The CLI emulator seen from the wire (raw pyserial) and its sensor/trigger behaviour."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import serial

from acquisition.emulation import TriggerLine, TriggerPulse
from acquisition.radar import RadarConfig, load_radar_config
from acquisition.radar_cli import RadarCli, RadarCliError
from acquisition.radar_cli.emulator import FrameEvent, RadarCliEmulator
from tests.conftest import repo_cfgs, third_party_cfgs

CFGS = repo_cfgs() + third_party_cfgs()


@contextmanager
def board(**kwargs: Any) -> Iterator[RadarCliEmulator]:
    emu = RadarCliEmulator(**kwargs)
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


def pick_cfg(hardware: bool) -> RadarConfig:
    """A real configuration with the wanted trigger mode (the shortest frame period)."""
    cfgs = [load_radar_config(p) for p in CFGS]
    matching = [c for c in cfgs if c.hardware_triggered == hardware]
    assert matching, f"no {'hardware' if hardware else 'software'}-triggered cfg in {CFGS}"
    return min(matching, key=lambda c: c.frame.frame_period_ms)


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def exchange(port: serial.Serial, line: bytes) -> bytes:
    """Write a line, return every byte up to and including the prompt."""
    port.write(line)
    data = port.read_until(b"mmwDemo:/>")
    assert isinstance(data, bytes)
    return data


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        (b"\n", b"\r\nmmwDemo:/>"),
        (
            b"sensorStop\n",
            b"sensorStop\r\nIgnored: Sensor is already stopped\r\nDone\r\nmmwDemo:/>",
        ),
        (b"adcCfg 2 1\n", b"adcCfg 2 1\r\nDone\r\nmmwDemo:/>"),
        (
            b"adcCfg 2\n",
            b"adcCfg 2\r\nError: Invalid usage of the CLI command\r\nError -1\r\nmmwDemo:/>",
        ),
        (b"% comment\n", b"% comment\r\nSkipped\r\nmmwDemo:/>"),
        (b"xyz 1\n", b"xyz 1\r\n'xyz' is not recognized as a CLI command\r\nmmwDemo:/>"),
        (b"guiMonitor -1 1 0 0 0 0 0\r\n", b"guiMonitor -1 1 0 0 0 0 0\r\nDone\r\nmmwDemo:/>"),
    ],
    ids=["empty", "stop-stopped", "done", "usage", "comment", "unknown", "crlf"],
)
def test_answers_on_the_wire(line: bytes, answer: bytes) -> None:
    with board() as emu, serial.Serial(emu.port_path, 115200, timeout=5) as port:
        assert exchange(port, line) == answer


def test_fail_on_and_flush() -> None:
    with board(fail_on={"lowPower": "Error: no low power here"}) as emu:
        with serial.Serial(emu.port_path, 115200, timeout=5) as port:
            assert exchange(port, b"lowPower 0 0\n") == (
                b"lowPower 0 0\r\nError: no low power here\r\nError -1\r\nmmwDemo:/>"
            )
            exchange(port, b"adcCfg 2 1\n")
            assert emu.config_lines == ["adcCfg 2 1"]
            exchange(port, b"flushCfg\n")
            assert emu.config_lines == []


def test_hardware_trigger_frames_only_while_running() -> None:
    cfg = pick_cfg(hardware=True)
    line = TriggerLine()
    frames: list[FrameEvent] = []
    stops: list[bool] = []

    def pulse(i: int) -> None:
        line.fire(TriggerPulse(i, i * 100_000, time.monotonic_ns()))

    with (
        board(
            trigger_line=line, on_frame=frames.append, on_sensor_stop=lambda: stops.append(True)
        ) as emu,
        RadarCli(emu.port_path, name="radar_h", timeout_s=5.0) as cli,
    ):
        cli.configure(cfg)
        pulse(0)  # configured, not started: SYNC_IN is not listened to
        assert emu.frames_triggered == 0
        cli.start()
        for i in range(1, 4):
            pulse(i)
        assert emu.frames_triggered == 3
        assert [f.index for f in frames] == [0, 1, 2]
        assert [f.pulse.index for f in frames if f.pulse is not None] == [1, 2, 3]
        cli.stop()
        assert stops == [True]
        pulse(4)
        assert emu.frames_triggered == 3
        assert emu.pulses_received == 5
    # A closed emulator leaves the trigger line.
    pulse(5)
    assert emu.pulses_received == 5


def test_software_trigger_ticks_at_the_frame_period() -> None:
    cfg = pick_cfg(hardware=False)
    line = TriggerLine()
    frames: list[FrameEvent] = []
    three = threading.Event()

    def on_frame(event: FrameEvent) -> None:
        frames.append(event)
        if len(frames) >= 3:
            three.set()

    with (
        board(trigger_line=line, on_frame=on_frame) as emu,
        RadarCli(emu.port_path, name="radar_m", timeout_s=5.0) as cli,
    ):
        cli.configure(cfg, start=True)
        assert three.wait(timeout=10.0)
        line.fire(TriggerPulse(0, 0, time.monotonic_ns()))  # ignored: software trigger
        cli.stop()
        count = len(frames)
        assert emu.frames_triggered == 0
        time.sleep(2 * cfg.frame.frame_period_ms * 1e-3)
        assert len(frames) == count  # the ticker stopped with the sensor
    assert [f.index for f in frames] == list(range(count))
    assert all(f.pulse is None for f in frames)
    times = [f.host_time_ns for f in frames]
    assert times == sorted(times)


def test_start_callback_failure_is_an_error_answer() -> None:
    def refuse(cfg: RadarConfig) -> None:
        raise RuntimeError("capture card not armed")

    cfg = pick_cfg(hardware=True)
    with board(on_sensor_start=refuse) as emu, RadarCli(emu.port_path, name="r") as cli:
        cli.configure(cfg)
        with pytest.raises(RadarCliError, match="capture card not armed"):
            cli.start()
        assert emu.state == "configured"


def test_start_twice_is_ignored_and_reboot_forgets_the_config() -> None:
    cfg = pick_cfg(hardware=True)
    with board() as emu, RadarCli(emu.port_path, name="r") as cli:
        cli.configure(cfg, start=True)
        assert cli.start().kind == "ignored"
        assert emu.starts == 1
        emu.reboot()
        assert wait_until(lambda: emu.state == "stopped")
        assert emu.config_lines == []


def test_emulator_port_is_a_real_tty() -> None:
    with board() as emu:
        assert emu.port_path.startswith("/dev/")
        with serial.Serial(emu.port_path, 115200, timeout=1) as port:
            assert port.is_open
