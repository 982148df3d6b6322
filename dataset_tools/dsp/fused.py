"""VRDAE and RD maps of one batch of frames in one go: the build's hot path.

Same results as :func:`dataset_tools.dsp.hupr.vrdae_channels` and
:func:`dataset_tools.dsp.maepose.rd_video_frames` (``normalise="none"``, Hann windows, no clutter
removal, antenna-averaged dB) -- ``tests/dataset_tools/dsp/test_fused.py`` checks both to float32
rounding -- with less memory traffic:

* RD: both windows and the Doppler ``fftshift`` (a ``(-1)^m`` modulation over loops) are one
  precomputed (loops, 1, 1, samples) float32 factor applied in a single pass into a reused
  buffer; both FFTs run in place; power is squared in place and summed over the virtual channels
  on a float32 view (no complex temporaries), then floored and ``log10``-ed in place.
* VRDAE channels (what datasets store, ``vrdae_channels``): HuPR's steps in the order of
  ``vrdae_maps`` (clutter removal + kept Doppler bins as one (16, 64) matrix, range FFT in
  place), the 64 kept range bins copied once, straight into the caller's (…, 64 range, 12
  channels) output. The angle step (``expand_vrdae``) is left to readers.

Why not share the range FFT between the two: RD's range window is numpy's *symmetric* Hann
(``np.hanning``, period N - 1), so windowing after the FFT is a dense convolution, not HuPR's
unwindowed spectrum convolved with three taps (that holds only for the periodic Hann); and VRDAE
keeps 16 Doppler bins before its range FFT, so its FFT is already a quarter of RD's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import scipy.fft
from numpy.typing import NDArray

from dataset_tools.dsp.hupr import (
    HUPR_CUBE_SHAPE,
    HUPR_RANGE_BINS,
    _doppler_matrix,
)
from dataset_tools.dsp.maepose import rd_video_frames
from dataset_tools.dsp.spectrum import make_window


@cache
def _rd_weights(loops: int, samples: int) -> NDArray[np.float32]:
    """(loops, 1, 1, 2 * samples): Hann (loops) x Hann (samples) x (-1)^m (Doppler fftshift),
    each value twice: the factor of a complex sample's real and imaginary float32."""
    doppler = make_window("hann", loops).astype(np.float64)
    doppler[1::2] *= -1.0
    rng = np.repeat(make_window("hann", samples).astype(np.float64), 2)
    weights: NDArray[np.float32] = (doppler[:, None, None, None] * rng).astype(np.float32)
    return weights


def rd_db_frames(
    cube: NDArray[Any],
    *,
    range_bins: slice | None = None,
    floor_db: float = -100.0,
    work: NDArray[np.complex64] | None = None,
) -> NDArray[np.float32]:
    """``rd_video_frames(cube, range_bins=..., normalise="none", floor_db=...)``, faster.

    Args:
        cube: (F, loops, T, R, N) complex64 ADC samples (C-contiguous).
        work: optional reused complex64 buffer of ``cube``'s shape (overwritten).

    Returns:
        (F, loops, n_range_kept) float32 dB of the mean power over the T * R channels.
    """
    if (
        cube.ndim != 5
        or cube.dtype != np.complex64
        or cube.shape[1] % 2
        or not cube.flags.c_contiguous
    ):
        return rd_video_frames(cube, range_bins=range_bins, normalise="none", floor_db=floor_db)
    f, loops, slots, rx, samples = cube.shape
    buf = work if work is not None and work.shape == cube.shape else np.empty_like(cube)
    floats = (f, loops, slots, rx, 2 * samples)  # a float32 multiply: no complex promotion
    np.multiply(
        cube.view(np.float32).reshape(floats),
        _rd_weights(loops, samples),
        out=buf.view(np.float32).reshape(floats),
    )
    spec = scipy.fft.fft(buf, axis=-1, workers=1, overwrite_x=True)
    if range_bins is not None:
        spec = np.ascontiguousarray(spec[..., range_bins])
    spec = scipy.fft.fft(spec, axis=1, workers=1, overwrite_x=True)
    n_range = spec.shape[-1]
    flat = spec.view(np.float32).reshape(f, loops, slots * rx, 2 * n_range)
    np.square(flat, out=flat)
    power = flat[:, :, 0].copy()  # a loop of in-cache adds: faster here than sum(axis=2)
    for c in range(1, slots * rx):
        power += flat[:, :, c]
    pairs = power.reshape(f, loops, n_range, 2)
    out: NDArray[np.float32] = np.add(pairs[..., 0], pairs[..., 1])
    out *= np.float32(1.0 / (slots * rx))
    np.maximum(out, np.float32(10.0 ** (floor_db / 10.0)), out=out)
    np.log10(out, out=out)
    out *= np.float32(10.0)
    return out


def vrdae_channel_frames(
    cube: NDArray[Any], *, out: NDArray[np.complex64] | None = None
) -> NDArray[np.complex64]:
    """``vrdae_channels(cube)`` (complex64) for (F, 64, 3, 4, 256) cubes, written into ``out``.

    Args:
        cube: (F, 64 loops, 3 slots, 4 RX, 256 samples) complex64.
        out: optional C-contiguous (F, 16, 64, 12) complex64 destination.
    """
    if cube.shape[1:] != HUPR_CUBE_SHAPE:
        raise ValueError(f"HuPR cubes are (F, 64, 3, 4, 256); got {cube.shape}")
    f = cube.shape[0]
    loops, slots, rx, samples = HUPR_CUBE_SHAPE
    shape = (f, 16, 64, slots * rx)
    if out is None or out.shape != shape or out.dtype != np.complex64:
        out = np.empty(shape, dtype=np.complex64)
    x = np.asarray(cube, dtype=np.complex64).reshape(f, loops, slots * rx * samples)
    doppler = np.matmul(_doppler_matrix(False), x).reshape(f, 16, slots * rx, samples)
    spectrum = scipy.fft.fft(doppler, axis=-1, workers=1, overwrite_x=True)
    np.copyto(out, np.swapaxes(spectrum[..., HUPR_RANGE_BINS], -1, -2))
    return out
