"""HuPR VRDAE maps: the fast implementation against a literal, step-by-step reference."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from dataset_tools.dsp import vrdae_maps
from dataset_tools.dsp.hupr import expand_vrdae, vrdae_angle_matrix, vrdae_channels


def literal_vrdae(frame: NDArray[np.complexfloating]) -> NDArray[np.complex128]:
    """REFERENCE.md section 1, steps 1-9 word for word: (64, 3, 4, 256) -> (16, 64, 64, 8)."""
    raw = frame.reshape(192, 4, 256).astype(np.complex128)  # raw chirp c = loop * 3 + slot
    # 1. chirp c -> loop c // 3, slot c % 3; slot 0 -> azimuth 0-3, slot 2 -> 4-7, slot 1 elevated
    azimuth = np.zeros((8, 64, 256), dtype=np.complex128)  # (element, loop, sample)
    elevated = np.zeros((4, 64, 256), dtype=np.complex128)
    for c in range(192):
        loop, slot = c // 3, c % 3
        for rx in range(4):
            if slot == 0:
                azimuth[rx, loop] = raw[c, rx]
            elif slot == 2:
                azimuth[4 + rx, loop] = raw[c, rx]
            else:
                elevated[rx, loop] = raw[c, rx]
    antennas = [azimuth[i] for i in range(8)] + [elevated[i] for i in range(4)]
    # 2. per virtual antenna and sample, subtract the mean over the 64 loops
    for antenna in antennas:
        for sample in range(256):
            antenna[:, sample] -= antenna[:, sample].mean()
    # 3. unwindowed 2-D FFT over (loop, sample) for every virtual antenna
    spectra = [np.fft.fft2(antenna) for antenna in antennas]  # each (64 Doppler, 256 range)
    # 4. 8 x 64 antenna grid: row 0 cols 0-7 azimuth array, row 1 cols 2-5 elevated row
    grid = np.zeros((8, 64, 64, 256), dtype=np.complex128)  # (el, az, Doppler, range)
    for i in range(8):
        grid[0, i] = spectra[i]
    for i in range(4):
        grid[1, 2 + i] = spectra[8 + i]
    # 5. elevation FFT (length 8) on columns 2-5 only
    for col in range(2, 6):
        grid[:, col] = np.fft.fft(grid[:, col], n=8, axis=0)
    # 6. azimuth FFT (length 64) along every elevation row
    for row in range(8):
        grid[row] = np.fft.fft(grid[row], n=64, axis=0)
    # 7. range bins 94, 93, ..., 31
    grid = grid[..., [94 - i for i in range(64)]]
    # 8. fftshift along Doppler, keep shifted bins 24..39
    grid = np.fft.fftshift(grid, axes=2)[:, :, 24:40]
    # 9. fftshift along azimuth and elevation, then reverse both
    grid = np.fft.fftshift(grid, axes=(0, 1))[::-1, ::-1]
    return np.transpose(grid, (2, 3, 1, 0))  # (Doppler, range, azimuth, elevation)


@pytest.fixture(scope="module")
def random_frames() -> NDArray[np.complex64]:
    rng = np.random.default_rng(7)
    shape = (2, 64, 3, 4, 256)
    # ADC-like integers plus a static offset per channel so that clutter removal matters
    cube = rng.integers(-2000, 2000, size=shape) + 1j * rng.integers(-2000, 2000, size=shape)
    cube += 5000.0 * rng.standard_normal((2, 1, 3, 4, 256))
    return cube.astype(np.complex64)


@pytest.fixture(scope="module")
def reference(random_frames: NDArray[np.complex64]) -> NDArray[np.complex128]:
    return np.stack([literal_vrdae(frame) for frame in random_frames])


def test_matches_literal_reference_complex64(
    random_frames: NDArray[np.complex64], reference: NDArray[np.complex128]
) -> None:
    fast = vrdae_maps(random_frames)
    assert fast.shape == (2, 16, 64, 64, 8) and fast.dtype == np.complex64
    error = np.abs(fast - reference).max() / np.abs(reference).max()
    assert error < 1e-4


def test_matches_literal_reference_complex128(
    random_frames: NDArray[np.complex64], reference: NDArray[np.complex128]
) -> None:
    fast = vrdae_maps(random_frames, dtype=np.complex128)
    assert fast.dtype == np.complex128
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-9 * np.abs(reference).max())


def test_single_frame_and_batch_agree(random_frames: NDArray[np.complex64]) -> None:
    single = vrdae_maps(random_frames[1])
    assert single.shape == (16, 64, 64, 8)
    np.testing.assert_array_equal(single, vrdae_maps(random_frames)[1])


def test_channels_and_angle_matrix_expand_to_the_literal_map(
    random_frames: NDArray[np.complex64], reference: NDArray[np.complex128]
) -> None:
    channels = vrdae_channels(random_frames, dtype=np.complex128)
    assert channels.shape == (2, 16, 64, 12)  # 42x smaller than the map
    matrix = vrdae_angle_matrix(double=True)
    assert matrix.shape == (12, 64, 8)
    # the stored matrix (explicit) and the default one give the literal map
    for m in (matrix, None):
        got = expand_vrdae(channels, m)
        np.testing.assert_allclose(got, reference, rtol=0, atol=1e-9 * np.abs(reference).max())
    # each channel's column is the literal steps applied to a unit impulse on that channel
    unit = np.zeros(12, np.complex128)
    unit[5] = 1.0  # slot 1 (elevated row), RX 1
    assert np.abs(expand_vrdae(unit) - matrix[5]).max() == 0.0
    # a lost frame (NaN channels) expands to an all-NaN map, never to numbers
    lost = np.full((16, 64, 12), np.nan, np.complex64)
    assert np.isnan(expand_vrdae(lost)).all()
    out = np.empty((2, 16, 64, 64, 8), np.complex64)
    assert expand_vrdae(channels.astype(np.complex64), out=out) is out
    with pytest.raises(ValueError, match="12 virtual channels"):
        expand_vrdae(channels[..., :8])
    with pytest.raises(ValueError, match=r"\(12, 64, 8\)"):
        expand_vrdae(channels, matrix[:, :32])


def test_static_scene_vanishes() -> None:
    static = np.broadcast_to(np.arange(256, dtype=np.complex64), (1, 64, 3, 4, 256))
    # float32 rounding only: far below the 64 * 12 * 256 * 128 ~ 2.5e7 an uncancelled sum reaches
    assert np.abs(vrdae_maps(static)).max() < 1.0


def test_wrong_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 64, 3, 4, 256\)"):
        vrdae_maps(np.zeros((1, 64, 4, 3, 256), dtype=np.complex64))
