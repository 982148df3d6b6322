"""Intel RealSense D400 cameras (and their recordings) over pyrealsense2.

Colour is streamed as ``rgb8`` and depth as ``z16``; depth is aligned to colour with
``rs.align`` and scaled to millimetres, so a frame's depth pixel (v, u) belongs to colour pixel
(v, u). ``frame_number`` is the device's hardware frame counter of the colour frame (of the depth
frame under an external trigger, see ``primary_stream``); a gap in it is a lost frame.
``device_time_ns`` is the hardware clock: the ``sensor_timestamp`` metadata (middle of exposure,
microseconds) when the frame carries it, else ``get_timestamp()`` when its domain is the hardware
clock, else 0 (``timestamp_domain`` says which was used).

Sync modes set the stereo module's ``inter_cam_sync_mode`` (librealsense): ``"default"`` 0,
``"master"`` 1, ``"slave"`` 2 (follow a master camera at the same frame rate),
``"external-trigger"`` 4 (genlock: one depth frame per rising edge on the sync connector; values
5-258 would request bursts). Genlock triggers the depth module; whether colour follows depends on
the model (see docs/cameras.md).

Playback (``playback_file``, ``.bag`` or ``.db3`` recorded by librealsense) runs with
``real_time=False`` so that no frame is skipped however slowly frames are read; at the end of the
file ``read`` returns None and the state becomes ``"ended"``.

pyrealsense2 is imported when a camera is constructed, never at module import.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.cameras.base import Camera, CameraFrame, EndOfRecording
from acquisition.errors import DeviceError, DeviceNotFound, MissingDependency
from acquisition.recording.records import CameraIntrinsics

__all__ = ["SYNC_MODES", "RealSenseCamera", "import_pyrealsense2"]

log = logging.getLogger(__name__)

SYNC_MODES: dict[str, int] = {"default": 0, "master": 1, "slave": 2, "external-trigger": 4}
_MM_PER_M = 1000.0
_PLAYBACK_POLL_MS = 100


def import_pyrealsense2() -> Any:
    """The pyrealsense2 module, or MissingDependency saying what to install."""
    try:
        import pyrealsense2 as rs  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        error = MissingDependency("pyrealsense2", "cameras", "The Intel RealSense camera backend")
        if "libusb" in str(exc):
            # The wheel is there but its shared library cannot load: a system package is missing.
            error.add_note(
                f"pyrealsense2 is installed but failed to load ({exc}); install the libusb "
                "runtime: apt-get install libusb-1.0-0"
            )
        raise error from exc
    return rs


class RealSenseCamera(Camera):
    """A RealSense camera, live or played back from a file; see the module docstring."""

    kind = "realsense"

    def __init__(
        self,
        serial: str | None = None,
        *,
        name: str = "realsense",
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        depth: bool = True,
        depth_width: int | None = None,
        depth_height: int | None = None,
        sync_mode: str = "default",
        playback_file: str | Path | None = None,
        device_lost_timeout_s: float = 0.5,
    ) -> None:
        """
        Args:
            serial: serial number of the camera; None = the only one connected.
            name: rig name (used in errors and frames).
            width, height, fps: colour stream mode (a mode the camera supports).
            depth: stream depth too (aligned to colour).
            depth_width, depth_height: depth stream mode before alignment (default: colour's).
            sync_mode: key of :data:`SYNC_MODES`.
            playback_file: play this ``.bag``/``.db3`` recording instead of a live camera; the
                recorded streams are used as they are (width/height/fps are not enforced).
            device_lost_timeout_s: after a frame timeout, how long to look for the device before
                calling it lost.
        """
        super().__init__(name)
        if sync_mode not in SYNC_MODES:
            raise ValueError(f"sync_mode must be one of {sorted(SYNC_MODES)}, got {sync_mode!r}")
        self.rs = import_pyrealsense2()
        self.serial = serial
        self.width = width
        self.height = height
        self.fps = fps
        self._depth = depth
        self.depth_width = depth_width or width
        self.depth_height = depth_height or height
        self.sync_mode = sync_mode
        self.playback_file = Path(playback_file) if playback_file is not None else None
        self.device_lost_timeout_s = device_lost_timeout_s
        self.timestamp_domain = "unknown"
        # Delivered frames whose depth was exposed over half a frame from the colour.
        self.pair_mismatches = 0
        self._pipeline: Any = None
        self._config: Any = None
        self._device: Any = None
        self._align: Any = None
        self._depth_mm_per_unit = 1.0
        self._intrinsics: CameraIntrinsics | None = None
        self._last_primary_number: int | None = None
        self._removed = threading.Event()
        self._context: Any = None

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise RuntimeError(f"camera {self.name!r}: intrinsics are known after open()")
        return self._intrinsics

    @property
    def has_depth(self) -> bool:
        return self._depth

    # --- open / start ----------------------------------------------------------------------
    def _open(self) -> None:
        rs = self.rs
        config = rs.config()
        if self.playback_file is not None:
            if not self.playback_file.is_file():
                raise DeviceNotFound(self.name, f"no such recording: {self.playback_file}")
            self._pipeline = rs.pipeline()
            config.enable_device_from_file(str(self.playback_file), repeat_playback=False)
            # The recorded streams are what they are: ask for the stream types only.
            config.enable_stream(rs.stream.color)
            if self._depth:
                config.enable_stream(rs.stream.depth)
        else:
            self._check_connected()
            self._pipeline = rs.pipeline(self._context)
            if self.serial is not None:
                config.enable_device(self.serial)
            config.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
            if self._depth:
                config.enable_stream(
                    rs.stream.depth, self.depth_width, self.depth_height, rs.format.z16, self.fps
                )
        try:
            # Resolving first gives us the device before streaming starts: a playback device
            # must leave real-time mode before its first frame or the pipeline skips frames.
            profile = config.resolve(self._pipeline)
        except RuntimeError as exc:
            raise DeviceError(self.name, f"cannot configure the streams: {exc}") from exc
        self._config = config
        self._device = profile.get_device()
        if self.playback_file is not None:
            self._device.as_playback().set_real_time(False)
        else:
            try:
                self._set_sync_mode()
            except RuntimeError as exc:  # rs.error: the firmware refused the value
                raise DeviceError(
                    self.name, f"cannot set sync mode {self.sync_mode}: {exc}"
                ) from exc
        color_profile = profile.get_stream(rs.stream.color).as_video_stream_profile()
        self._intrinsics = _intrinsics_from(color_profile.get_intrinsics())
        if self._depth:
            scale_m = float(self._device.first_depth_sensor().get_depth_scale())
            self._depth_mm_per_unit = scale_m * _MM_PER_M
            self._align = rs.align(rs.stream.color)

    def _check_connected(self) -> None:
        rs = self.rs
        self._context = rs.context()
        serials = [d.get_info(rs.camera_info.serial_number) for d in self._context.query_devices()]
        if not serials:
            raise DeviceNotFound(self.name, "no RealSense camera is connected")
        if self.serial is not None and self.serial not in serials:
            raise DeviceNotFound(
                self.name, f"no RealSense camera with serial {self.serial} (found {serials})"
            )
        if self.serial is None and len(serials) > 1:
            raise DeviceNotFound(
                self.name, f"several RealSense cameras connected ({serials}); give a serial"
            )
        self.serial = self.serial or serials[0]
        self._context.set_devices_changed_callback(self._on_devices_changed)

    def _on_devices_changed(self, event: Any) -> None:
        # librealsense calls this on its own thread when cameras come and go.
        try:
            if self._device is not None and event.was_removed(self._device):
                self._removed.set()
        except RuntimeError as exc:  # the event could not be read: let _device_gone() decide
            log.debug("%s: devices-changed event: %s", self.name, exc)

    def _set_sync_mode(self) -> None:
        rs = self.rs
        value = SYNC_MODES[self.sync_mode]
        depth_sensor = self._device.first_depth_sensor()
        if not depth_sensor.supports(rs.option.inter_cam_sync_mode):
            if value == 0:
                return
            raise DeviceError(
                self.name, f"this camera's firmware has no inter_cam_sync_mode ({self.sync_mode})"
            )
        depth_sensor.set_option(rs.option.inter_cam_sync_mode, float(value))
        # Models whose colour sensor can be synchronised (e.g. global-shutter RGB) get the same
        # mode; on the others colour free-runs and is matched by timestamp.
        for sensor in self._device.query_sensors():
            if sensor.is_color_sensor() and sensor.supports(rs.option.inter_cam_sync_mode):
                sensor.set_option(rs.option.inter_cam_sync_mode, float(value))

    def _start(self) -> None:
        self._last_primary_number = None
        self.pair_mismatches = 0
        self._removed.clear()
        try:
            self._pipeline.start(self._config)
        except RuntimeError as exc:
            raise DeviceError(self.name, f"cannot start streaming: {exc}") from exc

    # --- read --------------------------------------------------------------------------------
    def _wait_for_frames(self, timeout_ms: int) -> tuple[bool, Any]:
        ok, frames = self._pipeline.try_wait_for_frames(timeout_ms)
        return bool(ok), frames

    def _read_frame(self, timeout_s: float) -> CameraFrame | None:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            wait_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            if self.playback_file is not None:
                # Short waits: the end of a recording shows only in the playback status.
                wait_ms = min(wait_ms, _PLAYBACK_POLL_MS)
            try:
                ok, frames = self._wait_for_frames(wait_ms)
            except RuntimeError as exc:  # rs.error derives from RuntimeError
                if self._device_gone():
                    raise self._lost(str(exc)) from exc
                raise DeviceError(self.name, f"frame wait failed: {exc}") from exc
            if not ok:
                if self.playback_file is not None:
                    status = self._device.as_playback().current_status()
                    if status == self.rs.playback_status.stopped:
                        raise EndOfRecording
                    if time.monotonic() < deadline:
                        continue
                elif self._device_gone():
                    raise self._lost("no frames and the device is no longer connected")
                return None
            host_time_ns = self._now_ns()
            frame = self._convert(frames, host_time_ns)
            if frame is not None:
                return frame
            if time.monotonic() >= deadline:
                return None

    def _device_gone(self) -> bool:
        if self.playback_file is not None:
            return False
        if self._removed.is_set():
            return True
        deadline = time.monotonic() + self.device_lost_timeout_s
        while True:
            try:
                serials = [
                    d.get_info(self.rs.camera_info.serial_number)
                    for d in self.rs.context().query_devices()
                ]
            except RuntimeError:
                serials = []
            if self.serial in serials:
                return False
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.05)

    @property
    def primary_stream(self) -> str:
        """The stream that paces frames: ``"depth"`` under an external trigger (genlock
        triggers the depth module; colour may free-run and is matched to it), else ``"color"``.
        ``frame_number`` and ``device_time_ns`` are those of the primary stream's frame."""
        return "depth" if self._depth and self.sync_mode == "external-trigger" else "color"

    def _convert(self, frames: Any, host_time_ns: int) -> CameraFrame | None:
        """A CameraFrame from a frameset, or None for a frameset repeating the last one."""
        color_frame = frames.get_color_frame()
        depth_frame: Any = frames.get_depth_frame() if self._depth else None
        if not color_frame or (self._depth and not depth_frame):
            return None  # the pair is completed by a later frameset
        primary = depth_frame if self.primary_stream == "depth" else color_frame
        number = int(primary.get_frame_number())
        # The default syncer re-emits the latest frame of one stream with each new frame of the
        # other; one CameraFrame per primary-stream frame.
        if number == self._last_primary_number:
            return None
        device_time_ns = self._device_time_ns(primary)
        if depth_frame is not None:
            self._check_pair(color_frame, depth_frame)
        depth: NDArray[np.uint16] | None = None
        if self._depth:
            aligned = self._align.process(frames)
            color_frame = aligned.get_color_frame()
            depth = self._depth_mm(np.asanyarray(aligned.get_depth_frame().get_data()))
        self._last_primary_number = number
        return CameraFrame(
            camera=self.name,
            color=_to_rgb(np.asanyarray(color_frame.get_data()), color_frame),
            depth=depth,
            frame_number=number,
            device_time_ns=device_time_ns,
            host_time_ns=host_time_ns,
        )

    def _check_pair(self, color_frame: Any, depth_frame: Any) -> None:
        """Count framesets whose colour and depth were exposed more than half a frame apart.

        librealsense's syncer pairs the streams; live D400s pair by timestamp, but in non-real-time
        playback its default matcher can pair colour n with depth n + 1. Such frames are still
        delivered (dropping them would lose the take) and counted here."""
        gap_ms = abs(float(color_frame.get_timestamp()) - float(depth_frame.get_timestamp()))
        if gap_ms > 500.0 / self.fps:
            if self.pair_mismatches == 0:
                log.warning(
                    "%s: colour and depth paired %.1f ms apart (more follow silently; see "
                    "pair_mismatches)",
                    self.name,
                    gap_ms,
                )
            self.pair_mismatches += 1

    def _depth_mm(self, raw: NDArray[np.uint16]) -> NDArray[np.uint16]:
        if abs(self._depth_mm_per_unit - 1.0) < 1e-6:  # the usual 1 mm unit: no arithmetic
            return np.array(raw, dtype=np.uint16, copy=True)
        mm = np.rint(raw.astype(np.float64) * self._depth_mm_per_unit)
        return np.clip(mm, 0, 65535).astype(np.uint16)

    def _device_time_ns(self, frame: Any) -> int:
        rs = self.rs
        if frame.supports_frame_metadata(rs.frame_metadata_value.sensor_timestamp):
            self.timestamp_domain = "hardware_clock (sensor_timestamp metadata)"
            return int(frame.get_frame_metadata(rs.frame_metadata_value.sensor_timestamp)) * 1000
        domain = frame.get_frame_timestamp_domain()
        self.timestamp_domain = str(domain.name)
        if domain == rs.timestamp_domain.hardware_clock:
            return round(float(frame.get_timestamp()) * 1e6)  # ms -> ns
        return 0  # system/global time is a host clock, not the device's

    # --- stop / close ------------------------------------------------------------------------
    def _stop(self) -> None:
        if self._pipeline is None:
            return
        try:
            self._pipeline.stop()
        except RuntimeError as exc:  # already stopped, or the device is gone
            log.debug("%s: pipeline stop: %s", self.name, exc)

    def _close(self) -> None:
        self._pipeline = None
        self._align = None
        self._device = None
        self._context = None


def _intrinsics_from(intr: Any) -> CameraIntrinsics:
    return CameraIntrinsics(
        width=int(intr.width),
        height=int(intr.height),
        fx=float(intr.fx),
        fy=float(intr.fy),
        cx=float(intr.ppx),
        cy=float(intr.ppy),
        distortion=tuple(float(c) for c in intr.coeffs),
    )


def _to_rgb(image: NDArray[Any], frame: Any) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 RGB copy of a colour frame in rgb8, bgr8, rgba8 or bgra8 (recordings made
    by other tools may hold any of them)."""
    fmt = str(frame.get_profile().format().name)
    if fmt in ("bgr8", "bgra8"):
        return np.ascontiguousarray(image[..., 2::-1], dtype=np.uint8)
    if fmt in ("rgb8", "rgba8"):
        return np.array(image[..., :3], dtype=np.uint8, copy=True)
    raise ValueError(f"unsupported colour format {fmt!r}; record colour as rgb8 or bgr8")
