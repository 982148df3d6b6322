"""Radar previews from one raw frame (no ROS imports): the toolkit's own DSP functions.

* range-Doppler image: ``dataset_tools.dsp.range_doppler_map`` in dB, scaled to uint8 over
  ``dynamic_range_db`` below the peak; rows are Doppler bins (zero velocity in the middle row),
  columns range bins.
* point cloud: ``dataset_tools.dsp.pointcloud.detect_points`` (CA/OS-CFAR), columns
  x, y, z (m, TI radar frame: x along the azimuth array, y boresight, z up), velocity (m/s),
  intensity (SNR, dB) as float32: the recording format's point-cloud layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.params import RadarParams

CLOUD_FIELDS = ("x", "y", "z", "velocity", "intensity")


def point_cloud_fields() -> list[tuple[str, int]]:
    """(name, byte offset) of the float32 PointCloud2 fields."""
    return [(name, 4 * i) for i, name in enumerate(CLOUD_FIELDS)]


def rd_image(power_db: NDArray[Any], dynamic_range_db: float) -> NDArray[np.uint8]:
    """(D, R) dB map -> (D, R) uint8, peak white, ``dynamic_range_db`` below it black."""
    peak = float(np.max(power_db))
    scaled = (power_db - (peak - dynamic_range_db)) / max(dynamic_range_db, 1e-6)
    return np.asarray(np.clip(scaled, 0.0, 1.0) * 255.0, dtype=np.uint8)


def preview_frame(
    data: bytes,
    params: RadarParams,
    *,
    dynamic_range_db: float = 60.0,
    pfa: float = 1e-5,
    remove_clutter: bool = True,
    points: bool = True,
) -> tuple[NDArray[np.uint8], NDArray[np.float32] | None]:
    """Range-Doppler image (D, R) uint8 and point cloud (P, 5) float32 of one raw frame."""
    from dataset_tools.dsp.maps import range_doppler_map
    from dataset_tools.dsp.pointcloud import detect_points
    from dataset_tools.dsp.raw import decode_adc_frames

    cube = decode_adc_frames(data, params)[0]
    power_db = range_doppler_map(cube, remove_clutter=remove_clutter, db=True)
    image = rd_image(power_db, dynamic_range_db)
    cloud = None
    if points:
        detected = detect_points(cube, params, remove_clutter=remove_clutter, pfa=pfa)
        # POINT_COLUMNS: x, y, z, doppler, snr_db, intensity, range, frame
        cloud = np.ascontiguousarray(detected[:, [0, 1, 2, 3, 4]], dtype=np.float32)
    return image, cloud
