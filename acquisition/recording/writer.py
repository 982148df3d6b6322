"""Write one take: ``sessions/<session>/<take>/{manifest.json, streams.mcap, cfg/, rig.yaml}``.

Streams go into one MCAP file with ROS 2 (CDR) messages of the schemas in
:mod:`acquisition.recording.schemas`: the same messages the ROS 2 nodes publish. The file is
chunked; a chunk is flushed when it is full or ``flush_interval_s`` after the last flush, so a
killed recorder loses at most that much. Topics::

    /<radar>/frames               acquisition_interfaces/RadarFrame
    /<radar>/points               sensor_msgs/PointCloud2 (+ /<radar>/points/sync FrameSync)
    /trigger/pulses               acquisition_interfaces/TriggerPulse
    /<camera>/color/image_raw     sensor_msgs/Image     (+ /<camera>/color/sync FrameSync)
    /<camera>/color/camera_info   sensor_msgs/CameraInfo
    /<camera>/depth/image_raw     sensor_msgs/Image     (+ /<camera>/depth/sync FrameSync)
    /recorder/status              acquisition_interfaces/RecorderStatus
"""

from __future__ import annotations

import errno
import platform
import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from acquisition.recording import schemas
from acquisition.recording.checksums import file_digests
from acquisition.recording.frame_index import (
    ATTACHMENT_NAME,
    IMAGE_COLUMNS,
    MEDIA_TYPE,
    PULSE_COLUMNS,
    RADAR_COLUMNS,
    SYNC_COLUMNS,
    FrameIndexWriter,
)
from acquisition.recording.manifest import (
    STREAMS_NAME,
    StreamStats,
    TakeManifest,
    recorder_identity,
    write_manifest,
)
from acquisition.recording.records import (
    CameraFrameRecord,
    CameraIntrinsics,
    PointCloudRecord,
    RadarFrameRecord,
    TriggerPulseRecord,
)

DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024


class RecordingError(RuntimeError):
    """The take cannot be written (path, permissions, disk space); names the path."""


def toolkit_version() -> str:
    try:
        from importlib.metadata import version

        return version("radar-sensing-toolkit")
    except Exception:  # not installed (running from a source tree)
        return "0+unknown"


def _time(ns: int) -> dict[str, int]:
    return {"sec": int(ns // 1_000_000_000), "nanosec": int(ns % 1_000_000_000)}


def _header(stamp_ns: int, frame_id: str) -> dict[str, Any]:
    return {"stamp": _time(stamp_ns), "frame_id": frame_id}


def _image_layout(image: np.ndarray[Any, Any], encoding: str) -> tuple[int, int, int]:
    if encoding in ("rgb8", "bgr8"):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"{encoding} image must be (H, W, 3) uint8, got {image.shape}")
        return image.shape[0], image.shape[1], image.shape[1] * 3
    if encoding in ("16UC1", "mono16"):
        if image.ndim != 2 or image.dtype != np.uint16:
            raise ValueError(f"{encoding} image must be (H, W) uint16, got {image.shape}")
        return image.shape[0], image.shape[1], image.shape[1] * 2
    if encoding == "mono8":
        return image.shape[0], image.shape[1], image.shape[1]
    raise ValueError(f"unsupported image encoding {encoding!r}")


class TakeWriter:
    """Writes one take; thread-safe (drivers on several threads may write at once).

    Example::

        with TakeWriter.create(root, "2024-05", "S01_wave_001", subject="S01") as take:
            take.add_radar("radar_h", cfg_text=..., info={...})
            take.write_radar_frame(record)
    """

    def __init__(
        self,
        directory: Path,
        manifest: TakeManifest,
        *,
        compression: str = "zstd",
        chunk_size: int = 4 * 1024 * 1024,
        flush_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from mcap.writer import CompressionType, Writer

        self.directory = directory
        self.manifest = manifest
        self._lock = threading.RLock()
        self._clock = clock
        self._flush_interval_s = flush_interval_s
        self._last_flush = clock()
        self._started = clock()
        self._closed = False
        self._schema_ids: dict[str, int] = {}
        self._channel_ids: dict[str, int] = {}
        self._sequence: dict[str, int] = {}
        self._index = FrameIndexWriter()
        self.path = directory / STREAMS_NAME
        try:
            self._file: BinaryIO = open(self.path, "xb")
        except OSError as exc:
            raise RecordingError(f"cannot create {self.path}: {exc.strerror}") from exc
        kinds = {
            "zstd": CompressionType.ZSTD,
            "lz4": CompressionType.LZ4,
            "none": CompressionType.NONE,
        }
        if compression not in kinds:
            raise ValueError(f"unknown compression {compression!r}; use one of {', '.join(kinds)}")
        self._mcap = Writer(
            self._file,
            chunk_size=chunk_size,
            compression=kinds[compression],
        )
        self._mcap.start(profile="ros2", library=f"radar-sensing-toolkit {toolkit_version()}")
        manifest.files[STREAMS_NAME] = {"compression": compression}
        self._write_manifest()

    # --- creation ------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        sessions_root: str | Path,
        session: str,
        take: str,
        *,
        subject: str | None = None,
        action: str | None = None,
        scene: str | None = None,
        consent_ref: str | None = None,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        **options: Any,
    ) -> TakeWriter:
        """Create ``sessions_root/session/take`` and start writing.

        Raises :class:`RecordingError` before anything is recorded when the folder exists, cannot
        be created or written, or the disk has less than ``min_free_bytes`` free.
        """
        for label, value in (("session", session), ("take", take)):
            if not value or "/" in value or value in (".", ".."):
                raise RecordingError(f"invalid {label} name {value!r}")
        directory = Path(sessions_root) / session / take
        if directory.exists():
            raise RecordingError(f"{directory} already exists; choose another take name")
        try:
            directory.mkdir(parents=True)
            (directory / "cfg").mkdir()
        except OSError as exc:
            raise RecordingError(f"cannot create take folder {directory}: {exc.strerror}") from exc
        free = shutil.disk_usage(directory).free
        if free < min_free_bytes:
            raise RecordingError(
                f"only {free / 2**20:.0f} MiB free under {directory}; at least "
                f"{min_free_bytes / 2**20:.0f} MiB required"
            )
        manifest = TakeManifest(
            session=session,
            take=take,
            subject=subject,
            action=action,
            scene=scene,
            consent_ref=consent_ref,
            started_at=datetime.now(UTC).isoformat(),
            software={
                "toolkit_version": toolkit_version(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
            },
            recorder=recorder_identity(),
        )
        return cls(directory, manifest, **options)

    def __enter__(self) -> TakeWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._closed:
            self.close("complete" if exc_type is None else "failed")

    # --- take description ----------------------------------------------------------------------
    def add_radar(self, radar_id: str, *, cfg_text: str, info: dict[str, Any]) -> None:
        """Copy a radar's ``.cfg`` into the take and describe it in the manifest."""
        cfg_path = self.directory / "cfg" / f"{radar_id}.cfg"
        cfg_path.write_text(cfg_text)
        with self._lock:
            self.manifest.radars[radar_id] = {"cfg_file": f"cfg/{radar_id}.cfg", **info}
            self._write_manifest()

    def add_camera(
        self, camera_id: str, *, intrinsics: CameraIntrinsics | None, info: dict[str, Any]
    ) -> None:
        with self._lock:
            entry: dict[str, Any] = dict(info)
            if intrinsics is not None:
                entry["intrinsics"] = {
                    "width": intrinsics.width,
                    "height": intrinsics.height,
                    "fx": intrinsics.fx,
                    "fy": intrinsics.fy,
                    "cx": intrinsics.cx,
                    "cy": intrinsics.cy,
                    "distortion": list(intrinsics.distortion),
                }
            self.manifest.cameras[camera_id] = entry
            self._write_manifest()

    def set_rig(self, rig: dict[str, Any], rig_yaml_text: str | None = None) -> None:
        with self._lock:
            self.manifest.rig = rig
            if rig_yaml_text is not None:
                (self.directory / "rig.yaml").write_text(rig_yaml_text)
            self._write_manifest()

    def update(self, **fields: Any) -> None:
        """Set manifest fields (``sync``, ``calibration``, ``simulation`` ...) and save."""
        with self._lock:
            for key, value in fields.items():
                if not hasattr(self.manifest, key):
                    raise KeyError(f"manifest has no field {key!r}")
                setattr(self.manifest, key, value)
            self._write_manifest()

    def event(self, kind: str, message: str, **details: Any) -> None:
        with self._lock:
            self.manifest.event(kind, message, **details)
            self._write_manifest()

    # --- streams -------------------------------------------------------------------------------
    def stream(self, topic: str, *, kind: str, device: str, message_type: str) -> StreamStats:
        stats = self.manifest.streams.get(topic)
        if stats is None:
            stats = StreamStats(topic=topic, kind=kind, device=device, message_type=message_type)
            self.manifest.streams[topic] = stats
        return stats

    def write_radar_frame(self, frame: RadarFrameRecord) -> None:
        topic = f"/{frame.radar_id}/frames"
        msg = {
            "header": _header(frame.stamp_ns, frame.radar_id),
            "radar_id": frame.radar_id,
            "frame_number": frame.frame_number,
            "trigger_index": frame.trigger_index,
            "device_stamp": _time(frame.device_time_ns),
            "host_stamp": _time(frame.host_time_ns),
            "num_loops": frame.shape[0],
            "num_chirps_per_loop": frame.shape[1],
            "num_rx": frame.shape[2],
            "num_samples": frame.shape[3],
            "sample_format": frame.sample_format,
            "num_packets": frame.num_packets,
            "lost_packets": frame.lost_packets,
            "lost_bytes": frame.lost_bytes,
            "valid": frame.valid,
            "data": bytes(frame.data),
        }
        with self._lock:
            stats = self.stream(
                topic,
                kind="radar_raw",
                device=frame.radar_id,
                message_type="acquisition_interfaces/RadarFrame",
            )
            stats.lost_packets += frame.lost_packets
            stats.lost_bytes += frame.lost_bytes
            self._write(topic, "acquisition_interfaces/RadarFrame", msg, frame.stamp_ns)
            self._index.add(
                topic,
                RADAR_COLUMNS,
                (
                    frame.trigger_index,
                    frame.stamp_ns,
                    frame.frame_number,
                    int(frame.valid),
                    frame.lost_bytes,
                    len(frame.data),
                ),
            )
            stats.count(
                nbytes=len(frame.data),
                trigger_index=frame.trigger_index,
                stamp_ns=frame.stamp_ns,
                valid=frame.valid,
            )

    def write_trigger_pulse(self, pulse: TriggerPulseRecord) -> None:
        topic = "/trigger/pulses"
        msg = {
            "header": _header(pulse.stamp_ns, "trigger"),
            "index": pulse.index,
            "board_time_us": pulse.board_time_us,
            "host_receive_stamp": _time(pulse.host_receive_ns),
        }
        with self._lock:
            stats = self.stream(
                topic,
                kind="trigger",
                device="trigger",
                message_type="acquisition_interfaces/TriggerPulse",
            )
            self._write(topic, "acquisition_interfaces/TriggerPulse", msg, pulse.stamp_ns)
            self._index.add(topic, PULSE_COLUMNS, (pulse.index, pulse.stamp_ns))
            stats.count(nbytes=0, trigger_index=pulse.index, stamp_ns=pulse.stamp_ns)

    def write_camera_frame(self, frame: CameraFrameRecord) -> None:
        topic = f"/{frame.camera_id}/{frame.stream}/image_raw"
        height, width, step = _image_layout(frame.image, frame.encoding)
        data = np.ascontiguousarray(frame.image).astype(
            frame.image.dtype.newbyteorder("<"), copy=False
        )
        frame_id = f"{frame.camera_id}_{frame.stream}_optical_frame"
        image_msg = {
            "header": _header(frame.stamp_ns, frame_id),
            "height": height,
            "width": width,
            "encoding": frame.encoding,
            "is_bigendian": 0,
            "step": step,
            "data": data.tobytes(),
        }
        with self._lock:
            stats = self.stream(
                topic,
                kind=f"camera_{frame.stream}",
                device=frame.camera_id,
                message_type="sensor_msgs/Image",
            )
            self._write(topic, "sensor_msgs/Image", image_msg, frame.stamp_ns)
            self._index.add(topic, IMAGE_COLUMNS, (frame.stamp_ns,))
            self._write_sync(
                f"/{frame.camera_id}/{frame.stream}/sync",
                topic,
                frame_id,
                frame.frame_number,
                frame.trigger_index,
                frame.stamp_ns,
                frame.device_time_ns,
                frame.host_time_ns,
                frame.valid,
            )
            stats.count(
                nbytes=data.nbytes,
                trigger_index=frame.trigger_index,
                stamp_ns=frame.stamp_ns,
                valid=frame.valid,
            )

    def write_camera_info(
        self, camera_id: str, intrinsics: CameraIntrinsics, stamp_ns: int, stream: str = "color"
    ) -> None:
        topic = f"/{camera_id}/{stream}/camera_info"
        k = intrinsics.matrix()
        p = np.zeros((3, 4))
        p[:, :3] = k
        msg = {
            "header": _header(stamp_ns, f"{camera_id}_{stream}_optical_frame"),
            "height": intrinsics.height,
            "width": intrinsics.width,
            "distortion_model": "plumb_bob",
            "d": list(intrinsics.distortion),
            "k": k.ravel().tolist(),
            "r": np.eye(3).ravel().tolist(),
            "p": p.ravel().tolist(),
            "binning_x": 0,
            "binning_y": 0,
            "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False},
        }
        with self._lock:
            stats = self.stream(
                topic, kind="camera_info", device=camera_id, message_type="sensor_msgs/CameraInfo"
            )
            self._write(topic, "sensor_msgs/CameraInfo", msg, stamp_ns)
            stats.count(nbytes=0, trigger_index=-1, stamp_ns=stamp_ns)

    def write_point_cloud(self, cloud: PointCloudRecord) -> None:
        topic = f"/{cloud.radar_id}/points"
        points = np.ascontiguousarray(cloud.points, dtype="<f4")
        if points.ndim != 2 or points.shape[1] != 5:
            raise ValueError(f"point cloud must be (P, 5) float32, got {points.shape}")
        names = ("x", "y", "z", "velocity", "intensity")
        msg = {
            "header": _header(cloud.stamp_ns, cloud.radar_id),
            "height": 1,
            "width": points.shape[0],
            "fields": [
                {"name": n, "offset": 4 * i, "datatype": 7, "count": 1} for i, n in enumerate(names)
            ],
            "is_bigendian": False,
            "point_step": 20,
            "row_step": 20 * points.shape[0],
            "data": points.tobytes(),
            "is_dense": True,
        }
        with self._lock:
            stats = self.stream(
                topic,
                kind="radar_points",
                device=cloud.radar_id,
                message_type="sensor_msgs/PointCloud2",
            )
            self._write(topic, "sensor_msgs/PointCloud2", msg, cloud.stamp_ns)
            self._write_sync(
                f"{topic}/sync",
                topic,
                cloud.radar_id,
                cloud.frame_number,
                cloud.trigger_index,
                cloud.stamp_ns,
                cloud.device_time_ns,
                cloud.host_time_ns,
                cloud.valid,
            )
            stats.count(
                nbytes=points.nbytes,
                trigger_index=cloud.trigger_index,
                stamp_ns=cloud.stamp_ns,
                valid=cloud.valid,
            )

    def count_dropped(self, topic: str, frames: int, reason: str) -> None:
        """Record frames a device should have produced but did not (e.g. missed pulses)."""
        with self._lock:
            stats = self.manifest.streams.get(topic)
            if stats is not None:
                stats.dropped_frames += frames
            self.manifest.event("dropped_frames", reason, topic=topic, frames=frames)

    def _write_sync(
        self,
        topic: str,
        stream: str,
        frame_id: str,
        frame_number: int,
        trigger_index: int,
        stamp_ns: int,
        device_ns: int,
        host_ns: int,
        valid: bool,
    ) -> None:
        msg = {
            "header": _header(stamp_ns, frame_id),
            "stream": stream,
            "frame_number": frame_number,
            "trigger_index": trigger_index,
            "device_stamp": _time(device_ns),
            "host_stamp": _time(host_ns),
            "valid": valid,
        }
        self._write(topic, "acquisition_interfaces/FrameSync", msg, stamp_ns)
        self._index.add(topic, SYNC_COLUMNS, (trigger_index, frame_number, int(valid)))

    def _write(self, topic: str, type_name: str, msg: dict[str, Any], stamp_ns: int) -> None:
        if self._closed:
            raise RecordingError(f"{self.directory}: take already closed")
        schema_id = self._schema_ids.get(type_name)
        if schema_id is None:
            schema_id = self._mcap.register_schema(
                type_name, "ros2msg", schemas.schema_text(type_name).encode()
            )
            self._schema_ids[type_name] = schema_id
        channel_id = self._channel_ids.get(topic)
        if channel_id is None:
            channel_id = self._mcap.register_channel(topic, "cdr", schema_id)
            self._channel_ids[topic] = channel_id
            self._sequence[topic] = 0
        data = schemas.encoder(type_name)(msg)
        seq = self._sequence[topic]
        self._sequence[topic] = seq + 1
        try:
            self._mcap.add_message(
                channel_id, log_time=stamp_ns, data=data, publish_time=stamp_ns, sequence=seq
            )
            if self._clock() - self._last_flush >= self._flush_interval_s:
                self.flush()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
        self.manifest.status = "failed"
        self.manifest.event("write_error", f"{reason} while writing {self.path}")
        try:
            self._write_manifest()
        except OSError:
            pass
        raise RecordingError(
            f"{reason} while writing {self.path}; everything up to the last flush is kept"
        ) from exc

    # --- flushing and closing ------------------------------------------------------------------
    def flush(self) -> None:
        """Close the open chunk and write it and the manifest to disk."""
        with self._lock:
            try:
                self._mcap.flush()  # type: ignore[no-untyped-call]
                self._write_manifest()
            except OSError as exc:
                self._fail(exc)
            self._last_flush = self._clock()

    def _write_manifest(self) -> None:
        write_manifest(self.directory, self.manifest)

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._started

    def close(self, status: str = "complete") -> TakeManifest:
        """Finish the MCAP file (frame index, summary), checksum it and finalise the manifest."""
        with self._lock:
            if self._closed:
                return self.manifest
            self._closed = True
            try:
                now = time.time_ns()
                self._mcap.add_attachment(
                    create_time=now,
                    log_time=now,
                    name=ATTACHMENT_NAME,
                    media_type=MEDIA_TYPE,
                    data=self._index.to_bytes(),
                )
                self._mcap.finish()  # type: ignore[no-untyped-call]
                self._file.flush()
                self._file.close()
            except OSError as exc:
                self._closed = False
                self._fail(exc)
            self.manifest.files[STREAMS_NAME].update(
                {"bytes": self.path.stat().st_size, **file_digests(self.path)}
            )
            self.manifest.status = status
            self.manifest.ended_at = datetime.now(UTC).isoformat()
            self.manifest.duration_s = round(self.elapsed_s, 3)
            self._write_manifest()
            return self.manifest
