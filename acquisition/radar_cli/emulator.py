"""Emulator of the TI mmWave SDK 3.x demo CLI on a real pseudo terminal.

pyserial opens :attr:`RadarCliEmulator.port_path` like the board's ``/dev/ttyACM0``. The emulator
echoes every line and answers like the xWR18xx/68xx out-of-box demo: ``Done``, ``Error -1`` after
an ``Error: ...`` line, ``'<cmd>' is not recognized as a CLI command``, ``Skipped`` for ``%``
lines, ``Ignored: Sensor is already stopped`` (then ``Done``), then the prompt ``mmwDemo:/>``.

It keeps the configuration received since the last ``flushCfg``; ``sensorStart`` parses it with
:func:`parse_radar_config` and calls ``on_sensor_start(cfg)``, so a capture-card or point-cloud
emulator can start "streaming". Frames then come from trigger pulses (``triggerSelect 2``, with a
:class:`TriggerLine`) or from a ticker thread at the frame period (``triggerSelect 1``)::

    line = TriggerLine()
    with RadarCliEmulator(trigger_line=line, on_frame=print) as board:
        with RadarCli(board.port_path, name="radar_h") as radar:
            radar.configure(load_radar_config("sensor_configs/hupr_horizontal.cfg"), start=True)
        line.fire(TriggerPulse(0, 0, time.monotonic_ns()))   # board.frames_triggered == 1
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from acquisition.emulation.pty_port import PtySerialPort
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.radar.commands import PASS_THROUGH_COMMANDS, TYPED_COMMANDS
from acquisition.radar.config import (
    RadarConfig,
    RadarConfigError,
    parse_command,
    parse_radar_config,
)
from acquisition.radar_cli.protocol import PROMPT

logger = logging.getLogger(__name__)

SensorState = Literal["stopped", "configured", "running"]

#: Commands the emulator needs before the first ``sensorStart`` (``advFrameCfg`` stands in for
#: ``frameCfg``). The real demo also insists on its processing commands (cfarCfg, ...); this
#: smaller set lets minimal test configurations start.
REQUIRED_FOR_START: frozenset[str] = frozenset(
    {"dfeDataOutputMode", "channelCfg", "adcCfg", "adcbufCfg", "profileCfg", "chirpCfg", "frameCfg"}
)

# Commands that act on the sensor instead of being stored as configuration.
_CONTROL_COMMANDS = frozenset(
    {"sensorStart", "sensorStop", "flushCfg", "version", "help", "queryDemoStatus"}
)

# SDK 3.x texts (mmw_cli.c / cli_mmwave.c).
USAGE_ERROR = "Error: Invalid usage of the CLI command"
INCOMPLETE_ERROR = (
    "Error: Full configuration must be provided before sensor can be started the first time"
)


@dataclass(frozen=True)
class FrameEvent:
    """One frame the emulated radar started.

    Attributes:
        index: frame counter since the last ``sensorStart``, from 0.
        host_time_ns: host monotonic clock when the frame started.
        pulse: the trigger pulse that started it (hardware trigger), ``None`` when
            software-triggered.
    """

    index: int
    host_time_ns: int
    pulse: TriggerPulse | None


class RadarCliEmulator(PtySerialPort):
    """The CLI UART of an SDK 3.x demo board.

    Args:
        name: thread/log name.
        platform: ``Platform`` reported by ``version`` and the boot banner.
        sdk_version: SDK version reported the same way.
        boot_garbage: if not ``None``, the board is still booting when the host first talks to
            it: the first line is lost and the board sends these bytes, the banner and the prompt
            (as a real board does when the port is opened during boot). :meth:`reboot` sends them
            at any time.
        fail_on: command name -> error text: that command is answered with the text then
            ``Error -1`` (fault injection).
        silent_after: after this many command lines are answered the board hangs: nothing is
            echoed or answered any more (empty lines included).
        drop_answers: command name -> count: the first ``count`` times that command arrives it
            is applied but its echo and answer are lost (a noisy line).
        answer_delay_s: delay between the echo and the answer of every command, seconds.
        required_commands: commands needed before the first ``sensorStart``.
        trigger_line: the rig's emulated trigger wire (SYNC_IN).
        on_sensor_start: called with the parsed configuration when ``sensorStart`` succeeds
            (before ``Done``); an exception turns the answer into ``Error -1``.
        on_sensor_stop: called when a running sensor is stopped.
        on_frame: called for every frame started (trigger pulse or software tick), from the
            trigger's or the ticker's thread.
    """

    newline = b"\r\n"

    def __init__(
        self,
        *,
        name: str = "radar-cli-emulator",
        platform: str = "xWR18xx",
        sdk_version: str = "03.05.00.04",
        boot_garbage: bytes | None = None,
        fail_on: Mapping[str, str] | None = None,
        silent_after: int | None = None,
        drop_answers: Mapping[str, int] | None = None,
        answer_delay_s: float = 0.0,
        required_commands: frozenset[str] = REQUIRED_FOR_START,
        trigger_line: TriggerLine | None = None,
        on_sensor_start: Callable[[RadarConfig], None] | None = None,
        on_sensor_stop: Callable[[], None] | None = None,
        on_frame: Callable[[FrameEvent], None] | None = None,
    ) -> None:
        super().__init__(name=name)
        self.platform = platform
        self.sdk_version = sdk_version
        self.boot_garbage = boot_garbage
        self.fail_on = dict(fail_on or {})
        self.silent_after = silent_after
        self.drop_answers = dict(drop_answers or {})
        self.answer_delay_s = answer_delay_s
        self.required_commands = required_commands
        self.on_sensor_start = on_sensor_start
        self.on_sensor_stop = on_sensor_stop
        self.on_frame = on_frame
        self.trigger_line = trigger_line

        self._lock = threading.Lock()
        self._booting = boot_garbage is not None
        self._config_lines: list[str] = []
        self._running = False
        self._frame_limit = 0
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()

        #: every non-empty line the CLI task read, in order (including unanswered ones).
        self.received_lines: list[str] = []
        #: every byte the host wrote, in order.
        self.wire = bytearray()
        self.commands_answered = 0
        self.last_config: RadarConfig | None = None
        #: frames started by trigger pulses while running (hardware trigger).
        self.frames_triggered = 0
        #: frames started since the last sensorStart (either trigger mode).
        self.frames_started = 0
        #: pulses seen on the trigger line, running or not.
        self.pulses_received = 0
        self.starts = 0
        self.stops = 0
        if trigger_line is not None:
            trigger_line.subscribe(self._on_pulse)

    # --- state -----------------------------------------------------------------------------------
    @property
    def state(self) -> SensorState:
        """``running`` after sensorStart; ``configured`` when a start would be accepted;
        else ``stopped``."""
        with self._lock:
            if self._running:
                return "running"
            return "configured" if not self._missing() else "stopped"

    @property
    def config_lines(self) -> list[str]:
        """Configuration lines stored since the last ``flushCfg`` (what sensorStart uses)."""
        with self._lock:
            return list(self._config_lines)

    def close(self) -> None:
        if self.trigger_line is not None:
            self.trigger_line.unsubscribe(self._on_pulse)
        self._stop_ticker()
        super().close()

    def __enter__(self) -> RadarCliEmulator:
        self.start()
        return self

    def reboot(self) -> None:
        """Reset the board: configuration lost, sensor stopped, boot output sent now."""
        self._stop_ticker()
        with self._lock:
            self._running = False
            self._config_lines.clear()
        self._send_boot_output()

    # --- host input ------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self.wire += data
        super().on_bytes(data)

    def on_line(self, line: str) -> None:
        if self._booting:
            # The host talked while the board booted: that line is lost.
            self._booting = False
            self._send_boot_output()
            return
        text = " ".join(line.split())
        if self.silent_after is not None and self.commands_answered >= self.silent_after:
            if text:
                self.received_lines.append(text)
            return  # hung
        if not text:
            self.write(line.encode(errors="replace") + self.newline + PROMPT.encode())
            return
        self.received_lines.append(text)
        name = text.split()[0]
        lines = self._answer(text)
        if self.drop_answers.get(name, 0) > 0:
            self.drop_answers[name] -= 1
            return
        self.write(line.encode(errors="replace") + self.newline)
        if self.answer_delay_s > 0:
            time.sleep(self.answer_delay_s)
        self.commands_answered += 1
        self.write("".join(f"{ln}\r\n" for ln in lines).encode() + PROMPT.encode())

    def _answer(self, text: str) -> list[str]:
        """Apply one command; the lines to send back (text lines, then the terminal line)."""
        if text.startswith("%"):
            return ["Skipped"]
        name = text.split()[0]
        if name in self.fail_on:
            return [self.fail_on[name], "Error -1"]
        if name not in TYPED_COMMANDS and name not in PASS_THROUGH_COMMANDS:
            return [f"'{name}' is not recognized as a CLI command"]
        if name == "sensorStart":
            return self._sensor_start()
        if name == "sensorStop":
            return self._sensor_stop()
        if name == "flushCfg":
            with self._lock:
                self._config_lines.clear()
            return ["Done"]
        if name == "version":
            return [*self._version_lines(), "Done"]
        if name == "help":
            return [f"{cmd}" for cmd in sorted(TYPED_COMMANDS)] + ["Done"]
        if name == "queryDemoStatus":
            return [f"Sensor State: {int(self._running)}", "Data port baud rate: 921600", "Done"]
        if name in TYPED_COMMANDS:
            try:
                parse_command(text)
            except RadarConfigError as exc:
                logger.debug("%s: rejected %r: %s", self.name, text, exc.reason)
                return [USAGE_ERROR, "Error -1"]
        with self._lock:
            self._config_lines.append(text)
        return ["Done"]

    # --- sensor ----------------------------------------------------------------------------------
    def _missing(self) -> set[str]:
        present = {line.split()[0] for line in self._config_lines}
        if "advFrameCfg" in present:
            present.add("frameCfg")
        return set(self.required_commands) - present

    def _sensor_start(self) -> list[str]:
        with self._lock:
            if self._running:
                return ["Ignored: Sensor is already started", "Done"]
            if self._missing():
                return [INCOMPLETE_ERROR, "Error -1"]
            text = "\n".join(self._config_lines)
        try:
            cfg = parse_radar_config(text, source=f"{self.name} CLI")
        except RadarConfigError as exc:
            return [f"Error: {exc.reason}", "Error -1"]
        if self.on_sensor_start is not None:
            try:
                self.on_sensor_start(cfg)
            except Exception as exc:
                logger.exception("%s: on_sensor_start failed", self.name)
                return [f"Error: sensor start failed: {exc}", "Error -1"]
        with self._lock:
            self._running = True
            self.last_config = cfg
            self.frames_started = 0
            self.starts += 1
            self._frame_limit = self._num_frames(cfg)
        if not self._hardware_triggered(cfg):
            self._start_ticker(cfg)
        return ["Done"]

    def _sensor_stop(self) -> list[str]:
        with self._lock:
            if not self._running:
                return ["Ignored: Sensor is already stopped", "Done"]
            self._running = False
            self.stops += 1
        self._stop_ticker()
        if self.on_sensor_stop is not None:
            self.on_sensor_stop()
        return ["Done"]

    @staticmethod
    def _hardware_triggered(cfg: RadarConfig) -> bool:
        try:
            return cfg.hardware_triggered
        except RadarConfigError:
            return False  # advanced frame: no frameCfg

    @staticmethod
    def _num_frames(cfg: RadarConfig) -> int:
        try:
            return cfg.frame.num_frames
        except RadarConfigError:
            return 0

    def _next_frame(self, pulse: TriggerPulse | None) -> FrameEvent | None:
        with self._lock:
            if not self._running:
                return None
            if self._frame_limit and self.frames_started >= self._frame_limit:
                return None  # numFrames reached: the sensor stays started but idle
            index = self.frames_started
            self.frames_started += 1
            if pulse is not None:
                self.frames_triggered += 1
        return FrameEvent(index, time.monotonic_ns(), pulse)

    def _on_pulse(self, pulse: TriggerPulse) -> None:
        with self._lock:
            self.pulses_received += 1
            cfg = self.last_config if self._running else None
        if cfg is None or not self._hardware_triggered(cfg):
            return  # a stopped or software-triggered radar does not listen on SYNC_IN
        event = self._next_frame(pulse)
        if event is not None and self.on_frame is not None:
            self.on_frame(event)

    def _start_ticker(self, cfg: RadarConfig) -> None:
        try:
            period_s = cfg.frame.frame_period_ms * 1e-3
        except RadarConfigError:
            return
        self._ticker_stop.clear()

        def tick() -> None:
            # Scheduled on absolute times so the frame clock does not drift with callback time.
            next_time = time.monotonic()
            while not self._ticker_stop.wait(max(0.0, next_time - time.monotonic())):
                event = self._next_frame(None)
                if event is not None and self.on_frame is not None:
                    self.on_frame(event)
                next_time += period_s

        self._ticker = threading.Thread(target=tick, name=f"{self.name}-frames", daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        self._ticker_stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=2.0)

    # --- output ----------------------------------------------------------------------------------
    def _version_lines(self) -> list[str]:
        return [
            f"Platform                : {self.platform}",
            f"mmWave SDK Version      : {self.sdk_version}",
            f"Device Info             : AWR{self.platform[1:].upper()} ES 02.00",
            "RF F/W Version          : 06.02.00.01.20.07.10",
            "RF F/W Patch            : 00.00.00.00.00.00.00",
            "mmWaveLink Version      : 01.02.06.06",
        ]

    def _send_boot_output(self) -> None:
        banner = (
            "******************************************\r\n"
            f"{self.platform} MMW Demo {self.sdk_version}\r\n"
            "******************************************\r\n"
        )
        self.write((self.boot_garbage or b"") + b"\r\n" + banner.encode() + PROMPT.encode())


def random_boot_garbage(size: int = 64, *, seed: int = 0) -> bytes:
    """Bytes like those a board emits while its UART settles at power-up (any value, NULs,
    stray line ends)."""
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))
