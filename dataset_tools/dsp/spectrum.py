"""Windows, range and Doppler FFTs, static clutter removal, and bin -> physical axes.

Signal model and sign conventions (used by every module of ``dataset_tools.dsp``):

* The complex IF sample of a point target is ``exp(+j 2 pi (f_c tau + S tau t_fast))`` with
  ``tau`` the round-trip delay (TI's mixer outputs TX x conj(RX)). A target at range ``r`` is
  therefore a *positive* beat frequency: range bin ``k = r / range_resolution`` of a standard
  (``exp(-j ...)``) FFT over samples.
* A target moving *away* (positive radial velocity, TI's convention) has a phase that grows from
  loop to loop: after ``fftshift`` it lands above the centre (zero-velocity) Doppler bin.
* An antenna displaced by ``p`` along the target direction ``u`` sees a *shorter* path, phase
  ``-2 pi (p . u) / lambda``. Angle spectra in this package are therefore computed with the
  ``exp(+j ...)`` kernel (an unnormalised inverse FFT), so that a target at positive TI ``x``
  (to the right, looking out of the antennas) or positive ``z`` (up) lands above the centre angle
  bin: ``sin(theta) = (k - n/2) / (n d)`` for shifted bin ``k`` and element spacing ``d`` in
  wavelengths (``d = 0.5`` gives ``2 (k - n/2) / n``).

If a real capture shows mirrored angles (some firmware conjugates the stream), conjugating the
cube restores these conventions.

Array layout: ADC cubes are ``(..., loops, T, R, N)`` (leading batch axes allowed, e.g. frames),
``T`` TDM TX slots, ``R`` RX channels, ``N`` samples per chirp. FFTs use ``scipy.fft`` with one
worker (pocketfft, faster than ``numpy.fft`` for complex64 and it keeps single precision).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.fft
from numpy.typing import NDArray

from acquisition.radar.params import SPEED_OF_LIGHT_MPS, RadarParams

WindowName = Literal["hann", "hamming", "blackman", "none"]
ComplexArray = NDArray[np.complexfloating[Any, Any]]
FloatArray = NDArray[np.floating[Any]]

#: axis of the loops (slow time) in a ``(..., loops, T, R, N)`` cube
LOOP_AXIS = -4


def make_window(name: WindowName, length: int) -> NDArray[np.float32]:
    """Symmetric window of ``length`` samples (numpy's definitions), float32, shape (length,).

    ``"none"`` is the rectangular window (all ones): best resolution, -13 dB sidelobes.
    """
    if name == "none":
        return np.ones(length, dtype=np.float32)
    if name == "hann":
        return np.hanning(length).astype(np.float32)
    if name == "hamming":
        return np.hamming(length).astype(np.float32)
    if name == "blackman":
        return np.blackman(length).astype(np.float32)
    raise ValueError(f"unknown window {name!r}; expected hann, hamming, blackman or none")


def _apply_window(x: ComplexArray, name: WindowName, axis: int) -> ComplexArray:
    if name == "none":
        return x
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    w = make_window(name, x.shape[axis]).reshape(shape)
    return x * w.astype(x.real.dtype, copy=False)


def _as_complex(x: NDArray[Any]) -> ComplexArray:
    """Keep complex64/complex128; promote real input (float32 -> complex64, else complex128)."""
    if np.iscomplexobj(x):
        return x
    if x.dtype == np.float32 or x.dtype == np.int16:
        return x.astype(np.complex64)
    return x.astype(np.complex128)


def range_fft(
    cube: NDArray[Any],
    *,
    window: WindowName = "none",
    n_fft: int | None = None,
    axis: int = -1,
) -> ComplexArray:
    """FFT over fast time (ADC samples).

    Args:
        cube: (..., N) complex (or real) samples; ``axis`` selects the sample axis (default last).
        window: window applied along the samples before the FFT.
        n_fft: FFT length (zero padding when > N); default N.

    Returns:
        Same shape with the sample axis replaced by ``n_fft`` range bins (unshifted: bin k is range
        ``k * range_axis_m`` spacing), complex64 for complex64/int16/float32 input.
    """
    x = _apply_window(_as_complex(cube), window, axis)
    return scipy.fft.fft(x, n=n_fft, axis=axis, workers=1)  # type: ignore[no-any-return]


def doppler_fft(
    cube: NDArray[Any],
    *,
    window: WindowName = "none",
    n_fft: int | None = None,
    axis: int = LOOP_AXIS,
    shift: bool = True,
) -> ComplexArray:
    """FFT over slow time (chirp loops), zero velocity in the centre bin after the shift.

    Args:
        cube: (..., loops, T, R, K) complex, e.g. after ``range_fft``; ``axis`` is the loop axis.
        window: window applied along the loops before the FFT.
        n_fft: FFT length; default the number of loops.
        shift: ``fftshift`` so that bin ``n_fft // 2`` is zero velocity (``velocity_axis_mps``).

    Returns:
        Same shape with the loop axis replaced by ``n_fft`` Doppler bins.
    """
    x = _as_complex(cube)
    n_loops = x.shape[axis]
    n = n_loops if n_fft is None else n_fft
    weights = make_window(window, n_loops).astype(np.float64)
    modulate = shift and n % 2 == 0
    if modulate:
        # (-1)^m on the input shifts the spectrum by n/2 bins: fftshift without a second copy
        weights[1::2] *= -1.0
    if window != "none" or modulate:
        shape = [1] * x.ndim
        shape[axis] = n_loops
        x = x * weights.astype(x.real.dtype).reshape(shape)
    spec = scipy.fft.fft(x, n=n_fft, axis=axis, workers=1)
    if shift and not modulate:
        spec = scipy.fft.fftshift(spec, axes=axis)
    return spec  # type: ignore[no-any-return]


def steering_matrix(n_fft: int, positions: NDArray[Any]) -> NDArray[np.complex128]:
    """(n_fft, M) rows ``exp(+j 2 pi (k - n_fft/2) p_m / n_fft)``: ``steering @ x`` equals the
    shifted ``angle_spectrum`` of elements at integer positions ``p_m`` (zero-padded to n_fft).
    """
    k = np.arange(n_fft) - n_fft // 2
    phase = 2.0 * np.pi * np.outer(k, np.asarray(positions, dtype=np.float64)) / n_fft
    steer: NDArray[np.complex128] = np.exp(1j * phase)
    return steer


def angle_spectrum(
    elements: NDArray[Any], *, n_fft: int, axis: int = -1, shift: bool = True
) -> ComplexArray:
    """Beamform a uniform line of elements with the ``exp(+j ...)`` kernel, zero-padded to n_fft.

    Args:
        elements: (..., M, ...) complex element values along ``axis`` (M <= n_fft), element 0 at
            the smallest coordinate.
        n_fft: number of angle bins.
        shift: centre bin ``n_fft // 2`` is broadside (``angle_axis_deg``).

    Returns:
        Same shape with ``axis`` replaced by ``n_fft`` angle bins, unnormalised (a target of unit
        amplitude on all M elements peaks at magnitude M).
    """
    spec = scipy.fft.ifft(_as_complex(elements), n=n_fft, axis=axis, norm="forward", workers=1)
    if shift:
        spec = scipy.fft.fftshift(spec, axes=axis)
    return spec  # type: ignore[no-any-return]


def remove_static_clutter(cube: NDArray[Any], *, axis: int = LOOP_AXIS) -> ComplexArray:
    """Subtract the mean over loops, per antenna and sample (or range bin): zero-Doppler removal.

    Args:
        cube: (..., loops, T, R, K) complex; ``axis`` is the loop axis.

    Returns:
        Same shape and dtype (complex64 for complex64 input).
    """
    x = _as_complex(cube)
    out: ComplexArray = x - x.mean(axis=axis, keepdims=True, dtype=x.dtype)
    return out


def element_spacing_wavelengths(params: RadarParams) -> float:
    """Spacing of adjacent half-wavelength virtual elements in wavelengths at the chirp centre.

    Board positions are half wavelengths at the board's design carrier; at a centre frequency
    ``f_c`` the spacing is ``0.5 f_c / f_design`` wavelengths (e.g. 0.514 for 79.1 GHz on a
    77 GHz board), which shifts angle bins by a few percent at wide angles.
    """
    return 0.5 * params.center_freq_hz / params.board.design_freq_hz


def range_axis_m(params: RadarParams, n_fft: int | None = None) -> NDArray[np.float64]:
    """Range of each bin of an (unshifted) ``n_fft``-point range FFT, metres, shape (n_fft,).

    Bin spacing ``fs / n_fft * c / (2 S)``: equals ``params.range_resolution_m`` for
    ``n_fft == num_samples``. For real sampling only the first half is meaningful.
    """
    n = params.num_samples if n_fft is None else n_fft
    spacing = params.sample_rate_hz / n * SPEED_OF_LIGHT_MPS / (2.0 * params.slope_hz_per_s)
    return np.arange(n, dtype=np.float64) * spacing


def velocity_axis_mps(params: RadarParams, n_fft: int | None = None) -> NDArray[np.float64]:
    """Radial velocity of each bin of a *shifted* ``n_fft``-point Doppler FFT, m/s, (n_fft,).

    Positive = moving away from the radar. Bin ``n_fft // 2`` is 0; spacing
    ``lambda / (2 n_fft T_loop)`` with ``T_loop`` the time between chirps of one TX slot.
    """
    n = params.num_loops if n_fft is None else n_fft
    spacing = params.wavelength_m / (2.0 * n * params.loop_period_s)
    return (np.arange(n, dtype=np.float64) - n // 2) * spacing


def angle_axis_deg(n_fft: int, *, spacing_wavelengths: float = 0.5) -> NDArray[np.float64]:
    """Angle of each bin of a shifted ``n_fft``-point angle spectrum (``angle_spectrum``), degrees.

    ``sin(theta) = (k - n_fft/2) / (n_fft * spacing_wavelengths)``, i.e. ``2 (k - n/2) / n`` for
    half-wavelength spacing. Increasing with ``k``; positive = towards positive TI ``x`` (right)
    for azimuth, towards positive ``z`` (up) for elevation. Bins whose sine falls outside
    [-1, 1] (possible when spacing > 0.5) are clipped to +-90 degrees. For azimuth measured at
    elevation ``el`` the sine is the direction cosine ``sin(az) cos(el)``.
    """
    k = np.arange(n_fft, dtype=np.float64) - n_fft // 2
    sine = np.clip(k / (n_fft * spacing_wavelengths), -1.0, 1.0)
    return np.degrees(np.arcsin(sine))
