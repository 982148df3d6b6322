"""Write a dataset: a root with attributes, sequences written array by array, then finalised.

A dataset being written lives at ``<out>.partial`` with root ``status: "building"``; only
:meth:`DatasetWriter.finalize` marks it ``complete`` and renames it to ``<out>``, so a killed
writer never leaves something that looks complete. A sequence is marked complete (``complete:
true`` in its attributes) only after all its arrays are written; reopening a partial dataset
(``DatasetWriter.resume``) keeps complete sequences and drops the others.

Example::

    with DatasetWriter.create("out.zarr", attrs={"radars": {...}}) as w:
        seq = w.begin_sequence("S01_wave_001", num_frames=600, attrs={"subject": "S01"})
        seq.write_time_axis(trigger_index, timeline_ns)
        seq.create("radar/horizontal/vrdae", (16, 64, 64, 8), np.complex64)[0:8] = maps
        ...
        seq.finish()
        w.finalize(splits={...})
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset.format import (
    CODECS,
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAME_CHUNK_SHAPES,
    FRAME_CHUNKS,
    FRAME_SHARDS,
    PARTIAL_SUFFIX,
    POINT_ROWS_PER_CHUNK,
    SEQUENCES,
    STATUS_BUILDING,
    STATUS_COMPLETE,
    DatasetError,
    StorageFormat,
    check_sequence_id,
    sequence_path,
)
from dataset_tools.dataset.storage import ArrayHandle, Storage, detect_format, open_storage


def toolkit_version() -> str:
    try:
        from importlib.metadata import version

        return version("radar-sensing-toolkit")
    except Exception:  # running from a source tree without installing
        return "0+unknown"


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + PARTIAL_SUFFIX)


def codec_kind(name: str, dtype: np.dtype[Any]) -> str:
    """Which measured codec an array gets (see format.CODECS)."""
    if name in ("color", "depth"):
        return "image"
    if name == "raw":
        return "raw"
    if dtype.kind == "c":
        return "complex"
    if dtype.kind in ("f", "c") and name not in ("keypoints_2d", "keypoints_3d", "boxes"):
        return "float"
    return "small"


class SequenceWriter:
    """Arrays of one sequence; every array has the frame axis first (length ``num_frames``)."""

    def __init__(self, storage: Storage, seq_id: str, num_frames: int) -> None:
        self.storage = storage
        self.id = seq_id
        self.path = sequence_path(seq_id)
        self.num_frames = num_frames

    def create(
        self,
        rel: str,
        frame_shape: tuple[int, ...],
        dtype: np.dtype[Any] | str | type,
        *,
        frames_per_chunk: int | None = None,
        frame_chunk_shape: tuple[int, ...] | None = None,
        fill_value: Any = None,
        length: int | None = None,
    ) -> ArrayHandle:
        """Create ``<seq>/<rel>`` of shape (F, *frame_shape) chunked by windows of frames."""
        name = rel.rsplit("/", 1)[-1]
        dt = np.dtype(dtype)
        default_chunk = FRAME_CHUNKS.get(name, FRAME_CHUNKS["per_frame"] if not frame_shape else 8)
        if name in ("keypoints_2d", "keypoints_3d", "valid", "boxes"):
            default_chunk = FRAME_CHUNKS["labels"]
        n = self.num_frames if length is None else length
        inner = frame_chunk_shape or FRAME_CHUNK_SHAPES.get(name)
        if inner is None or len(inner) != len(frame_shape):
            inner = frame_shape
        chunks = (frames_per_chunk or default_chunk, *inner)
        shard_frames = FRAME_SHARDS.get(name) if frames_per_chunk is None else None
        return self.storage.create_array(
            f"{self.path}/{rel}",
            shape=(n, *frame_shape),
            dtype=dt,
            chunks=chunks,
            codec=CODECS[codec_kind(name, dt)],
            fill_value=fill_value,
            shards=(shard_frames, *frame_shape) if shard_frames else None,
        )

    def write(self, rel: str, values: NDArray[Any], **kwargs: Any) -> None:
        """Create ``rel`` with the shape of ``values`` (frame axis first) and write it whole."""
        values = np.asarray(values)
        arr = self.create(rel, values.shape[1:], values.dtype, length=values.shape[0], **kwargs)
        if values.size:
            arr[...] = values

    def write_time_axis(
        self, trigger_index: NDArray[np.int64], timeline_ns: NDArray[np.int64]
    ) -> None:
        """(F,) trigger index and (F,) pulse time of every frame (-1 where unknown)."""
        self.write("trigger_index", np.asarray(trigger_index, dtype=np.int64))
        self.write("timeline_ns", np.asarray(timeline_ns, dtype=np.int64))

    def write_stream_meta(self, group: str, meta: dict[str, NDArray[Any]]) -> None:
        """Per-frame arrays (present, complete, lost_bytes, frame_number, timestamp_ns ...)."""
        for name, values in meta.items():
            values = np.asarray(values)
            if values.shape[0] != self.num_frames:
                raise ValueError(
                    f"{group}/{name}: {values.shape[0]} rows, {self.num_frames} frames"
                )
            self.write(f"{group}/{name}", values)

    def write_points(self, radar: str, clouds: list[NDArray[np.float32]]) -> None:
        """Ragged per-frame point clouds (one (P_f, C) float32 array per frame)."""
        if len(clouds) != self.num_frames:
            raise ValueError(f"{len(clouds)} point clouds for {self.num_frames} frames")
        cols = clouds[0].shape[1] if clouds else 8
        counts = np.array([c.shape[0] for c in clouds], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        data = (
            np.concatenate(clouds).astype(np.float32)
            if counts.sum()
            else np.zeros((0, cols), np.float32)
        )
        self.write(
            f"radar/{radar}/points_data",
            data,
            frames_per_chunk=POINT_ROWS_PER_CHUNK,
        )
        self.write(f"radar/{radar}/points_offsets", offsets)

    def write_labels(
        self,
        schema: str,
        *,
        keypoints_2d: NDArray[Any],
        keypoints_3d: NDArray[Any],
        valid: NDArray[np.bool_],
        boxes: NDArray[Any],
        present: NDArray[np.bool_],
        attrs: dict[str, Any],
    ) -> None:
        """One skeleton schema's labels (shapes as :meth:`Sequence.labels` returns them)."""
        base = f"labels/{schema}"
        self.write(f"{base}/keypoints_2d", np.asarray(keypoints_2d, np.float32))
        self.write(f"{base}/keypoints_3d", np.asarray(keypoints_3d, np.float32))
        self.write(f"{base}/valid", np.asarray(valid, bool))
        self.write(f"{base}/boxes", np.asarray(boxes, np.float32))
        self.write(f"{base}/present", np.asarray(present, bool))
        self.storage.set_attrs(f"{self.path}/{base}", attrs)

    def finish(self, attrs: dict[str, Any]) -> None:
        """Write the sequence attributes with ``complete: true`` (last step of a sequence)."""
        self.storage.set_attrs(
            self.path, {**attrs, "num_frames": self.num_frames, "complete": True}
        )


class DatasetWriter:
    """Creates (or resumes) a dataset at ``<out>.partial`` and finalises it into ``<out>``."""

    def __init__(self, out: Path, storage: Storage) -> None:
        self.out = out
        self.storage = storage
        self.partial = Path(storage.path)

    @classmethod
    def create(
        cls,
        out: str | Path,
        *,
        format: StorageFormat | None = None,
        attrs: dict[str, Any] | None = None,
        overwrite: bool = False,
    ) -> DatasetWriter:
        """Start a new dataset (any earlier partial build at the same place is discarded).

        Raises:
            DatasetError: ``out`` exists and ``overwrite`` is False.
        """
        out = Path(out)
        fmt = format or detect_format(out)
        if out.exists():
            if not overwrite:
                raise DatasetError(f"{out} exists (use --overwrite to replace it)")
        part = partial_path(out)
        _remove(part)
        storage = open_storage(part, "w", format=fmt)
        writer = cls(out, storage)
        writer.set_root_attrs(attrs or {})
        return writer

    @classmethod
    def resume(cls, out: str | Path, *, format: StorageFormat | None = None) -> DatasetWriter:
        """Reopen ``<out>.partial`` of an interrupted build; incomplete sequences are dropped."""
        out = Path(out)
        part = partial_path(out)
        if not part.exists():
            raise DatasetError(f"{part}: no partial build to resume")
        storage = open_storage(part, "a", format=format or detect_format(part))
        attrs = storage.attrs("")
        if attrs.get("format") != FORMAT_NAME or attrs.get("status") != STATUS_BUILDING:
            storage.close()
            raise DatasetError(f"{part}: not a dataset build in progress")
        writer = cls(out, storage)
        for seq_id in storage.members(SEQUENCES)[0]:
            if not storage.attrs(sequence_path(seq_id)).get("complete"):
                storage.delete(sequence_path(seq_id))
        return writer

    @property
    def attrs(self) -> dict[str, Any]:
        return self.storage.attrs("")

    def set_root_attrs(self, attrs: dict[str, Any]) -> None:
        """Replace the root attributes (format name, version and building status are forced)."""
        self.storage.set_attrs(
            "",
            {
                **attrs,
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "status": STATUS_BUILDING,
                "toolkit_version": attrs.get("toolkit_version", toolkit_version()),
            },
        )
        self.storage.set_attrs(SEQUENCES, {})

    def update_root_attrs(self, **values: Any) -> None:
        attrs = self.attrs
        attrs.update(values)
        self.storage.set_attrs("", attrs)

    def completed_sequences(self) -> dict[str, dict[str, Any]]:
        """Sequence id -> attributes of every sequence already marked complete."""
        done: dict[str, dict[str, Any]] = {}
        for seq_id in self.storage.members(SEQUENCES)[0]:
            attrs = self.storage.attrs(sequence_path(seq_id))
            if attrs.get("complete"):
                done[seq_id] = attrs
        return done

    def begin_sequence(
        self, seq_id: str, num_frames: int, *, groups: tuple[str, ...] = ()
    ) -> SequenceWriter:
        """Start (or restart) a sequence: any earlier arrays of it are removed."""
        check_sequence_id(seq_id)
        path = sequence_path(seq_id)
        self.storage.delete(path)
        self.storage.set_attrs(path, {"complete": False, "num_frames": num_frames})
        for g in ("radar", "camera", "labels", *groups):
            self.storage.set_attrs(f"{path}/{g}", {})
        return SequenceWriter(self.storage, seq_id, num_frames)

    def sequence_writer(self, seq_id: str, num_frames: int) -> SequenceWriter:
        """A writer on an already begun sequence (e.g. in a worker process)."""
        return SequenceWriter(self.storage, seq_id, num_frames)

    def drop_sequence(self, seq_id: str) -> None:
        self.storage.delete(sequence_path(seq_id))

    def finalize(self, **root_attrs: Any) -> Path:
        """Mark the dataset complete and move ``<out>.partial`` to ``<out>``; returns ``out``.

        ``sequences`` (the complete ones, sorted) and ``created_utc`` are set here; any other
        root attributes given (splits, summary ...) are merged in first.
        """
        attrs = self.attrs
        attrs.update(root_attrs)
        attrs["sequences"] = sorted(self.completed_sequences())
        attrs["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        attrs["status"] = STATUS_COMPLETE
        self.storage.set_attrs("", attrs)
        self.storage.close()
        if self.out.exists():
            _remove(self.out)
        os.replace(self.partial, self.out)
        return self.out

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
