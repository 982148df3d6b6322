"""pcap / pcapng / raw .bin decoding: same frames and loss accounting as live reception."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from acquisition.cli.radar_decode import main as radar_decode
from acquisition.dca1000.capture_file import (
    CaptureFileError,
    CaptureSummary,
    decode_capture,
    detect_format,
)
from acquisition.dca1000.protocol import build_data_packets
from acquisition.dca1000.receiver import DCA1000Receiver, RawFrame
from acquisition.radar.config import load_radar_config
from dataset_tools.dsp.raw import IqOrder, decode_adc_frames, encode_adc_frames

BPF = 7000  # 4 x 1456 + 1176
N_FRAMES = 4
DROPPED = 6  # index of the dropped packet (bytes 8736..10192, inside frame 1)
T0_NS = 1_700_000_000_123_456_789


def datagrams_of(data: bytes) -> list[bytes]:
    batch = build_data_packets(data, first_seq=1, first_byte_count=0)
    return [batch.datagram(i) for i in range(len(batch))]


def stream_with_loss(seed: int = 0) -> tuple[bytes, list[bytes]]:
    data = np.random.default_rng(seed).integers(0, 256, BPF * N_FRAMES, np.uint8).tobytes()
    datagrams = datagrams_of(data)
    del datagrams[DROPPED]
    return data, datagrams


# --- a minimal independent capture writer ---------------------------------------------------
def ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def ethernet_frame(payload: bytes, dst_port: int = 4098, vlan: bool = False) -> bytes:
    udp = struct.pack(">HHHH", 1024, dst_port, 8 + len(payload), 0) + payload
    ip = bytearray(
        struct.pack(
            ">BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            1,
            0x4000,
            64,
            17,
            0,
            bytes([192, 168, 33, 180]),
            bytes([192, 168, 33, 30]),
        )
    )
    ip[10:12] = struct.pack(">H", ipv4_checksum(bytes(ip)))
    macs = bytes.fromhex("ffffffffffff123456789012")
    tag = struct.pack(">HH", 0x8100, 5) if vlan else b""
    return macs + tag + struct.pack(">H", 0x0800) + bytes(ip) + udp


ARP_FRAME = bytes.fromhex("ffffffffffff1234567890120806") + bytes(28)


def capture_frames(datagrams: list[bytes]) -> list[tuple[int, bytes]]:
    """(timestamp ns, Ethernet frame) with unrelated traffic mixed in."""
    out = [(T0_NS - 5000, ARP_FRAME), (T0_NS - 4000, ethernet_frame(b"\x5a\xa5" + bytes(6), 4096))]
    for i, d in enumerate(datagrams):
        out.append((T0_NS + i * 12_000, ethernet_frame(d, vlan=i % 7 == 3)))
    return out


def write_pcap(path: Path, frames: list[tuple[int, bytes]], *, order: str, nanos: bool) -> None:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    with path.open("wb") as f:
        f.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1))
        for t, frame in frames:
            frac = t % 10**9 if nanos else (t % 10**9) // 1000
            f.write(struct.pack(order + "IIII", t // 10**9, frac, len(frame), len(frame)) + frame)


def pcapng_block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def write_pcapng(path: Path, frames: list[tuple[int, bytes]]) -> None:
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # IDB: Ethernet, snaplen 0 (none), if_tsresol = 9 (ns), end of options.
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + bytes(4))
    nrb = pcapng_block(4, struct.pack("<HH", 0, 0))  # name resolution block: skipped
    blocks = [shb, idb, nrb]
    for i, (t, frame) in enumerate(frames):
        if i == 2:  # one Simple Packet Block (no timestamp) among Enhanced Packet Blocks
            blocks.append(pcapng_block(3, struct.pack("<I", len(frame)) + frame))
            continue
        head = struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame))
        blocks.append(pcapng_block(6, head + frame))
    path.write_bytes(b"".join(blocks))


def live_frames(datagrams: list[bytes]) -> list[RawFrame]:
    receiver = DCA1000Receiver("127.0.0.1", 0, bytes_per_frame=BPF)
    receiver.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for d in datagrams:
            tx.sendto(d, receiver.address)
        time.sleep(0.05)
    receiver.stop(expected_frames=N_FRAMES)
    return list(receiver.frames(timeout=0))


def decode_file(
    path: Path | list[Path], *, strict: bool = False
) -> tuple[list[RawFrame], CaptureSummary]:
    frames: list[RawFrame] = []
    paths = path if isinstance(path, list) else [path]
    summary = decode_capture(paths, BPF, frames.append, expected_frames=N_FRAMES, strict=strict)
    return frames, summary


@pytest.fixture(scope="module")
def live() -> tuple[bytes, list[bytes], list[RawFrame]]:
    data, datagrams = stream_with_loss()
    return data, datagrams, live_frames(datagrams)


@pytest.mark.parametrize(
    "kind",
    ["pcap-le-us", "pcap-be-ns", "pcapng"],
)
def test_capture_decodes_like_live_reception(
    tmp_path: Path, kind: str, live: tuple[bytes, list[bytes], list[RawFrame]]
) -> None:
    data, datagrams, live_result = live
    path = tmp_path / f"take.{kind.split('-')[0]}"
    if kind == "pcapng":
        write_pcapng(path, capture_frames(datagrams))
    else:
        write_pcap(
            path,
            capture_frames(datagrams),
            order="<" if "le" in kind else ">",
            nanos=kind.endswith("ns"),
        )
    assert detect_format(path) == kind.split("-")[0]
    frames, summary = decode_file(path)
    assert [f.index for f in frames] == [f.index for f in live_result] == list(range(N_FRAMES))
    for got, ref in zip(frames, live_result, strict=True):
        assert got.data == ref.data
        assert got.lost_ranges == ref.lost_ranges and got.lost_bytes == ref.lost_bytes
        assert (got.packets, got.first_seq) == (ref.packets, ref.first_seq)
    assert frames[1].lost_ranges == ((8736 - BPF, 10192 - BPF),)
    assert frames[0].data == data[:BPF] and frames[2].valid
    assert summary.lost_packets == 1 and summary.lost_bytes == 1456
    assert summary.read.other_packets == 2
    assert summary.read.datagrams == len(datagrams)

    def stamp(t: int) -> int:  # what the file can hold: microseconds for "us" pcaps
        return t // 1000 * 1000 if kind == "pcap-le-us" else t

    if kind != "pcapng":  # the pcapng's first data packet is a timestamp-less simple block
        assert frames[0].first_rx_wall_ns == frames[0].first_rx_mono_ns == stamp(T0_NS)
    assert frames[3].last_rx_wall_ns == stamp(T0_NS + (len(datagrams) - 1) * 12_000)


def test_truncated_capture_decodes_complete_records_or_fails_strict(
    tmp_path: Path, live: tuple[bytes, list[bytes], list[RawFrame]]
) -> None:
    _, datagrams, _ = live
    path = tmp_path / "cut.pcap"
    write_pcap(path, capture_frames(datagrams), order="<", nanos=False)
    path.write_bytes(path.read_bytes()[:-700])  # tcpdump killed mid-record
    frames, summary = decode_file(path)
    assert summary.read.truncated is not None
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert not frames[-1].valid  # the cut packet's bytes are lost
    with pytest.raises(CaptureFileError, match=r"cut\.pcap"):
        decode_file(path, strict=True)


def test_garbage_and_corrupt_captures_name_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture at all")
    with pytest.raises(CaptureFileError, match=r"garbage\.pcap.*not a pcap"):
        decode_file(garbage)
    corrupt = tmp_path / "corrupt.pcap"
    write_pcap(corrupt, [(T0_NS, ARP_FRAME)], order="<", nanos=False)
    raw = bytearray(corrupt.read_bytes())
    raw[24 + 8 : 24 + 12] = struct.pack("<I", 10**9)  # absurd captured length
    corrupt.write_bytes(bytes(raw))
    with pytest.raises(CaptureFileError, match=r"corrupt.pcap \(byte 24\)"):
        decode_file(corrupt)
    bad_ng = tmp_path / "bad.pcapng"
    write_pcapng(bad_ng, [(T0_NS, ARP_FRAME)])
    raw = bytearray(bad_ng.read_bytes())
    raw[-4:] = struct.pack("<I", 12345)  # trailer length differs from header length
    bad_ng.write_bytes(bytes(raw))
    with pytest.raises(CaptureFileError, match=r"bad\.pcapng"):
        decode_file(bad_ng)


def test_raw_bin_with_partial_last_frame(tmp_path: Path) -> None:
    data = np.random.default_rng(5).integers(0, 256, BPF * 3 + BPF // 2, np.uint8).tobytes()
    part0, part1 = tmp_path / "adc_data_Raw_0.bin", tmp_path / "adc_data_Raw_1.bin"
    part0.write_bytes(data[:10_001])  # TI's CLI splits files at arbitrary byte counts
    part1.write_bytes(data[10_001:])
    frames: list[RawFrame] = []
    summary = decode_capture([part0, part1], BPF, frames.append)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert b"".join(f.data for f in frames[:3]) == data[: 3 * BPF]
    assert all(f.valid and f.packets == 0 and f.first_rx_wall_ns is None for f in frames[:3])
    assert frames[3].lost_bytes == BPF - BPF // 2
    assert frames[3].lost_ranges == ((BPF // 2, BPF),)
    assert frames[3].data[: BPF // 2] == data[3 * BPF :]
    assert summary.read.partial_frame_bytes == BPF // 2
    assert summary.lost_packets == 0 and summary.frames_incomplete == 1


@pytest.mark.parametrize("iq_order", ["sdk", "studio"])
def test_radar_decode_cli(
    tmp_path: Path, iq_order: IqOrder, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = Path(__file__).resolve().parents[3] / "sensor_configs" / "mission_iwr6843.cfg"
    params = load_radar_config(cfg).params()
    rng = np.random.default_rng(2)
    shape = (3, *params.cube_shape)
    cube = (rng.integers(-2000, 2000, shape) + 1j * rng.integers(-2000, 2000, shape)).astype(
        np.complex64
    )
    raw = encode_adc_frames(cube, iq_order=iq_order)
    datagrams = datagrams_of(raw)
    lost = datagrams.pop(100)  # inside frame 1 (131072 bytes per frame)
    path = tmp_path / "take.pcap"
    write_pcap(path, capture_frames(datagrams), order="<", nanos=True)
    out = tmp_path / "out"
    args = [str(path), "--cfg", str(cfg), "--out", str(out), "--quiet"]
    assert radar_decode([*args, "--format", "npy-cube", "--iq-order", iq_order]) == 0
    assert "3 frames" in capsys.readouterr().out
    decoded = np.load(out / "adc_cube.npy")
    assert decoded.shape == shape and decoded.dtype == np.complex64
    np.testing.assert_array_equal(decoded[[0, 2]], cube[[0, 2]])
    summary = json.loads((out / "decode_summary.json").read_text())
    assert summary["totals"]["lost_bytes"] == len(lost) - 10
    assert summary["totals"]["frames_incomplete"] == 1
    assert [f["valid"] for f in summary["frames"]] == [True, False, True]
    start = 100 * 1456 - params.bytes_per_frame
    assert summary["frames"][1]["lost_ranges"] == [[start, start + 1456]]
    assert radar_decode([*args, "--format", "npy-raw"]) == 0
    samples = np.load(out / "adc_raw.npy")
    assert samples.shape == (3, params.bytes_per_frame // 2) and samples.dtype == np.int16
    np.testing.assert_array_equal(
        decode_adc_frames(samples[2].tobytes(), params, iq_order=iq_order),
        cube[2:3],
    )


def test_radar_decode_into_the_recording_format(tmp_path: Path) -> None:
    from acquisition.recording import TakeReader

    cfg = Path(__file__).resolve().parents[3] / "sensor_configs" / "mission_iwr6843.cfg"
    params = load_radar_config(cfg).params()
    rng = np.random.default_rng(4)
    raw = rng.integers(-2000, 2000, 3 * params.bytes_per_frame // 2).astype("<i2").tobytes()
    datagrams = datagrams_of(raw)
    lost = datagrams.pop(100)
    path = tmp_path / "take.pcap"
    write_pcap(path, capture_frames(datagrams), order="<", nanos=True)
    args = [str(path), "--cfg", str(cfg), "--out", str(tmp_path / "sessions"), "--quiet"]
    assert radar_decode([*args, "--format", "recording", "--session", "lab", "--radar", "iwr"]) == 0
    take = TakeReader(tmp_path / "sessions" / "lab" / "take")
    assert take.status == "complete"
    frames = list(take.radar_frames("iwr"))
    per_frame = params.bytes_per_frame
    assert [f.frame_number for f in frames] == [0, 1, 2]
    assert frames[0].data == raw[:per_frame] and frames[2].data == raw[2 * per_frame :]
    assert [f.lost_bytes for f in frames] == [0, len(lost) - 10, 0]
    assert all(f.trigger_index == -1 for f in frames)
    assert take.manifest.streams["/iwr/frames"].lost_bytes == len(lost) - 10
    assert (tmp_path / "sessions/lab/take/cfg/iwr.cfg").read_text() == cfg.read_text()


def test_radar_decode_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Path(__file__).resolve().parents[3] / "sensor_configs" / "mission_iwr6843.cfg"
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\x00" * 100)
    assert radar_decode([str(bad), "--cfg", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert "bad.pcap" in capsys.readouterr().err
    assert radar_decode([str(bad), "--cfg", str(tmp_path / "missing.cfg")]) == 2
