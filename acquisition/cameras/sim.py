"""The simulated camera: frames from a callable (usually the simulator's RGB-D renderer).

In ``"external-trigger"`` / ``"subordinate"`` mode it exposes one frame per pulse of a
:class:`~acquisition.emulation.trigger_line.TriggerLine`, as a hardware-triggered camera does; its
device clock is the trigger board's clock, so ``device_time_ns`` is the pulse's board time plus a
fixed exposure offset and ``trigger_index`` is the pulse index. In ``"free-run"`` / ``"master"``
mode it captures from its own timer at ``fps`` on a device clock that starts at 0 at ``start()``.

Frames are produced on a capture thread (rendering never blocks the trigger line) into a bounded
queue; when the queue is full the oldest frame is discarded and counted. Fault knobs, seeded:
``drop_probability`` loses frames inside the device (the frame counter still advances, so the
loss shows as a gap) and ``unplug_after_frames`` makes the device vanish after that many
captures.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from acquisition.cameras.base import NO_TRIGGER, Camera, CameraFrame
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.recording.records import CameraIntrinsics

__all__ = ["FrameSource", "SimulatedCamera", "renderer_source"]

FrameSource = Callable[[int], tuple[NDArray[np.uint8], NDArray[np.uint16] | None]]
"""Called with the capture time (ns, device clock); returns (H, W, 3) uint8 RGB and (H, W) uint16
depth in mm aligned to it, or None for no depth."""

TRIGGERED_ROLES = ("external-trigger", "subordinate")
FREE_RUN_ROLES = ("free-run", "master")
DEFAULT_EXPOSURE_OFFSET_NS = 500_000  # mid-exposure of a short exposure after the edge


def renderer_source(
    render: Callable[[NDArray[np.float64]], tuple[NDArray[np.uint8], NDArray[np.uint16]]],
    joints_at: Callable[[float], NDArray[np.float64]],
) -> FrameSource:
    """A frame source that poses the body at the capture time (seconds) and renders it.

    Example: ``renderer_source(RgbdRenderer(cam).render, lambda t: motion.joints_at(t))``.
    """

    def source(time_ns: int) -> tuple[NDArray[np.uint8], NDArray[np.uint16] | None]:
        return render(joints_at(time_ns / 1e9))

    return source


class SimulatedCamera(Camera):
    """A camera emulator driven by a frame source; see the module docstring."""

    kind = "sim"

    def __init__(
        self,
        name: str,
        *,
        frame_source: FrameSource,
        intrinsics: CameraIntrinsics,
        trigger_line: TriggerLine | None = None,
        fps: float = 30.0,
        sync_role: str = "free-run",
        depth: bool = True,
        exposure_offset_ns: int = DEFAULT_EXPOSURE_OFFSET_NS,
        queue_size: int = 8,
        unplug_after_frames: int | None = None,
        drop_probability: float = 0.0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            frame_source: renders the frame captured at a device time (ns).
            intrinsics: colour intrinsics; images must be ``height x width``.
            trigger_line: the trigger wire (required in a triggered sync role).
            fps: free-run frame rate (ignored when triggered).
            sync_role: ``"external-trigger"``/``"subordinate"`` (one frame per pulse) or
                ``"free-run"``/``"master"`` (own timer).
            depth: whether frames carry the source's depth image.
            exposure_offset_ns: device time of a triggered frame after its pulse's edge.
            queue_size: frames held for ``read``; when full the oldest is discarded.
            unplug_after_frames: the device vanishes after this many captures (None = never).
            drop_probability: chance that a capture is lost inside the device.
            seed: seed of the drop draws.
        """
        super().__init__(name)
        if sync_role not in TRIGGERED_ROLES + FREE_RUN_ROLES:
            raise ValueError(
                f"sync_role must be one of {TRIGGERED_ROLES + FREE_RUN_ROLES}, got {sync_role!r}"
            )
        if sync_role in TRIGGERED_ROLES and trigger_line is None:
            raise ValueError(f"sync_role {sync_role!r} needs a trigger_line")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not 0.0 <= drop_probability <= 1.0:
            raise ValueError(f"drop_probability must be in [0, 1], got {drop_probability}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.frame_source = frame_source
        self._intrinsics = intrinsics
        self.trigger_line = trigger_line
        self.fps = fps
        self.sync_role = sync_role
        self._depth = depth
        self.exposure_offset_ns = exposure_offset_ns
        self.queue_size = queue_size
        self.unplug_after_frames = unplug_after_frames
        self.drop_probability = drop_probability
        self.seed = seed
        self._first_frame_number = 0

        self._frames: collections.deque[CameraFrame] = collections.deque()
        self._frames_cond = threading.Condition()
        self._pulses: queue.Queue[TriggerPulse | None] = queue.Queue()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._unplugged = False
        self._capture_error: BaseException | None = None
        self._rng = np.random.default_rng(seed)
        self._device_frame_number = 0

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self._intrinsics

    @property
    def has_depth(self) -> bool:
        return self._depth

    @property
    def triggered(self) -> bool:
        return self.sync_role in TRIGGERED_ROLES

    # --- life cycle hooks ------------------------------------------------------------------
    def _open(self) -> None:
        pass

    def _start(self) -> None:
        self._stop_event.clear()
        self._frames.clear()
        self._pulses = queue.Queue()
        self._unplugged = False
        self._capture_error = None
        self._rng = np.random.default_rng(self.seed)
        self._device_frame_number = 0
        if self.triggered:
            assert self.trigger_line is not None
            self.trigger_line.subscribe(self._on_pulse)
            target = self._triggered_loop
        else:
            target = self._free_run_loop
        self._thread = threading.Thread(target=target, name=f"sim-camera-{self.name}", daemon=True)
        self._thread.start()

    def _read_frame(self, timeout_s: float) -> CameraFrame | None:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._frames_cond:
            while True:
                if self._frames:
                    return self._frames.popleft()
                # Frames already on the host are delivered before the loss is reported.
                if self._unplugged:
                    raise self._lost(
                        f"simulated unplug after {self.unplug_after_frames} captured frames"
                    )
                if self._capture_error is not None:
                    raise self._lost(f"frame source failed: {self._capture_error!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._frames_cond.wait(remaining)

    def _stop(self) -> None:
        self._stop_event.set()
        if self.trigger_line is not None:
            self.trigger_line.unsubscribe(self._on_pulse)
        self._pulses.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _close(self) -> None:
        pass

    # --- the emulated device ---------------------------------------------------------------
    def _on_pulse(self, pulse: TriggerPulse) -> None:
        # Runs on the trigger line's thread: only hand over, never render here.
        self._pulses.put(pulse)

    def _triggered_loop(self) -> None:
        while not self._stop_event.is_set():
            pulse = self._pulses.get()
            if pulse is None or self._stop_event.is_set():
                return
            device_time_ns = pulse.board_time_us * 1000 + self.exposure_offset_ns
            if not self._capture(device_time_ns, pulse.index):
                return

    def _free_run_loop(self) -> None:
        period_ns = round(1e9 / self.fps)
        t0 = time.monotonic_ns()
        k = 0
        while not self._stop_event.is_set():
            due = t0 + k * period_ns
            wait_s = (due - time.monotonic_ns()) / 1e9
            if wait_s > 0 and self._stop_event.wait(wait_s):
                return
            if not self._capture(k * period_ns + self.exposure_offset_ns, NO_TRIGGER):
                return
            k += 1

    def _capture(self, device_time_ns: int, trigger_index: int) -> bool:
        """Expose one frame; False once the device is gone."""
        if self._unplugged:
            return False
        frame_number = self._device_frame_number
        self._device_frame_number += 1
        dropped = self.drop_probability > 0 and bool(self._rng.random() < self.drop_probability)
        if not dropped:
            try:
                color, depth = self.frame_source(device_time_ns)
            except Exception as exc:  # a broken source looks like a dead device
                with self._frames_cond:
                    self._capture_error = exc
                    self._frames_cond.notify_all()
                return False
            frame = CameraFrame(
                camera=self.name,
                color=color,
                depth=depth if self._depth else None,
                frame_number=frame_number,
                device_time_ns=device_time_ns,
                host_time_ns=self._now_ns(),
                trigger_index=trigger_index,
            )
            with self._frames_cond:
                if len(self._frames) >= self.queue_size:
                    self._frames.popleft()
                    self.counters.overflow += 1
                self._frames.append(frame)
                self._frames_cond.notify_all()
        if self.unplug_after_frames is not None and (
            self._device_frame_number >= self.unplug_after_frames
        ):
            with self._frames_cond:
                self._unplugged = True
                self._frames_cond.notify_all()
            return False
        return True
