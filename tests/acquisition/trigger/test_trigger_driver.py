"""TriggerBoard driver against TriggerBoardEmulator over a real pseudo terminal.

Timing assertions are on the BOARD clock (exact in the emulator), never on host wall-clock speed;
host waits are generous because other test runs share the machine.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from acquisition.emulation.trigger_line import TriggerPulse
from acquisition.errors import DeviceError, DeviceNotFound, DeviceTimeout
from acquisition.trigger import (
    BoardState,
    ErrorCode,
    PulseRecord,
    TriggerBoard,
    TriggerBoardEmulator,
    TriggerClock,
    TriggerCommandError,
)

WAIT_S = 10.0  # generous: a loaded 2-core machine can stall threads for a while


@pytest.fixture
def emulator() -> Iterator[TriggerBoardEmulator]:
    with TriggerBoardEmulator(seed=7, drift_ppm=40.0) as emu:
        yield emu


@pytest.fixture
def board(emulator: TriggerBoardEmulator) -> Iterator[TriggerBoard]:
    with TriggerBoard(emulator.port_path, name="trigger", timeout_s=WAIT_S) as drv:
        yield drv


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def wait_idle(board: TriggerBoard) -> None:
    wait_until(lambda: board.status().state == BoardState.IDLE)


class LineRecorder:
    def __init__(self) -> None:
        self.pulses: list[TriggerPulse] = []
        self._lock = threading.Lock()

    def __call__(self, pulse: TriggerPulse) -> None:
        with self._lock:
            self.pulses.append(pulse)


def test_hello_reports_version(board: TriggerBoard) -> None:
    assert board.version is not None
    assert board.version.protocol == 1
    board.ping()
    status = board.status()
    assert status.state == BoardState.IDLE
    assert status.period_us == 100_000  # power-up default: 10 Hz


def test_counted_run(emulator: TriggerBoardEmulator, board: TriggerBoard) -> None:
    wire = LineRecorder()
    emulator.line.subscribe(wire)
    callback: list[PulseRecord] = []
    board.on_pulse = callback.append
    assert board.set_rate(200.0) == 5_000
    assert board.set_width(500) == 500
    board.arm()
    board.start(count=25)
    records = board.get_pulses(25, timeout_s=WAIT_S)
    wait_idle(board)

    assert [r.index for r in records] == list(range(25))
    steps = {b.board_time_us - a.board_time_us for a, b in itertools.pairwise(records)}
    assert steps == {5_000}  # exact on the board clock
    assert all(r.missed_before == 0 for r in records)
    assert all(b.host_receive_ns >= a.host_receive_ns for a, b in itertools.pairwise(records))
    # The wire carried the same edges as the reports.
    assert [(p.index, p.board_time_us) for p in wire.pulses] == [
        (r.index, r.board_time_us) for r in records
    ]
    assert [r.index for r in callback] == list(range(25))
    stats = board.stats()
    assert (stats.pulses_received, stats.missed_reports, stats.gaps, stats.bad_lines) == (
        25,
        0,
        0,
        0,
    )
    assert board.status().pulses == 25
    assert emulator.pulses_fired == 25


def test_start_stop_and_restart(emulator: TriggerBoardEmulator, board: TriggerBoard) -> None:
    board.set_period_us(2_000)
    board.arm()
    board.start()
    first = board.get_pulses(5, timeout_s=WAIT_S)
    fired = board.stop()
    # Every report precedes OK STOP: the count matches what arrived, nothing is missing.
    assert fired >= 5
    records = first + board.drain_pulses()
    assert [r.index for r in records] == list(range(fired))
    assert board.stats().missed_reports == 0
    # A second run counts from 0 again and is not mistaken for a gap.
    board.arm()
    board.start(count=3)
    assert [r.index for r in board.get_pulses(3, timeout_s=WAIT_S)] == [0, 1, 2]
    wait_idle(board)
    assert board.stats().gaps == 0


def test_dropped_reports_are_counted_as_gaps(
    emulator: TriggerBoardEmulator, board: TriggerBoard
) -> None:
    emulator.drop_reports = 0.3
    emulator.report_jitter_us = 300.0
    board.set_period_us(2_000)
    board.arm()
    board.start(count=60)
    wait_idle(board)
    records = board.drain_pulses()
    stats = board.stats()
    assert emulator.reports_dropped > 0
    assert stats.missed_reports == emulator.reports_dropped
    assert stats.pulses_received + stats.missed_reports == 60
    assert sum(g.count for g in board.gaps) == emulator.reports_dropped
    missing = {g.first_missing + k for g in board.gaps for k in range(g.count)}
    assert missing.isdisjoint(r.index for r in records)
    assert missing | {r.index for r in records} == set(range(60))
    # Gaps noticed from S lines (at a status poll or the end of the run) are in board.gaps but in
    # no record's missed_before.
    assert sum(r.missed_before for r in records) <= len(missing)


@pytest.mark.parametrize("fires", [True, False], ids=["wire-alive", "timer-dead"])
def test_silent_board_times_out(
    emulator: TriggerBoardEmulator, board: TriggerBoard, fires: bool
) -> None:
    wire = LineRecorder()
    emulator.line.subscribe(wire)
    emulator.silent = True
    emulator.silent_fires_pulses = fires
    board.set_period_us(2_000)
    board.arm()
    board.start()
    with pytest.raises(DeviceTimeout) as info:
        board.get_pulse()  # default wait: silence_periods periods
    assert info.value.device == "trigger"
    wait_until(lambda: board.silent)
    assert board.stats().silent_episodes == 1
    if fires:
        wait_until(lambda: len(wire.pulses) >= 3)
    else:
        time.sleep(0.05)
        assert wire.pulses == [] and emulator.pulses_fired == 0
    emulator.silent = False
    record = board.get_pulse(timeout_s=WAIT_S)
    assert not board.silent
    # Pulses fired while silent are gaps, not hidden: the first report after them says so.
    assert record.missed_before == emulator.reports_suppressed
    assert record.missed_before == (record.index if fires else 0)
    board.stop()


def test_err_answers_raise_typed_errors(board: TriggerBoard) -> None:
    with pytest.raises(TriggerCommandError) as info:
        board.start()
    assert info.value.device == "trigger"
    assert (info.value.command, info.value.code) == ("START", ErrorCode.BAD_STATE)
    assert "START" in str(info.value) and "trigger" in str(info.value)
    with pytest.raises(TriggerCommandError) as info:
        board.set_width(200_000)  # not shorter than the 100 ms period
    assert info.value.code == ErrorCode.OUT_OF_RANGE
    with pytest.raises(TriggerCommandError) as info:
        board.set_period_us(10)
    assert info.value.code == ErrorCode.OUT_OF_RANGE
    board.arm()
    with pytest.raises(TriggerCommandError) as info:
        board.set_rate(20.0)  # configuration is locked once armed
    assert info.value.code == ErrorCode.BAD_STATE
    board.ping()  # still in step after errors


def test_commands_corrupted_in_transit_are_retried(
    emulator: TriggerBoardEmulator, board: TriggerBoard
) -> None:
    emulator.corrupt_next_commands = 2
    assert board.set_rate(50.0) == 20_000  # third attempt goes through
    emulator.corrupt_next_commands = 3
    with pytest.raises(TriggerCommandError) as info:
        board.set_rate(25.0)
    assert info.value.code == ErrorCode.BAD_CHECKSUM
    assert board.status().period_us == 20_000  # the corrupted commands were not executed


def test_garbage_and_corrupted_reports(emulator: TriggerBoardEmulator, board: TriggerBoard) -> None:
    emulator.write(b"\x00\xff\xfeNOISE\r\n")
    emulator.write(b"P 0 12345*00\n")  # a report with a broken checksum is dropped, counted
    emulator.write(b"#" * 1000 + b"\n")
    board.ping()
    stats = board.stats()
    assert stats.bad_lines == 3
    assert stats.pulses_received == 0


def test_unresponsive_board(emulator: TriggerBoardEmulator, board: TriggerBoard) -> None:
    emulator.unresponsive = True
    board.timeout_s = 0.3
    with pytest.raises(DeviceTimeout) as info:
        board.ping()
    assert "PING" in str(info.value)
    hung = TriggerBoard(emulator.port_path, name="hung", timeout_s=0.2, boot_timeout_s=0.5)
    with pytest.raises(DeviceTimeout) as info2:
        hung.open()
    assert info2.value.device == "hung"


def test_missing_port() -> None:
    with pytest.raises(DeviceNotFound) as info:
        TriggerBoard("/dev/does-not-exist-trigger", name="trig").open()
    assert info.value.device == "trig"
    assert isinstance(info.value, DeviceError)


def test_driver_feeds_clock() -> None:
    clock = TriggerClock()
    with TriggerBoardEmulator(drift_ppm=-20.0) as emu:
        with TriggerBoard(emu.port_path, timeout_s=WAIT_S, clock=clock) as board:
            board.set_period_us(2_000)
            board.arm()
            board.start(count=10)
            records = board.get_pulses(10, timeout_s=WAIT_S)
    assert clock.samples == 10
    # Host-time accuracy depends on the machine's load; only the ordering is asserted here (the
    # fit itself is tested on synthetic data in test_trigger_clock.py).
    hosts = [clock.to_host_ns(r.board_time_us) for r in records]
    assert hosts == sorted(hosts)
