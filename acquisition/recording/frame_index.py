"""The frame index a finished recording carries: per-frame metadata without reading the streams.

Everything that aligning a take needs -- every trigger pulse, and per radar / camera frame its
trigger index, stamp, frame counter, validity, lost bytes and size -- is a few bytes per frame,
but it sits inside messages of up to a megabyte of ADC samples in compressed MCAP chunks. Reading
it back means decompressing the whole file. So the writer also keeps these rows as it writes the
messages and, on close, stores them as one MCAP attachment (:data:`ATTACHMENT_NAME`, JSON, one
table per topic with rows in the topic's message order). The summary's chunk and message indexes
then say which chunk holds each message, so a reader gets the complete index of a take from the
file's summary, its message-index records and that attachment: kilobytes instead of gigabytes.

A take whose recorder was killed has no summary and no attachment; readers fall back to one pass
over the messages (``dataset_tools.take_index.index_take`` does both and checks they agree in
``tests/dataset_tools/test_take_index.py``). A file whose attachment does not match its message
counts is treated the same way (:func:`read_frame_index` returns None).

Attachment layout (``frame_index.json``, version 1)::

    {"format": "radar-sensing-frame-index", "version": 1,
     "topics": {"/<radar>/frames": {"columns": [...RADAR_COLUMNS], "rows": [[...], ...]},
                "/trigger/pulses": {"columns": [...PULSE_COLUMNS], "rows": ...},
                "/<camera>/<stream>/sync": {"columns": [...SYNC_COLUMNS], "rows": ...},
                "/<camera>/<stream>/image_raw": {"columns": [...IMAGE_COLUMNS], "rows": ...}}}
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ATTACHMENT_NAME = "frame_index.json"
MEDIA_TYPE = "application/json"
INDEX_FORMAT = "radar-sensing-frame-index"
INDEX_VERSION = 1

RADAR_COLUMNS = ("trigger_index", "stamp_ns", "frame_number", "valid", "lost_bytes", "nbytes")
PULSE_COLUMNS = ("index", "stamp_ns")
SYNC_COLUMNS = ("trigger_index", "frame_number", "valid")
IMAGE_COLUMNS = ("stamp_ns",)

_MESSAGE_INDEX_OPCODE = 0x07
_RECORD_HEADER = struct.Struct("<BQ")
_MESSAGE_INDEX_HEAD = struct.Struct("<HI")


class FrameIndexWriter:
    """Rows of every indexed topic, in write order (the writer calls :meth:`add` under its lock)."""

    def __init__(self) -> None:
        self._tables: dict[str, tuple[tuple[str, ...], list[tuple[int, ...]]]] = {}

    def add(self, topic: str, columns: tuple[str, ...], row: tuple[int, ...]) -> None:
        table = self._tables.get(topic)
        if table is None:
            table = self._tables[topic] = (columns, [])
        table[1].append(row)

    def to_bytes(self) -> bytes:
        doc = {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "topics": {
                topic: {"columns": list(columns), "rows": rows}
                for topic, (columns, rows) in self._tables.items()
            },
        }
        return json.dumps(doc, separators=(",", ":")).encode()


@dataclass
class FrameIndex:
    """The recorded index of a finished take (see the module docstring).

    Attributes:
        tables: topic -> column name -> (M,) int64, rows in the topic's message order.
        chunk_of_row: topic -> (M,) int64 file offset of the MCAP chunk holding each message.
        channels: MCAP channel id -> (topic, schema name).
        messages: messages in the file (from the summary statistics).
    """

    tables: dict[str, dict[str, NDArray[np.int64]]]
    chunk_of_row: dict[str, NDArray[np.int64]]
    channels: dict[int, tuple[str, str]]
    messages: int


def _message_counts(f: Any, chunk_indexes: list[Any]) -> dict[int, list[tuple[int, int]]]:
    """channel id -> [(chunk offset, messages of the channel in that chunk)] in file order."""
    counts: dict[int, list[tuple[int, int]]] = {}
    for ci in sorted(chunk_indexes, key=lambda c: c.chunk_start_offset):
        if not ci.message_index_offsets:
            continue
        start = min(ci.message_index_offsets.values())
        f.seek(start)
        blob = f.read(ci.message_index_length)
        for channel, offset in ci.message_index_offsets.items():
            pos = offset - start
            opcode, length = _RECORD_HEADER.unpack_from(blob, pos)
            if opcode != _MESSAGE_INDEX_OPCODE:
                raise ValueError(f"no message index record at byte {offset}")
            _, records_len = _MESSAGE_INDEX_HEAD.unpack_from(blob, pos + _RECORD_HEADER.size)
            if records_len % 16 or records_len + 6 > length:
                raise ValueError(f"malformed message index record at byte {offset}")
            counts.setdefault(int(channel), []).append(
                (int(ci.chunk_start_offset), records_len // 16)
            )
    return counts


def read_frame_index(path: str | Path) -> FrameIndex | None:
    """The index of a finished recording, or None when it has none or it does not check out.

    None means: no summary (recorder killed), no :data:`ATTACHMENT_NAME` attachment (recorded by
    an older writer) or an attachment whose row counts differ from the file's message counts.
    """
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    try:
        with open(path, "rb") as f:
            summary = make_reader(f).get_summary()
            if summary is None or summary.statistics is None:
                return None
            where = [a for a in summary.attachment_indexes if a.name == ATTACHMENT_NAME]
            if len(where) != 1:
                return None
            f.seek(where[0].offset)
            head = f.read(where[0].length)
            doc = json.loads(_attachment_data(head))
            counts = _message_counts(f, list(summary.chunk_indexes))
    except (McapError, OSError, ValueError, struct.error, EOFError, KeyError):
        return None
    if doc.get("format") != INDEX_FORMAT or int(doc.get("version", 0)) > INDEX_VERSION:
        return None
    schemas = {s.id: s.name for s in summary.schemas.values()}
    channels = {c.id: (c.topic, schemas.get(c.schema_id, "")) for c in summary.channels.values()}
    by_topic = {topic: cid for cid, (topic, _) in channels.items()}
    stats = summary.statistics
    tables: dict[str, dict[str, NDArray[np.int64]]] = {}
    chunk_of_row: dict[str, NDArray[np.int64]] = {}
    for topic, table in doc["topics"].items():
        cid = by_topic.get(topic)
        columns = list(table["columns"])
        rows = np.asarray(table["rows"], dtype=np.int64).reshape(-1, len(columns))
        if cid is None or stats.channel_message_counts.get(cid, 0) != rows.shape[0]:
            return None  # rows and messages disagree: do not trust the index
        per_chunk = counts.get(cid, [])
        if sum(n for _, n in per_chunk) != rows.shape[0]:
            return None
        tables[topic] = {c: np.ascontiguousarray(rows[:, k]) for k, c in enumerate(columns)}
        chunk_of_row[topic] = np.repeat(
            np.array([o for o, _ in per_chunk], dtype=np.int64),
            np.array([n for _, n in per_chunk], dtype=np.int64),
        )
    return FrameIndex(
        tables=tables,
        chunk_of_row=chunk_of_row,
        channels=channels,
        messages=int(stats.message_count),
    )


def _attachment_data(record: bytes) -> bytes:
    """The data field of a raw MCAP Attachment record (opcode, length, fields...)."""
    pos = _RECORD_HEADER.size
    pos += 16  # log_time, create_time
    (name_len,) = struct.unpack_from("<I", record, pos)
    pos += 4 + name_len
    (media_len,) = struct.unpack_from("<I", record, pos)
    pos += 4 + media_len
    (data_len,) = struct.unpack_from("<Q", record, pos)
    pos += 8
    data = record[pos : pos + data_len]
    if len(data) != data_len:
        raise ValueError("attachment record shorter than its data")
    return data
