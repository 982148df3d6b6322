"""Two storage back ends with one hierarchy: Zarr v3 directories and HDF5 files.

Both expose the same small interface (:class:`Storage`): groups with JSON attributes and chunked
n-d arrays addressed by ``/``-separated paths. Attributes are JSON documents: native in Zarr, one
JSON string attribute (``json``) per group in HDF5, so nested dicts survive both.

Chunk integrity: Zarr chunks carry a CRC32C codec, HDF5 chunks the Fletcher-32 filter; a
truncated or altered chunk fails to decode, a missing one is found by :meth:`Storage.chunk_counts`.
"""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset.format import CodecSpec, DatasetError, StorageFormat
from dataset_tools.dataset.frame_chunks import (
    FrameChunkLayout,
    frame_chunk_layout,
    write_frame_chunks,
)
from dataset_tools.dataset.shards import ShardLayout, shard_layout, write_shards
from dataset_tools.dataset.shards import read_frames as read_shard_frames


class ArrayHandle(Protocol):
    """A stored n-d array: numpy-style basic slicing for reads and writes."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any) -> Any: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...


def detect_format(path: str | Path) -> StorageFormat:
    """``hdf5`` for an existing HDF5 file or a ``.h5`` / ``.hdf5`` name, else ``zarr``."""
    p = Path(path)
    name = p.name.removesuffix(".partial")
    if p.is_file():
        with open(p, "rb") as f:
            if f.read(8) == b"\x89HDF\r\n\x1a\n":
                return "hdf5"
        raise DatasetError(f"{p}: a file but not HDF5 (a Zarr dataset is a directory)")
    if name.endswith((".h5", ".hdf5")):
        return "hdf5"
    return "zarr"


class Storage(ABC):
    """A dataset container opened for reading (``mode="r"``) or writing (``"w"``, ``"a"``)."""

    format: StorageFormat

    def __init__(self, path: Path, mode: str) -> None:
        self.path = path
        self.mode = mode

    @abstractmethod
    def attrs(self, group: str = "") -> dict[str, Any]:
        """The JSON attributes of a group (``""`` is the root); ``{}`` when none."""

    @abstractmethod
    def set_attrs(self, group: str, attrs: dict[str, Any]) -> None:
        """Replace the attributes of a group (created if needed)."""

    @abstractmethod
    def create_array(
        self,
        path: str,
        *,
        shape: tuple[int, ...],
        dtype: np.dtype[Any] | str | type,
        chunks: tuple[int, ...],
        codec: CodecSpec,
        fill_value: Any = None,
        shards: tuple[int, ...] | None = None,
    ) -> ArrayHandle:
        """Create (replacing any existing) a chunked array; parent groups are created.

        ``shards``: Zarr v3 shard shape (a multiple of ``chunks``); HDF5 ignores it.
        """

    @abstractmethod
    def array(self, path: str) -> ArrayHandle: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def members(self, group: str) -> tuple[list[str], list[str]]:
        """(sub-group names, array names) of a group, sorted; empty when it does not exist."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a group or array (no error when absent)."""

    @abstractmethod
    def chunk_counts(self, path: str) -> tuple[int, int]:
        """(chunks stored, chunks the shape needs) of an array."""

    @abstractmethod
    def chunks_of(self, path: str) -> tuple[int, ...]: ...

    def shards_of(self, path: str) -> tuple[int, ...] | None:
        """Shard shape of a sharded Zarr array, else None."""
        return None

    def read_frames(
        self, path: str, start: int, stop: int, index: tuple[Any, ...] = ()
    ) -> NDArray[Any]:
        """``array[start:stop, *index]`` as numpy (back ends may take a faster route)."""
        return np.asarray(self.array(path)[(slice(start, stop), *index)])

    def write_frames(self, path: str, start: int, values: NDArray[Any]) -> None:
        """``array[start:start + len(values)] = values`` (back ends may take a faster route)."""
        self.array(path)[start : start + values.shape[0]] = values

    def close(self) -> None:  # noqa: B027 - optional for back ends holding no handle
        """Flush and release the container."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nchunks(shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    n = 1
    for s, c in zip(shape, chunks, strict=True):
        n *= -(-s // c) if s else 0
    return n


# --- Zarr v3 -----------------------------------------------------------------------------------
class ZarrStorage(Storage):
    format: StorageFormat = "zarr"

    def __init__(self, path: Path, mode: str) -> None:
        import zarr

        super().__init__(path, mode)
        self._layouts: dict[str, ShardLayout | None] = {}
        self._chunk_layouts: dict[str, FrameChunkLayout | None] = {}
        try:
            self.root = zarr.open_group(str(path), mode=mode, zarr_format=3)  # type: ignore[arg-type]
        except Exception as exc:
            raise DatasetError(f"{path}: cannot open as a Zarr v3 group: {exc}") from exc

    def _group(self, group: str, *, create: bool = False) -> Any:
        if not group:
            return self.root
        if create:
            return self.root.require_group(group)
        try:
            return self.root[group]
        except KeyError as exc:
            raise DatasetError(f"{self.path}: no group {group!r}") from exc

    def attrs(self, group: str = "") -> dict[str, Any]:
        try:
            node = self._group(group)
        except DatasetError:
            return {}
        return dict(node.attrs)

    def set_attrs(self, group: str, attrs: dict[str, Any]) -> None:
        node = self._group(group, create=True)
        node.attrs.clear()
        node.attrs.update(_jsonable(attrs))

    def create_array(
        self,
        path: str,
        *,
        shape: tuple[int, ...],
        dtype: np.dtype[Any] | str | type,
        chunks: tuple[int, ...],
        codec: CodecSpec,
        fill_value: Any = None,
        shards: tuple[int, ...] | None = None,
    ) -> ArrayHandle:
        from zarr.codecs import BloscCodec, Crc32cCodec

        parent, _, name = path.rpartition("/")
        group = self._group(parent, create=True)
        compressors: list[Any] = []
        if codec.name != "none":
            compressors.append(
                BloscCodec(
                    cname="lz4" if codec.name == "blosc-lz4" else "zstd",
                    clevel=codec.level,
                    shuffle="shuffle" if codec.shuffle else "noshuffle",
                )
            )
        compressors.append(Crc32cCodec())
        dt = np.dtype(dtype)
        if fill_value is None:
            fill_value = _default_fill(dt)
        chunks = tuple(
            max(1, min(c, s)) if s else max(1, c) for c, s in zip(chunks, shape, strict=True)
        )
        extra: dict[str, Any] = {}
        if shards is not None and all(shape):
            # a shard is a whole number of chunks along every axis
            extra["shards"] = tuple(
                max(c, -(-min(h, s) // c) * c)
                for h, c, s in zip(shards, chunks, shape, strict=True)
            )
        arr = group.create_array(
            name,
            shape=shape,
            dtype=dt,
            chunks=chunks,
            compressors=compressors,
            fill_value=fill_value,
            overwrite=True,
            config={"write_empty_chunks": True},
            **extra,
        )
        self._layouts.pop(path, None)
        self._chunk_layouts.pop(path, None)
        return arr  # type: ignore[no-any-return]

    def _layout(self, path: str) -> ShardLayout | None:
        if path not in self._layouts:
            self._layouts[path] = shard_layout(
                self.array(path), self.path.joinpath(*path.split("/"))
            )
        return self._layouts[path]

    def shards_of(self, path: str) -> tuple[int, ...] | None:
        arr: Any = self.array(path)
        shards = getattr(arr, "shards", None)
        return tuple(int(s) for s in shards) if shards is not None else None

    def read_frames(
        self, path: str, start: int, stop: int, index: tuple[Any, ...] = ()
    ) -> NDArray[Any]:
        layout = self._layout(path)
        span = _fast_span(layout, start, stop, index) if layout is not None else None
        if layout is None or span is None:
            return super().read_frames(path, start, stop, index)
        return read_shard_frames(layout, start, stop, *span)

    def write_frames(self, path: str, start: int, values: NDArray[Any]) -> None:
        layout = self._layout(path) if self.mode != "r" else None
        stop = start + values.shape[0]
        if (
            layout is not None
            and start % layout.shard[0] == 0
            and (stop % layout.shard[0] == 0 or stop == layout.shape[0])
            and stop <= layout.shape[0]
            and values.shape[1:] == layout.shape[1:]
        ):
            write_shards(layout, start, values)
            return
        chunked = self._frame_chunks(path) if self.mode != "r" and layout is None else None
        if (
            chunked is not None
            and start % chunked.frames_per_chunk == 0
            and (stop % chunked.frames_per_chunk == 0 or stop == chunked.shape[0])
            and stop <= chunked.shape[0]
            and values.shape[1:] == chunked.shape[1:]
        ):
            write_frame_chunks(chunked, start, values)
        else:
            super().write_frames(path, start, values)

    def _frame_chunks(self, path: str) -> FrameChunkLayout | None:
        if path not in self._chunk_layouts:
            self._chunk_layouts[path] = frame_chunk_layout(
                self.array(path), self.path.joinpath(*path.split("/"))
            )
        return self._chunk_layouts[path]

    def array(self, path: str) -> ArrayHandle:
        import zarr

        try:
            node = self.root[path]
        except KeyError as exc:
            raise DatasetError(f"{self.path}: no array {path!r}") from exc
        if not isinstance(node, zarr.Array):
            raise DatasetError(f"{self.path}: {path!r} is a group, not an array")
        if self.mode != "r":
            # a runtime setting, not stored with the array: without it a chunk that is all fill
            # value (a camera that sent nothing for a whole window) is never written, and
            # dataset-check could no longer tell a missing chunk from a missing frame
            node = node.with_config({"write_empty_chunks": True})
        return node

    def exists(self, path: str) -> bool:
        try:
            self.root[path]
        except KeyError:
            return False
        return True

    def members(self, group: str) -> tuple[list[str], list[str]]:
        try:
            node = self._group(group)
        except DatasetError:
            return [], []
        return sorted(node.group_keys()), sorted(node.array_keys())

    def delete(self, path: str) -> None:
        self._layouts = {p: v for p, v in self._layouts.items() if not p.startswith(path)}
        self._chunk_layouts = {
            p: v for p, v in self._chunk_layouts.items() if not p.startswith(path)
        }
        target = self.path.joinpath(*path.split("/"))
        if target.exists():
            shutil.rmtree(target)

    def chunk_counts(self, path: str) -> tuple[int, int]:
        """(stored, needed): shard files for a sharded array, else chunks."""
        arr: Any = self.array(path)
        if getattr(arr, "shards", None) is not None:
            grid = tuple(-(-s // h) for s, h in zip(arr.shape, arr.shards, strict=True))
            keys = [
                self.path.joinpath(*path.split("/"), "c", *(str(i) for i in idx))
                for idx in np.ndindex(*grid)
            ]
            return sum(1 for k in keys if k.is_file()), len(keys)
        return int(arr.nchunks_initialized), int(arr.nchunks)

    def chunks_of(self, path: str) -> tuple[int, ...]:
        arr: Any = self.array(path)
        return tuple(int(c) for c in arr.chunks)


def _fast_span(
    layout: ShardLayout, start: int, stop: int, index: tuple[Any, ...]
) -> tuple[int, int] | None:
    """(first, last) along axis 1 when ``[start:stop, *index]`` suits the shard fast path."""
    if not (0 <= start < stop <= layout.shape[0]) or len(index) > 1:
        return None
    first, last = 0, layout.shape[1]
    if index:
        sel = index[0]
        if not isinstance(sel, slice) or sel.step not in (None, 1):
            return None
        first, last, _ = sel.indices(layout.shape[1])
    c1 = layout.chunk[1]
    if first >= last or first % c1 or (last % c1 and last != layout.shape[1]):
        return None
    return first, last


# --- HDF5 --------------------------------------------------------------------------------------
_HDF5_ATTR = "json"


class Hdf5Storage(Storage):
    format: StorageFormat = "hdf5"

    def __init__(self, path: Path, mode: str) -> None:
        import h5py

        super().__init__(path, mode)
        try:
            self.file = h5py.File(str(path), {"r": "r", "w": "w", "a": "a"}[mode])
        except OSError as exc:
            raise DatasetError(f"{path}: cannot open as HDF5: {exc}") from exc

    def attrs(self, group: str = "") -> dict[str, Any]:
        node = self.file[group] if group else self.file
        if group and group not in self.file:
            return {}
        text = node.attrs.get(_HDF5_ATTR)
        if text is None:
            return {}
        if isinstance(text, bytes):
            text = text.decode()
        result: dict[str, Any] = json.loads(str(text))
        return result

    def set_attrs(self, group: str, attrs: dict[str, Any]) -> None:
        node = self.file.require_group(group) if group else self.file
        node.attrs[_HDF5_ATTR] = json.dumps(_jsonable(attrs))

    def create_array(
        self,
        path: str,
        *,
        shape: tuple[int, ...],
        dtype: np.dtype[Any] | str | type,
        chunks: tuple[int, ...],
        codec: CodecSpec,
        fill_value: Any = None,
        shards: tuple[int, ...] | None = None,
    ) -> ArrayHandle:
        if path in self.file:
            del self.file[path]
        dt = np.dtype(dtype)
        if fill_value is None:
            fill_value = _default_fill(dt)
        chunks = tuple(
            max(1, min(c, s)) if s else max(1, c) for c, s in zip(chunks, shape, strict=True)
        )
        kwargs: dict[str, Any] = {}
        # h5py's built-in filters only: gzip where Zarr uses Blosc-Zstd, none for floats
        # (they barely compress; see the measurement in docs/dataset_format.md)
        if codec.name == "blosc-zstd":
            kwargs.update(compression="gzip", compression_opts=1, shuffle=codec.shuffle)
        if not all(shape):  # empty: nothing to chunk or checksum
            return self.file.create_dataset(path, shape=shape, dtype=dt)  # type: ignore[no-any-return]
        ds = self.file.create_dataset(
            path,
            shape=shape,
            dtype=dt,
            chunks=chunks,
            fillvalue=fill_value,
            fletcher32=True,
            **kwargs,
        )
        return ds  # type: ignore[no-any-return]

    def array(self, path: str) -> ArrayHandle:
        import h5py

        node = self.file.get(path)
        if not isinstance(node, h5py.Dataset):
            raise DatasetError(f"{self.path}: no array {path!r}")
        result: ArrayHandle = node
        return result

    def exists(self, path: str) -> bool:
        return path in self.file

    def members(self, group: str) -> tuple[list[str], list[str]]:
        import h5py

        node = self.file.get(group) if group else self.file
        if not isinstance(node, h5py.Group):
            return [], []
        groups = sorted(k for k, v in node.items() if isinstance(v, h5py.Group))
        arrays = sorted(k for k, v in node.items() if isinstance(v, h5py.Dataset))
        return groups, arrays

    def delete(self, path: str) -> None:
        if path in self.file:
            del self.file[path]

    def chunk_counts(self, path: str) -> tuple[int, int]:
        ds: Any = self.array(path)
        if ds.chunks is None:
            return 0, 0
        return int(ds.id.get_num_chunks()), _nchunks(ds.shape, ds.chunks)

    def chunks_of(self, path: str) -> tuple[int, ...]:
        ds: Any = self.array(path)
        return tuple(ds.chunks) if ds.chunks is not None else tuple(ds.shape)

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()


def open_storage(path: str | Path, mode: str, *, format: StorageFormat | None = None) -> Storage:
    """Open (``"r"``, ``"a"``) or create (``"w"``) a container; format from the path if omitted."""
    p = Path(path)
    if mode == "r" and not p.exists():
        raise DatasetError(f"{p}: no such dataset")
    fmt = format or detect_format(p)
    return ZarrStorage(p, mode) if fmt == "zarr" else Hdf5Storage(p, mode)


def _default_fill(dt: np.dtype[Any]) -> Any:
    if dt.kind == "c":
        return complex(np.nan, np.nan)
    if dt.kind == "f":
        return float("nan")
    if dt.kind == "b":
        return False
    return 0


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside attributes into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def read_all(handle: ArrayHandle) -> NDArray[Any]:
    """The whole array as numpy (also for zero-length arrays)."""
    if 0 in handle.shape:
        return np.zeros(handle.shape, dtype=handle.dtype)
    return np.asarray(handle[...])
