"""Whole-chunk writes of frame-chunked Zarr v3 arrays, without zarr's codec pipeline.

Most per-frame arrays of a dataset (``vrdae_channels``, ``rd``, ``ra``, ``raw``) are chunked by
windows of whole frames: chunk ``(k, *frame_shape)``, no sharding, codecs ``bytes(little)``, an
optional Blosc compressor, then ``crc32c``. The build writes them a window at a time; zarr's
pipeline (async event loop, buffer copies, per-chunk tasks) costs 4-8 ms per chunk here, 2-3x
the encoding itself. This module writes the *same bytes zarr would* straight to the chunk files:
the chunk's bytes (Blosc-compressed with numcodecs when the array says so), its CRC32C, with one
``writev`` (``shards.write_all``). A partial last chunk is padded with the fill value, as zarr
stores edge chunks.

Any other layout, or an unaligned request, goes through zarr
(:meth:`dataset_tools.dataset.storage.ZarrStorage.write_frames` decides). Zarr reads what this
writes (``tests/dataset_tools/dataset/test_dataset_frame_chunks.py``).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_crc32c
import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset.shards import direct_io_metadata, frame_chunk_path, write_all

_CRC = struct.Struct("<I")


@dataclass(frozen=True)
class FrameChunkLayout:
    """A frame-chunked array the direct writer handles (see the module docstring)."""

    directory: Path
    shape: tuple[int, ...]
    frames_per_chunk: int
    dtype: np.dtype[Any]
    fill_value: Any
    #: numcodecs Blosc settings (cname, clevel, shuffle, blocksize), None when uncompressed
    blosc: tuple[str, int, int, int] | None

    def chunk_path(self, index: int) -> Path:
        return frame_chunk_path(self.directory, index, len(self.shape))


def frame_chunk_layout(array: Any, directory: Path) -> FrameChunkLayout | None:
    """The direct-write layout of a zarr array, or None when it is stored any other way."""
    from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec

    meta = direct_io_metadata(array)
    if meta is None:
        return None
    codecs = tuple(getattr(meta, "codecs", ()))
    if not 2 <= len(codecs) <= 3:
        return None
    first, *middle, last = codecs
    if not (
        isinstance(first, BytesCodec)
        and str(getattr(first.endian, "value", first.endian)) == "little"
        and isinstance(last, Crc32cCodec)
    ):
        return None
    blosc: tuple[str, int, int, int] | None = None
    if middle:
        codec = middle[0]
        if not isinstance(codec, BloscCodec):
            return None
        shuffle = str(getattr(codec.shuffle, "value", codec.shuffle))
        shuffles = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
        if shuffle not in shuffles:
            return None
        cname = str(getattr(codec.cname, "value", codec.cname))
        blosc = (cname, int(codec.clevel), shuffles[shuffle], int(codec.blocksize or 0))
    shape = tuple(int(s) for s in array.shape)
    chunk = tuple(int(c) for c in meta.chunk_grid.chunk_shape)
    dtype = np.dtype(array.dtype)
    if not shape or dtype.byteorder == ">" or dtype.hasobject or chunk[1:] != shape[1:]:
        return None
    return FrameChunkLayout(directory, shape, chunk[0], dtype, array.fill_value, blosc)


def _compressor(layout: FrameChunkLayout) -> Any:
    import numcodecs

    assert layout.blosc is not None
    cname, clevel, shuffle, blocksize = layout.blosc
    return numcodecs.Blosc(cname=cname, clevel=clevel, shuffle=shuffle, blocksize=blocksize)


def write_frame_chunks(layout: FrameChunkLayout, start: int, values: NDArray[Any]) -> None:
    """Write whole chunks: frames ``[start, start + len(values))``.

    ``start`` must be a chunk boundary and the frames must end on one (or at the array's end).
    """
    k = layout.frames_per_chunk
    n = values.shape[0]
    stop = start + n
    if start % k or (stop % k and stop != layout.shape[0]) or stop > layout.shape[0]:
        raise ValueError(f"frames [{start}, {stop}) are not whole chunks of {k} frames")
    data = np.ascontiguousarray(values, dtype=layout.dtype)
    if data.shape[1:] != layout.shape[1:]:
        raise ValueError(f"frame shape {data.shape[1:]}, array frames {layout.shape[1:]}")
    compressor = _compressor(layout) if layout.blosc is not None else None
    for a in range(0, n, k):
        part = data[a : a + k]
        if part.shape[0] < k:  # the array's last chunk: zarr stores edge chunks whole
            padded = np.full((k, *layout.shape[1:]), layout.fill_value, dtype=layout.dtype)
            padded[: part.shape[0]] = part
            part = padded
        encoded: Any = compressor.encode(part) if compressor is not None else part
        crc = _CRC.pack(google_crc32c.value(encoded))
        body = memoryview(encoded).cast("B")
        path = layout.chunk_path((start + a) // k)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, [body, crc])
        finally:
            os.close(fd)
