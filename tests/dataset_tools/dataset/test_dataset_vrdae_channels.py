"""VRDAE stored as channels + angle matrix (format 2) reads exactly like dense VRDAE maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataset_tools.check import check_dataset
from dataset_tools.dataset import DatasetWriter, open_dataset
from dataset_tools.dataset.format import VRDAE_ANGLE, VRDAE_CHANNELS, DatasetError
from dataset_tools.dataset.storage import open_storage
from dataset_tools.dsp.hupr import expand_vrdae, vrdae_angle_matrix

FRAMES = 20


def _channels(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = rng.standard_normal((FRAMES, 16, 64, 12, 2), dtype=np.float32)
    out: np.ndarray = pairs.view(np.complex64)[..., 0].copy()
    out[7] = np.nan  # a frame the radar did not deliver
    return out


def _write(path: Path, channels: np.ndarray, *, dense: bool, angle: bool = True) -> None:
    w = DatasetWriter.create(path, attrs={}, overwrite=True)
    seq = w.begin_sequence("s", FRAMES)
    seq.write_time_axis(np.arange(FRAMES), np.arange(FRAMES) * 100_000_000)
    if dense:
        seq.create("radar/h/vrdae", (16, 64, 64, 8), np.complex64)[...] = expand_vrdae(channels)
    else:
        seq.create(f"radar/h/{VRDAE_CHANNELS}", (16, 64, 12), np.complex64)[...] = channels
        if angle:
            seq.write(f"radar/h/{VRDAE_ANGLE}", vrdae_angle_matrix())
    ones = np.ones(FRAMES, bool)
    seq.write_stream_meta(
        "radar/h",
        {
            "present": ones,
            "complete": ones,
            "lost_bytes": np.zeros(FRAMES, np.int64),
            "frame_number": np.arange(FRAMES),
            "timestamp_ns": np.arange(FRAMES) * 100_000_000,
        },
    )
    seq.finish({"radars": {"h": {"mounting": "horizontal"}}})
    w.finalize()
    w.close()


@pytest.mark.parametrize("suffix", [".zarr", ".h5"])
@pytest.mark.parametrize(
    "index",
    [
        (),
        (slice(4, 12),),  # HuPR's model bins
        (slice(4, 12), slice(10, 20)),
        (3,),  # one Doppler bin: that axis goes
        (slice(None), slice(None), slice(20, 40), 3),  # azimuth / elevation too
        (slice(0, 16, 5), 1, slice(3, 50, 2)),
    ],
)
def test_channels_read_as_the_dense_maps(
    tmp_path: Path, suffix: str, index: tuple[Any, ...]
) -> None:
    channels = _channels()
    _write(tmp_path / f"c{suffix}", channels, dense=False)
    _write(tmp_path / f"d{suffix}", channels, dense=True)
    c = open_dataset(tmp_path / f"c{suffix}").sequence("s")
    d = open_dataset(tmp_path / f"d{suffix}").sequence("s")
    assert c.representations("h") == d.representations("h") == ["vrdae"]
    got, want = c.read("h", "vrdae", 3, 11, index=index), d.read("h", "vrdae", 3, 11, index=index)
    assert got.shape == want.shape and got.dtype == np.complex64
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    scale = float(np.nanmax(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale)
    assert np.isnan(got[4]).all() and np.isfinite(got[3]).all()  # frame 7: lost, never zeros


def test_channels_are_far_smaller_and_checked(tmp_path: Path) -> None:
    channels = _channels(1)
    _write(tmp_path / "c.zarr", channels, dense=False)
    _write(tmp_path / "d.zarr", channels, dense=True)

    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())

    # 42x per frame; 20 frames fill two 16-frame chunks of channels
    assert size(tmp_path / "d.zarr") > 20 * size(tmp_path / "c.zarr")
    assert check_dataset(tmp_path / "c.zarr") == []
    # channels without their angle matrix: neither readable nor passing the check
    _write(tmp_path / "n.zarr", channels, dense=False, angle=False)
    with pytest.raises(DatasetError, match=VRDAE_ANGLE):
        open_dataset(tmp_path / "n.zarr").sequence("s").read("h", "vrdae", 0, 2)
    problems = check_dataset(tmp_path / "n.zarr")
    assert [p.where for p in problems] == [f"/sequences/s/radar/h/{VRDAE_ANGLE}"]
    with pytest.raises(DatasetError, match="up to 4"):
        open_dataset(tmp_path / "c.zarr").sequence("s").read("h", "vrdae", 0, 2, index=(..., 0))


@pytest.mark.parametrize(("version", "readable"), [(1, True), (2, True), (3, False), (0, False)])
def test_format_versions(tmp_path: Path, version: int, readable: bool) -> None:
    """Version 1 datasets (dense VRDAE only) still read; newer and unknown ones are refused."""
    channels = _channels(2)
    _write(tmp_path / "d.zarr", channels, dense=True)
    with open_storage(tmp_path / "d.zarr", "a") as st:
        st.set_attrs("", {**st.attrs(""), "format_version": version})
    if readable:
        seq = open_dataset(tmp_path / "d.zarr").sequence("s")
        assert seq.read("h", "vrdae", 0, 1).shape == (1, 16, 64, 64, 8)
        assert check_dataset(tmp_path / "d.zarr") == []
    else:
        with pytest.raises(DatasetError, match=f"version {version}"):
            open_dataset(tmp_path / "d.zarr")
        assert any("format version" in p.what for p in check_dataset(tmp_path / "d.zarr"))
