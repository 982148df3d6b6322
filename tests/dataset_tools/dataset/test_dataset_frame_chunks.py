"""Direct frame-chunk writes are what zarr writes: zarr reads them back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from dataset_tools.dataset.format import CODECS
from dataset_tools.dataset.frame_chunks import frame_chunk_layout, write_frame_chunks
from dataset_tools.dataset.storage import ZarrStorage, open_storage


def _store(tmp_path: Path, codec: str, dtype: type, frames: int = 37) -> ZarrStorage:
    st = open_storage(tmp_path / "d.zarr", "w", format="zarr")
    assert isinstance(st, ZarrStorage)
    st.create_array(
        "s/v", shape=(frames, 5, 3), dtype=dtype, chunks=(16, 5, 3), codec=CODECS[codec]
    )
    return st


@pytest.mark.parametrize(("codec", "dtype"), [("complex", np.complex64), ("float", np.float32)])
def test_direct_chunks_read_back_through_zarr(tmp_path: Path, codec: str, dtype: type) -> None:
    st = _store(tmp_path, codec, dtype)
    layout = st._frame_chunks("s/v")
    assert layout is not None and layout.frames_per_chunk == 16
    assert (layout.blosc is None) == (codec == "complex")
    rng = np.random.default_rng(0)
    data: np.ndarray = (rng.standard_normal((37, 5, 3)) * 100).astype(dtype)
    for start in (0, 16, 32):  # the last chunk holds 5 frames: padded like zarr's edge chunks
        st.write_frames("s/v", start, data[start : start + 16])
    z = zarr.open_array(str(tmp_path / "d.zarr" / "s" / "v"), mode="r")
    np.testing.assert_array_equal(z[...], data)
    assert st.chunk_counts("s/v") == (3, 3)
    # byte for byte what zarr writes for the same chunk
    direct = (tmp_path / "d.zarr" / "s" / "v" / "c" / "1" / "0" / "0").read_bytes()
    z2 = zarr.open_array(str(tmp_path / "d.zarr" / "s" / "v"), mode="r+")
    z2[16:32] = data[16:32]
    assert (tmp_path / "d.zarr" / "s" / "v" / "c" / "1" / "0" / "0").read_bytes() == direct


def test_unaligned_writes_go_through_zarr_and_bad_requests_fail(tmp_path: Path) -> None:
    st = _store(tmp_path, "float", np.float32)
    data = np.arange(37 * 15, dtype=np.float32).reshape(37, 5, 3)
    st.write_frames("s/v", 0, data[:16])
    st.write_frames("s/v", 16, data[16:20])  # not a whole chunk: zarr does it
    np.testing.assert_array_equal(st.read_frames("s/v", 0, 20), data[:20])
    layout = frame_chunk_layout(st.array("s/v"), tmp_path / "d.zarr" / "s" / "v")
    assert layout is not None
    with pytest.raises(ValueError, match="whole chunks"):
        write_frame_chunks(layout, 8, data[:16])
    with pytest.raises(ValueError, match="frame shape"):
        write_frame_chunks(layout, 0, data[:16, :4])


def test_other_layouts_are_left_to_zarr(tmp_path: Path) -> None:
    st = open_storage(tmp_path / "d.zarr", "w", format="zarr")
    assert isinstance(st, ZarrStorage)
    # chunked inside a frame: not whole frames per chunk
    st.create_array(
        "s/a", shape=(8, 4, 4), dtype=np.float32, chunks=(4, 2, 4), codec=CODECS["float"]
    )
    assert st._frame_chunks("s/a") is None
