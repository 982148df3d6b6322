"""HuPR's VRDAEMap (Lee et al., WACV 2023), reproduced exactly, quirks included.

The published preprocessing (REFERENCE.md section 1), per frame and radar:

1. chirp ``c`` -> loop ``c // 3``, TX slot ``c % 3``; slot 0 = azimuth elements 0-3, slot 2 =
   azimuth elements 4-7, slot 1 = the elevated row of 4 (RX0-3 each time);
2. subtract the mean over the 64 loops per virtual antenna and sample;
3. unwindowed 2-D FFT over (loop, sample), 256-point range FFT;
4. an 8 (elevation) x 64 (azimuth) grid, zeros elsewhere: row 0 columns 0-7 = azimuth array,
   row 1 columns 2-5 = elevated row;
5. length-8 elevation FFT on columns 2-5 ONLY (other columns stay untransformed, i.e. their
   energy sits in elevation bin 0);
6. length-64 azimuth FFT along every row;
7. range bins 94, 93, ..., 31 (descending);
8. Doppler ``fftshift`` and bins 24..39;
9. ``fftshift`` of azimuth and elevation, then both axes reversed.

Output (16 Doppler, 64 range, 64 azimuth, 8 elevation) complex. Standard ``exp(-j ...)`` FFTs
throughout, so (with this package's signal model) a target at direction cosine ``u`` along the
array lands at azimuth index ``31 + 32 u d`` (``d`` = element spacing in half wavelengths at the
carrier, about 1.03 for HuPR's chirp), elevated-row energy at elevation index ``3 + 4 u_z d`` and
everything from the azimuth-only columns at elevation index 3.

Speed: every step is linear, so the implementation applies them in the cheapest order with the
same result: steps 2 + 8 as one (16 x 64) matrix over loops (only the 16 kept Doppler bins are
ever computed), step 3's range FFT on those 16 bins, step 7's slice, then steps 1 + 4-6 + 9 as one
(12 -> 64 x 8) matrix built by running the literal steps on the identity. Several hundred
frames/s on one core; ``tests/dataset_tools/dsp`` checks it against a literal implementation.

Storage: the map is that last matrix applied to a (16, 64, 12) array (:func:`vrdae_channels`,
98 KB per frame against the map's 4 MiB), so datasets store the channels and the matrix, and
readers expand them (:func:`expand_vrdae`) on the fly.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import scipy.fft
from numpy.typing import NDArray

HUPR_CUBE_SHAPE = (64, 3, 4, 256)  # loops, TX slots, RX, samples
HUPR_RANGE_BINS = slice(94, 30, -1)  # 94, 93, ..., 31
HUPR_DOPPLER_BINS = slice(24, 40)  # of the fftshift-ed 64-bin Doppler axis
N_AZIMUTH = 64
N_ELEVATION = 8


def _literal_angle_steps(antennas: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Steps 1 (antenna roles), 4, 5, 6 and 9 on (..., 12) virtual channels (slot-major, RX).

    Returns (..., 64 azimuth, 8 elevation).
    """
    lead = antennas.shape[:-1]
    grid = np.zeros((*lead, N_ELEVATION, N_AZIMUTH), dtype=np.complex128)
    grid[..., 0, 0:4] = antennas[..., 0:4]  # slot 0
    grid[..., 0, 4:8] = antennas[..., 8:12]  # slot 2
    grid[..., 1, 2:6] = antennas[..., 4:8]  # slot 1, elevated
    grid[..., :, 2:6] = np.fft.fft(grid[..., :, 2:6], axis=-2)
    grid = np.fft.fft(grid, axis=-1)
    grid = np.fft.fftshift(grid, axes=(-2, -1))[..., ::-1, ::-1]
    out: NDArray[np.complex128] = np.swapaxes(grid, -1, -2)
    return out


@cache
def _angle_matrix(double: bool) -> NDArray[Any]:
    """(12, 64 * 8) matrix: virtual channels -> (azimuth, elevation) output, row-vector form."""
    basis = np.eye(12, dtype=np.complex128)
    matrix = _literal_angle_steps(basis).reshape(12, -1)
    return matrix if double else matrix.astype(np.complex64)


@cache
def _doppler_matrix(double: bool) -> NDArray[Any]:
    """(16, 64) matrix: clutter removal + Doppler FFT + fftshift + bins 24..39 over loops."""
    n_loops = HUPR_CUBE_SHAPE[0]
    shifted = np.arange(n_loops)[HUPR_DOPPLER_BINS]
    unshifted = (shifted - n_loops // 2) % n_loops  # fftshift: output k <- input (k - n/2)
    dft = np.exp(-2j * np.pi * np.outer(unshifted, np.arange(n_loops)) / n_loops)
    # D (I - 1 1^T / n): removing the loop mean first is the same as this projection
    declutter: NDArray[np.complex128] = dft - dft.mean(axis=1, keepdims=True)
    return declutter if double else declutter.astype(np.complex64)


def vrdae_channels(
    cube: NDArray[Any], *, dtype: type[np.complexfloating[Any, Any]] = np.complex64
) -> NDArray[Any]:
    """Steps 2, 3, 7 and 8 of HuPR's VRDAE: the map *before* its angle step, per virtual channel.

    Every VRDAE map is ``expand_vrdae`` of this array (a fixed 12 -> 64 x 8 linear map per
    Doppler / range cell), and it is 42x smaller than the map: what datasets store.

    Args:
        cube: (..., 64 loops, 3 TX slots, 4 RX, 256 samples) complex ADC samples.
        dtype: ``np.complex64`` (default) or ``np.complex128``.

    Returns:
        (..., 16 Doppler, 64 range, 12 virtual channels (TX slot-major, RX)) of ``dtype``.
    """
    if cube.shape[-4:] != HUPR_CUBE_SHAPE:
        raise ValueError(
            f"HuPR cubes are (..., 64, 3, 4, 256) (loops, TX slots, RX, samples); got {cube.shape}"
        )
    if dtype not in (np.complex64, np.complex128):
        raise ValueError(f"dtype must be complex64 or complex128, got {dtype}")
    lead = cube.shape[:-4]
    n_loops, n_slots, n_rx, n_samples = HUPR_CUBE_SHAPE
    x = np.asarray(cube, dtype=dtype).reshape(-1, n_loops, n_slots * n_rx * n_samples)
    # Steps 2 + 8: (16, 64) @ (frames, 64, 3072) -> (frames, 16, 3072)
    doppler = np.matmul(_doppler_matrix(dtype == np.complex128), x)
    doppler = doppler.reshape(-1, 16, n_slots * n_rx, n_samples)
    # Steps 3 + 7: range FFT, then the 64 kept bins in descending order
    spectrum = scipy.fft.fft(doppler, axis=-1, workers=1, overwrite_x=True)
    kept = np.swapaxes(spectrum[..., HUPR_RANGE_BINS], -1, -2)  # (frames, 16, 64 range, 12)
    out: NDArray[Any] = np.ascontiguousarray(kept).reshape(*lead, 16, 64, n_slots * n_rx)
    return out


def vrdae_angle_matrix(double: bool = False) -> NDArray[Any]:
    """(12, 64 azimuth, 8 elevation) matrix of steps 1, 4-6 and 9 (a copy; complex64 or 128).

    ``vrdae = einsum("...c,cae->...ae", channels, matrix)``; datasets store it beside the
    channels (``radar/<radar>/vrdae_angle``) so that any reader can expand them.
    """
    matrix: NDArray[Any] = _angle_matrix(double).reshape(12, N_AZIMUTH, N_ELEVATION).copy()
    return matrix


def expand_vrdae(
    channels: NDArray[Any],
    matrix: NDArray[Any] | None = None,
    *,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """VRDAE maps from :func:`vrdae_channels` output (one BLAS matmul).

    Args:
        channels: (..., 12) per-channel spectra (any leading axes: frames, Doppler, range).
        matrix: (12, 64, 8) angle matrix (default :func:`vrdae_angle_matrix` of the dtype).
        out: optional C-contiguous destination of shape (..., 64, 8).

    Returns:
        (..., 64 azimuth, 8 elevation) maps of ``channels``' dtype (NaN channels give NaN maps).
    """
    channels = np.asarray(channels)
    if channels.shape[-1:] != (12,):
        raise ValueError(f"VRDAE channels end in 12 virtual channels; got {channels.shape}")
    double = channels.dtype == np.complex128
    m = _angle_matrix(double) if matrix is None else np.asarray(matrix).reshape(12, -1)
    if m.shape != (12, N_AZIMUTH * N_ELEVATION):
        given = np.asarray(matrix).shape
        raise ValueError(f"VRDAE angle matrix must be (12, 64, 8); got {given}")
    lead = channels.shape[:-1]
    flat = channels.reshape(-1, 12)
    if out is not None:
        np.matmul(flat, m.astype(flat.dtype, copy=False), out=out.reshape(-1, m.shape[1]))
        return out
    maps: NDArray[Any] = np.matmul(flat, m.astype(flat.dtype, copy=False))
    return maps.reshape(*lead, N_AZIMUTH, N_ELEVATION)


def vrdae_maps(
    cube: NDArray[Any], *, dtype: type[np.complexfloating[Any, Any]] = np.complex64
) -> NDArray[Any]:
    """HuPR VRDAE maps for a batch of frames of one radar.

    Args:
        cube: (..., 64 loops, 3 TX slots, 4 RX, 256 samples) complex ADC samples (what
            ``decode_adc_frames`` returns for HuPR's configuration: raw chirp ``c`` is loop
            ``c // 3``, slot ``c % 3``). Leading axes (frames) are batched.
        dtype: ``np.complex64`` (default) or ``np.complex128`` (what the authors store).

    Returns:
        (..., 16 Doppler, 64 range, 64 azimuth, 8 elevation) of ``dtype``.
    """
    return expand_vrdae(vrdae_channels(cube, dtype=dtype))
