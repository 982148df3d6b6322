"""The recorder node's take, in plain Python (no ROS imports): what arrives on the topics goes
through :class:`TakeWriter` into the toolkit's recording format, with the plain recorder's
bookkeeping (:class:`acquisition.recorder.StreamSync` summaries, the trigger clock fit, dropped
frames per missed pulse, late starts) so that the manifest of a ROS take reads like that of an
``acq-record`` take.

The sensor nodes have already aligned their frames to the trigger pulses (``trigger_index`` in
every RadarFrame / FrameSync, decided by :class:`acquisition.sync.CounterAligner` in each node),
so the recorder checks and counts rather than re-aligns. It also counts what the transport lost:
a gap in a stream's frame numbers is a frame the sensor published that never arrived.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.recording.manifest import TakeManifest
from acquisition.recording.records import (
    NO_TRIGGER,
    CameraFrameRecord,
    CameraIntrinsics,
    RadarFrameRecord,
    TriggerPulseRecord,
)
from acquisition.recording.writer import TakeWriter
from acquisition.rig import RigConfig
from acquisition.sync import pulse_coverage
from acquisition.trigger.clock import ClockNotReady, TriggerClock


@dataclass
class StreamBook:
    """Per-stream record of matched pulses and transport gaps."""

    name: str
    topic: str
    matched: list[int] = field(default_factory=list)
    unmatched_frames: int = 0
    last_frame_number: int | None = None
    transport_lost: int = 0

    def add(self, frame_number: int, trigger: int) -> None:
        if self.last_frame_number is not None and frame_number > self.last_frame_number + 1:
            self.transport_lost += frame_number - self.last_frame_number - 1
        if self.last_frame_number is None or frame_number > self.last_frame_number:
            self.last_frame_number = frame_number
        if trigger == NO_TRIGGER:
            self.unmatched_frames += 1
        else:
            self.matched.append(trigger)

    def summary(self, pulses: list[int], node_values: dict[str, str]) -> dict[str, int]:
        """As :meth:`acquisition.recorder.StreamSync.summary` (resyncs and jitter outliers come
        from the sensor node's aligner, through its diagnostics)."""
        base = {
            "extra_frames": self.unmatched_frames,
            "resyncs": int(node_values.get("resyncs", 0)),
            "jitter_outliers": int(node_values.get("jitter_outliers", 0)),
            "transport_lost_frames": self.transport_lost,
        }
        return {**base, **pulse_coverage(self.matched, pulses)}


@dataclass
class _CameraPart:
    image: Any = None
    encoding: str = ""
    sync: dict[str, Any] | None = None


class TakeSession:
    """One take recorded from topics. Thread-safe (subscription callbacks may run in
    parallel)."""

    def __init__(
        self,
        rig: RigConfig,
        *,
        sessions_root: str | Path,
        session: str,
        take: str,
        subject: str | None = None,
        action: str | None = None,
        scene: str | None = None,
        consent_ref: str | None = None,
        flush_interval_s: float = 1.0,
    ) -> None:
        from acquisition.radar.config import load_radar_config

        self.rig = rig
        self.writer = TakeWriter.create(
            sessions_root,
            session,
            take,
            subject=subject,
            action=action,
            scene=scene,
            consent_ref=consent_ref,
            flush_interval_s=flush_interval_s,
            compression=rig.recording.compression,
        )
        rig_text = Path(rig.source).read_text() if Path(rig.source).is_file() else None
        self.writer.set_rig(rig.to_dict(), rig_text)
        for spec in rig.radars:
            cfg = load_radar_config(spec.cfg_path)
            self.writer.add_radar(
                spec.name,
                cfg_text=Path(spec.cfg_path).read_text(),
                info={
                    "board": spec.board,
                    "mounting": spec.mounting,
                    "output": spec.output,
                    "params": cfg.derived(spec.board),
                },
            )
        for cam in rig.cameras:
            intr = None
            if cam.intrinsics is not None:
                i = cam.intrinsics
                intr = CameraIntrinsics(cam.width, cam.height, i.fx, i.fy, i.cx, i.cy)
            self.writer.add_camera(
                cam.name,
                intrinsics=intr,
                info={"kind": cam.kind, "sync_role": cam.sync_role, "fps": cam.fps},
            )
        self.lock = threading.RLock()
        self.clock = TriggerClock()
        self.pulses: list[int] = []
        self.pulse_gaps = 0
        self.books: dict[str, StreamBook] = {}
        for spec in rig.radars:
            self.books[spec.name] = StreamBook(spec.name, f"/{spec.name}/frames")
        for cam in rig.cameras:
            self.books[cam.name] = StreamBook(cam.name, f"/{cam.name}/color/image_raw")
        self._camera_parts: dict[tuple[str, str, int], _CameraPart] = {}
        self._camera_info_written: set[str] = set()
        self.sync_mismatches = 0
        self.closed = False

    @property
    def directory(self) -> Path:
        return self.writer.directory

    # --- streams --------------------------------------------------------------------------
    def trigger_pulse(self, record: TriggerPulseRecord) -> None:
        with self.lock:
            if self.closed:
                return
            if self.pulses and record.index > self.pulses[-1] + 1:
                self.pulse_gaps += record.index - self.pulses[-1] - 1
            self.pulses.append(record.index)
            self.clock.add(record.board_time_us, record.host_receive_ns)
            self.writer.write_trigger_pulse(record)

    def radar_frame(self, record: RadarFrameRecord) -> None:
        with self.lock:
            if self.closed:
                return
            self.writer.write_radar_frame(record)
            book = self.books.get(record.radar_id)
            if book is not None:
                book.add(record.frame_number, record.trigger_index)

    def camera_info(self, camera: str, intrinsics: CameraIntrinsics, stamp_ns: int) -> None:
        """The first CameraInfo of a camera: intrinsics into the manifest and the take."""
        with self.lock:
            if self.closed or camera in self._camera_info_written:
                return
            self._camera_info_written.add(camera)
            info = {k: v for k, v in self.writer.manifest.cameras.get(camera, {}).items()}
            info.pop("intrinsics", None)
            self.writer.add_camera(camera, intrinsics=intrinsics, info=info)
            self.writer.write_camera_info(camera, intrinsics, stamp_ns)

    def camera_image(
        self, camera: str, stream: str, stamp_ns: int, image: Any, encoding: str
    ) -> None:
        with self.lock:
            part = self._camera_parts.setdefault((camera, stream, stamp_ns), _CameraPart())
            part.image, part.encoding = image, encoding
            self._try_write(camera, stream, stamp_ns)

    def camera_sync(self, camera: str, stream: str, stamp_ns: int, **sync: Any) -> None:
        """The FrameSync of an image: frame_number, trigger_index, device_time_ns,
        host_time_ns, valid."""
        with self.lock:
            part = self._camera_parts.setdefault((camera, stream, stamp_ns), _CameraPart())
            part.sync = sync
            self._try_write(camera, stream, stamp_ns)

    def _try_write(self, camera: str, stream: str, stamp_ns: int) -> None:
        key = (camera, stream, stamp_ns)
        part = self._camera_parts[key]
        if self.closed or part.image is None or part.sync is None:
            return
        del self._camera_parts[key]
        s = part.sync
        self.writer.write_camera_frame(
            CameraFrameRecord(
                camera_id=camera,
                stream=stream,
                frame_number=s["frame_number"],
                trigger_index=s["trigger_index"],
                stamp_ns=stamp_ns,
                device_time_ns=s["device_time_ns"],
                host_time_ns=s["host_time_ns"],
                image=np.asarray(part.image),
                encoding=part.encoding,
                valid=s["valid"],
            )
        )
        if stream == "color" and camera in self.books:
            self.books[camera].add(s["frame_number"], s["trigger_index"])

    # --- the end --------------------------------------------------------------------------
    def close(
        self,
        node_values: dict[str, dict[str, str]],
        *,
        status: str = "complete",
        ground_truth: bool = True,
    ) -> TakeManifest:
        """Finish the take. ``node_values``: stream name -> the last diagnostic values of its
        node (capture statistics, camera counters, aligner counters)."""
        with self.lock:
            writer = self.writer
            orphans = [k for k, part in self._camera_parts.items()]
            self.closed = True
        if orphans:
            writer.event(
                "incomplete_camera_frames",
                f"{len(orphans)} images or sync records arrived without their counterpart",
            )
        rate = self.rig.trigger.rate_hz if self.rig.trigger is not None else None
        try:
            f = self.clock.fit()
            fit: dict[str, Any] = {
                "drift_ppm": f.drift_ppm,
                "residual_rms_us": f.residual_rms_us,
                "residual_max_us": f.residual_max_us,
                "samples": f.samples,
            }
        except ClockNotReady:
            fit = {"error": "fewer than two pulses: no clock fit"}
        per_stream = {
            name: book.summary(self.pulses, node_values.get(name, {}))
            for name, book in self.books.items()
        }
        writer.update(
            sync={
                "trigger_rate_hz": rate,
                "pulses": len(self.pulses),
                "first_pulse": self.pulses[0] if self.pulses else None,
                "last_pulse": self.pulses[-1] if self.pulses else None,
                "missed_pulse_reports": self.pulse_gaps,
                "trigger_clock": fit,
                "streams": per_stream,
                "aligned_by": "sensor nodes (ROS 2)",
            }
        )
        for name, summary in per_stream.items():
            topic = self.books[name].topic
            if topic in writer.manifest.streams and summary["missed_pulses"]:
                writer.count_dropped(
                    topic,
                    summary["missed_pulses"],
                    f"{name}: {summary['missed_pulses']} pulses without a frame",
                )
            if summary["late_start_pulses"] and self.pulses:
                writer.event(
                    "late_start",
                    f"{name} started {summary['late_start_pulses']} pulses after the trigger",
                    stream=name,
                )
            if summary["transport_lost_frames"]:
                writer.event(
                    "transport_lost",
                    f"{name}: {summary['transport_lost_frames']} published frames never "
                    "reached the recorder",
                    stream=name,
                )
        radars = dict(writer.manifest.radars)
        for spec in self.rig.radars:
            values = node_values.get(spec.name, {})
            capture = {k[8:]: _number(v) for k, v in values.items() if k.startswith("capture.")}
            if capture:
                radars[spec.name] = {**radars.get(spec.name, {}), "capture": capture}
        cameras = dict(writer.manifest.cameras)
        for cam in self.rig.cameras:
            values = node_values.get(cam.name, {})
            counters = {
                k.split(".", 1)[1]: _number(v) for k, v in values.items() if k.startswith("camera.")
            }
            if counters:
                cameras[cam.name] = {**cameras.get(cam.name, {}), "counters": counters}
                color = writer.manifest.streams.get(f"/{cam.name}/color/image_raw")
                if color is not None:
                    color.dropped_frames += int(counters.get("dropped", 0))
        writer.update(radars=radars, cameras=cameras)
        if ground_truth and self.rig.simulated and self.rig.simulation is not None and self.pulses:
            # The simulator's truth for every pulse: the plain recorder's own routine.
            from acquisition.recorder import Recorder

            Recorder(self.rig).write_ground_truth(writer, list(self.pulses))
        return writer.close(status)


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
