"""Whole-shard reads and writes of uncompressed sharded Zarr v3 arrays, without zarr's copies.

The VRDAE maps (4 MiB of complex64 per frame) dominate a dataset's bytes; going through zarr's
codec pipeline costs several copies per chunk (about 3x the time of the file I/O itself). For
arrays laid out as the format stores VRDAE -- ``sharding_indexed`` with inner codecs
``bytes(little) + crc32c``, index codecs the same, index at the end, whole frames per shard,
inner chunks of one frame -- this module reads and writes the *same bytes zarr would* directly:

* a shard is written with one ``writev``: each inner chunk's bytes straight from the numpy
  array, its CRC32C, then the index ``(offset, nbytes)`` uint64 pairs and their CRC32C;
* a read parses the index (checking its CRC32C), then reads every needed chunk of a shard with
  one ``preadv`` straight into the output array and checks each chunk's CRC32C.

Any other layout, or a request the fast path does not cover, goes through zarr
(:meth:`dataset_tools.dataset.storage.ZarrStorage.read_frames` / ``write_frames`` decide).
Zarr reads what this writes and vice versa (``tests/dataset_tools/dataset/test_shards.py``).
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_crc32c
import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset.format import DatasetError

MAX_U64 = 2**64 - 1
_CRC = struct.Struct("<I")
#: iovecs per preadv/writev call (Linux IOV_MAX is 1024)
_IOV_MAX = 1000
#: iovecs per preadv when reading (one call per run of adjacent chunks; one call per chunk, to
#: checksum it while cached, measured no faster)
_READ_IOVECS = _IOV_MAX


@dataclass(frozen=True)
class ShardLayout:
    """A sharded array the fast path handles (see the module docstring)."""

    directory: Path
    shape: tuple[int, ...]
    shard: tuple[int, ...]
    chunk: tuple[int, ...]
    dtype: np.dtype[Any]
    fill_value: Any

    @property
    def blocks(self) -> int:
        """Inner chunks per frame (along axis 1)."""
        return self.shard[1] // self.chunk[1] if len(self.shard) > 1 else 1

    @property
    def chunks_per_shard(self) -> int:
        return self.shard[0] * self.blocks

    @property
    def chunk_nbytes(self) -> int:
        return int(np.prod(self.chunk)) * self.dtype.itemsize

    def shard_path(self, index: int) -> Path:
        return frame_chunk_path(self.directory, index, len(self.shape))


def frame_chunk_path(directory: Path, index: int, ndim: int) -> Path:
    """File of chunk (or shard) ``index`` along the frame axis: ``c/<index>/0/...`` (zarr v3)."""
    return directory.joinpath("c", str(index), *(["0"] * (ndim - 1)))


def direct_io_metadata(array: Any) -> Any | None:
    """The zarr v3 metadata of an array whose chunk files direct I/O can name (little-endian
    host, default ``/`` chunk keys), else None."""
    if sys.byteorder != "little":
        return None
    meta = getattr(array, "metadata", None)
    if meta is None or getattr(meta, "zarr_format", None) != 3:
        return None
    key = getattr(meta, "chunk_key_encoding", None)
    if getattr(key, "name", None) != "default" or getattr(key, "separator", None) != "/":
        return None
    return meta


def shard_layout(array: Any, directory: Path) -> ShardLayout | None:
    """The fast-path layout of a zarr array, or None when it is stored any other way."""
    from zarr.codecs import BytesCodec, Crc32cCodec, ShardingCodec

    meta = direct_io_metadata(array)
    if meta is None:
        return None
    codecs = tuple(getattr(meta, "codecs", ()))
    if len(codecs) != 1 or not isinstance(codecs[0], ShardingCodec):
        return None
    sharding = codecs[0]

    def plain(chain: Any) -> bool:
        chain = tuple(chain)
        return (
            len(chain) == 2
            and isinstance(chain[0], BytesCodec)
            and str(getattr(chain[0].endian, "value", chain[0].endian)) == "little"
            and isinstance(chain[1], Crc32cCodec)
        )

    location = str(getattr(sharding.index_location, "value", sharding.index_location))
    if not (plain(sharding.codecs) and plain(sharding.index_codecs) and location == "end"):
        return None
    shape = tuple(int(s) for s in array.shape)
    shard = tuple(int(s) for s in meta.chunk_grid.chunk_shape)
    chunk = tuple(int(c) for c in sharding.chunk_shape)
    dtype = np.dtype(array.dtype)
    if (
        len(shape) < 2
        or dtype.byteorder == ">"
        or dtype.hasobject
        or shard[1:] != shape[1:]
        or chunk[0] != 1
        or chunk[2:] != shape[2:]
        or shape[1] % chunk[1]
    ):
        return None
    return ShardLayout(directory, shape, shard, chunk, dtype, array.fill_value)


def write_all(fd: int, buffers: list[Any]) -> None:
    """writev every buffer (in slices of _IOV_MAX, resuming after partial writes)."""
    pending = [memoryview(b).cast("B") for b in buffers]
    while pending:
        batch = pending[:_IOV_MAX]
        written = os.writev(fd, batch)
        del pending[: len(batch)]
        for i, b in enumerate(batch):  # a partial write: put the unwritten rest back
            if written >= b.nbytes:
                written -= b.nbytes
                continue
            pending[:0] = [b[written:], *batch[i + 1 :]]
            break


def write_shards(layout: ShardLayout, start: int, values: NDArray[Any]) -> None:
    """Write whole shards: frames ``[start, start + len(values))``.

    ``start`` must be a shard boundary and the frames must end on one (or at the array's end).
    """
    s0, nb, c1 = layout.shard[0], layout.blocks, layout.chunk[1]
    n = values.shape[0]
    stop = start + n
    if start % s0 or (stop % s0 and stop != layout.shape[0]) or stop > layout.shape[0]:
        raise ValueError(f"frames [{start}, {stop}) are not whole shards of {s0} frames")
    data = np.ascontiguousarray(values, dtype=layout.dtype)
    if data.shape[1:] != layout.shape[1:]:
        raise ValueError(f"frame shape {data.shape[1:]}, array frames {layout.shape[1:]}")
    for k in range(0, n, s0):
        block = data[k : k + s0]
        index = np.full((layout.chunks_per_shard, 2), MAX_U64, dtype="<u8")
        buffers: list[Any] = []
        offset = 0
        for lf in range(block.shape[0]):
            for b in range(nb):
                part = block[lf, b * c1 : (b + 1) * c1]
                chunk = memoryview(part).cast("B")  # type: ignore[arg-type]
                buffers += [chunk, _CRC.pack(google_crc32c.value(part))]
                index[lf * nb + b] = (offset, chunk.nbytes + 4)
                offset += chunk.nbytes + 4
        raw_index = index.tobytes()
        buffers += [raw_index, _CRC.pack(google_crc32c.value(raw_index))]
        path = layout.shard_path((start + k) // s0)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, buffers)
        finally:
            os.close(fd)


def _read_index(fd: int, path: Path, layout: ShardLayout) -> NDArray[np.uint64]:
    nbytes = layout.chunks_per_shard * 16
    size = os.fstat(fd).st_size
    if size < nbytes + 4:
        raise DatasetError(f"{path}: shard of {size} bytes is too short for its index")
    tail = os.pread(fd, nbytes + 4, size - nbytes - 4)
    if (
        len(tail) != nbytes + 4
        or google_crc32c.value(tail[:nbytes]) != _CRC.unpack(tail[nbytes:])[0]
    ):
        raise DatasetError(f"{path}: shard index fails its CRC32C (truncated or altered)")
    index: NDArray[np.uint64] = np.frombuffer(tail, dtype="<u8", count=nbytes // 8).reshape(-1, 2)
    return index


def read_frames(layout: ShardLayout, start: int, stop: int, first: int, last: int) -> NDArray[Any]:
    """Frames ``[start, stop)``, axis-1 entries ``[first, last)`` (multiples of the chunk)."""
    s0, nb, c1 = layout.shard[0], layout.blocks, layout.chunk[1]
    out = np.empty((stop - start, last - first, *layout.shape[2:]), dtype=layout.dtype)
    want = layout.chunk_nbytes + 4
    for shard in range(start // s0, (stop - 1) // s0 + 1 if stop > start else 0):
        lo, hi = max(start, shard * s0), min(stop, (shard + 1) * s0)
        path = layout.shard_path(shard)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            out[lo - start : hi - start] = layout.fill_value
            continue
        try:
            index = _read_index(fd, path, layout)
            runs: list[tuple[int, list[Any], list[tuple[NDArray[Any], bytearray, int]]]] = []
            end = -1
            for f in range(lo, hi):
                for b in range(first // c1, last // c1):
                    offset, nbytes = (int(v) for v in index[(f - shard * s0) * nb + b])
                    dest = out[f - start, b * c1 - first : (b + 1) * c1 - first]
                    if offset == MAX_U64:
                        dest[...] = layout.fill_value
                        continue
                    if nbytes != want:
                        raise DatasetError(f"{path}: chunk of {nbytes} bytes, expected {want}")
                    view = memoryview(dest).cast("B")  # type: ignore[arg-type]
                    crc = bytearray(4)
                    if offset != end or len(runs[-1][1]) >= _READ_IOVECS:
                        runs.append((offset, [], []))
                    runs[-1][1].extend((view, crc))
                    runs[-1][2].append((dest, crc, offset))
                    end = offset + nbytes
            for offset, buffers, checks in runs:
                got = os.preadv(fd, buffers, offset)
                if got != sum(len(b) if isinstance(b, bytearray) else b.nbytes for b in buffers):
                    raise DatasetError(f"{path}: shard truncated at byte {offset + got}")
                for dest, crc, where in checks:
                    if google_crc32c.value(dest) != _CRC.unpack(crc)[0]:
                        raise DatasetError(
                            f"{path}: chunk at byte {where} fails its CRC32C (altered data)"
                        )
        finally:
            os.close(fd)
    return out
