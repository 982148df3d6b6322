"""Range-Doppler (and range-azimuth) video frames as MAEPose consumes them.

MAEPose feeds clips of 20 radar frames, each a 2-D RD image (or RA, or both). The paper does not
spell out the scaling, so the choices here are explicit options with these defaults:

* Hann windows on both FFTs (sidelobes of the strong torso return would otherwise smear over the
  limbs' micro-Doppler);
* no static clutter removal (a standing person is mostly zero-Doppler; removing the loop mean
  would erase them);
* magnitude in dB, ``10 log10`` of the antenna-averaged power, then per-frame min-max
  normalisation to [0, 1] (``normalise="clip"`` uses one min-max over all given frames instead,
  keeping frame-to-frame brightness changes; ``"none"`` keeps dB or linear magnitude).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from acquisition.radar.params import RadarParams
from dataset_tools.dsp.maps import range_azimuth_map, range_doppler_map
from dataset_tools.dsp.spectrum import WindowName

Normalisation = Literal["frame", "clip", "none"]


def _scale(
    power: NDArray[np.float32], *, log: bool, normalise: Normalisation, floor_db: float
) -> NDArray[np.float32]:
    """power (..., H, W) -> dB (floored) or magnitude, then the requested min-max."""
    if log:
        image = 10.0 * np.log10(np.maximum(power, 10.0 ** (floor_db / 10.0)))
    else:
        image = np.sqrt(power)
    if normalise == "none":
        unscaled: NDArray[np.float32] = image.astype(np.float32, copy=False)
        return unscaled
    if normalise == "frame":
        lo = image.min(axis=(-2, -1), keepdims=True)
        hi = image.max(axis=(-2, -1), keepdims=True)
    elif normalise == "clip":
        lo, hi = image.min(keepdims=True), image.max(keepdims=True)
    else:
        raise ValueError(f"unknown normalise {normalise!r}; expected frame, clip or none")
    # a constant frame (e.g. all zeros) maps to 0 instead of dividing by zero
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled: NDArray[np.float32] = ((image - lo) / span).astype(np.float32)
    return scaled


def rd_video_frames(
    cube: NDArray[Any],
    *,
    range_bins: slice | None = None,
    n_doppler: int | None = None,
    range_window: WindowName = "hann",
    doppler_window: WindowName = "hann",
    remove_clutter: bool = False,
    log: bool = True,
    normalise: Normalisation = "frame",
    floor_db: float = -100.0,
) -> NDArray[np.float32]:
    """RD video frames.

    Args:
        cube: (F, loops, T, R, N) complex ADC samples (MAEPose: 255 loops, 256 samples).
        range_bins: range crop (bins of the N-point range FFT), e.g. ``slice(0, 64)``.
        n_doppler: Doppler FFT length (default: loops).
        log: dB of the antenna-averaged power; False gives the linear magnitude sqrt(power).
        normalise: ``"frame"`` (default), ``"clip"`` (all F frames together) or ``"none"``.
        floor_db: lower clamp before the log (keeps exact zeros finite).

    Returns:
        (F, n_doppler, n_range_kept) float32; Doppler centred (zero velocity at n_doppler // 2),
        range ascending. In [0, 1] unless ``normalise="none"``.
    """
    power = range_doppler_map(
        cube,
        range_window=range_window,
        doppler_window=doppler_window,
        n_doppler=n_doppler,
        range_bins=range_bins,
        remove_clutter=remove_clutter,
        combine="mean",
    )
    return _scale(power, log=log, normalise=normalise, floor_db=floor_db)


def ra_video_frames(
    cube: NDArray[Any],
    params: RadarParams,
    *,
    range_bins: slice | None = None,
    n_angle: int = 64,
    remove_clutter: bool = True,
    log: bool = True,
    normalise: Normalisation = "frame",
    floor_db: float = -100.0,
) -> NDArray[np.float32]:
    """RA video frames (the MAEPose RA / dual variants).

    Power summed over Doppler after clutter removal (``range_azimuth_map`` noncoherent mode);
    with ``remove_clutter=False`` the static zero-Doppler bin is used instead.

    Returns:
        (F, n_range_kept, n_angle) float32, azimuth increasing to the right (``angle_axis_deg``).
    """
    power = range_azimuth_map(
        cube,
        params,
        n_angle=n_angle,
        doppler_mode="noncoherent" if remove_clutter else "zero_doppler",
        remove_clutter=remove_clutter,
        range_bins=range_bins,
    )
    return _scale(power, log=log, normalise=normalise, floor_db=floor_db)
