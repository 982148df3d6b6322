"""Radar signal processing on numpy arrays: raw ADC decoding, spectra, maps, CFAR, point clouds.

Every function is pure and batched over leading (frame) axes; shapes and units are in each
docstring, sign conventions in ``dataset_tools.dsp.spectrum``.
"""

from dataset_tools.dsp.cfar import (
    CfarResult,
    ca_cfar_1d,
    ca_cfar_2d,
    ca_scale,
    os_cfar_1d,
    os_cfar_2d,
    os_scale,
)
from dataset_tools.dsp.hupr import vrdae_maps
from dataset_tools.dsp.maepose import ra_video_frames, rd_video_frames
from dataset_tools.dsp.maps import (
    range_azimuth_elevation_map,
    range_azimuth_map,
    range_doppler_map,
    range_doppler_spectrum,
)
from dataset_tools.dsp.pointcloud import POINT_COLUMNS, detect_points, split_points_by_frame
from dataset_tools.dsp.raw import decode_adc_frames, encode_adc_frames
from dataset_tools.dsp.spectrum import (
    angle_axis_deg,
    angle_spectrum,
    doppler_fft,
    element_spacing_wavelengths,
    make_window,
    range_axis_m,
    range_fft,
    remove_static_clutter,
    velocity_axis_mps,
)
from dataset_tools.dsp.virtual_array import (
    VirtualArray,
    azimuth_row,
    compensate_tdm_doppler,
    virtual_array,
    virtual_grid,
)

__all__ = [
    "POINT_COLUMNS",
    "CfarResult",
    "VirtualArray",
    "angle_axis_deg",
    "angle_spectrum",
    "azimuth_row",
    "ca_cfar_1d",
    "ca_cfar_2d",
    "ca_scale",
    "compensate_tdm_doppler",
    "decode_adc_frames",
    "detect_points",
    "doppler_fft",
    "element_spacing_wavelengths",
    "encode_adc_frames",
    "make_window",
    "os_cfar_1d",
    "os_cfar_2d",
    "os_scale",
    "ra_video_frames",
    "range_axis_m",
    "range_azimuth_elevation_map",
    "range_azimuth_map",
    "range_doppler_map",
    "range_doppler_spectrum",
    "range_fft",
    "rd_video_frames",
    "remove_static_clutter",
    "split_points_by_frame",
    "velocity_axis_mps",
    "virtual_array",
    "virtual_grid",
    "vrdae_maps",
]
