"""Read a take back, including one whose recorder was killed.

A finished MCAP file ends with a summary; a killed recorder leaves a file that stops somewhere
after its last flushed chunk. The reader walks the records in order and stops cleanly at the first
incomplete record, so everything flushed is recovered. A take still marked ``recording`` whose
recorder is gone is reported (and, with ``repair=True``, re-marked) as ``interrupted``.

Example::

    take = TakeReader("sessions/2024-05/S01_wave_001")
    for frame in take.radar_frames("radar_h"):
        cube = frame.samples()
    table = take.sync_table()     # trigger index -> frame per stream
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acquisition.recording import schemas
from acquisition.recording.manifest import (
    STREAMS_NAME,
    TakeManifest,
    read_manifest,
    recorder_alive,
    write_manifest,
)
from acquisition.recording.records import (
    CameraFrameRecord,
    PointCloudRecord,
    RadarFrameRecord,
    TriggerPulseRecord,
)


def _ns(t: Any) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


@dataclass
class RawMessage:
    topic: str
    schema: str
    log_time_ns: int
    sequence: int
    data: bytes


@dataclass
class ReadReport:
    """What a full pass over the streams found."""

    messages: int = 0
    truncated: bool = False
    truncation_reason: str | None = None
    per_topic: dict[str, int] = field(default_factory=dict)


class TakeReader:
    """Read-only access to one take folder."""

    def __init__(self, directory: str | Path, *, repair: bool = False) -> None:
        self.directory = Path(directory)
        self.manifest: TakeManifest = read_manifest(self.directory)
        self.path = self.directory / STREAMS_NAME
        self.interrupted = self.manifest.status == "interrupted"
        if self.manifest.status == "recording" and not recorder_alive(self.manifest.recorder):
            self.interrupted = True
            if repair:
                self.manifest.status = "interrupted"
                self.manifest.event(
                    "interrupted", "recorder stopped without closing the take; data recovered"
                )
                report = self.scan()
                self.manifest.files.setdefault(STREAMS_NAME, {}).update(
                    {"recovered_messages": report.messages, "truncated": report.truncated}
                )
                write_manifest(self.directory, self.manifest)
        self.last_report = ReadReport()
        self.last_channels: dict[int, tuple[str, str]] = {}

    @property
    def status(self) -> str:
        return "interrupted" if self.interrupted else self.manifest.status

    # --- raw messages --------------------------------------------------------------------------
    def messages(self, topics: set[str] | None = None) -> Iterator[RawMessage]:
        """Every message in file order (optionally only some topics); stops at a truncation."""
        from mcap.exceptions import McapError
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        report = ReadReport()
        self.last_report = report
        schema_names: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        with open(self.path, "rb") as f:
            reader = StreamReader(f, skip_magic=False)
            records = reader.records
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except (McapError, EOFError, struct.error, ValueError) as exc:
                    # Anything after the last complete record of a killed recorder.
                    report.truncated = True
                    report.truncation_reason = f"{type(exc).__name__}: {exc}"
                    return
                if isinstance(record, Schema):
                    schema_names[record.id] = record.name
                elif isinstance(record, Channel):
                    channels[record.id] = (record.topic, schema_names.get(record.schema_id, ""))
                elif isinstance(record, Message):
                    topic, schema = channels.get(record.channel_id, ("", ""))
                    report.messages += 1
                    report.per_topic[topic] = report.per_topic.get(topic, 0) + 1
                    if topics is None or topic in topics:
                        yield RawMessage(
                            topic, schema, record.log_time, record.sequence, record.data
                        )

    def chunked_messages(self, topics: set[str] | None = None) -> Iterator[tuple[int, RawMessage]]:
        """Like :meth:`messages`, each message with the file offset of the MCAP chunk holding it
        (-1 for a message outside any chunk). Afterwards ``last_channels`` maps channel id ->
        (topic, schema name), what :func:`~acquisition.recording.chunk_reader.read_chunk`
        readers need to read chunks directly."""
        from mcap.exceptions import McapError
        from mcap.records import Channel, Chunk, Message, Schema
        from mcap.stream_reader import StreamReader, breakup_chunk

        report = ReadReport()
        self.last_report = report
        schema_names: dict[int, str] = {}
        channels: dict[int, tuple[str, str]] = {}
        self.last_channels = channels
        with open(self.path, "rb") as f:
            records = StreamReader(f, skip_magic=False, emit_chunks=True).records
            while True:
                offset = f.tell()
                try:
                    record = next(records)
                    inner = breakup_chunk(record) if isinstance(record, Chunk) else [record]
                except StopIteration:
                    return
                except (McapError, EOFError, struct.error, ValueError) as exc:
                    report.truncated = True
                    report.truncation_reason = f"{type(exc).__name__}: {exc}"
                    return
                where = offset if isinstance(record, Chunk) else -1
                for rec in inner:
                    if isinstance(rec, Schema):
                        schema_names[rec.id] = rec.name
                    elif isinstance(rec, Channel):
                        channels[rec.id] = (rec.topic, schema_names.get(rec.schema_id, ""))
                    elif isinstance(rec, Message):
                        topic, schema = channels.get(rec.channel_id, ("", ""))
                        report.messages += 1
                        report.per_topic[topic] = report.per_topic.get(topic, 0) + 1
                        if topics is None or topic in topics:
                            yield (
                                where,
                                RawMessage(topic, schema, rec.log_time, rec.sequence, rec.data),
                            )

    def scan(self) -> ReadReport:
        """Read through the whole file once and return the counts (and truncation)."""
        for _ in self.messages(topics=set()):
            pass
        return self.last_report

    def topics(self) -> list[str]:
        return sorted(self.manifest.streams)

    def decoded(self, topic: str) -> Iterator[Any]:
        for raw in self.messages({topic}):
            yield schemas.decoder(raw.schema)(raw.data)

    # --- typed streams -------------------------------------------------------------------------
    def radar_frames(self, radar_id: str) -> Iterator[RadarFrameRecord]:
        for m in self.decoded(f"/{radar_id}/frames"):
            yield RadarFrameRecord(
                radar_id=m.radar_id,
                frame_number=int(m.frame_number),
                trigger_index=int(m.trigger_index),
                stamp_ns=_ns(m.header.stamp),
                device_time_ns=_ns(m.device_stamp),
                host_time_ns=_ns(m.host_stamp),
                shape=(
                    int(m.num_loops),
                    int(m.num_chirps_per_loop),
                    int(m.num_rx),
                    int(m.num_samples),
                ),
                sample_format=m.sample_format,
                num_packets=int(m.num_packets),
                lost_packets=int(m.lost_packets),
                lost_bytes=int(m.lost_bytes),
                valid=bool(m.valid),
                data=bytes(m.data),
            )

    def trigger_pulses(self) -> list[TriggerPulseRecord]:
        return [
            TriggerPulseRecord(
                index=int(m.index),
                board_time_us=int(m.board_time_us),
                stamp_ns=_ns(m.header.stamp),
                host_receive_ns=_ns(m.host_receive_stamp),
            )
            for m in self.decoded("/trigger/pulses")
        ]

    def camera_frames(self, camera_id: str, stream: str = "color") -> Iterator[CameraFrameRecord]:
        """Images joined with their sync records (same order, same stamp)."""
        image_topic = f"/{camera_id}/{stream}/image_raw"
        sync_topic = f"/{camera_id}/{stream}/sync"
        pending_sync: list[Any] = []
        pending_images: list[Any] = []
        for raw in self.messages({image_topic, sync_topic}):
            msg = schemas.decoder(raw.schema)(raw.data)
            (pending_images if raw.topic == image_topic else pending_sync).append(msg)
            while pending_images and pending_sync:
                image, sync = pending_images.pop(0), pending_sync.pop(0)
                yield CameraFrameRecord(
                    camera_id=camera_id,
                    stream=stream,
                    frame_number=int(sync.frame_number),
                    trigger_index=int(sync.trigger_index),
                    stamp_ns=_ns(image.header.stamp),
                    device_time_ns=_ns(sync.device_stamp),
                    host_time_ns=_ns(sync.host_stamp),
                    image=_image_array(image),
                    encoding=image.encoding,
                    valid=bool(sync.valid),
                )

    def point_clouds(self, radar_id: str) -> Iterator[PointCloudRecord]:
        topic = f"/{radar_id}/points"
        clouds: list[Any] = []
        syncs: list[Any] = []
        for raw in self.messages({topic, f"{topic}/sync"}):
            msg = schemas.decoder(raw.schema)(raw.data)
            (clouds if raw.topic == topic else syncs).append(msg)
            while clouds and syncs:
                cloud, sync = clouds.pop(0), syncs.pop(0)
                points = np.frombuffer(bytes(cloud.data), dtype="<f4").reshape(-1, 5)
                yield PointCloudRecord(
                    radar_id=radar_id,
                    frame_number=int(sync.frame_number),
                    trigger_index=int(sync.trigger_index),
                    stamp_ns=_ns(cloud.header.stamp),
                    device_time_ns=_ns(sync.device_stamp),
                    host_time_ns=_ns(sync.host_stamp),
                    points=points.astype(np.float32),
                    valid=bool(sync.valid),
                )

    def sync_table(self) -> dict[str, dict[int, int]]:
        """For each frame stream, trigger index -> frame number (unmatched frames left out)."""
        table: dict[str, dict[int, int]] = {}
        for raw in self.messages():
            if raw.schema == "acquisition_interfaces/RadarFrame" or raw.topic.endswith("/sync"):
                msg = schemas.decoder(raw.schema)(raw.data)
                name = raw.topic.removesuffix("/sync").removesuffix("/frames")
                if int(msg.trigger_index) >= 0:
                    table.setdefault(name, {})[int(msg.trigger_index)] = int(msg.frame_number)
        return table


def _image_array(image: Any) -> NDArray[Any]:
    data = bytes(image.data)
    h, w = int(image.height), int(image.width)
    if image.encoding in ("rgb8", "bgr8"):
        return np.frombuffer(data, np.uint8).reshape(h, w, 3)
    if image.encoding in ("16UC1", "mono16"):
        dtype = ">u2" if image.is_bigendian else "<u2"
        return np.frombuffer(data, dtype).reshape(h, w).astype(np.uint16)
    return np.frombuffer(data, np.uint8).reshape(h, w)


def list_takes(sessions_root: str | Path, session: str) -> list[Path]:
    """Take folders (those with a manifest) of a session, sorted by name."""
    folder = Path(sessions_root) / session
    if not folder.is_dir():
        raise FileNotFoundError(f"session folder {folder} does not exist")
    return sorted(p.parent for p in folder.glob("*/manifest.json"))
