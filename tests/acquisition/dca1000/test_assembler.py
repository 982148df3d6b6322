"""Frame assembly from hand-made data packets: placement by byte count, loss, reordering."""

from __future__ import annotations

import numpy as np
import pytest

from acquisition.dca1000.assembly import FrameAssembler, RawFrame
from acquisition.dca1000.protocol import build_data_packets, pack_data_header

BPF = 5000  # not a multiple of 1456: packet 4 (bytes 4368..5824) straddles frames 0 and 1


def stream(n_frames: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n_frames * BPF, dtype=np.uint8).tobytes()


def packets(data: bytes) -> list[bytes]:
    """Continuous packetisation of the whole stream (seq from 1, byte count from 0)."""
    batch = build_data_packets(data, first_seq=1, first_byte_count=0)
    return [batch.datagram(i) for i in range(len(batch))]


def assemble(
    datagrams: list[bytes], *, expected_frames: int | None = None, batch: bool = True
) -> tuple[list[RawFrame], FrameAssembler]:
    frames: list[RawFrame] = []
    asm = FrameAssembler(BPF, frames.append)
    if batch:
        slots = np.zeros((len(datagrams), 1536), dtype=np.uint8)
        for i, d in enumerate(datagrams):
            slots[i, : len(d)] = np.frombuffer(d, dtype=np.uint8)
        lengths = np.array([len(d) for d in datagrams], dtype=np.int64)
        times = np.arange(len(datagrams), dtype=np.int64) * 1000
        asm.add_datagrams(slots, lengths, times, times + 10**18)
    else:
        for i, d in enumerate(datagrams):
            asm.add_packet(d, i * 1000, i * 1000 + 10**18)
    asm.flush(expected_frames)
    return frames, asm


@pytest.mark.parametrize("batch", [True, False])
def test_clean_stream_frames_and_straddling_packet(batch: bool) -> None:
    data = stream(3)
    frames, asm = assemble(packets(data), batch=batch)
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.valid and f.lost_ranges == () for f in frames)
    assert b"".join(f.data for f in frames) == data
    # Packets 1-4 touch frame 0, packet 4 straddles into frame 1 (bytes 4368..5824).
    assert frames[0].packets == 4
    assert frames[1].packets == 4  # seqs 4..7: bytes 4368..10192 cover 5000..10000
    assert frames[1].first_seq == 4
    assert frames[0].first_rx_mono_ns == 0 and frames[0].last_rx_mono_ns == 3000
    assert frames[0].first_rx_wall_ns == 10**18
    assert asm.stats.frames_complete == 3 and asm.stats.lost_bytes == 0
    np.testing.assert_array_equal(frames[2].samples(), np.frombuffer(data[2 * BPF :], "<i2"))


def test_lost_straddling_packet_zero_filled_in_both_frames() -> None:
    data = stream(3)
    datagrams = packets(data)
    del datagrams[3]  # seq 4: stream bytes 4368..5824
    frames, asm = assemble(datagrams)
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[0].lost_bytes == BPF - 4368 and frames[0].lost_ranges == ((4368, BPF),)
    assert frames[1].lost_bytes == 5824 - BPF and frames[1].lost_ranges == ((0, 824),)
    assert not frames[0].valid and not frames[1].valid and frames[2].valid
    assert frames[0].data[4368:] == bytes(BPF - 4368)
    assert frames[0].data[:4368] == data[:4368]
    mask = frames[1].valid_mask()
    assert not mask[:824].any() and mask[824:].all()
    assert asm.stats.lost_packets == 1 and asm.stats.lost_bytes == 1456
    assert asm.stats.frames_incomplete == 2 and asm.stats.frames_complete == 1


def test_reordered_packets_written_back_in_place() -> None:
    data = stream(4)
    datagrams = packets(data)
    order = list(range(len(datagrams)))
    order[2], order[5] = order[5], order[2]  # swap across the frame 0/1 boundary
    order.insert(12, order.pop(9))  # one packet three places late
    frames, asm = assemble([datagrams[i] for i in order])
    assert b"".join(f.data for f in frames) == data
    assert all(f.valid for f in frames)
    assert asm.stats.out_of_order == 4  # seqs 3, 4, 5 after 6; seq 10 after 13
    assert asm.stats.lost_packets == 0 and asm.stats.lost_bytes == 0


def test_duplicates_ignored_and_counted() -> None:
    data = stream(2)
    datagrams = packets(data)
    dup = [datagrams[0], datagrams[1], datagrams[1], datagrams[2], datagrams[0]]
    frames, asm = assemble(dup + datagrams[3:] + [datagrams[4]])
    assert b"".join(f.data for f in frames) == data
    assert asm.stats.duplicates == 3
    assert asm.stats.out_of_order == 0 and asm.stats.lost_packets == 0


def test_whole_frame_lost_is_emitted_zero_filled() -> None:
    data = stream(5)
    datagrams = packets(data)
    # Frames 1 and 2 span bytes 5000..15000: packets 4..11 touch them, only 5..10 are
    # entirely inside; drop 4..11 so frames 1 and 2 get no byte at all.
    kept = datagrams[:3] + datagrams[11:]
    frames, asm = assemble(kept)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    for f in frames[1:3]:
        assert f.lost_bytes == BPF and f.packets == 0 and f.first_seq is None
        assert f.data == bytes(BPF) and f.first_rx_mono_ns is None
    assert frames[0].lost_bytes == BPF - 3 * 1456
    assert frames[4].valid
    assert asm.stats.lost_packets == 8


def test_late_packet_after_frame_emitted_counts_as_late_dropped() -> None:
    data = stream(8)
    datagrams = packets(data)
    late = datagrams.pop(1)  # frame 0
    frames, asm = assemble([*datagrams, late])
    assert frames[0].lost_bytes == 1456  # emitted before the late packet came
    assert asm.stats.late_dropped == 1 and asm.stats.out_of_order == 1
    assert asm.stats.lost_packets == 0  # the packet did arrive, its bytes stay lost


def test_tail_loss_and_expected_frames() -> None:
    data = stream(3)
    datagrams = packets(data)[:-2]  # last two packets (end of frame 2) lost
    frames, asm = assemble(datagrams, expected_frames=5)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    received = sum(len(d) - 10 for d in datagrams)
    assert frames[2].lost_bytes == 3 * BPF - received
    assert frames[3].lost_bytes == frames[4].lost_bytes == BPF
    assert asm.stats.lost_bytes == 5 * BPF - received


def test_frame_aligned_bursts_with_short_last_packets() -> None:
    data = stream(3)
    datagrams: list[bytes] = []
    seq = 1
    for k in range(3):  # the card after each triggered burst: short last packet per frame
        batch = build_data_packets(
            data[k * BPF : (k + 1) * BPF], first_seq=seq, first_byte_count=k * BPF
        )
        datagrams += [batch.datagram(i) for i in range(len(batch))]
        seq += len(batch)
    frames, _ = assemble(datagrams)
    assert b"".join(f.data for f in frames) == data and all(f.valid for f in frames)


def test_malformed_and_rejected() -> None:
    data = stream(2)
    datagrams = packets(data)
    bogus_jump = pack_data_header(len(datagrams) + 1, 10**12) + b"x" * 100
    frames, asm = assemble(
        [b"short", datagrams[0], pack_data_header(2, 0), *datagrams[1:], bogus_jump]
    )
    assert asm.stats.malformed == 2  # too short, header without payload
    assert asm.stats.rejected == 1  # byte count 10**12: far beyond max_gap_frames
    assert b"".join(f.data for f in frames) == data


@pytest.mark.parametrize("seed", range(12))
def test_random_faults_match_reference_model(seed: int) -> None:
    """Random frame sizes (down to smaller than one packet), drops, swaps and duplicates against
    a byte-coverage reference; the window is wide enough that no late packet is too late."""
    rng = np.random.default_rng(seed)
    bpf = int(rng.integers(300, 9000))
    n_frames = int(rng.integers(2, 12))
    data = rng.integers(0, 256, bpf * n_frames, dtype=np.uint8).tobytes()
    batch = build_data_packets(data, first_seq=1, first_byte_count=0)
    order = [i for i in range(len(batch)) if rng.random() > 0.15]
    for _ in range(len(order) // 4):  # local swaps
        i = int(rng.integers(0, max(1, len(order) - 3)))
        j = min(len(order) - 1, i + int(rng.integers(1, 4)))
        order[i], order[j] = order[j], order[i]
    for i in rng.choice(len(order), size=len(order) // 10, replace=False).tolist():
        order.insert(min(len(order), i + 2), order[i])  # duplicates
    covered = np.zeros(len(data), dtype=bool)
    for i in set(order):
        start = int(batch.byte_counts[i])
        covered[start : start + int(batch.payload_sizes[i])] = True
    frames: list[RawFrame] = []
    asm = FrameAssembler(bpf, frames.append, ring_frames=64)
    for part in np.array_split(np.array(order, dtype=np.int64), 3):  # several batches
        slots = np.zeros((len(part), 1536), dtype=np.uint8)
        for row, i in enumerate(part.tolist()):
            d = batch.datagram(i)
            slots[row, : len(d)] = np.frombuffer(d, dtype=np.uint8)
        lengths = np.array([len(batch.datagram(i)) for i in part.tolist()], dtype=np.int64)
        zeros = np.zeros(len(part), dtype=np.int64)
        asm.add_datagrams(slots, lengths, zeros, zeros)
    asm.flush(n_frames)
    assert [f.index for f in frames] == list(range(n_frames))
    got = np.frombuffer(b"".join(f.data for f in frames), dtype=np.uint8)
    src = np.frombuffer(data, dtype=np.uint8)
    np.testing.assert_array_equal(got[covered], src[covered])
    assert not got[~covered].any()
    mask = np.concatenate([f.valid_mask() for f in frames])
    np.testing.assert_array_equal(mask, covered)
    for f in frames:
        assert f.lost_bytes == bpf - int(covered[f.index * bpf : (f.index + 1) * bpf].sum())
    assert asm.stats.duplicates == len(order) - len(set(order))
