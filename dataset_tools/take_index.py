"""What alignment needs of a take: pulses and per-frame stream metadata.

A finished recording carries this as its frame index (:mod:`acquisition.recording.frame_index`),
read in milliseconds from the file's summary; a recording without one (recorder killed, older
writer) is read in one pass over its messages. Both give the same :class:`TakeIndex`.

The bulk (radar bytes, images) is read later by the workers; they enumerate the same frames in
the same order, so a row number here is a row number there. Radar rows also record the MCAP
chunk holding them, so that a worker building frames [a, b) decompresses only those chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.recording import TakeReader
from acquisition.recording.frame_index import FrameIndex, read_frame_index
from acquisition.recording.schemas import decoder

RADAR_SCHEMA = "acquisition_interfaces/RadarFrame"
PULSE_TOPIC = "/trigger/pulses"


def _ns(t: Any) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


@dataclass
class StreamRows:
    """Metadata of every frame of one stream, in file order (row r = r-th frame read).

    Attributes:
        trigger_index: (M,) int64, -1 where the recorder could not match a pulse.
        stamp_ns: (M,) int64 synchronised time.
        frame_number: (M,) int64 device frame counter.
        valid: (M,) bool the device / receiver flagged the frame complete.
        lost_bytes: (M,) int64 bytes lost (radar frames; 0 for images).
        nbytes: (M,) int64 payload bytes.
    """

    trigger_index: NDArray[np.int64]
    stamp_ns: NDArray[np.int64]
    frame_number: NDArray[np.int64]
    valid: NDArray[np.bool_]
    lost_bytes: NDArray[np.int64]
    nbytes: NDArray[np.int64]

    @classmethod
    def from_lists(cls, rows: list[tuple[int, int, int, bool, int, int]]) -> StreamRows:
        a = np.array(rows, dtype=np.int64).reshape(-1, 6)
        return cls(a[:, 0], a[:, 1], a[:, 2], a[:, 3].astype(bool), a[:, 4], a[:, 5])

    def __len__(self) -> int:
        return int(self.trigger_index.shape[0])


@dataclass
class TakeIndex:
    """Pulses and stream rows of one take (see :func:`index_take`)."""

    pulse_index: NDArray[np.int64]
    pulse_stamp_ns: NDArray[np.int64]
    radars: dict[str, StreamRows] = field(default_factory=dict)
    cameras: dict[str, StreamRows] = field(default_factory=dict)  # "<camera>/<color|depth>"
    truncated: bool = False
    truncation_reason: str | None = None
    messages: int = 0
    #: radar -> (M,) int64 file offset of the MCAP chunk holding each row (-1: not in a chunk)
    radar_chunks: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    #: MCAP channel id -> (topic, schema), to read chunks directly (``chunk_reader.read_chunk``)
    channels: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: "frame index" (read from the recording's summary) or "scan" (one pass over the messages)
    source: str = "scan"


def index_take(take: TakeReader, *, scan: bool = False) -> TakeIndex:
    """Every pulse and every frame's metadata: from the recorded frame index when the file has
    a valid one (and ``scan`` is False), else from one pass over the messages."""
    if not scan:
        recorded = read_frame_index(take.path)
        if recorded is not None:
            return _from_frame_index(recorded)
    return scan_take(take)


def _from_frame_index(fi: FrameIndex) -> TakeIndex:
    schemas = {topic: schema for topic, schema in fi.channels.values()}
    radars: dict[str, StreamRows] = {}
    radar_chunks: dict[str, NDArray[np.int64]] = {}
    cameras: dict[str, StreamRows] = {}
    pulse = fi.tables.get(PULSE_TOPIC)
    for topic, t in fi.tables.items():
        if schemas.get(topic) == RADAR_SCHEMA:
            name = topic.split("/")[1]
            radars[name] = StreamRows(
                t["trigger_index"],
                t["stamp_ns"],
                t["frame_number"],
                t["valid"].astype(bool),
                t["lost_bytes"],
                t["nbytes"],
            )
            radar_chunks[name] = fi.chunk_of_row[topic]
        elif topic.endswith("/sync") and not topic.endswith("/points/sync"):
            key = topic.removeprefix("/").removesuffix("/sync")
            image = fi.tables.get(f"/{key}/image_raw", {}).get("stamp_ns")
            stamps = image if image is not None else np.zeros(0, np.int64)
            n = min(t["trigger_index"].shape[0], stamps.shape[0])  # image i joins sync i
            cameras[key] = StreamRows(
                t["trigger_index"][:n],
                stamps[:n],
                t["frame_number"][:n],
                t["valid"][:n].astype(bool),
                np.zeros(n, np.int64),
                np.zeros(n, np.int64),
            )
    if pulse is not None:
        order = np.lexsort((pulse["stamp_ns"], pulse["index"]))
        pulse_index, pulse_stamp = pulse["index"][order], pulse["stamp_ns"][order]
    else:
        pulse_index = pulse_stamp = np.zeros(0, np.int64)
    return TakeIndex(
        pulse_index=pulse_index,
        pulse_stamp_ns=pulse_stamp,
        radars=radars,
        cameras=cameras,
        messages=fi.messages,
        radar_chunks=radar_chunks,
        channels=dict(fi.channels),
        source="frame index",
    )


def scan_take(take: TakeReader) -> TakeIndex:
    """Read every pulse and every frame's metadata in one pass (radar payloads are not copied)."""
    radar_rows: dict[str, list[tuple[int, int, int, bool, int, int]]] = {}
    sync_rows: dict[str, list[tuple[int, int, int, bool, int, int]]] = {}
    image_counts: dict[str, int] = {}
    pulses: list[tuple[int, int]] = []
    radar_chunks: dict[str, list[int]] = {}
    for chunk, raw in take.chunked_messages():
        topic = raw.topic
        if raw.schema == RADAR_SCHEMA:
            m = decoder(raw.schema)(raw.data)
            name = str(m.radar_id) or topic.split("/")[1]
            radar_chunks.setdefault(name, []).append(chunk)
            radar_rows.setdefault(name, []).append(
                (
                    int(m.trigger_index),
                    _ns(m.header.stamp),
                    int(m.frame_number),
                    bool(m.valid),
                    int(m.lost_bytes),
                    len(m.data),
                )
            )
        elif topic == PULSE_TOPIC:
            m = decoder(raw.schema)(raw.data)
            pulses.append((int(m.index), _ns(m.header.stamp)))
        elif topic.endswith("/sync") and not topic.endswith("/points/sync"):
            # /<camera>/<stream>/sync, joined 1:1 in order with /<camera>/<stream>/image_raw
            m = decoder(raw.schema)(raw.data)
            key = topic.removeprefix("/").removesuffix("/sync")
            sync_rows.setdefault(key, []).append(
                (
                    int(m.trigger_index),
                    -1,  # the stamp comes from the image message
                    int(m.frame_number),
                    bool(m.valid),
                    0,
                    0,
                )
            )
        elif topic.endswith("/image_raw"):
            key = topic.removeprefix("/").removesuffix("/image_raw")
            image_counts[key] = image_counts.get(key, 0) + 1
            # the image header stamp is the frame's synchronised time: keep it on its sync row
            sync_rows.setdefault("__stamp__" + key, []).append((raw.log_time_ns, 0, 0, True, 0, 0))
    report = take.last_report
    cameras: dict[str, StreamRows] = {}
    for key, rows in sync_rows.items():
        if key.startswith("__stamp__"):
            continue
        stamps = [r[0] for r in sync_rows.get("__stamp__" + key, [])]
        n = min(len(rows), len(stamps))  # reader joins image i with sync i
        joined = [(r[0], s, r[2], r[3], 0, 0) for r, s in zip(rows[:n], stamps[:n], strict=True)]
        cameras[key] = StreamRows.from_lists(joined)
    p = np.array(sorted(pulses), dtype=np.int64).reshape(-1, 2)
    return TakeIndex(
        pulse_index=p[:, 0],
        pulse_stamp_ns=p[:, 1],
        radars={k: StreamRows.from_lists(v) for k, v in radar_rows.items()},
        cameras=cameras,
        truncated=report.truncated,
        truncation_reason=report.truncation_reason,
        messages=report.messages,
        radar_chunks={k: np.array(v, dtype=np.int64) for k, v in radar_chunks.items()},
        channels=dict(take.last_channels),
    )
