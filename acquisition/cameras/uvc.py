"""Plain UVC webcams (and video files) over OpenCV.

A UVC camera has no depth, no hardware timestamp (``device_time_ns`` is 0; the recorder matches
it by host time) and no frame counter: ``frame_number`` counts the frames grabbed by the host, so
only frames lost in the host-side queue show up as gaps. Frames are grabbed on a background thread
so that ``read(timeout_s)`` honours its timeout (``VideoCapture.read`` blocks). A video file is
read without dropping anything (the grab thread waits for the reader) and ends with state
``"ended"``; a live camera whose device node disappears, or that stops delivering, is lost.

Intrinsics come from the caller (a calibration); without one a nominal 60-degree horizontal field
of view is assumed, good for previews only.

OpenCV (``cv2``, package ``opencv-python``) is imported when a camera is constructed.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.cameras.base import Camera, CameraFrame, EndOfRecording
from acquisition.errors import DeviceNotFound, MissingDependency
from acquisition.recording.records import CameraIntrinsics

__all__ = ["NOMINAL_HFOV_DEG", "UvcCamera", "import_cv2"]

NOMINAL_HFOV_DEG = 60.0
# Consecutive failed grabs after which a live camera whose node still exists counts as lost.
MAX_FAILED_GRABS = 3


def import_cv2() -> Any:
    """The cv2 module, or MissingDependency saying what to install."""
    try:
        import cv2  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise MissingDependency("opencv-python", "cameras", "The UVC camera backend") from exc
    return cv2


class UvcCamera(Camera):
    """A UVC camera by index or device path, or a video file; see the module docstring."""

    kind = "uvc"

    def __init__(
        self,
        source: int | str | Path = 0,
        *,
        name: str = "uvc",
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        intrinsics: CameraIntrinsics | None = None,
        queue_size: int = 4,
    ) -> None:
        """
        Args:
            source: device index, device path (``/dev/video0``) or a video file.
            name: rig name.
            width, height, fps: requested mode of a live camera (None = the driver's default);
                the mode actually granted is read back after open.
            intrinsics: calibrated intrinsics at the granted resolution.
            queue_size: frames held for ``read``; when full the oldest is discarded (live only).
        """
        super().__init__(name)
        self.cv2 = import_cv2()
        self.source = source
        path = Path(source) if not isinstance(source, int) else None
        self.is_file = path is not None and path.is_file() and not str(path).startswith("/dev/")
        self.width = width
        self.height = height
        self.fps = fps
        self._given_intrinsics = intrinsics
        self._intrinsics: CameraIntrinsics | None = intrinsics
        self.queue_size = queue_size
        self._capture: Any = None
        self._frames: collections.deque[CameraFrame] = collections.deque()
        self._cond = threading.Condition()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended = False
        self._lost_reason: str | None = None
        self._first_frame_number = 0  # host-side counter: losses before frame 0 count too

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise RuntimeError(f"camera {self.name!r}: intrinsics are known after open()")
        return self._intrinsics

    @property
    def has_depth(self) -> bool:
        return False

    # --- life cycle hooks ------------------------------------------------------------------
    def _open(self) -> None:
        cv2 = self.cv2
        source: int | str = self.source if isinstance(self.source, int) else str(self.source)
        if not self.is_file and isinstance(source, str) and not os.path.exists(source):
            raise DeviceNotFound(self.name, f"no such video device or file: {source}")
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            raise DeviceNotFound(self.name, f"OpenCV cannot open {source!r}")
        if not self.is_file:
            if self.width is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height is not None:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps is not None:
                capture.set(cv2.CAP_PROP_FPS, self.fps)
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(capture.get(cv2.CAP_PROP_FPS)) or self.fps
        self._capture = capture
        if self._given_intrinsics is None:
            f = (self.width / 2.0) / math.tan(math.radians(NOMINAL_HFOV_DEG) / 2.0)
            self._intrinsics = CameraIntrinsics(
                self.width, self.height, f, f, self.width / 2.0, self.height / 2.0
            )

    def _start(self) -> None:
        self._frames.clear()
        self._ended = False
        self._lost_reason = None
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=self._grab_loop, name=f"uvc-{self.name}", daemon=True
        )
        self._thread.start()

    def _read_frame(self, timeout_s: float) -> CameraFrame | None:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            while True:
                if self._frames:
                    frame = self._frames.popleft()
                    self._cond.notify_all()  # room for the file reader
                    return frame
                if self._ended:
                    raise EndOfRecording
                if self._lost_reason is not None:
                    raise self._lost(self._lost_reason)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def _stop(self) -> None:
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    # --- grab thread -----------------------------------------------------------------------
    def _grab_loop(self) -> None:
        cv2 = self.cv2
        number = 0
        failures = 0
        while not self._stop_event.is_set():
            ok, bgr = self._capture.read()
            host_time_ns = time.time_ns()
            if not ok or bgr is None:
                failures += 1
                reason = self._failure_reason(failures)
                if reason is None:
                    continue
                with self._cond:
                    if self.is_file:
                        self._ended = True
                    else:
                        self._lost_reason = reason
                    self._cond.notify_all()
                return
            failures = 0
            frame = CameraFrame(
                camera=self.name,
                color=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.uint8, copy=False),
                depth=None,
                frame_number=number,
                device_time_ns=0,
                host_time_ns=host_time_ns,
            )
            number += 1
            with self._cond:
                if self.is_file:
                    # A file is read as fast as it is consumed, never dropping a frame.
                    while len(self._frames) >= self.queue_size and not self._stop_event.is_set():
                        self._cond.wait(0.1)
                elif len(self._frames) >= self.queue_size:
                    self._frames.popleft()
                    self.counters.overflow += 1
                self._frames.append(frame)
                self._cond.notify_all()

    def _failure_reason(self, failures: int) -> str | None:
        """Why grabbing stopped for good, or None to retry."""
        if self.is_file:
            return "end of file"
        if isinstance(self.source, (str, Path)) and not os.path.exists(self.source):
            return f"device node {self.source} disappeared"
        if failures >= MAX_FAILED_GRABS:
            return f"{failures} consecutive failed grabs"
        return None
