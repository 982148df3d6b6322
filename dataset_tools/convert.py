"""Copy a dataset between storage back ends (Zarr <-> HDF5), chunk layout and codecs kept.

Example::

    dataset-convert datasets/2024-05.zarr datasets/2024-05.h5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataset_tools.dataset.format import CODECS
from dataset_tools.dataset.storage import Storage
from dataset_tools.dataset.writer import codec_kind

#: frames copied per step (bounded memory for large arrays)
COPY_FRAMES = 64


def copy_dataset(src: Storage, dst: Storage, group: str = "") -> None:
    """Copy every group (attributes) and array under ``group`` from ``src`` to ``dst``."""
    dst.set_attrs(group, src.attrs(group))
    groups, arrays = src.members(group)
    for name in arrays:
        path = f"{group}/{name}" if group else name
        a: Any = src.array(path)
        chunks = src.chunks_of(path)
        dst.create_array(
            path,
            shape=tuple(a.shape),
            dtype=a.dtype,
            chunks=chunks,
            codec=CODECS[codec_kind(name, np.dtype(a.dtype))],
            shards=src.shards_of(path),
        )
        n = a.shape[0] if a.shape else 0
        shards = src.shards_of(path)
        c0 = shards[0] if shards else chunks[0] if chunks else 1
        step = c0 * max(1, COPY_FRAMES // c0)
        for start in range(0, n, step):
            stop = min(n, start + step)
            dst.write_frames(path, start, src.read_frames(path, start, stop))
    for name in groups:
        copy_dataset(src, dst, f"{group}/{name}" if group else name)
