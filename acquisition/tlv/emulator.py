"""Emulated radar data UART: out-of-box demo TLV packets on a real pseudo terminal.

Frames are sent on every pulse of a :class:`TriggerLine` (a radar in hardware-trigger mode), on a
timer at ``frame_rate_hz`` (software-triggered frames), or one per :meth:`emit_frame` call. Frame
numbers start at 1, as the SDK's frame counter does, and advance for every frame the radar
*made*, sent or not, so a dropped or corrupted frame shows up as a frame-number gap.

Fault knobs (attributes, may be changed while running):
    garbage_probability: chance that random bytes (1..``garbage_max_bytes``) precede a frame.
    corrupt_length_probability: chance that a frame goes out with a wrong ``totalPacketLen``.
    drop_probability: chance that a frame is not sent at all.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Self

import numpy as np
from numpy.typing import NDArray

from acquisition.emulation.pty_port import PtySerialPort
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.tlv.parser import MAGIC, SEGMENT_LEN, XWR18XX, TlvFormat, build_frame

PointsSource = Callable[[int], NDArray[np.float32]]
"""frame number -> (N, 5) float32 points: x, y, z (m), velocity (m/s), snr_db (or (N, 4..6))."""

_CPU_HZ = 200e6  # xWR18xx R4F clock: timeCpuCycles counts at this rate


def walking_person(frame_number: int) -> NDArray[np.float32]:
    """Default points source: 8 points of a target walking along y at 1 m/s, 10 frames/s."""
    rng = np.random.default_rng(frame_number)
    y = 1.5 + (frame_number % 40) * 0.1
    pts = np.empty((8, 5), dtype=np.float32)
    pts[:, 0] = rng.normal(0.0, 0.15, 8)
    pts[:, 1] = y + rng.normal(0.0, 0.05, 8)
    pts[:, 2] = rng.uniform(-0.8, 0.8, 8)
    pts[:, 3] = 1.0
    pts[:, 4] = np.round(rng.uniform(10.0, 30.0, 8), 1)
    return pts


class TlvUartEmulator(PtySerialPort):
    """Data UART of one emulated radar.

    Args:
        points_source: points of each frame (default :func:`walking_person`).
        line: send one frame per pulse of this trigger line.
        frame_rate_hz: without ``line``, send frames on a timer at this rate (Hz).
        fmt: packet format variant.
        range_bins: when > 0, add a range profile TLV of this many bins.
        seed: seed of the fault-knob random generator.
        name: thread/port name.
    """

    def __init__(
        self,
        *,
        points_source: PointsSource = walking_person,
        line: TriggerLine | None = None,
        frame_rate_hz: float | None = None,
        fmt: TlvFormat = XWR18XX,
        range_bins: int = 0,
        seed: int | None = None,
        name: str = "tlv-uart-emulator",
    ) -> None:
        super().__init__(name=name)
        os.set_blocking(self._master, False)  # writes must never block the emulator thread
        self.points_source = points_source
        self.line = line
        self.frame_rate_hz = frame_rate_hz
        self.fmt = fmt
        self.range_bins = range_bins
        self.garbage_probability = 0.0
        self.garbage_max_bytes = 64
        self.corrupt_length_probability = 0.0
        self.drop_probability = 0.0
        # Counters, for tests to compare with what the driver saw.
        self.frames_made = 0
        self.frames_sent = 0  # sent intact
        self.frames_dropped = 0
        self.frames_corrupted = 0
        self.corrupted_bytes_sent = 0
        self.garbage_bytes_sent = 0
        self._rng = random.Random(seed)
        self._host0_ns = time.monotonic_ns()
        self._cond = threading.Condition()
        self._requests: deque[bytes | None] = deque()  # None: make a frame; bytes: inject them
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if self._writer is None:
            self._halt.clear()
            self._writer = threading.Thread(
                target=self._write_loop, name=f"{self.name}-out", daemon=True
            )
            self._writer.start()
            if self.line is not None:
                self.line.subscribe(self._on_pulse)
        super().start()
        return self

    def close(self) -> None:
        if self.line is not None:
            self.line.unsubscribe(self._on_pulse)
        self._halt.set()
        with self._cond:
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(timeout=2.0)
            self._writer = None
        super().close()

    def __enter__(self) -> Self:
        return self.start()

    # --- frame requests ------------------------------------------------------------------------
    def _on_pulse(self, pulse: TriggerPulse) -> None:
        # Called in the trigger emulator's thread: only queue, never block it.
        self.emit_frame()

    def emit_frame(self) -> None:
        """Make (and, faults permitting, send) one frame."""
        with self._cond:
            self._requests.append(None)
            self._cond.notify_all()

    def inject(self, data: bytes) -> None:
        """Send raw bytes in stream order (counted as garbage)."""
        with self._cond:
            self._requests.append(bytes(data))
            self._cond.notify_all()

    def pending(self) -> int:
        """Requests not yet written."""
        with self._cond:
            return len(self._requests)

    # --- output --------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        next_due = time.monotonic()
        while not self._halt.is_set():
            with self._cond:
                if not self._requests:
                    timeout = 0.1
                    if self.line is None and self.frame_rate_hz:
                        timeout = next_due - time.monotonic()
                        if timeout <= 0:
                            self._requests.append(None)
                            next_due += 1.0 / self.frame_rate_hz
                            continue
                    self._cond.wait(min(timeout, 0.1))
                    continue
                request = self._requests[0]
            data = self._make(request)
            if data and not self._send(data):
                return
            with self._cond:
                self._requests.popleft()

    def _make(self, request: bytes | None) -> bytes:
        """The bytes one request puts on the wire (counters updated)."""
        if request is not None:
            self.garbage_bytes_sent += len(request)
            return request
        self.frames_made += 1
        number = self.frames_made
        garbage = b""
        if self._rng.random() < self.garbage_probability:
            n = self._rng.randint(1, self.garbage_max_bytes)
            garbage = bytes(self._rng.randrange(256) for _ in range(n))
            if MAGIC in garbage:  # astronomically unlikely; keeps the counters exact
                garbage = bytes(n)
            self.garbage_bytes_sent += n
        if self._rng.random() < self.drop_probability:
            self.frames_dropped += 1
            return garbage
        cycles = int((time.monotonic_ns() - self._host0_ns) * _CPU_HZ / 1e9) & 0xFFFFFFFF
        profile = None
        if self.range_bins > 0:
            profile = np.arange(self.range_bins, dtype=np.uint16) * 7 % 5000
        packet = bytearray(
            build_frame(
                number,
                self.points_source(number),
                fmt=self.fmt,
                range_profile=profile,
                time_cpu_cycles=cycles,
            )
        )
        if self._rng.random() < self.corrupt_length_probability:
            total = int.from_bytes(packet[12:16], "little")
            wrong = self._rng.choice(
                [total + SEGMENT_LEN * self._rng.randint(1, 4), total - SEGMENT_LEN, 0x7FFFFFF0]
            )
            packet[12:16] = wrong.to_bytes(4, "little")
            self.frames_corrupted += 1
            self.corrupted_bytes_sent += len(packet)
        else:
            self.frames_sent += 1
        return garbage + bytes(packet)

    def _send(self, data: bytes) -> bool:
        """Write all of ``data`` unless the emulator is closing; False when it is."""
        return self.write(data, stop=self._halt)
