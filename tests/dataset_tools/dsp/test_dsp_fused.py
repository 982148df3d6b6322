"""The build's fused DSP path equals the reference functions (to float32 rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from dataset_tools.dsp import rd_video_frames, vrdae_maps
from dataset_tools.dsp.fused import rd_db_frames, vrdae_channel_frames
from dataset_tools.dsp.hupr import expand_vrdae, vrdae_channels


def _cube(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    re = rng.integers(-3000, 3000, size=shape).astype(np.float32)
    im = rng.integers(-3000, 3000, size=shape).astype(np.float32)
    cube: np.ndarray = (re + 1j * im).astype(np.complex64)
    # a strong static target and a mover, so the dB maps span a wide range
    n = shape[-1]
    cube[..., n // 8] += 2e4
    cube[:, ::2, ..., n // 4] -= 1e4
    return cube


@pytest.mark.parametrize("range_bins", [None, slice(16, 80)])
def test_rd_fast_path_equals_reference(range_bins: slice | None) -> None:
    cube = _cube((3, 64, 3, 4, 256))
    ref = rd_video_frames(cube, range_bins=range_bins, normalise="none", floor_db=-100.0)
    work = np.empty_like(cube)
    got = rd_db_frames(cube, range_bins=range_bins, floor_db=-100.0, work=work)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-3)  # dB, float32 FFTs
    assert np.array_equal(cube, _cube((3, 64, 3, 4, 256)))  # input untouched


def test_rd_fast_path_other_geometries_and_floor() -> None:
    cube = _cube((2, 16, 2, 4, 64), seed=1)
    cube[1] = 0  # an all-zero frame hits the floor
    ref = rd_video_frames(cube, normalise="none", floor_db=-40.0)
    np.testing.assert_allclose(rd_db_frames(cube, floor_db=-40.0), ref, rtol=0, atol=2e-3)
    assert np.all(rd_db_frames(cube, floor_db=-40.0)[1] == np.float32(-40.0))
    odd = _cube((1, 15, 1, 2, 32), seed=2)  # odd loop count: falls back to the reference
    np.testing.assert_array_equal(rd_db_frames(odd), rd_video_frames(odd, normalise="none"))


def test_vrdae_fast_path_equals_reference_and_writes_into_out() -> None:
    cube = _cube((2, 64, 3, 4, 256), seed=3)
    ref = vrdae_maps(cube)
    out = np.full((2, 16, 64, 12), np.nan, dtype=np.complex64)
    got = vrdae_channel_frames(cube, out=out)
    assert got is out
    scale = float(np.abs(ref).max())
    np.testing.assert_allclose(got, vrdae_channels(cube), rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(expand_vrdae(got), ref, rtol=0, atol=1e-6 * scale)
    with pytest.raises(ValueError, match="HuPR cubes"):
        vrdae_channel_frames(cube[:, :32])
