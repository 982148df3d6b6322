"""DCA1000 data-port reception: the live UDP receiver.

Datagrams are read into a preallocated slot array and handed in batches to the
:class:`~acquisition.dca1000.assembly.FrameAssembler`, which places payloads by byte count and
accounts for every lost byte (see ``assembly.py``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from acquisition.dca1000.assembly import (
    SLOT_BYTES,
    AssemblyStats,
    FrameAssembler,
    FrameCallback,
    RawFrame,
)
from acquisition.dca1000.protocol import (
    DATA_PORT,
    DEFAULT_HOST_IP,
)
from acquisition.errors import DeviceError, DeviceNotFound

__all__ = [
    "SLOT_BYTES",
    "AssemblyStats",
    "DCA1000Receiver",
    "FrameAssembler",
    "FrameCallback",
    "MiB",
    "RawFrame",
    "ReceiverStats",
    "read_rmem_max",
    "set_receive_buffer",
]

log = logging.getLogger(__name__)

MiB = 1 << 20
_SO_RCVBUFFORCE = 33  # Linux; bypasses net.core.rmem_max with CAP_NET_ADMIN (not in `socket`)
_SO_TIMESTAMPNS = 35  # Linux; struct timespec of the arrival in the ancillary data
_ANCILLARY_BYTES = 64


def _kernel_arrival_mono_ns(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """Arrival time of a datagram from its SO_TIMESTAMPNS ancillary data, on the monotonic
    clock (None when the kernel gave none)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack_from("qq", data)
            return int(sec) * 1_000_000_000 + int(nsec) - (time.time_ns() - time.monotonic_ns())
    return None


# --- live receiver ------------------------------------------------------------------------------
def read_rmem_max() -> int | None:
    """``net.core.rmem_max`` in bytes (Linux), None where it cannot be read."""
    try:
        return int(Path("/proc/sys/net/core/rmem_max").read_text().strip())
    except (OSError, ValueError):
        return None


def set_receive_buffer(sock: socket.socket, requested: int) -> int:
    """Raise ``SO_RCVBUF`` towards ``requested`` bytes; return the size the kernel granted.

    Linux caps ``SO_RCVBUF`` at ``net.core.rmem_max`` and reports twice the accepted value
    (the extra half is its bookkeeping overhead). When the cap bites, ``SO_RCVBUFFORCE`` is tried
    (needs CAP_NET_ADMIN, e.g. root); without it the capped size stays and a warning says how to
    raise the cap (``sysctl -w net.core.rmem_max=...``).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, requested)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < requested and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, requested)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < requested:
        log.warning(
            "UDP receive buffer is %d bytes, %d requested: the kernel caps it at "
            "net.core.rmem_max=%s; raise it with `sysctl -w net.core.rmem_max=%d` (root)",
            granted,
            requested,
            read_rmem_max(),
            requested,
        )
    return granted


@dataclass
class ReceiverStats(AssemblyStats):
    """Snapshot of a receiver's counters (see ``AssemblyStats``) plus its socket figures.

    Attributes:
        frames_queue_dropped: frames dropped because the consumer did not empty the queue.
        recv_buffer_bytes: receive buffer the kernel granted (``getsockopt(SO_RCVBUF)``; Linux
            reports twice the payload capacity it accounts).
        batches: receive batches processed (packets / batches = mean batch size).
        thread_cpu_s: CPU time used by the receive thread so far (user + system), seconds.
    """

    frames_queue_dropped: int = 0
    recv_buffer_bytes: int = 0
    batches: int = 0
    thread_cpu_s: float = 0.0


class DCA1000Receiver:
    """Receives a DCA1000 data stream on UDP and emits assembled ``RawFrame``s.

    A background thread reads datagrams with ``recv_into`` into a preallocated slot array (one
    syscall and one clock read per packet in Python), then hands each batch to a
    ``FrameAssembler`` (numpy header parse and block copies). Frames go to ``on_frame`` (called
    in the receive thread; keep it short) or, by default, to a bounded queue read with
    ``get_frame`` / ``frames``.

    Args:
        host_ip: local address to bind (``"127.0.0.1"`` for an emulator).
        data_port: local UDP port (4098; 0 picks a free port, see ``address``).
        bytes_per_frame: raw bytes per frame (``RadarParams.bytes_per_frame``).
        name: device name used in errors and logs.
        ring_frames: frames kept open for late packets (see ``FrameAssembler``).
        recv_buffer_bytes: requested kernel receive buffer (see ``set_receive_buffer``). Linux
            charges ~2.3 KB of the doubled size per 1466-byte datagram, so R bytes hold about
            R / 1150 datagrams: 64 MiB rides out ~0.7 s at 86k packets/s (4 MiB, ~40 ms, lost
            packets in the benchmark on a loaded 2-core machine). Memory is used only while
            datagrams wait.
        batch_packets: most datagrams read before assembling (larger: fewer numpy calls).
        queue_frames: capacity of the frame queue; when full, new frames are dropped and
            counted in ``frames_queue_dropped`` (the receive thread never blocks).
        on_frame: callback instead of the queue.
        expected_source: accept datagrams only from this IPv4 address (None: any).
    """

    def __init__(
        self,
        host_ip: str = DEFAULT_HOST_IP,
        data_port: int = DATA_PORT,
        *,
        bytes_per_frame: int,
        name: str = "dca1000",
        ring_frames: int = 3,
        recv_buffer_bytes: int = 64 * MiB,
        batch_packets: int = 256,
        queue_frames: int = 128,
        on_frame: FrameCallback | None = None,
        poll_interval_s: float = 0.05,
    ) -> None:
        self.host_ip = host_ip
        self.data_port = data_port
        self.bytes_per_frame = bytes_per_frame
        self.name = name
        self.recv_buffer_bytes = recv_buffer_bytes
        self.batch_packets = batch_packets
        self.poll_interval_s = poll_interval_s
        self._on_frame_user = on_frame
        self._queue: queue.Queue[RawFrame | None] = queue.Queue(maxsize=queue_frames)
        self._assembler = FrameAssembler(bytes_per_frame, self._deliver, ring_frames=ring_frames)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Re-entrant: an on_frame callback (run under the lock) may read `stats`.
        self._lock = threading.RLock()
        self._queue_dropped = 0
        self._batches = 0
        self._thread_cpu_s = 0.0
        self._granted_buffer = 0
        self._error: BaseException | None = None
        self._finished = False
        self._drain_s = 0.1

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """Bound (ip, port); the real port when constructed with port 0."""
        if self._sock is None:
            raise RuntimeError(f"[{self.name}] receiver not started")
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind the data port and start the receive thread. Raises ``DeviceNotFound``."""
        if self._sock is not None:
            raise RuntimeError(f"[{self.name}] receiver already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._granted_buffer = set_receive_buffer(sock, self.recv_buffer_bytes)
            sock.bind((self.host_ip, self.data_port))
        except OSError as exc:
            sock.close()
            raise DeviceNotFound(
                self.name, f"cannot bind data port {self.host_ip}:{self.data_port}: {exc}"
            ) from exc
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            # Kernel arrival times: a frame's first packet is stamped when it reached the host,
            # however late this thread gets to read it.
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-rx", daemon=True)
        self._thread.start()

    def stop(self, *, expected_frames: int | None = None, drain_s: float = 0.1) -> ReceiverStats:
        """Stop receiving and emit the open frames (incomplete where bytes are missing).

        Args:
            expected_frames: frames the recording is known to have; missing trailing frames
                are emitted as wholly lost (see ``FrameAssembler.flush``).
            drain_s: keep reading until the socket has been idle this long (data still in
                flight after record stop), at most 20x as long in total.

        Raises:
            DeviceError: the receive thread failed (the original exception is chained).
        """
        if self._finished:
            return self.stats
        self._drain_s = drain_s
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._assembler.flush(expected_frames)
        if self._sock is not None:
            self._sock.close()
        self._finished = True
        self._put(None)
        if self._error is not None:
            raise DeviceError(self.name, f"receive thread failed: {self._error!r}") from (
                self._error
            )
        return self.stats

    def __enter__(self) -> DCA1000Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- output -------------------------------------------------------------------------------
    @property
    def stats(self) -> ReceiverStats:
        """Consistent snapshot of the counters (taken between batches)."""
        with self._lock:
            base = replace(self._assembler.stats)
        return ReceiverStats(
            **base.__dict__,
            frames_queue_dropped=self._queue_dropped,
            recv_buffer_bytes=self._granted_buffer,
            batches=self._batches,
            thread_cpu_s=self._thread_cpu_s,
        )

    def get_frame(self, timeout: float | None = None) -> RawFrame | None:
        """Next frame from the queue; None on timeout or once stopped and drained."""
        if self._finished and self._queue.empty():
            return None
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self._put(None)  # keep the end marker for other readers
        return item

    def frames(self, timeout: float | None = None) -> Iterator[RawFrame]:
        """Iterate over frames until the receiver is stopped (or ``timeout`` passes idle)."""
        while True:
            frame = self.get_frame(timeout)
            if frame is None:
                return
            yield frame

    def _put(self, item: RawFrame | None) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            if item is not None:
                self._queue_dropped += 1
                if self._queue_dropped == 1 or self._queue_dropped % 100 == 0:  # no log flood
                    log.warning(
                        "[%s] frame queue full (consumer too slow): frame %d dropped, %d so far",
                        self.name,
                        item.index,
                        self._queue_dropped,
                    )

    def _deliver(self, frame: RawFrame) -> None:
        if self._on_frame_user is not None:
            self._on_frame_user(frame)
        else:
            self._put(frame)

    # --- receive loop -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._receive_loop()
        except BaseException as exc:  # surfaced by stop(); the thread must not die silently
            log.exception("[%s] receive thread failed", self.name)
            self._error = exc

    def _receive_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        n_slots = self.batch_packets
        buffer = np.zeros((n_slots, SLOT_BYTES), dtype=np.uint8)
        views = [memoryview(buffer[i]) for i in range(n_slots)]
        lengths = [0] * n_slots
        stamps = [0] * n_slots
        recvmsg_into = sock.recvmsg_into
        clock = time.monotonic_ns
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poll_ms = max(1, int(self.poll_interval_s * 1000))
        stopping_since: int | None = None
        idle_since = clock()
        while True:
            n = 0
            # Hot loop: one syscall and two list stores per datagram; the arrival time is the
            # kernel's (SO_TIMESTAMPNS), so a frame's time does not depend on when this thread
            # got to read it.
            while n < n_slots:
                try:
                    lengths[n], ancillary, _, _ = recvmsg_into([views[n]], _ANCILLARY_BYTES)
                except BlockingIOError:
                    break
                stamps[n] = _kernel_arrival_mono_ns(ancillary) or clock()
                n += 1
            if n:
                wall_offset = time.time_ns() - clock()
                mono = np.array(stamps[:n], dtype=np.int64)
                with self._lock:
                    self._assembler.add_datagrams(
                        buffer[:n],
                        np.array(lengths[:n], dtype=np.int64),
                        mono,
                        mono + wall_offset,
                    )
                    self._batches += 1
                    self._thread_cpu_s = time.thread_time()
                idle_since = clock()
                if n == n_slots:
                    continue  # more may be waiting: do not poll
            now = clock()
            if self._stop.is_set():
                drain_ns = int(self._drain_s * 1e9)
                if stopping_since is None:
                    stopping_since = now
                if now - idle_since >= drain_ns or now - stopping_since >= 20 * drain_ns:
                    self._thread_cpu_s = time.thread_time()
                    return
                poller.poll(max(1, drain_ns // 4_000_000))
                continue
            poller.poll(poll_ms)
