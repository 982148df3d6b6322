"""Driver of the TI mmWave SDK demo CLI (the radar's configuration UART, 115200 baud).

Example::

    from acquisition.radar import load_radar_config
    from acquisition.radar_cli import RadarCli

    cfg = load_radar_config("sensor_configs/hupr_horizontal.cfg")
    with RadarCli("/dev/ttyACM0", name="radar_h") as radar:   # opens, syncs to the prompt
        radar.configure(cfg)          # every line except sensorStart
        radar.start()                 # sensorStart
        ...
        radar.stop()                  # sensorStop

Errors: :class:`RadarCliError` when the board rejects a line (names the radar, the line, the
``.cfg`` file and line number, the error code and the board's message), :class:`DeviceTimeout`
when it does not answer, :class:`DeviceNotFound` when the port cannot be opened.

Retry policy: a command whose answer does not arrive within ``timeout_s`` is sent again, at most
``retries`` times, each time after re-syncing to the prompt, but only if sending it twice is
harmless (see :data:`NON_IDEMPOTENT_COMMANDS`). An answer, even ``Error``, is never retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import serial

from acquisition.errors import DeviceError, DeviceNotFound, DeviceTimeout
from acquisition.radar.commands import RawCommand
from acquisition.radar.config import RadarConfig
from acquisition.radar_cli.protocol import PROMPT, AnswerParser, CliAnswer, normalise_command

logger = logging.getLogger(__name__)

#: Commands that must not be sent twice after a lost answer. ``sensorStart`` starts frames (a
#: second one is ``Ignored`` at best, a restart at worst); ``profileCfg`` and ``chirpCfg`` are
#: *added* to lists in the SDK's mmWave control module, so a repeat duplicates a profile (error)
#: or a chirp (a different frame). Everything else overwrites a setting with the same value.
NON_IDEMPOTENT_COMMANDS: frozenset[str] = frozenset({"sensorStart", "profileCfg", "chirpCfg"})

# How long one read may block: short so that deadlines are checked often, long enough not to
# spin. Not a timeout: the per-command limit is ``timeout_s``.
_POLL_S = 0.02
# During a prompt sync an empty line is sent this often until the prompt comes back.
_SYNC_PROBE_S = 0.25


class SerialPortLike(Protocol):
    """The part of ``serial.Serial`` the driver uses (for other transports and test doubles)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def flush(self) -> None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


SerialFactory = Callable[..., SerialPortLike]


class RadarCliError(DeviceError):
    """The board rejected a command (``Error <n>``, not recognised, or a garbled answer).

    Attributes:
        radar: rig name of the radar (also ``device``).
        command: the line sent, as sent.
        source: the ``.cfg`` file the line came from, ``None`` for a direct :meth:`RadarCli.send`.
        line: line number in ``source`` (1-based), ``None`` for a direct send.
        code: ``n`` of ``Error <n>``; ``None`` for not recognised / garbled answers.
        board_message: the board's text (e.g. ``Error: Invalid usage of the CLI command``).
        answer: the parsed answer.
    """

    def __init__(
        self,
        radar: str,
        command: str,
        answer: CliAnswer,
        *,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.radar = radar
        self.command = command
        self.answer = answer
        self.source = source
        self.line = line
        self.code = answer.code
        self.board_message = answer.board_message
        where = f"{source}:{line}: " if source is not None else ""
        if answer.kind == "error":
            what = f"Error {answer.code}"
            if answer.message:
                what += f" ({self.board_message})"
        elif answer.kind == "not_recognized":
            what = self.board_message
        else:
            what = f"unexpected answer {answer.raw.strip()!r}"
        super().__init__(radar, f"{where}{command!r} rejected by the board: {what}")


@dataclass
class CliStats:
    """Counters of one driver instance (since it was created).

    Attributes:
        commands_sent: command lines written, retries included (empty sync lines excluded).
        retries: re-sends after a lost answer.
        timeouts: commands or prompt syncs that ran out of time.
        ignored: ``Ignored: ...`` answers (tolerated).
        skipped: ``Skipped`` answers (comment lines).
        errors: rejected commands.
        stale_blocks: prompt-terminated output that was not the awaited answer (boot banner,
            late answers, prompts of sync lines), dropped.
        garbage_bytes: bytes dropped that way (and input flushed before a sync).
    """

    commands_sent: int = 0
    retries: int = 0
    timeouts: int = 0
    ignored: int = 0
    skipped: int = 0
    errors: int = 0
    stale_blocks: int = 0
    garbage_bytes: int = 0


@dataclass(frozen=True)
class SentLine:
    """One configuration line and the board's answer to it."""

    line: int
    command: str
    answer: CliAnswer


@dataclass
class ConfigureReport:
    """What :meth:`RadarCli.configure` sent.

    Attributes:
        source: the ``.cfg`` the lines came from.
        sent: every line sent with its answer, in order.
        ignored: the lines answered ``Ignored: ...`` (also logged as warnings).
        started: whether ``sensorStart`` was sent.
    """

    source: str
    sent: list[SentLine] = field(default_factory=list)
    ignored: list[SentLine] = field(default_factory=list)
    started: bool = False


def cfg_command_lines(cfg: RadarConfig) -> list[tuple[int, str, str]]:
    """(line number, command name, text to send) for every command line of ``cfg``.

    The text is the file's own line without its trailing ``%`` comment and with single spaces,
    so the board receives what the user wrote (not a re-formatted number such as ``77`` for
    ``77.0``).
    """
    result = []
    for ln in cfg.lines:
        if ln.command is None:
            continue
        text = normalise_command(ln.text.split("%", 1)[0])
        name = ln.command.name if isinstance(ln.command, RawCommand) else ln.command.NAME
        result.append((ln.number, name, text))
    return result


class RadarCli:
    """One radar's CLI port.

    Args:
        port: serial device (``/dev/ttyACM0``, an emulator's ``/dev/pts/N``).
        name: rig name of the radar, used in every error and log line.
        baudrate: CLI baud rate (115200 for the SDK demos).
        timeout_s: time allowed for one answer (and for one prompt sync), seconds. sensorStart
            on real boards takes up to about a second; the default leaves margin.
        retries: re-sends allowed for an idempotent command whose answer was lost.
        prompt: the firmware's prompt.
        serial_factory: called as ``serial_factory(port, baudrate=..., timeout=...,
            write_timeout=...)``; ``serial.Serial`` by default.

    All public methods are thread-safe: one command is on the wire at a time and
    :meth:`configure` holds the port for the whole file.
    """

    def __init__(
        self,
        port: str,
        *,
        name: str,
        baudrate: int = 115200,
        timeout_s: float = 3.0,
        retries: int = 2,
        prompt: str = PROMPT,
        serial_factory: SerialFactory = serial.Serial,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.port = port
        self.name = name
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self.prompt = prompt
        self.stats = CliStats()
        self._serial_factory = serial_factory
        self._serial: SerialPortLike | None = None
        self._lock = threading.RLock()

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self, *, sync: bool = True) -> RadarCli:
        """Open the port and (by default) wait for a clean prompt; see :meth:`sync_prompt`."""
        with self._lock:
            if self._serial is None:
                try:
                    self._serial = self._serial_factory(
                        self.port,
                        baudrate=self.baudrate,
                        timeout=_POLL_S,
                        write_timeout=self.timeout_s,
                    )
                except (serial.SerialException, OSError) as exc:
                    raise DeviceNotFound(
                        self.name, f"cannot open CLI port {self.port}: {exc}"
                    ) from exc
                logger.info("%s: opened CLI port %s", self.name, self.port)
            if sync:
                try:
                    self.sync_prompt()
                except BaseException:
                    # ``with RadarCli(...)`` does not call __exit__ when __enter__ fails.
                    self.close()
                    raise
        return self

    def close(self) -> None:
        with self._lock:
            if self._serial is not None:
                try:
                    self._serial.close()
                finally:
                    self._serial = None

    def __enter__(self) -> RadarCli:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- prompt ----------------------------------------------------------------------------------
    def sync_prompt(self) -> None:
        """Flush input, then send empty lines until the prompt comes back.

        Boot garbage, a banner and stale answers before the prompt are dropped (counted in
        ``stats.garbage_bytes``). Raises :class:`DeviceTimeout` naming the radar and the port if
        no prompt arrives within ``timeout_s``.
        """
        with self._lock:
            port = self._require_open()
            port.reset_input_buffer()
            deadline = time.monotonic() + self.timeout_s
            received = bytearray()
            prompt = self.prompt.encode("ascii")
            while True:
                self._write(port, b"\n")
                probe_end = min(deadline, time.monotonic() + _SYNC_PROBE_S)
                while time.monotonic() < probe_end:
                    received += self._read_some(port)
                    if (at := received.rfind(prompt)) >= 0:
                        self.stats.garbage_bytes += at
                        if at:
                            logger.debug(
                                "%s: dropped %d bytes before the prompt: %r",
                                self.name,
                                at,
                                bytes(received[:at][-80:]),
                            )
                        return
                if time.monotonic() >= deadline:
                    break
            self.stats.timeouts += 1
            self.stats.garbage_bytes += len(received)
            tail = bytes(received[-60:])
            raise DeviceTimeout(
                self.name,
                f"no CLI prompt {self.prompt!r} on {self.port} within {self.timeout_s:g} s "
                f"({len(received)} bytes received{f', last {tail!r}' if tail else ''}); "
                "is the board powered, flashed with the demo and on this port?",
            )

    # --- commands --------------------------------------------------------------------------------
    def send(
        self, command: str, *, source: str | None = None, line: int | None = None
    ) -> CliAnswer:
        """Send one command line and return the board's answer.

        ``done``, ``ignored`` (logged, counted) and ``skipped`` answers are returned; an
        ``Error``, not-recognised or garbled answer raises :class:`RadarCliError`; no answer
        within ``timeout_s`` (after the allowed retries) raises :class:`DeviceTimeout`.
        ``source``/``line`` name the ``.cfg`` line in errors and logs.
        """
        text = normalise_command(command)
        if not text:
            raise ValueError("send() needs a command; use sync_prompt() for an empty line")
        name = text.split()[0]
        where = f"{source}:{line}: " if source is not None else ""
        retryable = name not in NON_IDEMPOTENT_COMMANDS
        attempts = 1 + (self.retries if retryable else 0)
        with self._lock:
            port = self._require_open()
            for attempt in range(attempts):
                if attempt:
                    self.stats.retries += 1
                    logger.warning(
                        "%s: %s%r: no answer within %g s, retry %d of %d",
                        self.name,
                        where,
                        text,
                        self.timeout_s,
                        attempt,
                        self.retries,
                    )
                    try:
                        self.sync_prompt()
                    except DeviceTimeout:
                        continue  # the board is still busy or hung: this retry is spent
                answer = self._exchange(port, text)
                if answer is not None:
                    return self._check(answer, text, where, source, line)
            reason = "retries: not idempotent" if not retryable else f"{attempts} attempts"
            raise DeviceTimeout(
                self.name,
                f"{where}{text!r}: no answer from {self.port} within {self.timeout_s:g} s "
                f"({reason})",
            )

    def _exchange(self, port: SerialPortLike, text: str) -> CliAnswer | None:
        """Write one line, read until its answer's prompt; ``None`` on timeout."""
        parser = AnswerParser(text, prompt=self.prompt)
        logger.debug("%s: > %s", self.name, text)
        self._write(port, text.encode("ascii") + b"\n")
        self.stats.commands_sent += 1
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            answer = parser.feed(self._read_some(port))
            if parser.stale_blocks:
                for block in parser.stale_blocks:
                    self.stats.stale_blocks += 1
                    self.stats.garbage_bytes += len(block) + len(self.prompt)
                    logger.debug("%s: dropped stale output %r", self.name, block[-80:])
                parser.stale_blocks.clear()
            if answer is not None:
                logger.debug("%s: < %s", self.name, answer.raw.strip().replace("\r\n", " | "))
                return answer
        self.stats.timeouts += 1
        pending = parser.pending
        logger.debug("%s: timeout on %r, pending %r", self.name, text, pending[-80:])
        return None

    def _check(
        self, answer: CliAnswer, text: str, where: str, source: str | None, line: int | None
    ) -> CliAnswer:
        if answer.kind == "ignored":
            self.stats.ignored += 1
            logger.info("%s: %s%r: %s", self.name, where, text, answer.board_message)
        elif answer.kind == "skipped":
            self.stats.skipped += 1
        elif not answer.ok:
            self.stats.errors += 1
            error = RadarCliError(self.name, text, answer, source=source, line=line)
            logger.error("%s", error)
            raise error
        return answer

    def configure(self, cfg: RadarConfig, *, start: bool = False) -> ConfigureReport:
        """Send every command line of ``cfg`` in file order and stop at the first rejection.

        The file is followed as written (its own ``sensorStop``/``flushCfg`` come first in TI's
        files); comment lines are not sent. ``sensorStart`` lines are left out unless
        ``start=True``, so that capture cards can be armed before frames flow (then call
        :meth:`start`). Raises :class:`RadarCliError` naming ``cfg.source`` and the line.
        """
        report = ConfigureReport(source=cfg.source)
        with self._lock:
            logger.info("%s: configuring from %s", self.name, cfg.source)
            for number, name, text in cfg_command_lines(cfg):
                if name == "sensorStart" and not start:
                    continue
                answer = self.send(text, source=cfg.source, line=number)
                sent = SentLine(number, text, answer)
                report.sent.append(sent)
                if answer.kind == "ignored":
                    report.ignored.append(sent)
                if name == "sensorStart":
                    report.started = True
            logger.info(
                "%s: %d lines of %s accepted (%d ignored)%s",
                self.name,
                len(report.sent),
                cfg.source,
                len(report.ignored),
                ", sensor started" if report.started else "",
            )
        return report

    def start(self) -> CliAnswer:
        """``sensorStart``: frames begin (on trigger pulses for ``triggerSelect 2``). Never
        retried after a lost answer."""
        return self.send("sensorStart")

    def stop(self) -> CliAnswer:
        """``sensorStop``; ``Ignored: Sensor is already stopped`` is returned, not raised."""
        return self.send("sensorStop")

    def query_version(self) -> dict[str, str]:
        """The ``version`` command's ``key : value`` lines (``Platform``, ``mmWave SDK
        Version``, ...); lines without a colon are kept under their own text."""
        answer = self.send("version")
        info: dict[str, str] = {}
        for text in answer.message:
            key, sep, value = text.partition(":")
            info[key.strip() if sep else text] = value.strip()
        return info

    # --- I/O -------------------------------------------------------------------------------------
    def _require_open(self) -> SerialPortLike:
        if self._serial is None:
            raise DeviceError(self.name, f"CLI port {self.port} is not open")
        return self._serial

    def _write(self, port: SerialPortLike, data: bytes) -> None:
        try:
            port.write(data)
            port.flush()
        except serial.SerialTimeoutException as exc:
            self.stats.timeouts += 1
            raise DeviceTimeout(self.name, f"write to {self.port} timed out") from exc
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(self.name, f"write to {self.port} failed: {exc}") from exc

    def _read_some(self, port: SerialPortLike) -> bytes:
        try:
            return port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(self.name, f"read from {self.port} failed: {exc}") from exc
