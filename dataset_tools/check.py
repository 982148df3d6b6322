"""Dataset verification (``dataset-check``): schema, shapes, masks, chunk checksums.

Every problem is a :class:`Problem` with the array or group it concerns; an empty list means the
dataset is sound. Chunk data is verified by reading every chunk: a truncated or altered chunk
fails its CRC32C (Zarr) / Fletcher-32 (HDF5) check or its decompression, and a missing chunk
file is found by counting stored chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dataset_tools.dataset.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    SEQUENCES,
    STATUS_COMPLETE,
    VRDAE_ANGLE,
    VRDAE_CHANNELS,
    DatasetError,
    sequence_path,
)
from dataset_tools.dataset.storage import Storage, open_storage, read_all

PER_FRAME_RADAR = ("present", "complete", "lost_bytes", "frame_number", "timestamp_ns")
PER_FRAME_CAMERA = ("present", "frame_number", "timestamp_ns")
LABEL_ARRAYS = ("keypoints_2d", "keypoints_3d", "valid", "boxes", "present")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check_dataset(path: str | Path, *, read_data: bool = True) -> list[Problem]:
    """All problems found in a dataset (``read_data=False`` skips reading the chunk data)."""
    problems: list[Problem] = []
    try:
        storage = open_storage(path, "r")
    except DatasetError as exc:
        return [Problem(str(path), str(exc))]
    try:
        _check(storage, problems, read_data)
    finally:
        storage.close()
    return problems


def _check(storage: Storage, problems: list[Problem], read_data: bool) -> None:
    root = storage.attrs("")
    if root.get("format") != FORMAT_NAME:
        problems.append(Problem("/", f"not a {FORMAT_NAME} (format={root.get('format')!r})"))
        return
    if int(root.get("format_version", -1)) not in READABLE_VERSIONS:
        problems.append(
            Problem(
                "/",
                f"format version {root.get('format_version')} is not one this toolkit reads "
                f"({', '.join(map(str, READABLE_VERSIONS))}; current {FORMAT_VERSION})",
            )
        )
    if root.get("status") != STATUS_COMPLETE:
        problems.append(Problem("/", f"status {root.get('status')!r}: an unfinished build"))
    stored = storage.members(SEQUENCES)[0]
    listed = root.get("sequences", [])
    for seq_id in sorted(set(listed) - set(stored)):
        problems.append(Problem(f"/{SEQUENCES}/{seq_id}", "listed in the root but missing"))
    for seq_id in sorted(set(stored) - set(listed)):
        problems.append(Problem(f"/{SEQUENCES}/{seq_id}", "stored but not listed (leftover)"))
    for family, groups in root.get("splits", {}).items():
        for name, ids in groups.items():
            for seq_id in ids:
                if seq_id not in stored:
                    problems.append(
                        Problem(f"splits/{family}/{name}", f"unknown sequence {seq_id}")
                    )
    for seq_id in sorted(set(stored) & set(listed)):
        _check_sequence(storage, seq_id, problems, read_data)


def _check_sequence(
    storage: Storage, seq_id: str, problems: list[Problem], read_data: bool
) -> None:
    base = sequence_path(seq_id)
    attrs = storage.attrs(base)
    where = f"/{base}"
    if not attrs.get("complete"):
        problems.append(Problem(where, "sequence not marked complete"))
    n = int(attrs.get("num_frames", -1))
    if n < 0:
        problems.append(Problem(where, "no num_frames attribute"))
        return
    for name in ("trigger_index", "timeline_ns"):
        _expect(storage, f"{base}/{name}", (n,), problems)
    if storage.exists(f"{base}/trigger_index"):
        trig = read_all(storage.array(f"{base}/trigger_index"))
        if trig.size and trig[0] >= 0 and np.any(np.diff(trig) != 1):
            problems.append(Problem(f"{where}/trigger_index", "not consecutive pulses"))
    for radar in storage.members(f"{base}/radar")[0]:
        rbase = f"{base}/radar/{radar}"
        for name in PER_FRAME_RADAR:
            _expect(storage, f"{rbase}/{name}", (n,), problems)
        _, arrays = storage.members(rbase)
        for rep in ("vrdae", VRDAE_CHANNELS, "rd", "ra", "raw"):
            if rep in arrays:
                _expect_frames(storage, f"{rbase}/{rep}", n, problems)
        if VRDAE_CHANNELS in arrays:
            _expect(storage, f"{rbase}/{VRDAE_ANGLE}", (12, 64, 8), problems)
        if "points_offsets" in arrays:
            off = read_all(storage.array(f"{rbase}/points_offsets"))
            rows = storage.array(f"{rbase}/points_data").shape[0]
            if off.shape != (n + 1,) or off[0] != 0 or off[-1] != rows or np.any(np.diff(off) < 0):
                problems.append(
                    Problem(f"/{rbase}/points_offsets", "inconsistent with points_data")
                )
        if storage.exists(f"{rbase}/present") and storage.exists(f"{rbase}/complete"):
            present = read_all(storage.array(f"{rbase}/present"))
            complete = read_all(storage.array(f"{rbase}/complete"))
            if np.any(complete & ~present):
                problems.append(
                    Problem(f"/{rbase}/complete", "complete frames that are not present")
                )
            if read_data and "rd" in arrays and present.any():
                rd = read_all(storage.array(f"{rbase}/rd"))
                finite = np.isfinite(rd.reshape(n, -1)).all(axis=1)
                if np.any(finite != present):
                    problems.append(
                        Problem(f"/{rbase}/rd", "finite frames disagree with the present mask")
                    )
    for camera in storage.members(f"{base}/camera")[0]:
        cbase = f"{base}/camera/{camera}"
        for name in PER_FRAME_CAMERA:
            _expect(storage, f"{cbase}/{name}", (n,), problems)
        for stream in ("color", "depth"):
            if storage.exists(f"{cbase}/{stream}"):
                _expect_frames(storage, f"{cbase}/{stream}", n, problems)
    for schema in storage.members(f"{base}/labels")[0]:
        lbase = f"{base}/labels/{schema}"
        for name in LABEL_ARRAYS:
            if not storage.exists(f"{lbase}/{name}"):
                problems.append(Problem(f"/{lbase}/{name}", "missing"))
            elif storage.array(f"{lbase}/{name}").shape[0] != n:
                problems.append(Problem(f"/{lbase}/{name}", "wrong number of frames"))
        if not storage.attrs(lbase).get("joint_names"):
            problems.append(Problem(f"/{lbase}", "no joint_names attribute"))
    if read_data:
        _verify_chunks(storage, base, problems)


def _expect(storage: Storage, path: str, shape: tuple[int, ...], problems: list[Problem]) -> None:
    if not storage.exists(path):
        problems.append(Problem(f"/{path}", "missing"))
        return
    got = tuple(storage.array(path).shape)
    if got != shape:
        problems.append(Problem(f"/{path}", f"shape {got}, expected {shape}"))


def _expect_frames(storage: Storage, path: str, n: int, problems: list[Problem]) -> None:
    got = storage.array(path).shape
    if not got or got[0] != n:
        problems.append(Problem(f"/{path}", f"shape {tuple(got)}: expected {n} frames"))


def _verify_chunks(storage: Storage, group: str, problems: list[Problem]) -> None:
    groups, arrays = storage.members(group)
    for name in arrays:
        path = f"{group}/{name}"
        handle: Any = storage.array(path)
        if 0 in handle.shape:
            continue
        stored, needed = storage.chunk_counts(path)
        if stored != needed:
            problems.append(Problem(f"/{path}", f"{needed - stored} of {needed} chunks missing"))
        chunks = storage.shards_of(path) or storage.chunks_of(path)
        step = chunks[0] if chunks else handle.shape[0]
        for start in range(0, handle.shape[0], max(1, step)):
            try:
                np.asarray(handle[start : start + step])
            except Exception as exc:
                problems.append(
                    Problem(
                        f"/{path}",
                        f"frames [{start}, {start + step}) unreadable "
                        f"(damaged chunk): {type(exc).__name__}: {exc}"[:300],
                    )
                )
    for name in groups:
        _verify_chunks(storage, f"{group}/{name}", problems)
