"""Record one take from a rig: configure, arm, trigger, stream, synchronise, write.

Order matters on a hardware-triggered rig: every sensor is configured and armed first (radar
configured over its CLI, capture card recording, ``sensorStart`` so the radar waits for SYNC_IN,
cameras streaming in external-trigger mode), and only then does the trigger board start pulsing.
Stopping reverses it: the trigger stops, the last frames drain, the sensors stop.

Every frame gets the index of the trigger pulse that started it (:mod:`acquisition.sync`): radar
frames by the arrival time of their first packet, camera frames by their reception time, both
against the pulse edges mapped from the trigger board's clock (:class:`TriggerClock`). Frames
that cannot be matched, pulses a sensor missed, and sensors that started late or stopped early
are counted in the manifest, never hidden.

Example::

    rig = load_rig("sensor_configs/rigs/dual_radar_sim.yaml")
    with EmulatedRig(rig) as emulated:
        recorder = Recorder(rig, endpoints=emulated.endpoints, camera_options=...)
        manifest = recorder.record(TakeInfo(session="2024-05", take="S01_wave_001"), 10.0)
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from acquisition.cameras.base import Camera, CameraFrame, CameraLost
from acquisition.cameras.factory import create_camera
from acquisition.dca1000.control import DCA1000Control
from acquisition.dca1000.protocol import MAX_PAYLOAD_BYTES
from acquisition.dca1000.receiver import DCA1000Receiver, RawFrame
from acquisition.emulated_rig import FaultPlan, RigEndpoints
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.errors import DeviceError
from acquisition.radar.config import RadarConfig, load_radar_config
from acquisition.radar_cli.driver import RadarCli
from acquisition.recording.manifest import TakeManifest
from acquisition.recording.records import (
    RadarFrameRecord,
    TriggerPulseRecord,
)
from acquisition.recording.writer import TakeWriter
from acquisition.rig import CameraSpec, RadarSpec, RigConfig
from acquisition.sync import NO_TRIGGER, CounterAligner, pulse_coverage
from acquisition.trigger.clock import ClockNotReady, TriggerClock
from acquisition.trigger.driver import PulseRecord, TriggerBoard

log = logging.getLogger(__name__)

GROUND_TRUTH_NAME = "sim_ground_truth.npz"
_LAST_FRAME_WAIT_S = 3.0


@dataclass
class TakeInfo:
    """What the operator says about a take."""

    session: str
    take: str
    subject: str | None = None
    action: str | None = None
    scene: str | None = None
    consent_ref: str | None = None


@dataclass
class StreamSync:
    """Online bookkeeping of one stream's frames against the pulses."""

    name: str
    aligner: CounterAligner
    matched: list[int] = field(default_factory=list)
    unmatched_frames: int = 0
    device_overrides: int = 0  # frames whose device-reported pulse differed from the timing
    last_frame_ns: int = 0  # host time of the newest frame seen

    def summary(self, pulse_indexes: list[int]) -> dict[str, int]:
        base = {
            "extra_frames": self.unmatched_frames,
            "resyncs": self.aligner.resyncs,
            "jitter_outliers": self.aligner.jitter_outliers,
            "device_overrides": self.device_overrides,
        }
        return {**base, **pulse_coverage(self.matched, pulse_indexes)}

    def push(self, counter: int, time_ns: int | None, payload: Any) -> list[tuple[Any, int]]:
        if time_ns is not None:
            self.last_frame_ns = max(self.last_frame_ns, time_ns)
        return self._count(self.aligner.push(counter, time_ns, payload))

    def flush(self) -> list[tuple[Any, int]]:
        return self._count(self.aligner.flush())

    def _count(self, decided: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
        out = []
        for payload, aligned in decided:
            # A device that knows which pulse exposed a frame (the simulated camera; cameras
            # whose metadata carries a trigger counter) is believed over host timing.
            trigger = aligned
            device = getattr(payload, "trigger_index", NO_TRIGGER)
            if device != NO_TRIGGER and device != aligned:
                self.device_overrides += 1
                trigger = device
            if trigger != NO_TRIGGER:
                self.matched.append(trigger)
            else:
                self.unmatched_frames += 1
            out.append((payload, trigger))
        return out


class PulseTimeline:
    """Trigger pulses and their edges on the host monotonic clock, from the trigger clock model.

    Edges are evaluated on demand (``edge_of``), so early pulses, stamped before the clock model
    had enough reports, get better estimates as the take goes on.
    """

    def __init__(self) -> None:
        self.clock = TriggerClock()
        self._board_us: dict[int, int] = {}
        self._received_ns: dict[int, int] = {}
        self._lock = threading.Lock()

    def add(self, pulse: PulseRecord) -> int:
        """Record a pulse report; returns its current edge estimate (monotonic ns)."""
        self.clock.add(pulse.board_time_us, pulse.host_receive_ns)
        with self._lock:
            self._board_us[pulse.index] = pulse.board_time_us
            self._received_ns[pulse.index] = pulse.host_receive_ns
        edge = self.edge_of(pulse.index)
        assert edge is not None
        return edge

    def board_ns_of(self, index: int) -> int:
        """Board time of a pulse in nanoseconds (0 when unknown): a radar frame's device time."""
        with self._lock:
            return self._board_us.get(index, 0) * 1000

    def edge_of(self, index: int) -> int | None:
        with self._lock:
            board_us = self._board_us.get(index)
            received = self._received_ns.get(index)
        if board_us is None or received is None:
            return None
        try:
            # The edge precedes the report: never later than the report's arrival.
            return min(self.clock.to_host_ns(board_us), received)
        except ClockNotReady:
            return received


class _StatusLine:
    """Counters for the live status line."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}
        self.lost_bytes: dict[str, int] = {}
        self.bytes = 0
        self.lock = threading.Lock()

    def count(self, stream: str, nbytes: int, lost: int = 0) -> None:
        with self.lock:
            self.frames[stream] = self.frames.get(stream, 0) + 1
            self.lost_bytes[stream] = self.lost_bytes.get(stream, 0) + lost
            self.bytes += nbytes


class Recorder:
    """Records takes from a rig through the plain-Python drivers.

    Args:
        rig: the rig file.
        endpoints: concrete ports of an emulated rig (None: the rig file's own ports).
        camera_options: camera name -> extra keyword arguments for ``create_camera`` (the
            simulated cameras' frame source and trigger line).
        sessions_root: overrides the rig file's ``recording.sessions_root``.
        status: called about once a second with a one-line status text (None: silent).
        sim_faults: camera faults for the simulated cameras this recorder renders itself.
    """

    def __init__(
        self,
        rig: RigConfig,
        *,
        endpoints: RigEndpoints | None = None,
        camera_options: dict[str, dict[str, Any]] | None = None,
        sessions_root: str | Path | None = None,
        status: Callable[[str], None] | None = None,
        sim_faults: FaultPlan | None = None,
    ) -> None:
        self.rig = rig
        self.sim_faults = sim_faults or FaultPlan()
        self.endpoints = endpoints
        self.camera_options = camera_options or {}
        root = sessions_root if sessions_root is not None else rig.recording.sessions_root
        self.sessions_root = Path(root).expanduser()
        self.status = status
        self.configs: dict[str, RadarConfig] = {
            r.name: load_radar_config(r.cfg_path) for r in rig.radars
        }
        if rig.trigger is None:
            raise ValueError(f"{rig.source}: recording needs a trigger board in the rig")
        self.period_ns = round(1e9 / rig.trigger.rate_hz)
        self._stop = threading.Event()
        self._camera_stop = threading.Event()
        self._camera_stop_ns = 0
        self._threads: list[threading.Thread] = []
        self._frame_queues: dict[str, queue.Queue[RawFrame | None]] = {}
        self._errors: list[str] = []
        # Trigger lines fired in this process from the trigger board's reports (simulated
        # cameras of an emulated rig whose wire devices run in another process).
        self._local_lines: list[tuple[TriggerLine, dict[int, int]]] = []
        self._world: Any = None

    # --- public ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running :meth:`record` to finish (thread-safe; used by Ctrl-C handlers)."""
        self._stop.set()

    def record(
        self, info: TakeInfo, duration_s: float, *, writer_options: dict[str, Any] | None = None
    ) -> TakeManifest:
        """Record one take of ``duration_s`` seconds (or until :meth:`stop`)."""
        self._stop.clear()
        self._camera_stop.clear()
        self._threads, self._frame_queues, self._errors = [], {}, []
        writer = TakeWriter.create(
            self.sessions_root,
            info.session,
            info.take,
            subject=info.subject,
            action=info.action,
            scene=info.scene,
            consent_ref=info.consent_ref,
            **{"compression": self.rig.recording.compression, **(writer_options or {})},
        )
        # The take keeps its own copy of the rig, pointing at its own copies of the cfgs, so
        # that it stays readable wherever it is moved.
        rig_dict = self.rig.to_dict()
        for radar in rig_dict.get("radars", []):
            radar["cfg"] = f"cfg/{radar['name']}.cfg"
        writer.set_rig(self.rig.to_dict(), yaml.safe_dump(rig_dict, sort_keys=False))
        for spec in self.rig.radars:
            cfg = self.configs[spec.name]
            writer.add_radar(
                spec.name,
                cfg_text=Path(spec.cfg_path).read_text(),
                info={
                    "board": spec.board,
                    "mounting": spec.mounting,
                    "output": spec.output,
                    "params": cfg.derived(spec.board),
                },
            )
        status = "complete"
        try:
            self._run(writer, duration_s)
        except KeyboardInterrupt:
            writer.event("stopped", "stopped by the operator (Ctrl-C)")
        except DeviceError as exc:
            writer.event("device_error", str(exc), device=exc.device)
            status = "failed"
            writer.close(status)
            raise
        except BaseException:
            status = "failed"
            writer.close(status)
            raise
        return writer.close(status)

    # --- the take --------------------------------------------------------------------------------
    def _run(self, writer: TakeWriter, duration_s: float) -> None:
        rig = self.rig
        assert rig.trigger is not None
        timeline = PulseTimeline()
        clock = timeline.clock
        wall_offset_ns = time.time_ns() - time.monotonic_ns()
        pulses: list[int] = []
        live = _StatusLine()
        syncs: dict[str, StreamSync] = {}
        sync_lock = threading.Lock()

        def on_pulse(pulse: PulseRecord) -> None:
            edge_ns = timeline.add(pulse)
            with sync_lock:
                pulses.append(pulse.index)
                for s in syncs.values():
                    s.aligner.add_pulse(pulse.index)
            for line, board_us_to_index in self._local_lines:
                board_us_to_index[pulse.board_time_us] = pulse.index
                line.fire(TriggerPulse(pulse.index, pulse.board_time_us, edge_ns))
            writer.write_trigger_pulse(
                TriggerPulseRecord(
                    index=pulse.index,
                    board_time_us=pulse.board_time_us,
                    stamp_ns=edge_ns + wall_offset_ns,
                    host_receive_ns=pulse.wall_receive_ns,
                )
            )
            live.count("trigger", 0)

        trigger_port = (
            self.endpoints.trigger_port
            if self.endpoints is not None and self.endpoints.trigger_port
            else rig.trigger.port
        )
        board = TriggerBoard(
            trigger_port, name="trigger", baudrate=rig.trigger.baud, on_pulse=on_pulse
        )
        radars: dict[str, tuple[RadarCli, DCA1000Control, DCA1000Receiver]] = {}
        cameras: dict[str, Camera] = {}
        started = time.monotonic()
        try:
            board.open()
            board.stop()
            board.set_rate(rig.trigger.rate_hz)
            board.set_width(int(rig.trigger.pulse_width_us))
            for spec in rig.radars:
                syncs[spec.name] = StreamSync(spec.name, self._aligner(timeline))
                radars[spec.name] = self._arm_radar(
                    spec, writer, syncs[spec.name], live, timeline, sync_lock, wall_offset_ns
                )
            for cam_spec in rig.cameras:
                cam = self._arm_camera(cam_spec, writer)
                cameras[cam_spec.name] = cam
                syncs[cam_spec.name] = StreamSync(cam_spec.name, self._aligner(timeline))
                self._spawn(
                    f"{cam_spec.name}-reader",
                    self._camera_loop,
                    cam,
                    writer,
                    syncs[cam_spec.name],
                    live,
                    timeline,
                    sync_lock,
                    wall_offset_ns,
                )
            board.arm()
            board.start()
            writer.event("trigger_started", f"trigger at {rig.trigger.rate_hz} Hz")
            started = time.monotonic()
            next_status = started + 1.0
            while not self._stop.is_set() and time.monotonic() - started < duration_s:
                time.sleep(0.05)
                if self.status is not None and time.monotonic() >= next_status:
                    self.status(self._status_text(live, time.monotonic() - started))
                    next_status += 1.0
        finally:
            self._shutdown(board, radars, cameras, writer, live, started, syncs, timeline, pulses)
            with sync_lock:
                pulse_list = list(pulses)
            fit: dict[str, Any] = {}
            try:
                f = clock.fit()
                fit = {
                    "drift_ppm": f.drift_ppm,
                    "residual_rms_us": f.residual_rms_us,
                    "residual_max_us": f.residual_max_us,
                    "samples": f.samples,
                }
            except ClockNotReady:
                fit = {"error": "fewer than two pulses: no clock fit"}
            stats = board.stats()
            per_stream = {name: s.summary(pulse_list) for name, s in syncs.items()}
            writer.update(
                sync={
                    "trigger_rate_hz": rig.trigger.rate_hz,
                    "pulses": len(pulse_list),
                    "first_pulse": pulse_list[0] if pulse_list else None,
                    "last_pulse": pulse_list[-1] if pulse_list else None,
                    "missed_pulse_reports": stats.missed_reports,
                    "trigger_clock": fit,
                    "streams": per_stream,
                }
            )
            for name, summary in per_stream.items():
                topic = self._topic_of(name)
                if topic in writer.manifest.streams and summary["missed_pulses"]:
                    writer.count_dropped(
                        topic,
                        summary["missed_pulses"],
                        f"{name}: {summary['missed_pulses']} pulses without a frame",
                    )
                if summary["late_start_pulses"] and pulse_list:
                    writer.event(
                        "late_start",
                        f"{name} started {summary['late_start_pulses']} pulses after the trigger",
                        stream=name,
                    )
            if self._errors:
                for message in self._errors:
                    writer.event("stream_error", message)
            if self.rig.simulated and self.rig.simulation is not None and pulse_list:
                self.write_ground_truth(writer, pulse_list)

    def write_ground_truth(self, writer: TakeWriter, pulse_list: list[int]) -> None:
        """Simulator truth for every pulse of the take (the labels of a simulated take)."""
        from acquisition.sim.camera import keypoints_2d

        world = self._simulated_world()
        joints = np.stack([world.instant(i).joints for i in pulse_list])
        arrays: dict[str, Any] = {
            "trigger_index": np.asarray(pulse_list, dtype=np.int64),
            "joints_rig": joints,
            "joint_names": np.asarray(world.joint_names),
        }
        for name, camera in world.cameras.items():
            arrays[f"keypoints_2d__{name}"] = np.stack([keypoints_2d(camera, j) for j in joints])
        path = writer.directory / GROUND_TRUTH_NAME
        np.savez_compressed(path, **arrays)
        assert self.rig.simulation is not None
        subject = self.rig.simulation.subject
        writer.update(
            simulation={
                "ground_truth_file": GROUND_TRUTH_NAME,
                "joint_names": list(world.joint_names),
                "frame": "rig",
                "action": subject.action,
                "subject_seed": subject.seed,
                "noise_seed": self.rig.simulation.seed,
                "cameras": sorted(world.cameras),
            }
        )

    def _aligner(self, timeline: PulseTimeline) -> CounterAligner:
        # Emulated devices never skip a pulse once started; their timing only reflects how busy
        # this host is, so after the warm-up their frame counters are trusted.
        return CounterAligner(self.period_ns, timeline.edge_of, detect_skips=not self.rig.simulated)

    def _topic_of(self, name: str) -> str:
        if any(r.name == name for r in self.rig.radars):
            return f"/{name}/frames"
        return f"/{name}/color/image_raw"

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except Exception as exc:  # a failing stream must not take the take down
                log.exception("%s failed", name)
                self._errors.append(f"{name}: {exc}")

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- radars ----------------------------------------------------------------------------------
    def _arm_radar(
        self,
        spec: RadarSpec,
        writer: TakeWriter,
        sync: StreamSync,
        live: _StatusLine,
        timeline: PulseTimeline,
        sync_lock: threading.Lock,
        wall_offset_ns: int,
    ) -> tuple[RadarCli, DCA1000Control, DCA1000Receiver]:
        cfg = self.configs[spec.name]
        params = cfg.params(spec.board)
        if spec.capture is None:
            raise DeviceError(spec.name, "raw-ADC recording needs a capture card in the rig")
        ep = self.endpoints.radars.get(spec.name) if self.endpoints is not None else None
        cli_port = ep.cli_port if ep is not None else spec.cli_port
        if not cli_port or cli_port == "auto":
            raise DeviceError(spec.name, "no CLI serial port (set cli_port in the rig file)")
        cli = RadarCli(cli_port, name=spec.name, baudrate=spec.cli_baud)
        cli.open()
        cli.configure(cfg, start=False)
        control = DCA1000Control(
            ep.dca_ip if ep is not None else spec.capture.ip,
            config_port=ep.dca_config_port if ep is not None else spec.capture.config_port,
            host_ip=spec.capture.host_ip,
            host_config_port=0 if ep is not None else spec.capture.config_port,
            name=f"{spec.name}-dca1000",
        )
        control.connect()
        version = control.read_fpga_version()
        control.configure_fpga(lanes=2)
        control.configure_packets()
        frames: queue.Queue[RawFrame | None] = queue.Queue()
        receiver = DCA1000Receiver(
            spec.capture.host_ip,
            ep.host_data_port if ep is not None else spec.capture.data_port,
            bytes_per_frame=params.bytes_per_frame,
            name=f"{spec.name}-dca1000",
            on_frame=frames.put,
        )
        receiver.start()
        control.start_record()
        cli.start()  # armed: the radar now waits for SYNC_IN pulses
        writer.event(
            "radar_armed",
            f"{spec.name} configured ({len(cfg.commands())} commands), capture card FPGA {version}",
            radar=spec.name,
        )
        shape = params.cube_shape
        sample_format = "int16_iq_sdk" if params.complex_samples else "int16_real"

        def write(raw: RawFrame, trigger: int) -> None:
            with sync_lock:
                edge = timeline.edge_of(trigger)
            host_wall = raw.first_rx_wall_ns or 0
            writer.write_radar_frame(
                RadarFrameRecord(
                    radar_id=spec.name,
                    frame_number=raw.index,
                    trigger_index=trigger,
                    stamp_ns=edge + wall_offset_ns if edge is not None else host_wall,
                    device_time_ns=timeline.board_ns_of(trigger),
                    host_time_ns=host_wall,
                    shape=shape,
                    sample_format=sample_format,
                    num_packets=raw.packets,
                    lost_packets=math.ceil(raw.lost_bytes / MAX_PAYLOAD_BYTES),
                    lost_bytes=raw.lost_bytes,
                    valid=raw.valid,
                    data=raw.data,
                )
            )
            live.count(spec.name, len(raw.data), raw.lost_bytes)

        def loop() -> None:
            while True:
                raw = frames.get()
                if raw is None:
                    with sync_lock:
                        decided = sync.flush()
                else:
                    with sync_lock:
                        # A frame whose every packet was lost has no time: its byte-count frame
                        # number still says which pulse it belongs to.
                        decided = sync.push(raw.index, raw.first_rx_mono_ns, raw)
                for frame, trigger in decided:
                    write(frame, trigger)
                if raw is None:
                    return

        self._spawn(f"{spec.name}-writer", loop)
        self._frame_queues[spec.name] = frames
        return cli, control, receiver

    # --- cameras ---------------------------------------------------------------------------------
    def _simulated_world(self) -> Any:
        if self._world is None:
            from acquisition.emulation.sim_world import world_from_rig

            self._world = world_from_rig(self.rig)
        return self._world

    def _local_camera_options(self, spec: CameraSpec) -> dict[str, Any]:
        """A simulated camera exposed by the pulses this process receives from the trigger
        board, rendering the same deterministic world as the emulated radars."""
        from acquisition.cameras.sim import DEFAULT_EXPOSURE_OFFSET_NS

        world = self._simulated_world()
        line = TriggerLine()
        board_us_to_index: dict[int, int] = {}
        self._local_lines.append((line, board_us_to_index))

        def frame_source(device_time_ns: int) -> Any:
            board_us = (device_time_ns - DEFAULT_EXPOSURE_OFFSET_NS) // 1000
            index = board_us_to_index.get(board_us, 0)
            return world.camera_images(spec.name, index)

        faults = self.sim_faults
        return {
            "frame_source": frame_source,
            "trigger_line": line,
            "unplug_after_frames": faults.camera_unplug_after.get(spec.name),
            "drop_probability": faults.camera_drop.get(spec.name, 0.0),
            "seed": faults.seed,
            # Room for a few seconds of frames while this process is busy writing.
            "queue_size": 64,
        }

    def _arm_camera(self, spec: CameraSpec, writer: TakeWriter) -> Camera:
        options = self.camera_options.get(spec.name)
        if options is None and spec.kind == "sim":
            options = self._local_camera_options(spec)
        cam = create_camera(spec, **(options or {}))
        cam.open()
        intr = cam.intrinsics
        writer.add_camera(
            spec.name,
            intrinsics=intr,
            info={"kind": spec.kind, "sync_role": spec.sync_role, "fps": spec.fps},
        )
        writer.write_camera_info(spec.name, intr, time.time_ns())
        cam.start()
        return cam

    def _camera_loop(
        self,
        cam: Camera,
        writer: TakeWriter,
        sync: StreamSync,
        live: _StatusLine,
        timeline: PulseTimeline,
        lock: threading.Lock,
        wall_offset_ns: int,
    ) -> None:
        while True:
            try:
                frame = cam.read(timeout_s=0.2)
            except CameraLost as exc:
                writer.event("device_lost", str(exc), device=cam.name)
                break
            except DeviceError as exc:
                writer.event("device_error", str(exc), device=cam.name)
                continue
            if frame is None:
                # Leave only once the camera's queue is empty: frames already captured are
                # written even when the take is being stopped.
                if cam.state in ("lost", "ended") or self._camera_stop.is_set():
                    break
                continue
            if self._camera_stop.is_set() and frame.host_time_ns > self._camera_stop_ns:
                break  # a free-running camera goes on after the trigger stopped: not this take
            mono = frame.host_time_ns - wall_offset_ns
            with lock:
                decided = sync.push(frame.frame_number, mono, frame)
            for item, trigger in decided:
                self._write_camera_frame(
                    item, trigger, writer, live, timeline, lock, wall_offset_ns
                )
        with lock:
            decided = sync.flush()
        for item, trigger in decided:
            self._write_camera_frame(item, trigger, writer, live, timeline, lock, wall_offset_ns)

    def _write_camera_frame(
        self,
        frame: CameraFrame,
        trigger: int,
        writer: TakeWriter,
        live: _StatusLine,
        timeline: PulseTimeline,
        lock: threading.Lock,
        wall_offset_ns: int,
    ) -> None:
        with lock:
            edge = timeline.edge_of(trigger)
        frame.trigger_index = trigger
        stamp = edge + wall_offset_ns if edge is not None else frame.host_time_ns
        for record in frame.to_records(stamp):
            writer.write_camera_frame(record)
            live.count(frame.camera, int(np.asarray(record.image).nbytes))

    # --- stopping --------------------------------------------------------------------------------
    def _shutdown(
        self,
        board: TriggerBoard,
        radars: dict[str, tuple[RadarCli, DCA1000Control, DCA1000Receiver]],
        cameras: dict[str, Camera],
        writer: TakeWriter,
        live: _StatusLine,
        started: float,
        syncs: dict[str, StreamSync],
        timeline: PulseTimeline,
        pulses: list[int],
    ) -> None:
        try:
            board.stop()
        except DeviceError as exc:
            writer.event("device_error", f"stopping the trigger: {exc}", device="trigger")
        self._wait_for_last_frames(syncs, timeline, pulses)
        for name, (cli, control, receiver) in radars.items():
            for step, action in (("sensorStop", cli.stop), ("record stop", control.stop_record)):
                try:
                    action()
                except DeviceError as exc:
                    writer.event("device_error", f"{name} {step}: {exc}", device=name)
            stats = receiver.stop()
            writer.update(
                radars={
                    **writer.manifest.radars,
                    name: {
                        **writer.manifest.radars.get(name, {}),
                        "capture": _receiver_stats(stats),
                    },
                }
            )
            self._frame_queues[name].put(None)
            cli.close()
            control.close()
        self._camera_stop_ns = time.time_ns()
        self._camera_stop.set()
        for thread in self._threads:
            thread.join(timeout=10.0)
        for name, cam in cameras.items():
            try:
                cam.stop()
                cam.close()
            except DeviceError as exc:
                writer.event("device_error", f"{name} stop: {exc}", device=name)
            counters = cam.counters.as_dict()
            color = writer.manifest.streams.get(f"/{name}/color/image_raw")
            if color is not None:
                color.dropped_frames += counters.get("dropped", 0)
            writer.update(
                cameras={
                    **writer.manifest.cameras,
                    name: {**writer.manifest.cameras.get(name, {}), "counters": counters},
                }
            )
        board.close()

    @staticmethod
    def _wait_for_last_frames(
        syncs: dict[str, StreamSync], timeline: PulseTimeline, pulses: list[int]
    ) -> None:
        """After the trigger stops, give every stream time to deliver the frame of the last
        pulse (a loaded host may take longer than a period); streams that never deliver it
        are counted later as early stops."""
        time.sleep(0.3)  # the frames of the last pulses are still on the wire
        if not pulses:
            return
        last_edge = timeline.edge_of(pulses[-1])
        if last_edge is None:
            return
        deadline = time.monotonic() + _LAST_FRAME_WAIT_S
        while time.monotonic() < deadline:
            if all(s.last_frame_ns >= last_edge for s in syncs.values()):
                return
            time.sleep(0.05)

    @staticmethod
    def _status_text(live: _StatusLine, elapsed: float) -> str:
        with live.lock:
            parts = [f"{elapsed:6.1f} s"]
            for name, n in sorted(live.frames.items()):
                lost = live.lost_bytes.get(name, 0)
                parts.append(
                    f"{name} {n / max(elapsed, 1e-9):5.1f} fps"
                    + (f" lost {lost} B" if lost else "")
                )
            parts.append(f"{live.bytes / max(elapsed, 1e-9) / 1e6:6.1f} MB/s")
        return " | ".join(parts)


def _receiver_stats(stats: Any) -> dict[str, Any]:
    try:
        from dataclasses import asdict

        return {k: v for k, v in asdict(stats).items() if isinstance(v, int | float | str)}
    except TypeError:
        return {"summary": str(stats)}
