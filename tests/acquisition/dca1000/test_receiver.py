"""Emulator -> receiver over real UDP on loopback, with injected faults."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from acquisition.dca1000.control import DCA1000Control
from acquisition.dca1000.emulator import DCA1000Emulator, FaultConfig
from acquisition.dca1000.receiver import DCA1000Receiver, RawFrame
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.errors import DeviceNotFound

BPF = 50_000  # 34 x 1456 + 496: not a multiple of the payload size
RATE = 20e6  # paced well below what loopback takes, so only injected faults lose data


def make_frames(n: int, bpf: int = BPF, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, bpf, dtype=np.uint8).tobytes() for _ in range(n)]


def control_for(emu: DCA1000Emulator) -> DCA1000Control:
    return DCA1000Control(
        "127.0.0.1",
        config_port=emu.config_port,
        host_ip="127.0.0.1",
        host_config_port=0,
        timeout_s=5.0,
    )


def record(
    frames: list[bytes], faults: FaultConfig, *, continuous: bool, bpf: int = BPF
) -> tuple[list[RawFrame], DCA1000Receiver, DCA1000Emulator]:
    receiver = DCA1000Receiver("127.0.0.1", 0, bytes_per_frame=bpf, name="radar_h")
    receiver.start()
    emu = DCA1000Emulator(
        data_dest=receiver.address,
        bytes_per_frame=bpf,
        frame_source=lambda i: frames[i],
        max_frames=len(frames),
        rate_bytes_per_s=RATE,
        continuous=continuous,
        faults=faults,
    )
    with emu, control_for(emu) as card:
        card.connect()
        card.configure_fpga()
        card.start_record()
        assert emu.wait_done(60.0)
        card.stop_record()
    receiver.stop(expected_frames=len(frames))
    assert emu.frame_errors == []
    return list(receiver.frames(timeout=0)), receiver, emu


def check_against_source(
    got: list[RawFrame], frames: list[bytes], receiver: DCA1000Receiver, emu: DCA1000Emulator
) -> None:
    assert [f.index for f in got] == list(range(len(frames))), "every frame, in order, once"
    for frame in got:
        mask = frame.valid_mask()
        data = np.frombuffer(frame.data, dtype=np.uint8)
        src = np.frombuffer(frames[frame.index], dtype=np.uint8)
        np.testing.assert_array_equal(data[mask], src[mask])
        assert not data[~mask].any(), "lost bytes are zero-filled"
        dropped = emu.stats.dropped_bytes_per_frame.get(frame.index, 0)
        assert frame.lost_bytes == dropped, f"frame {frame.index}"
        assert frame.valid == (dropped == 0)
    stats = receiver.stats
    assert stats.lost_bytes == emu.stats.dropped_bytes
    assert stats.duplicates == emu.stats.duplicated
    assert stats.out_of_order <= emu.stats.reordered
    assert stats.late_dropped == 0 and stats.rejected == 0 and stats.malformed == 0
    # Drops after the last packet that arrived are invisible to sequence numbers.
    sent = set(range(1, emu.stats.packets + 1)) - set(emu.stats.dropped_seqs)
    last_seen = max(sent)
    assert stats.lost_packets == sum(1 for s in emu.stats.dropped_seqs if s < last_seen)
    assert stats.frames_incomplete == sum(1 for f in got if not f.valid)
    assert stats.packets == emu.stats.datagrams_sent


@pytest.mark.parametrize("continuous", [False, True])
def test_clean_stream_is_received_exactly(continuous: bool) -> None:
    frames = make_frames(12)
    got, receiver, emu = record(frames, FaultConfig(), continuous=continuous)
    assert [f.data for f in got] == frames
    assert all(f.valid for f in got)
    check_against_source(got, frames, receiver, emu)
    mono = [f.first_rx_mono_ns or 0 for f in got]
    assert all(mono) and mono == sorted(mono)
    assert got[0].first_seq == 1
    assert receiver.stats.recv_buffer_bytes > 0


@pytest.mark.parametrize(
    ("faults", "continuous"),
    [
        (FaultConfig(seed=1, loss_probability=0.01), False),
        (FaultConfig(seed=2, loss_probability=0.01, reorder_probability=0.01), True),
        (
            FaultConfig(
                seed=3,
                loss_probability=0.10,
                burst_probability=0.005,
                burst_length=5,
                reorder_probability=0.05,
                duplicate_probability=0.05,
                frame_loss_probability=0.05,
                stall_probability=0.002,
                stall_s=0.005,
            ),
            True,
        ),
        (
            FaultConfig(
                seed=4, loss_probability=0.10, reorder_probability=0.05, duplicate_probability=0.05
            ),
            False,
        ),
    ],
    ids=["1pct", "1pct-reorder-cont", "10pct-all-cont", "10pct-reorder-dup"],
)
def test_injected_faults_are_accounted_exactly(faults: FaultConfig, continuous: bool) -> None:
    frames = make_frames(40, seed=faults.seed)
    got, receiver, emu = record(frames, faults, continuous=continuous)
    assert emu.stats.dropped_packets > 0
    if faults.reorder_probability:
        assert receiver.stats.out_of_order > 0
    if faults.duplicate_probability:
        assert receiver.stats.duplicates > 0
    check_against_source(got, frames, receiver, emu)


def test_whole_frames_lost_are_still_emitted() -> None:
    frames = make_frames(30, seed=9)
    got, receiver, emu = record(
        frames, FaultConfig(seed=11, frame_loss_probability=0.2), continuous=False
    )
    wholly_lost = [f.index for f in got if f.lost_bytes == BPF]
    assert wholly_lost, "seed 11 drops some whole frames"
    assert all(got[i].packets == 0 and got[i].data == bytes(BPF) for i in wholly_lost)
    check_against_source(got, frames, receiver, emu)


def test_hardware_trigger_one_frame_per_pulse_and_callback() -> None:
    bpf = 786_432  # HuPR frame
    frames = make_frames(4, bpf=bpf)
    line = TriggerLine()
    received: list[RawFrame] = []
    got_all = threading.Event()

    def on_frame(frame: RawFrame) -> None:
        received.append(frame)
        assert receiver.stats.frames == len(received)  # callback may read the counters
        if len(received) == len(frames):
            got_all.set()

    receiver = DCA1000Receiver("127.0.0.1", 0, bytes_per_frame=bpf, on_frame=on_frame)
    receiver.start()
    emu = DCA1000Emulator(
        data_dest=receiver.address,
        bytes_per_frame=bpf,
        frame_source=lambda i: frames[i],
        trigger_line=line,
        rate_bytes_per_s=50e6,
    )
    with emu, control_for(emu) as card:
        card.start_record()
        for k in range(len(frames)):
            line.fire(TriggerPulse(k, k * 100_000, time.monotonic_ns()))
        # Complete frames are emitted as soon as their last byte is in: no stop needed.
        assert got_all.wait(30.0)
        card.stop_record()
    stats = receiver.stop()
    assert [f.data for f in received] == frames
    assert stats.frames_complete == 4 and stats.lost_bytes == 0
    assert emu.stats.frames_sent == 4


def test_frame_rate_timer_mode() -> None:
    frames = make_frames(5)
    receiver = DCA1000Receiver("127.0.0.1", 0, bytes_per_frame=BPF)
    receiver.start()
    emu = DCA1000Emulator(
        data_dest=receiver.address,
        bytes_per_frame=BPF,
        frame_source=lambda i: frames[i],
        frame_rate_hz=50.0,
        max_frames=5,
    )
    with emu, control_for(emu) as card:
        card.start_record()
        assert emu.wait_done(30.0)
        card.stop_record()
    receiver.stop()
    got = list(receiver.frames(timeout=0))
    assert [f.data for f in got] == frames
    walls = [f.first_rx_wall_ns or 0 for f in got]
    assert all(walls) and walls == sorted(walls)


def test_receiver_bind_failure_and_idle_stop() -> None:
    with pytest.raises(DeviceNotFound, match="radar_v"):
        DCA1000Receiver("192.0.2.30", 0, bytes_per_frame=BPF, name="radar_v").start()
    receiver = DCA1000Receiver("127.0.0.1", 0, bytes_per_frame=BPF)
    receiver.start()
    stats = receiver.stop()
    assert stats.frames == 0 and receiver.get_frame(timeout=0.1) is None
