"""Read a dataset: sequences, windows of frames of any representation, masks, labels, images.

Example::

    from dataset_tools.dataset import open_dataset

    ds = open_dataset("datasets/2024-05.zarr")          # or an .h5 / .hdf5 file
    seq = ds.sequence(ds.splits["by_sequence"]["train"][0])
    window = seq.read("horizontal", "vrdae", 100, 108)  # (8, 16, 64, 64, 8) complex64
    ok = seq.mask("radar/horizontal")[100:108]          # frames present and without lost data
    kp = seq.labels("hupr14")["keypoints_2d"][100:108]  # (8, 14, 3) x, y, score

A :class:`Dataset` is picklable and reopens its container lazily in each process, so it can be
handed to PyTorch ``DataLoader`` workers (HDF5 handles must not cross a fork).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dataset_tools.dataset.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    SEQUENCES,
    STATUS_COMPLETE,
    VRDAE_ANGLE,
    VRDAE_CHANNELS,
    DatasetError,
    IncompleteDatasetError,
    sequence_path,
)
from dataset_tools.dataset.storage import Storage, open_storage, read_all

PER_FRAME_MASKS = ("present", "complete")


class Sequence:
    """One take in a dataset: F frames on a common trigger-index time axis."""

    def __init__(self, dataset: Dataset, seq_id: str) -> None:
        self.dataset = dataset
        self.id = seq_id
        self.path = sequence_path(seq_id)
        self.attrs: dict[str, Any] = dataset.storage.attrs(self.path)
        self.num_frames: int = int(self.attrs.get("num_frames", 0))
        self._cache: dict[str, NDArray[Any]] = {}
        self._angle_matrices: dict[str, NDArray[Any]] = {}

    def __repr__(self) -> str:
        return f"Sequence({self.id!r}, frames={self.num_frames}, radars={self.radars})"

    @property
    def _storage(self) -> Storage:
        return self.dataset.storage

    def _groups(self, sub: str) -> list[str]:
        return self._storage.members(f"{self.path}/{sub}")[0]

    def _whole(self, rel: str) -> NDArray[Any]:
        if rel not in self._cache:
            self._cache[rel] = read_all(self._storage.array(f"{self.path}/{rel}"))
        return self._cache[rel]

    # --- streams ----------------------------------------------------------------------------------
    @property
    def radars(self) -> list[str]:
        return self._groups("radar")

    @property
    def cameras(self) -> list[str]:
        return self._groups("camera")

    @property
    def label_schemas(self) -> list[str]:
        return self._groups("labels")

    def representations(self, radar: str) -> list[str]:
        """Stored representations of a radar, e.g. ``["points", "rd", "vrdae"]``."""
        arrays = self._storage.members(f"{self.path}/radar/{radar}")[1]
        reps = [a for a in arrays if a in ("vrdae", "rd", "ra", "raw")]
        if VRDAE_CHANNELS in arrays and "vrdae" not in reps:
            reps.append("vrdae")
        if "points_data" in arrays:
            reps.append("points")
        return sorted(reps)

    def _bounds(self, start: int | None, stop: int | None) -> tuple[int, int]:
        s = 0 if start is None else int(start)
        e = self.num_frames if stop is None else int(stop)
        if s < 0 or e > self.num_frames or s > e:
            raise IndexError(f"{self.id}: frames [{s}, {e}) outside [0, {self.num_frames})")
        return s, e

    def read(
        self,
        radar: str,
        representation: str,
        start: int | None = None,
        stop: int | None = None,
        *,
        index: tuple[Any, ...] = (),
    ) -> NDArray[Any]:
        """Frames ``[start, stop)`` of one representation.

        Args:
            radar, representation: see :meth:`radars` / :meth:`representations`.
            index: extra selection on the per-frame axes (e.g. ``(slice(4, 12),)`` for VRDAE
                Doppler bins 4..11); reads only the chunks needed.

        Returns:
            (stop - start, ...) array; frames a radar did not deliver hold NaN (see
            :meth:`mask`). ``raw`` is returned as complex64 ADC counts (loops, T, R, N).
            ``vrdae`` stored as channels is expanded here (``expand_vrdae``; a Doppler / range
            selection in ``index`` is applied before, so only those cells are expanded).
        """
        if representation == "points":
            raise DatasetError("points are ragged: use read_points()")
        s, e = self._bounds(start, stop)
        path = f"{self.path}/radar/{radar}/{representation}"
        if representation == "vrdae" and not self._storage.exists(path):
            channels = f"{self.path}/radar/{radar}/{VRDAE_CHANNELS}"
            if self._storage.exists(channels):
                return self._read_vrdae_channels(radar, channels, s, e, index)
        try:
            # sharded VRDAE: one preadv per shard straight into the result (storage.read_frames)
            data = self._storage.read_frames(path, s, e, index) if e > s else None
        except DatasetError:
            if self._storage.exists(path):
                raise
            data = None
        if data is None:
            if not self._storage.exists(path):
                raise DatasetError(
                    f"{self.id}: radar {radar!r} has no {representation!r} (stored: "
                    f"{self.representations(radar) if radar in self.radars else 'no radar'})"
                )
            data = np.asarray(self._storage.array(path)[(slice(s, e), *index)])
        if representation == "raw":
            pairs = data.astype(np.float32)
            out: NDArray[np.complex64] = pairs[..., 0] + 1j * pairs[..., 1]
            return out.astype(np.complex64)
        return data

    def _read_vrdae_channels(
        self, radar: str, channels: str, s: int, e: int, index: tuple[Any, ...]
    ) -> NDArray[Any]:
        """VRDAE frames [s, e) from the stored channels and angle matrix (dataset format 2)."""
        from dataset_tools.dsp.hupr import expand_vrdae

        if len(index) > 4 or any(i is Ellipsis or i is None for i in index):
            raise DatasetError(
                f"{self.id}: VRDAE index selects (Doppler, range, azimuth, elevation) with up "
                f"to 4 slices / integers; got {index!r}"
            )
        matrix = self._angle_matrices.get(radar)
        if matrix is None:
            angle = f"{self.path}/radar/{radar}/{VRDAE_ANGLE}"
            if not self._storage.exists(angle):
                raise DatasetError(f"{self.id}: {channels} is stored without its {VRDAE_ANGLE}")
            matrix = self._angle_matrices[radar] = read_all(self._storage.array(angle))
        cells = self._storage.read_frames(channels, s, e, tuple(index[:2]))
        maps = expand_vrdae(cells, matrix)
        rest = tuple(index[2:])
        if rest:
            maps = maps[(Ellipsis, *rest, *([slice(None)] * (2 - len(rest))))]
        return np.ascontiguousarray(maps)

    def read_points(
        self, radar: str, start: int | None = None, stop: int | None = None
    ) -> list[NDArray[np.float32]]:
        """Point clouds of frames ``[start, stop)``: one (P_f, 8) float32 array per frame.

        Columns ``POINT_COLUMNS`` of :mod:`dataset_tools.dsp.pointcloud`: x, y, z (m, TI radar
        frame), doppler (m/s), snr_db, intensity, range (m), frame (index inside the sequence).
        """
        s, e = self._bounds(start, stop)
        base = f"{self.path}/radar/{radar}"
        if not self._storage.exists(f"{base}/points_offsets"):
            raise DatasetError(f"{self.id}: radar {radar!r} has no point clouds")
        offsets = self._whole(f"radar/{radar}/points_offsets")
        lo, hi = int(offsets[s]), int(offsets[e])
        rows: NDArray[np.float32] = (
            np.asarray(self._storage.array(f"{base}/points_data")[lo:hi], dtype=np.float32)
            if hi > lo
            else np.zeros((0, 8), np.float32)
        )
        return [rows[int(offsets[f]) - lo : int(offsets[f + 1]) - lo] for f in range(s, e)]

    def read_images(
        self,
        camera: str,
        start: int | None = None,
        stop: int | None = None,
        *,
        stream: str = "color",
    ) -> NDArray[Any]:
        """(n, H, W, 3) uint8 RGB (``stream="color"``) or (n, H, W) uint16 mm (``"depth"``)."""
        s, e = self._bounds(start, stop)
        path = f"{self.path}/camera/{camera}/{stream}"
        if not self._storage.exists(path):
            privacy = self.dataset.attrs.get("privacy", {})
            raise DatasetError(
                f"{self.id}: no {stream} images of camera {camera!r} in this dataset "
                f"(privacy settings: {privacy})"
            )
        return np.asarray(self._storage.array(path)[s:e])

    # --- time axis and masks ----------------------------------------------------------------------
    @property
    def trigger_index(self) -> NDArray[np.int64]:
        """(F,) int64: the trigger pulse of every frame (frame i and pulse trigger_index[i])."""
        return self._whole("trigger_index").astype(np.int64, copy=False)

    def _stream_dir(self, stream: str) -> tuple[str, str]:
        kind, _, rest = stream.partition("/")
        name, _, sub = rest.partition("/")
        if kind not in ("radar", "camera", "labels") or not name:
            raise DatasetError(
                f"bad stream {stream!r}: expected radar/<name>, camera/<name>, labels/<schema> "
                "or 'trigger'"
            )
        group = f"{kind}/{name}"
        if group.split("/")[1] not in self._groups(kind):
            raise DatasetError(f"{self.id}: no stream {group!r}")
        return group, sub

    def mask(self, stream: str) -> NDArray[np.bool_]:
        """(F,) bool availability of a stream.

        ``radar/<name>``: the frame arrived with no lost data (usable). ``radar/<name>/present``:
        it arrived (possibly with lost bytes, see ``lost_bytes``). ``camera/<name>``: a colour image
        (``camera/<name>/depth``: a depth image). ``labels/<schema>``: the frame is labelled.
        ``trigger``: the trigger pulse time is known.
        """
        if stream == "trigger":
            known: NDArray[np.bool_] = self._whole("timeline_ns") >= 0
            return known
        group, sub = self._stream_dir(stream)
        kind = group.split("/")[0]
        if kind == "radar":
            present = self._whole(f"{group}/present").astype(bool)
            if sub == "present":
                return present
            if sub not in ("", "complete"):
                raise DatasetError(f"bad radar mask {stream!r}")
            usable: NDArray[np.bool_] = present & self._whole(f"{group}/complete").astype(bool)
            return usable
        if kind == "camera":
            name = {"": "present", "color": "present", "depth": "depth_present"}.get(sub)
            if name is None:
                raise DatasetError(f"bad camera mask {stream!r}")
            return self._whole(f"{group}/{name}").astype(bool)
        return self._whole(f"{group}/present").astype(bool)

    def timestamps(self, stream: str) -> NDArray[np.int64]:
        """(F,) int64 ns of each frame's data (synchronised clock); -1 where no frame.

        ``"trigger"`` gives the trigger pulse times (the time axis itself).
        """
        if stream == "trigger":
            return self._whole("timeline_ns").astype(np.int64, copy=False)
        group, _ = self._stream_dir(stream)
        if group.startswith("labels/"):
            return np.where(self.mask(stream), self.timestamps("trigger"), -1)
        return self._whole(f"{group}/timestamp_ns").astype(np.int64, copy=False)

    def lost_bytes(self, radar: str) -> NDArray[np.int64]:
        """(F,) int64 bytes lost in each radar frame (0 for complete or missing frames)."""
        return self._whole(f"radar/{radar}/lost_bytes").astype(np.int64, copy=False)

    def frame_numbers(self, stream: str) -> NDArray[np.int64]:
        """(F,) int64 device frame counter of each frame; -1 where no frame."""
        group, _ = self._stream_dir(stream)
        return self._whole(f"{group}/frame_number").astype(np.int64, copy=False)

    # --- labels -----------------------------------------------------------------------------------
    def labels(
        self, schema: str, start: int | None = None, stop: int | None = None
    ) -> dict[str, Any]:
        """Labels of one skeleton schema for frames ``[start, stop)``.

        Returns:
            ``keypoints_2d`` (n, J, 3) float32 x, y in pixels of the source camera and a score in
            [0, 1] (NaN where missing); ``keypoints_3d`` (n, J, 3) float32 metres in the rig frame
            (NaN where missing); ``valid`` (n, J) bool; ``boxes`` (n, 4) float32 x1, y1, x2, y2
            pixels; ``present`` (n,) bool; ``image_size`` (w, h); ``joint_names``; ``camera``
            (source camera); ``source`` (sim, file, hupr ...).
        """
        s, e = self._bounds(start, stop)
        base = f"{self.path}/labels/{schema}"
        if not self._storage.exists(base):
            raise DatasetError(f"{self.id}: no labels {schema!r} (have {self.label_schemas})")
        attrs = self._storage.attrs(base)
        out: dict[str, Any] = {}
        for name in ("keypoints_2d", "keypoints_3d", "valid", "boxes", "present"):
            out[name] = np.asarray(self._storage.array(f"{base}/{name}")[s:e])
        out["image_size"] = tuple(int(v) for v in attrs.get("image_size", (0, 0)))
        out["joint_names"] = list(attrs.get("joint_names", []))
        out["camera"] = attrs.get("camera")
        out["source"] = attrs.get("source")
        return out


class Dataset:
    """A dataset opened read-only (see :func:`open_dataset`)."""

    def __init__(self, path: str | Path, *, allow_incomplete: bool = False) -> None:
        self.path = Path(path)
        self.allow_incomplete = allow_incomplete
        self._storage: Storage | None = None
        self._pid = -1
        self.attrs: dict[str, Any] = self.storage.attrs("")
        self._check_header()
        self._sequences: dict[str, Sequence] = {}

    def _check_header(self) -> None:
        if self.attrs.get("format") != FORMAT_NAME:
            raise DatasetError(
                f"{self.path}: not a {FORMAT_NAME} dataset (format={self.attrs.get('format')!r})"
            )
        version = int(self.attrs.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise DatasetError(
                f"{self.path}: dataset format version {version} is newer than this toolkit "
                f"reads ({FORMAT_VERSION}); upgrade the toolkit"
            )
        if version not in READABLE_VERSIONS:
            raise DatasetError(
                f"{self.path}: dataset format version {version} is older than {FORMAT_VERSION}; "
                "convert it with dataset-convert"
            )
        status = self.attrs.get("status")
        if status != STATUS_COMPLETE and not self.allow_incomplete:
            raise IncompleteDatasetError(
                f"{self.path}: dataset status is {status!r}, not {STATUS_COMPLETE!r} (a build in "
                "progress or an interrupted one: rerun dataset-build to resume it)"
            )

    @property
    def storage(self) -> Storage:
        if self._storage is None or self._pid != os.getpid():
            self._storage = open_storage(self.path, "r")
            self._pid = os.getpid()
        return self._storage

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_storage"] = None
        state["_sequences"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def format(self) -> str:
        return self.storage.format

    @property
    def format_version(self) -> int:
        return int(self.attrs["format_version"])

    @property
    def sequence_ids(self) -> list[str]:
        listed = self.attrs.get("sequences")
        if isinstance(listed, list):
            return [str(s) for s in listed]
        return self.storage.members(SEQUENCES)[0]

    @property
    def splits(self) -> dict[str, dict[str, list[str]]]:
        """Named split families, e.g. ``by_sequence`` (train/val/test), ``by_subject`` (LOPO
        folds: subject -> its sequences), ``by_scene``."""
        result: dict[str, dict[str, list[str]]] = self.attrs.get("splits", {})
        return result

    @property
    def skeletons(self) -> dict[str, list[str]]:
        """Skeleton schema -> joint names of the label schemas in this dataset."""
        result: dict[str, list[str]] = self.attrs.get("skeletons", {})
        return result

    def sequence(self, seq_id: str) -> Sequence:
        if seq_id not in self._sequences:
            if not self.storage.exists(sequence_path(seq_id)):
                raise KeyError(f"{self.path}: no sequence {seq_id!r}")
            self._sequences[seq_id] = Sequence(self, seq_id)
        return self._sequences[seq_id]

    def __iter__(self) -> Iterator[Sequence]:
        for seq_id in self.sequence_ids:
            yield self.sequence(seq_id)

    def __len__(self) -> int:
        return len(self.sequence_ids)

    def close(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_dataset(path: str | Path, *, allow_incomplete: bool = False) -> Dataset:
    """Open a dataset read-only: a Zarr v3 directory or an ``.h5`` / ``.hdf5`` file.

    Raises:
        DatasetError: not a dataset, or a format version this toolkit cannot read.
        IncompleteDatasetError: a build in progress or interrupted (unless ``allow_incomplete``).
    """
    return Dataset(path, allow_incomplete=allow_incomplete)
