"""Microsoft Azure Kinect DK cameras (and their ``.mkv`` recordings) over pyk4a.

UNTESTED HERE: pyk4a needs the Azure Kinect Sensor SDK (headers and ``libk4a``), which this
project's CI cannot install; the code follows pyk4a 1.5's documented API and is kept small.

Colour is requested as BGRA32 and returned as RGB; depth is transformed into the colour camera
(``capture.transformed_depth``, millimetres) so it is pixel-aligned with colour. The device
stamps images with its own microsecond clock (``color_timestamp_usec``; in subordinate mode that
clock is locked to the sync input). The Kinect has no frame counter, so ``frame_number`` is the
frame period index of the colour timestamp since the first frame of the take: a missing period
is a dropped frame.

Sync modes (``wired_sync_mode``): ``"standalone"``; ``"master"`` drives Sync Out;
``"subordinate"`` exposes on the Sync In signal (3.5 mm jack), ``subordinate_delay_us`` after it,
at exactly the configured ``fps`` (see docs/cameras.md for the wiring).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.cameras.base import Camera, CameraFrame, EndOfRecording
from acquisition.errors import DeviceError, DeviceNotFound, MissingDependency
from acquisition.recording.records import CameraIntrinsics

__all__ = ["COLOR_RESOLUTIONS", "DEPTH_MODES", "SYNC_MODES", "AzureKinectCamera", "import_pyk4a"]

# name -> (pyk4a ColorResolution member, width, height)
COLOR_RESOLUTIONS: dict[str, tuple[str, int, int]] = {
    "720p": ("RES_720P", 1280, 720),
    "1080p": ("RES_1080P", 1920, 1080),
    "1440p": ("RES_1440P", 2560, 1440),
    "1536p": ("RES_1536P", 2048, 1536),
    "2160p": ("RES_2160P", 3840, 2160),
    "3072p": ("RES_3072P", 4096, 3072),
}
DEPTH_MODES = ("off", "nfov_2x2binned", "nfov_unbinned", "wfov_2x2binned", "wfov_unbinned")
SYNC_MODES = {"standalone": "STANDALONE", "master": "MASTER", "subordinate": "SUBORDINATE"}
FPS_VALUES = (5, 15, 30)


def import_pyk4a() -> Any:
    """The pyk4a module, or MissingDependency saying what to install."""
    try:
        import pyk4a  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        error = MissingDependency("pyk4a", "kinect", "The Azure Kinect camera backend")
        error.add_note(
            "pyk4a builds against the Azure Kinect Sensor SDK (libk4a1.4 and libk4a1.4-dev from "
            "Microsoft's package repository); install the SDK first."
        )
        raise error from exc
    return pyk4a


class AzureKinectCamera(Camera):
    """An Azure Kinect, live or played back from an ``.mkv``; see the module docstring."""

    kind = "kinect"

    def __init__(
        self,
        device_id: int | str | None = None,
        *,
        name: str = "kinect",
        color_resolution: str = "720p",
        depth_mode: str = "nfov_unbinned",
        fps: int = 30,
        depth: bool = True,
        sync_mode: str = "standalone",
        subordinate_delay_us: int = 0,
        playback_file: str | Path | None = None,
    ) -> None:
        """
        Args:
            device_id: device index (int), serial number (str) or None (the only/first one).
            name: rig name.
            color_resolution: key of :data:`COLOR_RESOLUTIONS`.
            depth_mode: one of :data:`DEPTH_MODES` (``"off"`` = no depth).
            fps: 5, 15 or 30 (30 is not available with ``wfov_unbinned`` or ``3072p``).
            depth: stream depth (transformed to the colour camera).
            sync_mode: ``"standalone"``, ``"master"`` or ``"subordinate"``.
            subordinate_delay_us: exposure delay after the sync-in edge (subordinate only).
            playback_file: play this ``.mkv`` recording instead of a live device.
        """
        super().__init__(name)
        if color_resolution not in COLOR_RESOLUTIONS:
            raise ValueError(f"color_resolution must be one of {sorted(COLOR_RESOLUTIONS)}")
        if depth_mode not in DEPTH_MODES:
            raise ValueError(f"depth_mode must be one of {DEPTH_MODES}")
        if fps not in FPS_VALUES:
            raise ValueError(f"fps must be one of {FPS_VALUES}, got {fps}")
        if sync_mode not in SYNC_MODES:
            raise ValueError(f"sync_mode must be one of {sorted(SYNC_MODES)}, got {sync_mode!r}")
        if subordinate_delay_us and sync_mode != "subordinate":
            raise ValueError("subordinate_delay_us only applies to sync_mode 'subordinate'")
        self.k4a = import_pyk4a()
        self.device_id = device_id
        self.color_resolution = color_resolution
        self.depth_mode = depth_mode if depth else "off"
        self.fps = fps
        self.sync_mode = sync_mode
        self.subordinate_delay_us = subordinate_delay_us
        self.playback_file = Path(playback_file) if playback_file is not None else None
        self._device: Any = None
        self._playback: Any = None
        self._intrinsics: CameraIntrinsics | None = None
        self._first_usec: int | None = None

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise RuntimeError(f"camera {self.name!r}: intrinsics are known after open()")
        return self._intrinsics

    @property
    def has_depth(self) -> bool:
        return self.depth_mode != "off"

    # --- life cycle hooks ------------------------------------------------------------------
    def _open(self) -> None:
        k4a = self.k4a
        _, width, height = COLOR_RESOLUTIONS[self.color_resolution]
        try:
            if self.playback_file is not None:
                if not self.playback_file.is_file():
                    raise DeviceNotFound(self.name, f"no such recording: {self.playback_file}")
                self._playback = k4a.PyK4APlayback(str(self.playback_file))
                self._playback.open()
                calibration = self._playback.calibration
                width, height = self._adopt_recorded_mode(self._playback.configuration)
            else:
                self._device = k4a.PyK4A(config=self._config(), device_id=self._device_index())
                self._device.open()
                calibration = self._device.calibration
            matrix = np.asarray(calibration.get_camera_matrix(k4a.CalibrationType.COLOR))
            dist = calibration.get_distortion_coefficients(k4a.CalibrationType.COLOR)
        except k4a.K4AException as exc:
            raise DeviceError(self.name, f"cannot open the Azure Kinect: {exc}") from exc
        self._intrinsics = CameraIntrinsics(
            width=width,
            height=height,
            fx=float(matrix[0, 0]),
            fy=float(matrix[1, 1]),
            cx=float(matrix[0, 2]),
            cy=float(matrix[1, 2]),
            # k1 k2 p1 p2 k3 k4 k5 k6 (rational model; OpenCV order)
            distortion=tuple(float(c) for c in np.asarray(dist).ravel()),
        )

    def _adopt_recorded_mode(self, configuration: dict[str, Any]) -> tuple[int, int]:
        """A recording's own frame rate and colour size replace the constructor's."""
        fps_by_enum = {0: 5, 1: 15, 2: 30}  # k4a_fps_t
        self.fps = fps_by_enum.get(int(configuration["camera_fps"]), self.fps)
        by_enum = {
            int(getattr(self.k4a.ColorResolution, member)): key
            for key, (member, _, _) in COLOR_RESOLUTIONS.items()
        }
        self.color_resolution = by_enum.get(
            int(configuration["color_resolution"]), self.color_resolution
        )
        if int(configuration["depth_mode"]) == 0:  # K4A_DEPTH_MODE_OFF: recorded without depth
            self.depth_mode = "off"
        _, width, height = COLOR_RESOLUTIONS[self.color_resolution]
        return width, height

    def _device_index(self) -> int:
        if self.device_id is None:
            return 0
        if isinstance(self.device_id, int):
            return self.device_id
        # A serial number: open each device in turn to read its serial.
        k4a = self.k4a
        for index in range(int(k4a.connected_device_count())):
            probe = k4a.PyK4A(device_id=index)
            try:
                probe.open()
                serial = str(probe.serial)
            except k4a.K4AException:
                continue  # in use by another process
            finally:
                if probe.opened:
                    probe.close()
            if serial == self.device_id:
                return index
        raise DeviceNotFound(self.name, f"no Azure Kinect with serial {self.device_id}")

    def _config(self) -> Any:
        k4a = self.k4a
        return k4a.Config(
            color_resolution=getattr(
                k4a.ColorResolution, COLOR_RESOLUTIONS[self.color_resolution][0]
            ),
            color_format=k4a.ImageFormat.COLOR_BGRA32,
            depth_mode=getattr(k4a.DepthMode, self.depth_mode.upper()),
            camera_fps=getattr(k4a.FPS, f"FPS_{self.fps}"),
            # Only captures holding both images: alignment needs both.
            synchronized_images_only=self.depth_mode != "off",
            wired_sync_mode=getattr(k4a.WiredSyncMode, SYNC_MODES[self.sync_mode]),
            subordinate_delay_off_master_usec=self.subordinate_delay_us,
        )

    def _start(self) -> None:
        self._first_usec = None
        if self._device is not None:
            if self.sync_mode == "subordinate" and not self._device.sync_jack_status[0]:
                raise DeviceError(self.name, "subordinate mode but nothing in the Sync In jack")
            try:
                self._device.start()
            except self.k4a.K4AException as exc:
                raise DeviceError(self.name, f"cannot start the cameras: {exc}") from exc

    def _read_frame(self, timeout_s: float) -> CameraFrame | None:
        k4a = self.k4a
        if self._playback is not None:
            try:
                capture = self._playback.get_next_capture()
            except EOFError as exc:
                raise EndOfRecording from exc
        else:
            try:
                capture = self._device.get_capture(timeout=max(int(timeout_s * 1000), 1))
            except k4a.K4ATimeoutException:
                return None
            except k4a.K4AException as exc:
                # libk4a reports an unplugged device as a failed wait; nothing else does that
                # while streaming.
                raise self._lost(f"get_capture failed: {exc!r}") from exc
        host_time_ns = time.time_ns()
        bgra = capture.color
        if bgra is None:
            return None  # a depth-only capture at the start of a recording
        depth: NDArray[np.uint16] | None = None
        if self.has_depth:
            transformed = capture.transformed_depth
            if transformed is None:
                return None
            depth = np.asarray(transformed, dtype=np.uint16)
        usec = int(capture.color_timestamp_usec)
        if self._first_usec is None:
            self._first_usec = usec
        period_us = 1e6 / self.fps
        return CameraFrame(
            camera=self.name,
            color=np.ascontiguousarray(np.asarray(bgra)[..., 2::-1], dtype=np.uint8),
            depth=depth,
            frame_number=round((usec - self._first_usec) / period_us),
            device_time_ns=usec * 1000,
            host_time_ns=host_time_ns,
        )

    def _stop(self) -> None:
        if self._device is not None and self._device.is_running:
            try:
                self._device.stop()
            except self.k4a.K4AException:
                pass  # the device is already gone; close() releases the handle

    def _close(self) -> None:
        try:
            if self._device is not None and self._device.opened:
                self._device.close()
            if self._playback is not None:
                self._playback.close()
        except self.k4a.K4AException:
            pass  # closing a vanished device; nothing left to release
        finally:
            self._device = None
            self._playback = None
