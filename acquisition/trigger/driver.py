"""Host driver of the trigger microcontroller (protocol v1, ``docs/trigger_protocol.md``).

A reader thread parses everything the board sends: command answers go to the waiting command,
pulse reports become :class:`PulseRecord` objects (a queue, and an optional callback), status
lines update :attr:`TriggerBoard.last_status`. Losses are counted and recorded, never hidden: a
gap in pulse indexes is a :class:`PulseGap`; a board that stops reporting while running is a
silent episode, and waiting for a pulse from it raises :class:`DeviceTimeout`.

Usage::

    with TriggerBoard("/dev/ttyACM0", name="trigger") as board:
        board.set_rate(10.0)
        board.set_width(1000)
        board.arm()
        board.start()
        pulse = board.get_pulse()          # PulseRecord(index=0, board_time_us=..., ...)
        board.stop()
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import serial

from acquisition.errors import DeviceError, DeviceTimeout
from acquisition.serial_reader import SerialReaderPort
from acquisition.trigger.clock import TriggerClock
from acquisition.trigger.protocol import (
    DEFAULT_PERIOD_US,
    PROTOCOL_VERSION,
    START_LEAD_US,
    BoardState,
    ErrorCode,
    ErrReply,
    LineAssembler,
    OkReply,
    ProtocolError,
    PulseReport,
    StatusReport,
    encode_command,
    parse_message,
)


@dataclass(frozen=True)
class PulseRecord:
    """One pulse report as received.

    Attributes:
        index: pulse index, from 0 after START.
        board_time_us: board clock at the rising edge (us).
        host_receive_ns: ``time.monotonic_ns()`` when the report's bytes were read (ns); later
            than the edge by the transport latency (use :class:`TriggerClock` for the edge).
        wall_receive_ns: ``time.time_ns()`` at the same moment (ns since the Unix epoch).
        missed_before: pulse indexes missing right before this one (0 when none).
    """

    index: int
    board_time_us: int
    host_receive_ns: int
    wall_receive_ns: int
    missed_before: int = 0


@dataclass(frozen=True)
class PulseGap:
    """Pulses fired by the board whose reports never arrived: indexes ``first_missing`` to
    ``first_missing + count - 1``, noticed at host monotonic time ``detected_ns``."""

    first_missing: int
    count: int
    detected_ns: int


@dataclass(frozen=True)
class BoardVersion:
    protocol: int
    firmware: str
    board: str


@dataclass(frozen=True)
class TriggerStats:
    """Counters of one driver session.

    Attributes:
        pulses_received: valid pulse reports.
        missed_reports: pulses known fired but never reported (sum of all gaps).
        gaps: number of gap events.
        out_of_order: reports whose index was not above the previous one (duplicates, resets).
        bad_lines: lines dropped for a bad checksum or syntax, plus over-long garbage runs.
        silent_episodes: times the running board went quiet for ``silence_periods`` periods.
        unexpected_replies: answers that matched no waiting command (e.g. after a timeout).
        queue_overflows: pulse records dropped because nobody consumed the queue.
        callback_errors: exceptions raised by ``on_pulse`` (the last one is kept in
            :attr:`TriggerBoard.callback_error`).
        board_dropped_reports: reports the board itself could not send (from its last S line).
    """

    pulses_received: int
    missed_reports: int
    gaps: int
    out_of_order: int
    bad_lines: int
    silent_episodes: int
    unexpected_replies: int
    queue_overflows: int
    callback_errors: int
    board_dropped_reports: int


class TriggerCommandError(DeviceError):
    """The board answered ``ERR``; ``command`` and ``code`` (:class:`ErrorCode`) say which."""

    def __init__(self, device: str, command: str, code: int, text: str) -> None:
        try:
            code_name = ErrorCode(code).name
        except ValueError:
            code_name = f"code {code}"
        super().__init__(device, f"{command} refused: {code_name}: {text}")
        self.command = command
        self.code = code
        self.text = text


PulseCallback = Callable[[PulseRecord], None]


class TriggerBoard(SerialReaderPort):
    """Driver of one trigger board on a serial port.

    Args:
        port: serial device (``/dev/ttyACM0``, an emulator's ``/dev/pts/N``).
        name: rig name of the board; every error names it.
        baudrate: serial speed (bit/s).
        timeout_s: how long a command waits for its answer (s).
        boot_timeout_s: how long :meth:`hello` keeps pinging a board that is still booting (s);
            an Arduino Uno/Nano resets when the port opens and needs about 2 s.
        silence_periods: a running board that reports no pulse for this many periods (plus the
            start lead) is silent.
        on_pulse: called from the reader thread for every pulse record; keep it short.
        clock: if given, every pulse report is added to it.
        max_queued_pulses: pulse records kept for :meth:`get_pulse`; older ones are dropped and
            counted when nobody consumes them.
    """

    def __init__(
        self,
        port: str,
        *,
        name: str = "trigger",
        baudrate: int = 115200,
        timeout_s: float = 2.0,
        boot_timeout_s: float = 3.0,
        silence_periods: float = 5.0,
        on_pulse: PulseCallback | None = None,
        clock: TriggerClock | None = None,
        max_queued_pulses: int = 100_000,
    ) -> None:
        self.port = port
        self.name = name
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.boot_timeout_s = boot_timeout_s
        self.silence_periods = silence_periods
        self.on_pulse = on_pulse
        self.clock = clock
        self.version: BoardVersion | None = None
        self.last_status: StatusReport | None = None
        self.gaps: list[PulseGap] = []
        self.callback_error: Exception | None = None

        super().__init__()
        self._write_lock = threading.Lock()
        self._command_lock = threading.Lock()
        self._replies: queue.Queue[OkReply | ErrReply] = queue.Queue()
        self._pulses: deque[PulseRecord] = deque()
        self._max_queued = max_queued_pulses
        self._cond = threading.Condition()  # guards everything below and the pulse queue
        self._assembler = LineAssembler()
        self._reader_error: BaseException | None = None
        self._period_us = DEFAULT_PERIOD_US
        self._running = False
        self._next_index: int | None = None  # None: unknown (connected mid-run)
        self._last_activity_ns = 0
        self._silent = False
        self._counts = dict.fromkeys(
            (
                "pulses_received",
                "missed_reports",
                "gaps",
                "out_of_order",
                "bad_lines",
                "silent_episodes",
                "unexpected_replies",
                "queue_overflows",
                "callback_errors",
            ),
            0,
        )

    # --- lifecycle -----------------------------------------------------------------------------
    def open(self, *, hello: bool = True) -> TriggerBoard:
        """Open the port, start the reader thread and (by default) check the board with
        :meth:`hello`. Raises :class:`DeviceNotFound` when the port cannot be opened."""
        if not self._open_port(write_timeout=self.timeout_s):
            return self
        if hello:
            try:
                self.hello()
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Stop the reader and close the port. The board keeps its state (a running board keeps
        pulsing): call :meth:`stop` first to stop it."""
        super().close()

    def __enter__(self) -> TriggerBoard:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands ------------------------------------------------------------------------------
    def hello(self) -> BoardVersion:
        """Wait for the board to answer PING (it may be booting), then check its protocol
        version. Raises :class:`DeviceTimeout` or :class:`DeviceError` (wrong protocol)."""
        self._write(b"\n")  # flush any partial line out of the board's input buffer
        deadline = time.monotonic() + self.boot_timeout_s
        while True:
            try:
                self._command("PING", timeout_s=min(0.5, self.timeout_s))
                break
            except DeviceTimeout:
                if time.monotonic() >= deadline:
                    raise DeviceTimeout(
                        self.name, f"no answer to PING on {self.port} for {self.boot_timeout_s} s"
                    ) from None
        reply = self._command("VERSION")
        try:
            protocol = int(reply.fields.get("protocol", ""))
        except ValueError:
            raise DeviceError(self.name, f"VERSION answer without protocol: {reply}") from None
        if protocol != PROTOCOL_VERSION:
            raise DeviceError(
                self.name, f"board speaks protocol {protocol}, driver needs {PROTOCOL_VERSION}"
            )
        self.version = BoardVersion(
            protocol, reply.fields.get("firmware", "?"), reply.fields.get("board", "?")
        )
        return self.version

    def ping(self) -> None:
        self._command("PING")

    def set_rate(self, rate_hz: float) -> int:
        """Set the pulse rate (Hz, board must be IDLE); returns the effective period (us)."""
        return self._set_period(self._command("RATE", f"{rate_hz:.9g}"))

    def set_period_us(self, period_us: int) -> int:
        """Set the pulse period (us, board must be IDLE); returns the effective period (us)."""
        return self._set_period(self._command("PERIOD", int(period_us)))

    def _set_period(self, reply: OkReply) -> int:
        period = self._int_field(reply, "period_us")
        with self._cond:
            self._period_us = period
        return period

    def set_width(self, width_us: int) -> int:
        """Set the pulse width (us, board must be IDLE); returns the effective width (us)."""
        return self._int_field(self._command("WIDTH", int(width_us)), "width_us")

    def arm(self) -> None:
        """Lock the configuration and reset the board's pulse counter (output held low)."""
        self._command("ARM")

    def start(self, count: int | None = None) -> None:
        """Start pulsing (board must be ARMED): ``count`` pulses, or until :meth:`stop`. The first
        edge follows about 1 ms after the answer; its index is 0."""
        if count is None:
            self._command("START")
        else:
            self._command("START", int(count))

    def stop(self) -> int:
        """Stop pulsing; returns the number of pulses fired since ARM."""
        return self._int_field(self._command("STOP"), "pulses")

    def status(self) -> StatusReport:
        """Ask the board for its state (the ``S`` line that precedes ``OK STATUS``)."""
        with self._cond:
            self.last_status = None
        self._command("STATUS")
        with self._cond:
            if self.last_status is None:
                raise DeviceError(self.name, "STATUS answered OK without an S line")
            return self.last_status

    # --- pulses --------------------------------------------------------------------------------
    def get_pulse(self, timeout_s: float | None = None) -> PulseRecord:
        """The oldest unread pulse record. Waits at most ``timeout_s`` (default: the silence
        threshold, ``silence_periods`` periods plus the start lead) and then raises
        :class:`DeviceTimeout`."""
        if timeout_s is None:
            timeout_s = self._silence_threshold_ns() / 1e9
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._pulses:
                self._raise_reader_error()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    state = "running" if self._running else "not running"
                    raise DeviceTimeout(
                        self.name,
                        f"no pulse report for {timeout_s:.3g} s (board {state}, period "
                        f"{self._period_us} us, {self._counts['silent_episodes']} silent "
                        "episodes)",
                    )
                self._cond.wait(remaining)
            return self._pulses.popleft()

    def get_pulses(self, n: int, timeout_s: float | None = None) -> list[PulseRecord]:
        """``n`` pulse records; ``timeout_s`` applies to each one (see :meth:`get_pulse`)."""
        return [self.get_pulse(timeout_s) for _ in range(n)]

    def drain_pulses(self) -> list[PulseRecord]:
        """All unread pulse records, without waiting."""
        with self._cond:
            records = list(self._pulses)
            self._pulses.clear()
            return records

    @property
    def silent(self) -> bool:
        """True while the running board has been quiet longer than the silence threshold."""
        with self._cond:
            return self._silent

    def stats(self) -> TriggerStats:
        with self._cond:
            status = self.last_status
            return TriggerStats(
                **self._counts,
                board_dropped_reports=status.dropped_reports if status is not None else 0,
            )

    # --- internals -----------------------------------------------------------------------------
    def _int_field(self, reply: OkReply, key: str) -> int:
        try:
            return int(reply.fields[key])
        except (KeyError, ValueError):
            raise DeviceError(self.name, f"OK {reply.command} without {key}: {reply}") from None

    def _silence_threshold_ns(self) -> int:
        with self._cond:
            return int((self.silence_periods * self._period_us + START_LEAD_US) * 1000)

    def _raise_reader_error(self) -> None:
        if self._reader_error is not None:
            raise DeviceError(
                self.name, f"reader stopped: {self._reader_error}"
            ) from self._reader_error

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise DeviceError(self.name, "port is not open")
        try:
            with self._write_lock:
                self._serial.write(data)
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(self.name, f"write to {self.port} timed out") from exc
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(self.name, f"write to {self.port} failed: {exc}") from exc

    def _command(self, name: str, *args: object, timeout_s: float | None = None) -> OkReply:
        """Send one command and wait for its answer. A command the board received corrupted
        (``ERR 2``) was not executed and is sent again, twice at most."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._command_lock:
            for attempt in range(3):
                self._raise_reader_error()
                while True:  # answers to earlier, timed-out commands are stale now
                    try:
                        self._replies.get_nowait()
                    except queue.Empty:
                        break
                    self._count("unexpected_replies")
                self._write(encode_command(name, *args))
                reply = self._wait_reply(name, time.monotonic() + timeout)
                if isinstance(reply, OkReply):
                    return reply
                if reply.code == ErrorCode.BAD_CHECKSUM and attempt < 2:
                    continue
                raise TriggerCommandError(self.name, name, reply.code, reply.text)
        raise AssertionError("unreachable")

    def _wait_reply(self, name: str, deadline: float) -> OkReply | ErrReply:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._raise_reader_error()
                raise DeviceTimeout(self.name, f"no answer to {name} on {self.port}")
            try:
                reply = self._replies.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                self._raise_reader_error()
                continue
            if reply.command in (name, "?"):
                return reply
            self._count("unexpected_replies")

    def _count(self, key: str, n: int = 1) -> None:
        with self._cond:
            self._counts[key] += n

    def _read_loop(self) -> None:
        port = self._serial
        assert port is not None
        while not self._stop.is_set():
            try:
                # read(1) returns as soon as a byte is there: the receive time stays tight.
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError, ValueError) as exc:
                if not self._stop.is_set():
                    with self._cond:
                        self._reader_error = exc
                        self._cond.notify_all()
                return
            now_ns, wall_ns = time.monotonic_ns(), time.time_ns()
            if data:
                overlong = self._assembler.overlong_lines
                for line in self._assembler.feed(data):
                    self._handle_line(line, now_ns, wall_ns)
                if self._assembler.overlong_lines != overlong:
                    self._count("bad_lines", self._assembler.overlong_lines - overlong)
            self._check_silence(time.monotonic_ns())

    def _handle_line(self, line: str, now_ns: int, wall_ns: int) -> None:
        try:
            message = parse_message(line)
        except ProtocolError:
            self._count("bad_lines")
            return
        if isinstance(message, PulseReport):
            self._handle_pulse(message, now_ns, wall_ns)
        elif isinstance(message, StatusReport):
            with self._cond:
                self.last_status = message
                self._period_us = message.period_us
                self._reconcile_count(message.pulses, now_ns)
                if message.state != BoardState.RUNNING:
                    self._running = False
                    self._silent = False
        else:
            if isinstance(message, OkReply):
                self._track_state(message, now_ns)
            self._replies.put(message)

    def _track_state(self, reply: OkReply, now_ns: int) -> None:
        # Done here, in line order, so that pulse reports around the answer are judged right.
        with self._cond:
            if reply.command in ("ARM", "START"):
                self._next_index = 0
                self._running = reply.command == "START"
                self._silent = False
                self._last_activity_ns = now_ns
            elif reply.command == "STOP":
                if "pulses" in reply.fields and reply.fields["pulses"].isdigit():
                    self._reconcile_count(int(reply.fields["pulses"]), now_ns)
                self._running = False
                self._silent = False

    def _reconcile_count(self, fired: int, now_ns: int) -> None:
        """The board says ``fired`` pulses went out and every report of them was sent before
        this line: reports still missing are lost (lock held)."""
        if self._next_index is None:
            self._next_index = fired
        elif fired > self._next_index:
            self._record_gap(self._next_index, fired - self._next_index, now_ns)
            self._next_index = fired

    def _record_gap(self, first: int, count: int, now_ns: int) -> None:
        self.gaps.append(PulseGap(first, count, now_ns))
        self._counts["gaps"] += 1
        self._counts["missed_reports"] += count

    def _handle_pulse(self, report: PulseReport, now_ns: int, wall_ns: int) -> None:
        with self._cond:
            missed = 0
            expected = self._next_index
            if expected is not None and report.index > expected:
                missed = report.index - expected
                self._record_gap(expected, missed, now_ns)
            elif expected is not None and report.index < expected:
                self._counts["out_of_order"] += 1
            self._next_index = report.index + 1
            self._counts["pulses_received"] += 1
            self._last_activity_ns = now_ns
            self._silent = False
            record = PulseRecord(report.index, report.board_time_us, now_ns, wall_ns, missed)
            if len(self._pulses) >= self._max_queued:
                self._pulses.popleft()
                self._counts["queue_overflows"] += 1
            self._pulses.append(record)
            self._cond.notify_all()
        if self.clock is not None:
            self.clock.add(record.board_time_us, record.host_receive_ns)
        if self.on_pulse is not None:
            try:
                self.on_pulse(record)
            except Exception as exc:  # a consumer bug must not kill the reader: count, keep
                self.callback_error = exc
                self._count("callback_errors")

    def _check_silence(self, now_ns: int) -> None:
        with self._cond:
            if not self._running or self._silent:
                return
            threshold = (self.silence_periods * self._period_us + START_LEAD_US) * 1000
            if now_ns - self._last_activity_ns > threshold:
                self._silent = True
                self._counts["silent_episodes"] += 1
                self._cond.notify_all()
