"""Plain-Python records of what a rig produces, independent of ROS and of the file format.

Drivers and the recorder hand these to :class:`~acquisition.recording.writer.TakeWriter`; the
reader gives them back. All times are integer nanoseconds: ``stamp_ns`` is the synchronised time
(trigger-derived where possible, wall clock), ``device_time_ns`` the device's own clock and
``host_time_ns`` the host wall clock at reception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

NO_TRIGGER = -1

SAMPLE_FORMATS = ("int16_iq_sdk", "int16_iq_studio", "int16_real")


@dataclass
class RadarFrameRecord:
    """One raw ADC frame.

    Attributes:
        data: raw little-endian int16 bytes in LVDS order; length ``bytes_per_frame``.
        shape: (loops, chirps per loop, RX, samples).
    """

    radar_id: str
    frame_number: int
    trigger_index: int
    stamp_ns: int
    device_time_ns: int
    host_time_ns: int
    shape: tuple[int, int, int, int]
    sample_format: str
    num_packets: int
    lost_packets: int
    lost_bytes: int
    valid: bool
    data: bytes

    def samples(self) -> NDArray[np.int16]:
        """The raw int16 samples as a flat array (a view, no copy)."""
        return np.frombuffer(self.data, dtype="<i2")


@dataclass
class CameraFrameRecord:
    """One image of a camera stream (``stream`` is ``"color"`` or ``"depth"``).

    Attributes:
        image: (H, W, 3) uint8 RGB for ``rgb8``; (H, W) uint16 millimetres for ``16UC1``.
    """

    camera_id: str
    stream: str
    frame_number: int
    trigger_index: int
    stamp_ns: int
    device_time_ns: int
    host_time_ns: int
    image: NDArray[np.generic]
    encoding: str
    valid: bool = True


@dataclass
class TriggerPulseRecord:
    """One trigger edge as the host saw it."""

    index: int
    board_time_us: int
    stamp_ns: int
    host_receive_ns: int


@dataclass
class PointCloudRecord:
    """A radar point cloud (TI demo output or CFAR of raw frames), TI radar frame.

    Attributes:
        points: (P, 5) float32 columns x, y, z (m), velocity (m/s), intensity/SNR (dB).
    """

    radar_id: str
    frame_number: int
    trigger_index: int
    stamp_ns: int
    device_time_ns: int
    host_time_ns: int
    points: NDArray[np.float32]
    valid: bool = True


@dataclass
class CameraIntrinsics:
    """Pinhole intrinsics in pixels (plumb-bob distortion coefficients, may be all zero)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def matrix(self) -> NDArray[np.float64]:
        return np.array(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64
        )
