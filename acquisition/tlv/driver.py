"""Reader of the radar's data UART (out-of-box demo TLV packets).

Usage::

    with TlvDataPort("/dev/ttyACM1", name="radar_h_data") as data:
        frame = data.get_frame(timeout_s=1.0)     # TlvFrame, points (N, 6) float32
        print(frame.frame_number, frame.host_receive_ns, data.stats())
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import serial

from acquisition.errors import DeviceError, DeviceTimeout
from acquisition.serial_reader import SerialReaderPort
from acquisition.tlv.parser import XWR18XX, TlvFormat, TlvFrame, TlvStreamParser

FrameCallback = Callable[[TlvFrame], None]


@dataclass(frozen=True)
class TlvPortStats:
    """Counters of one port session (see :class:`TlvStreamParser` for their meaning).

    Attributes:
        frames: packets accepted.
        bytes_received: bytes read from the port.
        skipped_bytes: bytes outside accepted packets (garbage, rejected packets).
        bad_frames: packets rejected for inconsistent lengths.
        frame_gaps: discontinuities in frame numbers.
        missing_frames: frame numbers never received (forward gaps).
        queue_overflows: frames dropped because nobody consumed the queue.
        callback_errors: exceptions raised by ``on_frame``.
    """

    frames: int
    bytes_received: int
    skipped_bytes: int
    bad_frames: int
    frame_gaps: int
    missing_frames: int
    queue_overflows: int
    callback_errors: int


class TlvDataPort(SerialReaderPort):
    """Reader thread on a radar data UART, producing :class:`TlvFrame` objects stamped with the
    host monotonic and wall-clock times at which their last byte was read.

    Args:
        port: serial device of the data UART.
        name: rig name of the stream; errors name it.
        baudrate: serial speed (bit/s); the SDK demo uses 921600.
        fmt: packet format variant (:data:`XWR18XX`, :data:`XWR14XX`).
        on_frame: called from the reader thread for every frame; keep it short.
        max_queued_frames: frames kept for :meth:`get_frame`; older ones are dropped and counted.
        timeout_s: default wait of :meth:`get_frame` (s).
    """

    def __init__(
        self,
        port: str,
        *,
        name: str = "radar_data",
        baudrate: int = 921600,
        fmt: TlvFormat = XWR18XX,
        on_frame: FrameCallback | None = None,
        max_queued_frames: int = 1000,
        timeout_s: float = 2.0,
    ) -> None:
        self.port = port
        self.name = name
        self.baudrate = baudrate
        self.on_frame = on_frame
        self.timeout_s = timeout_s
        self.parser = TlvStreamParser(fmt)
        self.callback_error: Exception | None = None
        self._max_queued = max_queued_frames
        self._frames: deque[TlvFrame] = deque()
        self._cond = threading.Condition()
        super().__init__()
        self._reader_error: BaseException | None = None
        self._queue_overflows = 0
        self._callback_errors = 0

    def open(self) -> TlvDataPort:
        """Open the port and start reading. Raises :class:`DeviceNotFound`."""
        self._open_port()
        return self

    def __enter__(self) -> TlvDataPort:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_frame(self, timeout_s: float | None = None) -> TlvFrame:
        """The oldest unread frame; raises :class:`DeviceTimeout` after ``timeout_s`` (s)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._frames:
                if self._reader_error is not None:
                    raise DeviceError(
                        self.name, f"reader stopped: {self._reader_error}"
                    ) from self._reader_error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeviceTimeout(
                        self.name,
                        f"no TLV frame on {self.port} for {timeout:.3g} s "
                        f"({self.parser.bytes_received} bytes, {self.parser.bad_frames} bad)",
                    )
                self._cond.wait(remaining)
            return self._frames.popleft()

    def drain_frames(self) -> list[TlvFrame]:
        """All unread frames, without waiting."""
        with self._cond:
            frames = list(self._frames)
            self._frames.clear()
            return frames

    def stats(self) -> TlvPortStats:
        with self._cond:
            p = self.parser
            return TlvPortStats(
                frames=p.frames,
                bytes_received=p.bytes_received,
                skipped_bytes=p.skipped_bytes,
                bad_frames=p.bad_frames,
                frame_gaps=p.frame_gaps,
                missing_frames=p.missing_frames,
                queue_overflows=self._queue_overflows,
                callback_errors=self._callback_errors,
            )

    def _read_loop(self) -> None:
        port = self._serial
        assert port is not None
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError, ValueError) as exc:
                if not self._stop.is_set():
                    with self._cond:
                        self._reader_error = exc
                        self._cond.notify_all()
                return
            now_ns, wall_ns = time.monotonic_ns(), time.time_ns()
            if not data:
                continue
            with self._cond:  # the parser's counters are read under the same lock
                frames = self.parser.feed(data, host_receive_ns=now_ns, wall_receive_ns=wall_ns)
                for frame in frames:
                    if len(self._frames) >= self._max_queued:
                        self._frames.popleft()
                        self._queue_overflows += 1
                    self._frames.append(frame)
                if frames:
                    self._cond.notify_all()
            if self.on_frame is not None:
                for frame in frames:
                    try:
                        self.on_frame(frame)
                    except Exception as exc:  # a consumer bug must not kill the reader
                        self.callback_error = exc
                        with self._cond:
                            self._callback_errors += 1
