"""The on-disk dataset format (CONTRACT 2): names, version, layout and storage choices.

One dataset is a Zarr v3 directory (default) or an HDF5 file with the same hierarchy::

    /                                   attrs: format, format_version, status, radars, cameras, ...
    /sequences/<seq_id>/                attrs: session, take, subject, action, scene, ...
        trigger_index                   (F,) int64   trigger pulse of each frame (the time axis)
        timeline_ns                     (F,) int64   trigger pulse time, -1 where unknown
        radar/<radar>/<representation>  (F, ...)     vrdae | rd | ra | raw (see REPRESENTATIONS)
        radar/<radar>/vrdae_channels    (F, 16, 64, 12) complex64  VRDAE before its angle step
        radar/<radar>/vrdae_angle       (12, 64, 8) complex64      its angle step (a matrix)
        radar/<radar>/points_data       (P, 8) float32, rows of all frames (POINT_COLUMNS)
        radar/<radar>/points_offsets    (F + 1,) int64, frame f is rows [off[f], off[f + 1])
        radar/<radar>/{present, complete, lost_bytes, frame_number, timestamp_ns}   (F,)
        camera/<camera>/color           (F, H, W, 3) uint8 (optional)
        camera/<camera>/depth           (F, H, W) uint16 millimetres (optional)
        camera/<camera>/{present, depth_present, frame_number, timestamp_ns}         (F,)
        labels/<schema>/keypoints_2d    (F, J, 3) float32  x, y (pixels of the source camera), score
        labels/<schema>/keypoints_3d    (F, J, 3) float32  metres, rig frame, NaN where missing
        labels/<schema>/{valid (F, J) bool, boxes (F, 4) float32, present (F,) bool}

Everything here is documented for users in ``docs/dataset_format.md``; bump
:data:`FORMAT_VERSION` on any incompatible change and add a converter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FORMAT_NAME = "radar-sensing-dataset"
FORMAT_VERSION = 2
#: versions this code reads: 1 (VRDAE stored as dense maps only) and 2 (also as channels)
READABLE_VERSIONS = (1, 2)

#: root ``status`` while a build runs / once everything is written and verified
STATUS_BUILDING = "building"
STATUS_COMPLETE = "complete"

#: suffix of the folder / file a build writes to; renamed away only when complete
PARTIAL_SUFFIX = ".partial"

SEQUENCES = "sequences"

#: representations a radar may carry, with their per-frame axes
REPRESENTATIONS: dict[str, str] = {
    "vrdae": "(16 Doppler, 64 range, 64 azimuth, 8 elevation) complex64, HuPR VRDAE map "
    "(stored dense as `vrdae`, or as `vrdae_channels` + `vrdae_angle`, expanded on read)",
    "rd": "(Doppler, range) float32, dB of the mean power over virtual channels, Doppler centred",
    "ra": "(range, azimuth) float32, dB of the Doppler-summed power after clutter removal",
    "raw": "(loops, TX slots, RX, samples) complex64 ADC counts (stored as int16 I/Q pairs)",
    "points": "ragged (P, 8) float32 CFAR point clouds (POINT_COLUMNS), TI radar frame",
}

#: VRDAE as dataset-build stores it: (F, 16 Doppler, 64 range, 12 virtual channels) complex64,
#: and the (12, 64 azimuth, 8 elevation) complex64 matrix of the angle step: map = channels @ it
VRDAE_CHANNELS = "vrdae_channels"
VRDAE_ANGLE = "vrdae_angle"

#: value written into frames a stream did not deliver (the masks say which frames these are)
MISSING_FLOAT = float("nan")

StorageFormat = Literal["zarr", "hdf5"]


class DatasetError(Exception):
    """The dataset cannot be opened or read (message names the path and the reason)."""


class IncompleteDatasetError(DatasetError):
    """The dataset is a build in progress or an interrupted build."""


@dataclass(frozen=True)
class CodecSpec:
    """Compression of one array (chosen by measurement, see docs/dataset_format.md).

    Attributes:
        name: ``"none"``, ``"blosc-lz4"`` (fast, for floats that barely compress) or
            ``"blosc-zstd"`` (images, masks, integers).
        level: compression level.
        shuffle: byte shuffle before compression.
    """

    name: Literal["none", "blosc-lz4", "blosc-zstd"] = "blosc-lz4"
    level: int = 5
    shuffle: bool = True


#: per array kind: what the measurement in docs/dataset_format.md chose. Complex maps barely
#: compress (7-14 %) at 2-5x lower throughput, so they are stored raw; every chunk of every
#: array still carries a CRC32C (Zarr) / Fletcher-32 (HDF5) checksum.
CODECS: dict[str, CodecSpec] = {
    "complex": CodecSpec("none", 0, False),
    "float": CodecSpec("blosc-zstd", 1, True),
    "raw": CodecSpec("blosc-zstd", 1, True),
    "image": CodecSpec("blosc-zstd", 1, True),
    "small": CodecSpec("blosc-zstd", 3, True),
}

#: frames per chunk along the time axis, per representation (windows of consecutive frames)
FRAME_CHUNKS: dict[str, int] = {
    "vrdae": 1,
    "vrdae_channels": 16,
    "rd": 16,
    "ra": 16,
    "raw": 4,
    "color": 4,
    "depth": 8,
    "labels": 256,
    "per_frame": 4096,
}
#: chunking inside a frame where it pays: VRDAE in blocks of 4 Doppler bins, so a model reading
#: HuPR's Doppler bins 4..11 reads exactly those (1 MiB chunks of one frame)
FRAME_CHUNK_SHAPES: dict[str, tuple[int, ...]] = {"vrdae": (4, 64, 64, 8)}
#: Zarr v3 sharding: frames per shard file (whole frames in each shard). VRDAE's 1 MiB chunks
#: go 64 to a 64 MiB shard of 16 frames, the build's write window: one file per 16 frames
#: instead of 64, written whole and read with one ``preadv`` per shard
#: (``dataset_tools.dataset.shards``). HDF5 has no shards: it keeps the chunks.
FRAME_SHARDS: dict[str, int] = {"vrdae": 16}
POINT_ROWS_PER_CHUNK = 65536


def stream_radar(radar: str) -> str:
    return f"radar/{radar}"


def stream_camera(camera: str) -> str:
    return f"camera/{camera}"


def stream_labels(schema: str) -> str:
    return f"labels/{schema}"


def sequence_path(seq_id: str) -> str:
    return f"{SEQUENCES}/{seq_id}"


def check_sequence_id(seq_id: str) -> str:
    """Sequence ids are group names: no slashes, no leading dot, not empty."""
    if not seq_id or "/" in seq_id or seq_id.startswith(".") or "\\" in seq_id:
        raise ValueError(f"bad sequence id {seq_id!r}: no '/', '\\' or leading '.'")
    return seq_id
