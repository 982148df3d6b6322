"""Detections -> 3-D point clouds, following the structure of TI's out-of-box demo for xWR18xx.

Pipeline per frame (all frames of a batch at once): optional static clutter removal, windowed
range and Doppler FFTs, optional TDM-MIMO Doppler phase compensation, RD power summed over the
virtual antennas, CFAR (CA along range AND OS along Doppler by default, or a 2-D CFAR), optional
peak grouping (keep local maxima of the RD power), then per detection:

* azimuth: peak of the zero-padded angle spectrum of the azimuth row gives the direction cosine
  ``u_x = sin(az) cos(el)``;
* elevation: phase of ``sum(upper * conj(lower))`` over elevated channels and the azimuth-row
  channels at the same x gives ``u_z = sin(el)``;
* TI frame (x right, y boresight, z up): ``x = r u_x``, ``z = r u_z``,
  ``y = r sqrt(1 - u_x^2 - u_z^2)``, i.e. ``x = r cos(el) sin(az)``, ``y = r cos(el) cos(az)``,
  ``z = r sin(el)``.

Ranges and velocities are bin centres (no interpolation).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.params import RadarParams
from dataset_tools.dsp.cfar import ca_cfar_1d, ca_cfar_2d, os_cfar_1d, os_cfar_2d
from dataset_tools.dsp.maps import range_doppler_spectrum
from dataset_tools.dsp.spectrum import (
    WindowName,
    angle_spectrum,
    element_spacing_wavelengths,
    range_axis_m,
    velocity_axis_mps,
)
from dataset_tools.dsp.virtual_array import compensate_tdm_doppler, virtual_array

#: columns of ``detect_points`` output
POINT_COLUMNS = ("x", "y", "z", "doppler", "snr_db", "intensity", "range", "frame")
CfarMode = Literal["ca_range_os_doppler", "ca_2d", "os_2d"]


def _detect(
    power: NDArray[Any], mode: CfarMode, pfa: float, guard: tuple[int, int], train: tuple[int, int]
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """(F, D, K) power -> detection mask and noise estimate, guard/train = (doppler, range)."""
    if mode == "ca_range_os_doppler":
        along_range = ca_cfar_1d(power, guard=guard[1], train=train[1], pfa=pfa, axis=-1)
        along_doppler = os_cfar_1d(power, guard=guard[0], train=train[0], pfa=pfa, axis=-2)
        return along_range.detections & along_doppler.detections, along_range.noise
    if mode == "ca_2d":
        result = ca_cfar_2d(power, guard=guard, train=train, pfa=pfa)
    elif mode == "os_2d":
        result = os_cfar_2d(power, guard=guard, train=train, pfa=pfa)
    else:
        raise ValueError(f"unknown cfar mode {mode!r}")
    return result.detections, result.noise


def detect_points(
    cube: NDArray[Any],
    params: RadarParams,
    *,
    remove_clutter: bool = True,
    range_window: WindowName = "hann",
    doppler_window: WindowName = "hann",
    cfar: CfarMode = "ca_range_os_doppler",
    pfa: float = 1e-5,
    guard: tuple[int, int] = (2, 2),
    train: tuple[int, int] = (4, 8),
    group_peaks: bool = True,
    min_range_m: float = 0.25,
    max_range_m: float | None = None,
    n_angle: int = 64,
    compensate_tdm: bool = True,
) -> NDArray[np.float32]:
    """Detect targets and return a point cloud for every frame of a batch.

    Args:
        cube: (F, loops, T, R, N) or (loops, T, R, N) complex ADC samples.
        params: radar set-up (axes and virtual array).
        remove_clutter: subtract the loop mean first (static objects disappear, as in TI's demo
            with ``clutterRemoval 1``).
        cfar: ``"ca_range_os_doppler"`` (CA-CFAR along range and OS-CFAR along Doppler, both
            must fire), ``"ca_2d"`` or ``"os_2d"``.
        pfa: design false-alarm probability of each CFAR.
        guard, train: CFAR cells per side, (Doppler, range).
        group_peaks: keep only detections that are the maximum of their 3 x 3 RD neighbourhood.
        min_range_m, max_range_m: range gate (the lowest bins hold the DC / leakage peak).
        n_angle: azimuth FFT length.
        compensate_tdm: undo the TDM-MIMO Doppler phase before the angle estimates.

    Returns:
        (P, 8) float32, columns ``POINT_COLUMNS``: x, y, z (m, TI frame), doppler (radial m/s,
        positive away), snr_db (RD power over the CFAR noise estimate), intensity (linear RD power
        summed over antennas, ADC counts^2), range (m), frame (index into the flattened leading
        axes). Rows sorted by frame, then Doppler bin, then range bin.
    """
    if cube.ndim == 4:
        cube = cube[None]
    if cube.ndim != 5:
        raise ValueError(f"expected (F, loops, T, R, N) or (loops, T, R, N), got {cube.shape}")
    n_range_fft = params.num_samples
    # real sampling: the upper half of the range spectrum mirrors the lower half
    keep = slice(0, n_range_fft if params.complex_samples else n_range_fft // 2)
    spec = range_doppler_spectrum(
        cube,
        range_window=range_window,
        doppler_window=doppler_window,
        range_bins=keep,
        remove_clutter=remove_clutter,
    )  # (F, D, T, R, K)
    if compensate_tdm:
        spec = compensate_tdm_doppler(spec, params)
    power = (np.square(spec.real) + np.square(spec.imag)).sum(axis=(-3, -2))  # (F, D, K)

    detections, noise = _detect(power, cfar, pfa, guard, train)
    ranges = range_axis_m(params, n_range_fft)[keep]
    gate = ranges >= min_range_m
    if max_range_m is not None:
        gate &= ranges <= max_range_m
    detections &= gate
    if group_peaks:
        import scipy.ndimage  # lazy: scipy.ndimage costs 0.6 s to import

        local_max = scipy.ndimage.maximum_filter(power, size=(1, 3, 3), mode="nearest")
        detections &= power >= local_max

    frame, dop, rng = np.nonzero(detections)
    channels = spec[frame, dop, :, :, rng]  # (P, T, R)
    channels = channels.reshape(-1, spec.shape[-3] * spec.shape[-2])
    array = virtual_array(params)
    spacing = element_spacing_wavelengths(params)

    beam = np.abs(angle_spectrum(channels[:, array.azimuth_channels], n_fft=n_angle, axis=-1))
    k = np.argmax(beam, axis=-1) - n_angle // 2
    u_x = np.clip(k / (n_angle * spacing), -1.0, 1.0)

    upper, lower, dz = array.elevation_pairs()
    u_z = np.zeros_like(u_x)
    if upper.size:
        # the smallest row offset has no phase wrapping up to +-90 degrees
        offset = float(dz[np.argmin(np.abs(dz))])
        nearest = dz == offset
        product = (channels[:, upper[nearest]] * channels[:, lower[nearest]].conj()).sum(axis=-1)
        step = 2.0 * np.pi * spacing * offset
        u_z = np.clip(-np.angle(product) / step, -1.0, 1.0)

    r = ranges[rng]
    points = np.empty((r.size, len(POINT_COLUMNS)), dtype=np.float32)
    points[:, 0] = r * u_x
    points[:, 1] = r * np.sqrt(np.maximum(0.0, 1.0 - u_x**2 - u_z**2))
    points[:, 2] = r * u_z
    points[:, 3] = velocity_axis_mps(params, spec.shape[-4])[dop]
    cell_power = power[frame, dop, rng]
    points[:, 4] = 10.0 * np.log10(cell_power / np.maximum(noise[frame, dop, rng], 1e-30))
    points[:, 5] = cell_power
    points[:, 6] = r
    points[:, 7] = frame
    return points


def split_points_by_frame(points: NDArray[np.float32], n_frames: int) -> list[NDArray[np.float32]]:
    """Split ``detect_points`` output into one (P_f, 8) array per frame (frame column sorted)."""
    bounds = np.searchsorted(points[:, 7], np.arange(1, n_frames))
    return list(np.split(points, bounds))
