"""The camera interface every backend implements, the frame it delivers and its loss counters.

Life cycle: ``open()`` (find the device or file, configure it) -> ``start()`` (stream) ->
``read(timeout_s)`` repeatedly -> ``stop()`` -> ``close()``; ``with camera:`` does open + start and
stop + close. ``read`` returns a :class:`CameraFrame`, or None when no frame came in time (counted
as a timeout), after the end of a recording (state ``"ended"``) or once the camera is lost.

Fault behaviour, the same for every backend: a device that disappears mid-take (unplugged,
powered off) makes ``read`` raise :class:`CameraLost` (a :class:`DeviceError` naming the camera)
exactly once; the camera is then in state ``"lost"`` and every later ``read`` returns None, so a
recorder keeps the other streams going. Frames missing from the delivered sequence are counted
from gaps in the device's own frame counter (``counters.dropped``), whatever lost them: the
device, the transport or a full host queue.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import ClassVar, Literal, Self

import numpy as np
from numpy.typing import NDArray

from acquisition.errors import DeviceError
from acquisition.recording.records import NO_TRIGGER, CameraFrameRecord, CameraIntrinsics

__all__ = [
    "NO_TRIGGER",
    "Camera",
    "CameraCounters",
    "CameraFrame",
    "CameraLost",
    "CameraState",
    "EndOfRecording",
]

CameraState = Literal["closed", "open", "streaming", "stopped", "ended", "lost"]


class CameraLost(DeviceError):
    """The camera disappeared mid-take (unplugged, powered off, USB reset)."""


class EndOfRecording(Exception):
    """Raised by a backend's ``_read_frame`` when a played-back file has no more frames."""


@dataclass
class CameraFrame:
    """One colour image, with the depth image aligned to it when the camera has depth.

    Attributes:
        camera: rig name of the camera.
        color: (H, W, 3) uint8 RGB.
        depth: (H, W) uint16 millimetres, aligned pixel-for-pixel to ``color`` (0 = no depth),
            or None for a camera without depth.
        frame_number: the device's own frame counter (gaps mean lost frames).
        device_time_ns: the device's hardware timestamp, ns on the device's clock; 0 when the
            device has none (UVC).
        host_time_ns: host wall clock (``time.time_ns()``) when the frame reached the host.
        trigger_index: index of the trigger pulse that exposed the frame, or -1 when unknown
            (the recorder's synchronisation fills it in later).
    """

    camera: str
    color: NDArray[np.uint8]
    depth: NDArray[np.uint16] | None
    frame_number: int
    device_time_ns: int
    host_time_ns: int
    trigger_index: int = NO_TRIGGER

    def to_records(self, stamp_ns: int | None = None) -> list[CameraFrameRecord]:
        """The frame as recording records: colour (``rgb8``) then depth (``16UC1``) if any.

        Args:
            stamp_ns: synchronised time of the frame; default the host reception time.
        """
        stamp = self.host_time_ns if stamp_ns is None else stamp_ns
        streams: list[tuple[str, NDArray[np.generic], str]] = [("color", self.color, "rgb8")]
        if self.depth is not None:
            streams.append(("depth", self.depth, "16UC1"))
        records = [
            CameraFrameRecord(
                camera_id=self.camera,
                stream=stream,
                frame_number=self.frame_number,
                trigger_index=self.trigger_index,
                stamp_ns=stamp,
                device_time_ns=self.device_time_ns,
                host_time_ns=self.host_time_ns,
                image=image,
                encoding=encoding,
            )
            for stream, image, encoding in streams
        ]
        return records


@dataclass
class CameraCounters:
    """What a camera delivered and lost during one take.

    Attributes:
        frames: frames returned by ``read``.
        dropped: frames missing from the delivered sequence, from gaps in the device frame
            counter (lost in the device, on the cable or in a full host queue).
        overflow: how many of ``dropped`` a full host-side queue discarded (when the backend
            owns the queue).
        timeouts: ``read`` calls that returned None because no frame arrived in time.
        errors: device errors raised by ``read``, the loss of the device included.
    """

    frames: int = 0
    dropped: int = 0
    overflow: int = 0
    timeouts: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Camera(ABC):
    """An RGB(-D) camera (or a recording of one) delivering :class:`CameraFrame` objects.

    Subclasses implement the ``_open``/``_start``/``_read_frame``/``_stop``/``_close`` hooks;
    this class owns the state machine, the counters and the loss handling. ``read`` is meant to
    be called from one thread.
    """

    kind: ClassVar[str] = "abstract"

    def __init__(self, name: str) -> None:
        self.name = name
        self.counters = CameraCounters()
        self._state: CameraState = "closed"
        self._last_frame_number: int | None = None
        # A backend that knows its first frame number (the simulator) sets this so that frames
        # lost before the first delivered one are counted too.
        self._first_frame_number: int | None = None

    # --- what a backend provides ------------------------------------------------------------
    @property
    @abstractmethod
    def intrinsics(self) -> CameraIntrinsics:
        """Pinhole intrinsics of the colour stream (depth is aligned to colour and shares them).
        Available after ``open()``."""

    @property
    @abstractmethod
    def has_depth(self) -> bool:
        """Whether frames carry a depth image."""

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _read_frame(self, timeout_s: float) -> CameraFrame | None:
        """The next frame, None on timeout; raises CameraLost when the device is gone,
        EndOfRecording at the end of a played-back file, DeviceError on other failures."""

    @abstractmethod
    def _stop(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    # --- life cycle -------------------------------------------------------------------------
    @property
    def state(self) -> CameraState:
        return self._state

    def open(self) -> None:
        if self._state != "closed":
            raise RuntimeError(f"camera {self.name!r} is already open")
        self._open()
        self._state = "open"

    def start(self) -> None:
        if self._state not in ("open", "stopped"):
            raise RuntimeError(f"camera {self.name!r} cannot start in state {self._state!r}")
        self.counters = CameraCounters()
        self._last_frame_number = None
        self._start()
        self._state = "streaming"

    def read(self, timeout_s: float = 1.0) -> CameraFrame | None:
        """The next frame, or None (timeout, end of recording, camera lost earlier).

        Raises:
            CameraLost: once, when the device disappeared; later calls return None.
            DeviceError: another device failure (counted in ``counters.errors``).
        """
        if self._state in ("lost", "ended"):
            return None
        if self._state != "streaming":
            raise RuntimeError(f"camera {self.name!r} is not streaming (state {self._state!r})")
        try:
            frame = self._read_frame(timeout_s)
        except EndOfRecording:
            self._state = "ended"
            return None
        except CameraLost:
            self._state = "lost"
            self.counters.errors += 1
            raise
        except DeviceError:
            self.counters.errors += 1
            raise
        if frame is None:
            self.counters.timeouts += 1
            return None
        self._count(frame.frame_number)
        return frame

    def stop(self) -> None:
        """Stop streaming; safe on a lost or ended camera (the device may be gone)."""
        if self._state in ("streaming", "ended", "lost"):
            self._stop()
            if self._state != "lost":  # a lost camera stays lost until closed
                self._state = "stopped"

    def close(self) -> None:
        """Release the device; idempotent."""
        if self._state == "closed":
            return
        if self._state in ("streaming", "ended", "lost"):
            self.stop()
        self._close()
        self._state = "closed"

    def __enter__(self) -> Self:
        self.open()
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- helpers for backends ---------------------------------------------------------------
    def _count(self, frame_number: int) -> None:
        """Count a delivered frame and the frames missing before it."""
        previous = self._last_frame_number
        if previous is None and self._first_frame_number is not None:
            previous = self._first_frame_number - 1
        if previous is not None and frame_number > previous + 1:
            self.counters.dropped += frame_number - previous - 1
        # A counter that goes backwards (device reset, wrap-around) restarts the gap check.
        self._last_frame_number = frame_number
        self.counters.frames += 1

    def _lost(self, reason: str) -> CameraLost:
        return CameraLost(self.name, f"camera lost mid-take: {reason}")

    @staticmethod
    def _now_ns() -> int:
        return time.time_ns()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self._state!r})"
