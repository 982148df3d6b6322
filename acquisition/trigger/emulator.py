"""Trigger-board emulator: protocol v1 on a real pseudo terminal, pulses on a :class:`TriggerLine`.

The emulated board has its own microsecond clock, ``offset_us + elapsed_host_us * (1 + drift)``,
and schedules edge ``k`` exactly at ``start + START_LEAD_US + k * period_us`` on that clock, as the
firmware's hardware timer does. A late host thread makes edges late in host time but never moves
their board timestamps. Every edge is fired on the trigger line (the wire to the radar and camera
emulators) with its ideal host time, and reported as ``P <index> <t_us>``.

Everything the board sends goes through one ordered output queue, as through the firmware's one
UART: a ``P`` report queued before an ``OK``/``S`` line is sent before it, so counts in ``S`` and
``OK STOP`` lines cover exactly the reports sent before them.

Fault knobs (attributes, may be changed while running):
    silent: send no ``P`` reports (the driver must notice).
    silent_fires_pulses: while silent, keep firing edges on the wire (True: a serial fault) or
        fire nothing at all (False: a dead timer; indexes do not advance).
    drop_reports: probability that an edge's report is lost (the index still advances).
    report_jitter_us: each report leaves up to this much later (uniform, us), order kept.
    unresponsive: ignore commands entirely (a hung board).
    corrupt_next_commands: treat this many next command lines as received with a bad checksum
        (answered ``ERR 2``, not executed), as line noise would.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from typing import Self

from acquisition.emulation.pty_port import PtySerialPort
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.trigger.protocol import (
    DEFAULT_PERIOD_US,
    DEFAULT_WIDTH_US,
    MAX_PERIOD_US,
    MAX_WIDTH_US,
    MIN_PERIOD_US,
    MIN_WIDTH_US,
    PROTOCOL_VERSION,
    START_LEAD_US,
    BoardMessage,
    BoardState,
    Command,
    ErrorCode,
    ErrReply,
    OkReply,
    ProtocolError,
    PulseReport,
    StatusReport,
    encode_message,
    parse_command,
    rate_to_period_us,
)

FIRMWARE_ID = "trigger_board_emulator/1.0.0"


class TriggerBoardEmulator(PtySerialPort):
    """Emulated trigger microcontroller.

    Args:
        line: trigger wire to fire edges on (a new one if omitted; see :attr:`line`).
        name: thread/port name.
        drift_ppm: how much faster the board clock runs than the host monotonic clock (ppm).
        offset_us: board clock at emulator creation (us): the board was powered up earlier.
        seed: seed of the fault-knob random generator (reproducible drops and jitter).
        checksum: append ``*HH`` to every line (protocol v1 boards always do).
    """

    def __init__(
        self,
        *,
        line: TriggerLine | None = None,
        name: str = "trigger-board-emulator",
        drift_ppm: float = 0.0,
        offset_us: int = 5_000_000,
        seed: int | None = None,
        checksum: bool = True,
    ) -> None:
        super().__init__(name=name)
        # Writes must never block the emulator threads (a driver that stopped reading).
        os.set_blocking(self._master, False)
        self.line = line if line is not None else TriggerLine()
        self.drift_ppm = drift_ppm
        self.offset_us = offset_us
        self.checksum = checksum
        self.silent = False
        self.silent_fires_pulses = True
        self.drop_reports = 0.0
        self.report_jitter_us = 0.0
        self.unresponsive = False
        self.corrupt_next_commands = 0
        # Counters, for tests to compare with what the driver saw.
        self.pulses_fired = 0  # edges put on the wire
        self.reports_sent = 0
        self.reports_dropped = 0  # lost to ``drop_reports``
        self.reports_suppressed = 0  # withheld while ``silent``
        self.commands_received = 0

        self._rng = random.Random(seed)
        self._host0_ns = time.monotonic_ns()
        self._state_cond = threading.Condition()
        self._state = BoardState.IDLE
        self._period_us = DEFAULT_PERIOD_US
        self._width_us = DEFAULT_WIDTH_US
        self._pulses = 0  # index of the next edge == edges fired since ARM
        self._ticks = 0  # timer periods elapsed since START (edges fired or not)
        self._target = 0
        self._run_start_us = 0
        self._out_cond = threading.Condition()
        self._outbox: deque[tuple[int, bytes]] = deque()  # (earliest host ns, line bytes)
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- board clock -----------------------------------------------------------------------------
    def board_time_us(self, host_ns: int | None = None) -> int:
        """Board clock (us) at a host monotonic time (ns; default now)."""
        if host_ns is None:
            host_ns = time.monotonic_ns()
        elapsed_us = (host_ns - self._host0_ns) / 1000.0
        return self.offset_us + int(elapsed_us * (1.0 + self.drift_ppm * 1e-6))

    def host_time_ns(self, board_us: int) -> int:
        """Host monotonic time (ns) at which the board clock reads ``board_us``."""
        elapsed_us = (board_us - self.offset_us) / (1.0 + self.drift_ppm * 1e-6)
        return self._host0_ns + round(elapsed_us * 1000.0)

    @property
    def state(self) -> BoardState:
        with self._state_cond:
            return self._state

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if not self._threads:
            self._halt.clear()
            for target, suffix in ((self._pulse_loop, "pulses"), (self._output_loop, "out")):
                thread = threading.Thread(target=target, name=f"{self.name}-{suffix}", daemon=True)
                thread.start()
                self._threads.append(thread)
            with self._state_cond:
                self._queue(self._status_message())  # boot banner, as the firmware's setup()
        super().start()
        return self

    def close(self) -> None:
        self._halt.set()
        with self._state_cond:
            self._state_cond.notify_all()
        with self._out_cond:
            self._out_cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads.clear()
        super().close()

    def __enter__(self) -> Self:
        return self.start()

    # --- output --------------------------------------------------------------------------------
    def _queue(self, message: BoardMessage, delay_us: float = 0.0) -> None:
        data = (encode_message(message, checksum=self.checksum) + "\n").encode("ascii")
        due = time.monotonic_ns() + int(delay_us * 1000)
        with self._out_cond:
            self._outbox.append((due, data))
            self._out_cond.notify_all()

    def _output_loop(self) -> None:
        while not self._halt.is_set():
            with self._out_cond:
                if not self._outbox:
                    self._out_cond.wait(0.1)
                    continue
                due, data = self._outbox[0]
                wait_s = (due - time.monotonic_ns()) / 1e9
                if wait_s > 0:
                    self._out_cond.wait(wait_s)
                    continue
                self._outbox.popleft()
            if not self._send(data):
                return
            if data.startswith(b"P "):
                self.reports_sent += 1

    def _send(self, data: bytes) -> bool:
        """Write all of ``data`` unless the emulator is closing; False when it is."""
        return self.write(data, stop=self._halt)

    # --- pulses --------------------------------------------------------------------------------
    def _pulse_loop(self) -> None:
        while not self._halt.is_set():
            with self._state_cond:
                if self._state != BoardState.RUNNING:
                    self._state_cond.wait(0.1)
                    continue
                edge_us = self._run_start_us + self._ticks * self._period_us
                edge_ns = self.host_time_ns(edge_us)
                wait_s = (edge_ns - time.monotonic_ns()) / 1e9
                if wait_s > 0:
                    self._state_cond.wait(min(wait_s, 0.1))
                    continue
                self._ticks += 1
                if self.silent and not self.silent_fires_pulses:
                    continue  # a dead timer: nothing on the wire, the index does not advance
                pulse = TriggerPulse(self._pulses, edge_us, edge_ns)
                self._pulses += 1
                # Queued under the state lock: an OK STOP answered meanwhile comes after it.
                if self.silent:
                    self.reports_suppressed += 1
                elif self._rng.random() < self.drop_reports:
                    self.reports_dropped += 1
                else:
                    jitter = self._rng.uniform(0.0, self.report_jitter_us)
                    self._queue(PulseReport(pulse.index, pulse.board_time_us), jitter)
                if self._target and self._pulses >= self._target:
                    self._state = BoardState.IDLE
                    self._queue(self._status_message())
            self.pulses_fired += 1
            self.line.fire(pulse)

    # --- commands ------------------------------------------------------------------------------
    def on_line(self, line: str) -> None:
        if self.unresponsive:
            return
        if self.corrupt_next_commands > 0 and line.strip():
            self.corrupt_next_commands -= 1
            self._queue(ErrReply(ErrorCode.BAD_CHECKSUM, "?", "bad checksum"))
            return
        try:
            command = parse_command(line)
        except ProtocolError as exc:
            self._queue(ErrReply(exc.code, "?", exc.text))
            return
        if command is None:
            return
        self.commands_received += 1
        with self._state_cond:
            try:
                self._execute(command)
            except ProtocolError as exc:
                self._queue(ErrReply(exc.code, command.name, exc.text))
            self._state_cond.notify_all()

    def _execute(self, command: Command) -> None:
        """Run one command (state lock held); raises :class:`ProtocolError` to refuse it."""
        name, args = command.name, command.args
        max_args = 1 if name in ("RATE", "PERIOD", "WIDTH", "START") else 0
        min_args = 1 if name in ("RATE", "PERIOD", "WIDTH") else 0
        if not min_args <= len(args) <= max_args:
            raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"{name} takes {max_args} argument(s)")
        if name in ("RATE", "PERIOD", "WIDTH") and self._state != BoardState.IDLE:
            raise ProtocolError(ErrorCode.BAD_STATE, f"{name} needs IDLE, board is {self._state}")
        if name == "PING":
            self._queue(OkReply("PING"))
        elif name == "VERSION":
            fields = {"protocol": str(PROTOCOL_VERSION), "firmware": FIRMWARE_ID, "board": "pty"}
            self._queue(OkReply("VERSION", fields))
        elif name in ("RATE", "PERIOD"):
            if name == "RATE":
                try:
                    period = rate_to_period_us(float(args[0]))
                except ValueError:
                    raise ProtocolError(
                        ErrorCode.BAD_ARGUMENT, "rate must be a positive number"
                    ) from None
            else:
                period = _parse_int(args[0])
            if not MIN_PERIOD_US <= period <= MAX_PERIOD_US or period <= self._width_us:
                raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"period {period} us out of range")
            self._period_us = period
            self._queue(OkReply(name, {"period_us": str(period)}))
        elif name == "WIDTH":
            width = _parse_int(args[0])
            if not MIN_WIDTH_US <= width <= MAX_WIDTH_US or width >= self._period_us:
                raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"width {width} us out of range")
            self._width_us = width
            self._queue(OkReply("WIDTH", {"width_us": str(width)}))
        elif name == "ARM":
            if self._state == BoardState.RUNNING:
                raise ProtocolError(ErrorCode.BAD_STATE, "ARM while RUNNING")
            self._state = BoardState.ARMED
            self._pulses = self._ticks = self._target = 0
            self._queue(OkReply("ARM"))
        elif name == "START":
            if self._state != BoardState.ARMED:
                raise ProtocolError(
                    ErrorCode.BAD_STATE, f"START needs ARMED, board is {self._state}"
                )
            self._target = _parse_int(args[0]) if args else 0
            self._run_start_us = self.board_time_us() + START_LEAD_US
            self._state = BoardState.RUNNING
            self._queue(OkReply("START", {"count": str(self._target)}))
        elif name == "STOP":
            self._state = BoardState.IDLE
            self._queue(OkReply("STOP", {"pulses": str(self._pulses)}))
        elif name == "STATUS":
            self._queue(self._status_message())
            self._queue(OkReply("STATUS"))

    def _status_message(self) -> StatusReport:
        return StatusReport(
            state=self._state,
            period_us=self._period_us,
            width_us=self._width_us,
            pulses=self._pulses,
            target=self._target,
            dropped_reports=0,  # the emulator's UART never overruns; see ``drop_reports``
            late_edges=0,
            uptime_us=self.board_time_us(),
        )


def _parse_int(token: str) -> int:
    try:
        value = int(token, 10)
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_ARGUMENT, f"not an integer: {token!r}") from None
    if value < 0:
        raise ProtocolError(ErrorCode.OUT_OF_RANGE, f"negative: {value}")
    return value
