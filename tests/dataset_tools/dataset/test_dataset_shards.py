"""Direct shard I/O writes and reads exactly what zarr writes and reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from dataset_tools.dataset.format import CODECS, DatasetError
from dataset_tools.dataset.storage import ZarrStorage, open_storage

SHAPE = (37, 16, 4, 4, 2)  # 37 frames: the last shard is partial


def _data(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = rng.standard_normal((*SHAPE, 2), dtype=np.float32)
    out: np.ndarray = pairs.view(np.complex64)[..., 0]
    return out


def _store(tmp_path: Path) -> ZarrStorage:
    st = open_storage(tmp_path / "d.zarr", "w", format="zarr")
    assert isinstance(st, ZarrStorage)
    st.create_array(
        "s/v",
        shape=SHAPE,
        dtype=np.complex64,
        chunks=(1, 4, 4, 4, 2),
        codec=CODECS["complex"],
        shards=(16, *SHAPE[1:]),
    )
    return st


def test_direct_writes_are_zarr_shards(tmp_path: Path) -> None:
    st, data = _store(tmp_path), _data()
    assert st._layout("s/v") is not None
    for start in (0, 16, 32):
        st.write_frames("s/v", start, data[start : start + 16])
    z = zarr.open_array(str(tmp_path / "d.zarr" / "s" / "v"), mode="r")
    np.testing.assert_array_equal(z[...], data)
    assert st.shards_of("s/v") == (16, *SHAPE[1:])
    assert st.chunk_counts("s/v") == (3, 3)


@pytest.mark.parametrize(
    ("start", "stop", "index"),
    [
        (0, 37, ()),
        (5, 13, ()),
        (14, 22, (slice(4, 12),)),
        (30, 37, (slice(0, 16),)),
        (1, 2, (slice(12, 16),)),
    ],
)
def test_direct_reads_equal_zarr(
    tmp_path: Path, start: int, stop: int, index: tuple[slice, ...]
) -> None:
    st, data = _store(tmp_path), _data(1)
    st.array("s/v")[...] = data  # written by zarr
    st.array("s/v")[3:5] = data[3:5] * 2  # and a read-modify-write of one shard
    data[3:5] *= 2
    np.testing.assert_array_equal(
        st.read_frames("s/v", start, stop, index), data[(slice(start, stop), *index)]
    )


def test_unaligned_requests_fall_back_to_zarr(tmp_path: Path) -> None:
    st, data = _store(tmp_path), _data(2)
    st.write_frames("s/v", 0, data[:16])
    st.write_frames("s/v", 16, data[16:20])  # not a whole shard: zarr does it
    np.testing.assert_array_equal(st.read_frames("s/v", 0, 20), data[:20])
    got = st.read_frames("s/v", 2, 6, (slice(1, 3),))  # not chunk-aligned: zarr reads it
    np.testing.assert_array_equal(got, data[2:6, 1:3])


def test_missing_shards_read_as_fill_and_damage_is_detected(tmp_path: Path) -> None:
    st, data = _store(tmp_path), _data(3)
    st.write_frames("s/v", 0, data[:16])
    assert np.isnan(st.read_frames("s/v", 16, 20)).all()
    assert st.chunk_counts("s/v") == (1, 3)
    shard = tmp_path / "d.zarr" / "s" / "v" / "c" / "0" / "0" / "0" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[100] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="CRC32C"):
        st.read_frames("s/v", 0, 2)
    shard.write_bytes(bytes(raw[:-8]))
    with pytest.raises(DatasetError, match="index"):
        st.read_frames("s/v", 0, 2)
