"""TlvDataPort against TlvUartEmulator over a real pseudo terminal, alone and trigger-driven."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.errors import DeviceNotFound, DeviceTimeout
from acquisition.tlv import XWR14XX, TlvDataPort, TlvFrame, TlvUartEmulator, walking_person
from acquisition.trigger import TriggerBoard, TriggerBoardEmulator

WAIT_S = 10.0  # generous: other test runs share the 2 cores


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_frames_with_faults_are_counted_exactly() -> None:
    with TlvUartEmulator(seed=3, range_bins=64) as emu, TlvDataPort(emu.port_path) as port:
        emu.garbage_probability = 0.5
        emu.corrupt_length_probability = 0.2
        emu.drop_probability = 0.1
        for _ in range(40):
            emu.emit_frame()
        wait_until(lambda: emu.pending() == 0)
        emu.garbage_probability = emu.corrupt_length_probability = emu.drop_probability = 0.0
        for _ in range(2):  # clean frames at the end make trailing losses visible as gaps
            emu.emit_frame()
        wait_until(lambda: emu.pending() == 0 and port.stats().frames == emu.frames_sent)
        frames = port.drain_frames()
        stats = port.stats()

    assert emu.frames_corrupted > 0 and emu.frames_dropped > 0 and emu.garbage_bytes_sent > 0
    assert stats.frames == len(frames) == emu.frames_sent
    assert stats.bad_frames == emu.frames_corrupted
    assert stats.skipped_bytes == emu.garbage_bytes_sent + emu.corrupted_bytes_sent
    assert stats.missing_frames == emu.frames_dropped + emu.frames_corrupted
    assert stats.bytes_received == emu.bytes_sent
    assert frames[-1].frame_number == 42
    assert sum(f.missed_before for f in frames) == stats.missing_frames
    for frame in frames:
        expected = walking_person(frame.frame_number)
        np.testing.assert_array_equal(frame.points[:, :4], expected[:, :4])
        np.testing.assert_allclose(frame.points[:, 4], expected[:, 4], atol=1e-4)
        assert frame.range_profile is not None and frame.range_profile.shape == (64,)
    stamps = [f.host_receive_ns for f in frames]
    assert all(s is not None for s in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_injected_garbage_and_timer_mode() -> None:
    with (
        TlvUartEmulator(frame_rate_hz=100.0, fmt=XWR14XX) as emu,
        TlvDataPort(emu.port_path, fmt=XWR14XX) as port,
    ):
        emu.inject(b"\x02\x01\x04garbage after boot\r\n")
        first = port.get_frame(timeout_s=WAIT_S)
        second = port.get_frame(timeout_s=WAIT_S)
        assert second.frame_number == first.frame_number + 1
        assert first.subframe_number is None
        assert port.stats().skipped_bytes >= len(b"\x02\x01\x04garbage after boot\r\n")


def test_silent_port_times_out() -> None:
    with TlvUartEmulator() as emu, TlvDataPort(emu.port_path, name="radar_v_data") as port:
        with pytest.raises(DeviceTimeout) as info:
            port.get_frame(timeout_s=0.2)
        assert info.value.device == "radar_v_data"
    with pytest.raises(DeviceNotFound):
        TlvDataPort("/dev/does-not-exist-data").open()


def test_trigger_line_drives_frames() -> None:
    """Trigger board -> wire -> radar data UART: one frame per pulse, all counted."""
    line = TriggerLine()
    wire: list[TriggerPulse] = []
    line.subscribe(wire.append)
    with (
        TriggerBoardEmulator(line=line) as trig_emu,
        TlvUartEmulator(line=line) as radar_emu,
        TriggerBoard(trig_emu.port_path, timeout_s=WAIT_S) as board,
        TlvDataPort(radar_emu.port_path) as port,
    ):
        board.set_period_us(5_000)
        board.arm()
        board.start(count=12)
        pulses = board.get_pulses(12, timeout_s=WAIT_S)
        frames: list[TlvFrame] = [port.get_frame(timeout_s=WAIT_S) for _ in range(12)]
    assert [p.index for p in pulses] == list(range(12))
    assert [p.index for p in wire] == list(range(12))
    assert [f.frame_number for f in frames] == list(range(1, 13))  # the SDK counts from 1
    assert port.stats().missing_frames == 0
