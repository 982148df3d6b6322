"""DCA1000 receive throughput on loopback: emulator in a separate process -> DCA1000Receiver.

Examples::

    python bench/bench_dca1000.py                       # 60 s at 1000 Mbit/s, HuPR frames
    python bench/bench_dca1000.py --seconds 20 --rate-mbps 960
    python bench/bench_dca1000.py --recv-buffer-mib 4   # see what a small kernel buffer does

The sender process drives the emulator in free-running mode, paced at ``--rate-mbps`` of ADC
payload (frames of ``--bytes-per-frame``, default 786,432 bytes as in HuPR, i.e. not a multiple
of 1456). The main process configures the card over the command protocol, receives, checks
every byte of every frame against the source, and prints throughput, loss, CPU and kernel
drop figures. PASS: >= 120 MB/s (1e6 bytes) of payload with zero loss and every frame intact.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acquisition.dca1000.control import DCA1000Control
from acquisition.dca1000.emulator import DCA1000Emulator
from acquisition.dca1000.receiver import DCA1000Receiver, MiB, RawFrame, read_rmem_max

PASS_MB_PER_S = 120.0
_BASE_FRAMES = 4


def base_frames(bytes_per_frame: int) -> list[bytes]:
    """Deterministic frame contents shared by sender and checker."""
    rng = np.random.default_rng(1234)
    return [
        rng.integers(0, 256, bytes_per_frame, dtype=np.uint8).tobytes() for _ in range(_BASE_FRAMES)
    ]


def frame_bytes(frames: list[bytes], index: int) -> bytes:
    """Frame ``index``: a base frame with the index in its first 8 bytes (catches misplacement)."""
    return index.to_bytes(8, "little") + frames[index % _BASE_FRAMES][8:]


def received_bytes_match(frame: RawFrame, frames: list[bytes]) -> bool:
    """Every received byte equals the source (lost bytes are zero-filled, not compared)."""
    expected = frame_bytes(frames, frame.index)
    if frame.valid:
        return frame.data == expected
    mask = frame.valid_mask()
    got = np.frombuffer(frame.data, dtype=np.uint8)
    return bool(np.array_equal(got[mask], np.frombuffer(expected, dtype=np.uint8)[mask]))


def udp_rcvbuf_errors() -> int | None:
    """System-wide UDP receive-buffer drops (``RcvbufErrors`` of /proc/net/snmp)."""
    try:
        lines = Path("/proc/net/snmp").read_text().splitlines()
    except OSError:
        return None
    udp = [line.split() for line in lines if line.startswith("Udp:")]
    if len(udp) < 2:
        return None
    return int(dict(zip(udp[0], udp[1], strict=True)).get("RcvbufErrors", "0"))


def sender_process(
    dest: tuple[str, int], bytes_per_frame: int, rate: float, n_frames: int, conn: Connection
) -> None:
    """Child process: an emulator streaming ``n_frames`` paced at ``rate`` bytes/s."""
    frames = base_frames(bytes_per_frame)
    emu = DCA1000Emulator(
        data_dest=dest,
        bytes_per_frame=bytes_per_frame,
        frame_source=lambda i: frame_bytes(frames, i),
        max_frames=n_frames,
        rate_bytes_per_s=rate,
        continuous=True,
    )
    with emu:
        conn.send(emu.config_port)
        while not emu.wait_done(0.2):
            pass
        conn.send(
            {
                "frames_sent": emu.stats.frames_sent,
                "packets": emu.stats.packets,
                "payload_bytes": emu.stats.payload_bytes,
                "cpu_s": sum(os.times()[:2]),
            }
        )
        conn.recv()  # wait for the main process to send RECORD_STOP before closing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--rate-mbps", type=float, default=1000.0, help="payload rate, Mbit/s (1e6)"
    )
    parser.add_argument("--bytes-per-frame", type=int, default=786_432)
    parser.add_argument("--recv-buffer-mib", type=float, default=64.0)
    parser.add_argument("--no-verify", action="store_true", help="skip the byte-exact check")
    args = parser.parse_args(argv)
    bpf = args.bytes_per_frame
    rate = args.rate_mbps * 1e6 / 8
    n_frames = max(1, math.ceil(args.seconds * rate / bpf))
    frames = base_frames(bpf)

    receiver = DCA1000Receiver(
        "127.0.0.1",
        0,
        bytes_per_frame=bpf,
        name="bench",
        recv_buffer_bytes=int(args.recv_buffer_mib * MiB),
        queue_frames=256,
    )
    receiver.start()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=sender_process, args=(receiver.address, bpf, rate, n_frames, child), daemon=True
    )
    proc.start()
    config_port = parent.recv()
    card = DCA1000Control(
        "127.0.0.1",
        config_port=config_port,
        host_ip="127.0.0.1",
        host_config_port=0,
        name="bench",
        timeout_s=5.0,
    )
    drops_before = udp_rcvbuf_errors()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.monotonic()
    card.connect()
    card.configure_fpga(lanes=2)
    card.configure_packets(delay_us=0)
    card.start_record()
    print(
        f"streaming {n_frames} frames of {bpf:,} bytes at {args.rate_mbps:g} Mbit/s "
        f"(~{args.seconds:g} s); receive buffer {receiver.stats.recv_buffer_bytes:,} bytes "
        f"granted (net.core.rmem_max={read_rmem_max()})",
        flush=True,
    )
    received = mismatched = 0
    first_ns = last_ns = None
    sender: dict[str, float] | None = None
    last_report = time.monotonic()
    while True:
        frame = receiver.get_frame(timeout=0.2)
        if frame is not None:
            received += 1
            if first_ns is None:
                first_ns = frame.first_rx_mono_ns
            last_ns = frame.last_rx_mono_ns or last_ns
            if not args.no_verify and not received_bytes_match(frame, frames):
                mismatched += 1
            if time.monotonic() - last_report > 5.0:
                last_report = time.monotonic()
                s = receiver.stats
                print(f"  {received} frames, {s.lost_packets} packets lost", flush=True)
        if sender is None and parent.poll():
            sender = parent.recv()
        if sender is not None and (frame is None or received >= sender["frames_sent"]):
            break
    card.stop_record()
    stats = receiver.stop(expected_frames=int(sender["frames_sent"]))
    for frame in receiver.frames(timeout=0):
        received += 1
        if not args.no_verify and not received_bytes_match(frame, frames):
            mismatched += 1
    wall = time.monotonic() - wall_before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    drops_after = udp_rcvbuf_errors()
    parent.send("done")
    proc.join(10)
    card.close()

    span_s = (last_ns - first_ns) / 1e9 if first_ns and last_ns and last_ns > first_ns else 0.0
    mb_s = stats.payload_bytes / span_s / 1e6 if span_s else 0.0
    pkt_s = stats.packets / span_s if span_s else 0.0
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    kernel_drops = (
        drops_after - drops_before if drops_after is not None and drops_before is not None else None
    )
    print(f"frames sent / received      {int(sender['frames_sent'])} / {received}")
    print(f"complete / incomplete       {stats.frames_complete} / {stats.frames_incomplete}")
    print(f"payload received            {stats.payload_bytes / 1e6:,.1f} MB in {span_s:.2f} s")
    print(
        f"throughput                  {mb_s:.1f} MB/s ({mb_s * 8:.0f} Mbit/s), "
        f"{pkt_s:,.0f} packets/s"
    )
    print(f"lost packets / bytes        {stats.lost_packets} / {stats.lost_bytes}")
    print(f"out of order / duplicates   {stats.out_of_order} / {stats.duplicates}")
    print(
        f"frames with wrong bytes     {mismatched}" + (" (not checked)" if args.no_verify else "")
    )
    print(f"mean receive batch          {stats.packets / max(1, stats.batches):.1f} packets")
    print(
        f"receiver process CPU        {cpu_s:.1f} s over {wall:.1f} s wall = "
        f"{100 * cpu_s / wall:.0f} % of one core (receive thread + frame checks)"
    )
    print(
        f"receive thread CPU          {stats.thread_cpu_s:.1f} s = "
        f"{100 * stats.thread_cpu_s / wall:.0f} % of one core, "
        f"{1e6 * stats.thread_cpu_s / max(1, stats.packets):.2f} us per packet"
    )
    print(f"sender process CPU          {sender['cpu_s']:.1f} s")
    print(
        f"kernel UDP buffer drops     {kernel_drops if kernel_drops is not None else 'n/a'} "
        f"(buffer {stats.recv_buffer_bytes:,} bytes)"
    )
    ok = (
        mb_s >= PASS_MB_PER_S
        and stats.lost_bytes == 0
        and stats.frames_incomplete == 0
        and mismatched == 0
        and received == int(sender["frames_sent"])
    )
    if not ok and kernel_drops:
        print(
            "note: the kernel dropped datagrams: the socket buffer overflowed (raise "
            "--recv-buffer-mib / net.core.rmem_max) or the receiver is CPU-bound"
        )
    if mb_s < 0.97 * rate / 1e6 and stats.lost_packets == 0:
        print(
            f"note: the sender fell behind its {rate / 1e6:.0f} MB/s pace with nothing lost: "
            "the machine was short of CPU for the sender (check `uptime` / other jobs)"
        )
    print(f"{'PASS' if ok else 'FAIL'}: >= {PASS_MB_PER_S:g} MB/s with zero loss")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
