"""The take manifest: ``manifest.json`` beside the streams of one take.

The recorder writes the manifest when a take starts (``status: "recording"``), rewrites it with
counters while recording, and finalises it (``complete``, ``interrupted`` or ``failed``). Every
write is atomic (temporary file + rename), so a crash never leaves a half-written manifest. A take
still marked ``recording`` whose recorder process is gone was interrupted; the reader says so.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT_NAME = "radar-sensing-recording"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
STREAMS_NAME = "streams.mcap"

STATUSES = ("recording", "complete", "interrupted", "failed")


@dataclass
class StreamStats:
    """Counters of one recorded stream (one topic)."""

    topic: str
    kind: str  # radar_raw | radar_points | camera_color | camera_depth | trigger | camera_info
    device: str
    message_type: str
    frames: int = 0
    invalid_frames: int = 0
    dropped_frames: int = 0  # frames the device should have produced but did not (by trigger)
    lost_packets: int = 0
    lost_bytes: int = 0
    bytes: int = 0
    first_trigger_index: int | None = None
    last_trigger_index: int | None = None
    first_stamp_ns: int | None = None
    last_stamp_ns: int | None = None

    def count(self, *, nbytes: int, trigger_index: int, stamp_ns: int, valid: bool = True) -> None:
        self.frames += 1
        self.bytes += nbytes
        if not valid:
            self.invalid_frames += 1
        if trigger_index >= 0:
            if self.first_trigger_index is None:
                self.first_trigger_index = trigger_index
            self.last_trigger_index = trigger_index
        if self.first_stamp_ns is None:
            self.first_stamp_ns = stamp_ns
        self.last_stamp_ns = stamp_ns


@dataclass
class TakeManifest:
    """Everything about a take that is not in the streams."""

    session: str
    take: str
    status: str = "recording"
    subject: str | None = None
    action: str | None = None
    scene: str | None = None
    consent_ref: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    software: dict[str, Any] = field(default_factory=dict)
    rig: dict[str, Any] = field(default_factory=dict)
    radars: dict[str, Any] = field(default_factory=dict)
    cameras: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)
    streams: dict[str, StreamStats] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    recorder: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    simulation: dict[str, Any] | None = None
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["streams"] = {k: asdict(v) for k, v in self.streams.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "manifest") -> TakeManifest:
        if d.get("format") != FORMAT_NAME:
            raise ValueError(f"{source}: not a recording manifest (format={d.get('format')!r})")
        if int(d.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"{source}: recording format version {d['format_version']} is newer than this "
                f"toolkit reads ({FORMAT_VERSION}); upgrade the toolkit"
            )
        data = dict(d)
        data["streams"] = {k: StreamStats(**v) for k, v in d.get("streams", {}).items()}
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{source}: unknown manifest keys {sorted(unknown)}")
        if data.get("status") not in STATUSES:
            raise ValueError(f"{source}: bad status {data.get('status')!r}")
        return cls(**data)

    def event(self, kind: str, message: str, **details: Any) -> None:
        """Record something that happened during the take (device lost, late start ...)."""
        self.events.append({"kind": kind, "message": message, **details})


def write_manifest(directory: Path, manifest: TakeManifest) -> Path:
    """Atomically write ``manifest.json`` into ``directory``."""
    path = directory / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(manifest.to_dict(), f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_manifest(directory: Path) -> TakeManifest:
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{directory}: not a take (no {MANIFEST_NAME})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    return TakeManifest.from_dict(data, source=str(path))


def recorder_identity() -> dict[str, Any]:
    """Who is writing: lets a reader tell a live take from an interrupted one."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def recorder_alive(recorder: dict[str, Any]) -> bool:
    """True when the recorder process named in a manifest still runs on this host."""
    pid = recorder.get("pid")
    if not isinstance(pid, int) or recorder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is not a live recorder.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return state != "Z"
