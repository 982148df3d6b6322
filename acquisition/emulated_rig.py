"""Start every emulator a simulated rig file describes, wired like the real hardware.

The physical chain of the HuPR rig is reproduced: the trigger board's pulses go to every radar's
SYNC_IN and every camera's trigger input (a :class:`TriggerLine`); a radar that is running with a
hardware-triggered configuration starts a frame on each pulse; its DCA1000 streams that frame over
UDP only while recording. The frame content comes from :class:`SimulatedWorld` for the pulse that
started it, so both radars and the camera see the same instant.

Drivers then talk to the emulators exactly as to hardware: serial ports are pseudo terminals
(``/dev/pts/N``), the capture cards are UDP sockets on 127.0.0.1. :meth:`EmulatedRig.endpoints`
gives the concrete ports to use instead of the rig file's ``auto`` / 0 placeholders.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from acquisition.dca1000.emulator import DCA1000Emulator, FaultConfig
from acquisition.emulation.sim_world import SimulatedWorld, world_from_rig
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.radar.config import load_radar_config
from acquisition.radar_cli.emulator import FrameEvent, RadarCliEmulator
from acquisition.rig import RigConfig
from acquisition.trigger.emulator import TriggerBoardEmulator


@dataclass
class RadarEndpoints:
    """Where the drivers of one emulated radar connect."""

    cli_port: str
    dca_ip: str
    dca_config_port: int
    host_ip: str
    host_data_port: int


@dataclass
class RigEndpoints:
    """Concrete addresses of an emulated rig's devices."""

    trigger_port: str | None
    radars: dict[str, RadarEndpoints] = field(default_factory=dict)


@dataclass
class FaultPlan:
    """Faults to inject into an emulated rig (all off by default).

    Attributes:
        packet_loss: probability that a DCA1000 data packet is lost.
        reorder: probability that a packet is delayed behind the next one.
        duplicate: probability that a packet is sent twice.
        radar_late_start_pulses: radar name -> pulses it ignores after starting (late start).
        radar_error_on: radar name -> CLI command answered with ``Error -1``.
        camera_unplug_after: camera name -> frames after which it disappears.
        camera_drop: camera name -> probability of a frame lost inside the camera.
        trigger_report_drop: probability that the trigger board's report of a pulse is lost.
        seed: seed of every random fault.
    """

    packet_loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    radar_late_start_pulses: dict[str, int] = field(default_factory=dict)
    radar_error_on: dict[str, str] = field(default_factory=dict)
    camera_unplug_after: dict[str, int] = field(default_factory=dict)
    camera_drop: dict[str, float] = field(default_factory=dict)
    trigger_report_drop: float = 0.0
    seed: int = 0


def _free_udp_port(host: str) -> int:
    # The capture card sends to a fixed host port (its EEPROM setting); pick a free one and hand
    # the same number to the emulator and the receiver.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _RadarChain:
    """Radar CLI emulator -> (frame started) -> DCA1000 emulator, for one radar."""

    def __init__(
        self,
        name: str,
        rig_line: TriggerLine,
        world: SimulatedWorld,
        *,
        bytes_per_frame: int,
        host_ip: str,
        faults: FaultPlan,
        index: int,
    ) -> None:
        self.name = name
        self.world = world
        self._pending: collections.deque[int] = collections.deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-sim")
        self._prefetch_lock = threading.Lock()
        self._prefetched: dict[int, Future[bytes]] = {}
        self._ignore = faults.radar_late_start_pulses.get(name, 0)
        self.frames_skipped = 0
        self.radar_line = TriggerLine()  # frames the radar started, as seen by its capture card
        fail = faults.radar_error_on.get(name)
        self.cli = RadarCliEmulator(
            name=f"{name}-cli",
            trigger_line=rig_line,
            on_frame=self._on_frame,
            fail_on={fail: "Error in setting up profile"} if fail else None,
        )
        self.host_data_port = _free_udp_port(host_ip)
        fault_config = FaultConfig(
            loss_probability=faults.packet_loss,
            reorder_probability=faults.reorder,
            duplicate_probability=faults.duplicate,
            seed=faults.seed + 101 * index,
        )
        self.dca = DCA1000Emulator(
            data_dest=(host_ip, self.host_data_port),
            bytes_per_frame=bytes_per_frame,
            frame_source=self._frame_bytes,
            trigger_line=self.radar_line,
            faults=fault_config,
            name=f"{name}-dca1000",
        )

    def _on_frame(self, event: FrameEvent) -> None:
        if event.pulse is None:
            return
        if self._ignore > 0:  # injected late start: the radar misses its first pulses
            self._ignore -= 1
            self.frames_skipped += 1
            return
        if self.dca.recording:
            self._pending.append(event.pulse.index)
        self.radar_line.fire(event.pulse)

    def _frame_bytes(self, frame_index: int) -> bytes:
        pulse = self._pending.popleft()
        with self._prefetch_lock:
            ready = self._prefetched.pop(pulse, None)
        data = ready.result() if ready is not None else self.world.radar_bytes(self.name, pulse)
        # A real radar streams its frame as it chirps; the simulation of the next pulse's frame
        # is started now so that it is ready when that pulse comes.
        with self._prefetch_lock:
            self._prefetched.clear()
            self._prefetched[pulse + 1] = self._executor.submit(
                self.world.radar_bytes, self.name, pulse + 1
            )
        return data

    def start(self) -> None:
        self.cli.start()
        self.dca.start()

    def close(self) -> None:
        self.dca.close()
        self.cli.close()
        self._executor.shutdown(wait=True, cancel_futures=True)


class EmulatedRig:
    """All emulators of a simulated rig; use as a context manager.

    Example::

        rig = load_rig("sensor_configs/rigs/dual_radar_sim.yaml")
        with EmulatedRig(rig) as emulated:
            endpoints = emulated.endpoints      # pseudo terminals and loopback ports
            ...                                  # drive it with the real drivers
    """

    def __init__(self, rig: RigConfig, *, faults: FaultPlan | None = None) -> None:
        if not rig.simulated:
            raise ValueError(f"{rig.source}: rig {rig.name!r} is not a simulated rig")
        self.rig = rig
        self.faults = faults or FaultPlan()
        self.line = TriggerLine()
        self.world = world_from_rig(rig)
        self.trigger = (
            TriggerBoardEmulator(line=self.line, name="trigger-emulator", seed=self.faults.seed)
            if rig.trigger is not None
            else None
        )
        if self.trigger is not None:
            self.trigger.drop_reports = self.faults.trigger_report_drop
        self.radars: dict[str, _RadarChain] = {}
        for i, spec in enumerate(rig.radars):
            if spec.output != "raw_adc" or spec.capture is None:
                raise ValueError(
                    f"{rig.source}: emulated radar {spec.name!r}: only raw_adc radars with a "
                    "capture card are emulated"
                )
            params = load_radar_config(spec.cfg_path).params(spec.board)
            self.radars[spec.name] = _RadarChain(
                spec.name,
                self.line,
                self.world,
                bytes_per_frame=params.bytes_per_frame,
                host_ip=spec.capture.host_ip,
                faults=self.faults,
                index=i,
            )
        self._pulse_lock = threading.Lock()
        self._board_us_to_index: dict[int, int] = {}
        self.line.subscribe(self._remember_pulse)
        self._started = False

    def _remember_pulse(self, pulse: TriggerPulse) -> None:
        with self._pulse_lock:
            self._board_us_to_index[pulse.board_time_us] = pulse.index

    def pulse_index_at(self, board_time_us: int) -> int | None:
        """Index of the pulse fired at a board time (for emulated cameras)."""
        with self._pulse_lock:
            return self._board_us_to_index.get(board_time_us)

    @property
    def endpoints(self) -> RigEndpoints:
        out = RigEndpoints(self.trigger.port_path if self.trigger is not None else None)
        for spec in self.rig.radars:
            chain = self.radars[spec.name]
            assert spec.capture is not None
            out.radars[spec.name] = RadarEndpoints(
                cli_port=chain.cli.port_path,
                dca_ip=chain.dca.host,
                dca_config_port=chain.dca.config_port,
                host_ip=spec.capture.host_ip,
                host_data_port=chain.host_data_port,
            )
        return out

    def camera_options(self, name: str) -> dict[str, Any]:
        """Keyword arguments that make ``create_camera(spec, ...)`` a simulated camera of this
        world, triggered by this rig's trigger line."""
        from acquisition.cameras.sim import DEFAULT_EXPOSURE_OFFSET_NS

        def frame_source(device_time_ns: int) -> Any:
            board_us = (device_time_ns - DEFAULT_EXPOSURE_OFFSET_NS) // 1000
            index = self.pulse_index_at(board_us)
            if index is None:  # free-running camera: nearest instant by time
                index = max(0, round(device_time_ns / 1e9 * self.world.fps))
            return self.world.camera_images(name, index)

        return {
            "frame_source": frame_source,
            "trigger_line": self.line,
            "unplug_after_frames": self.faults.camera_unplug_after.get(name),
            "drop_probability": self.faults.camera_drop.get(name, 0.0),
            "seed": self.faults.seed,
        }

    def start(self) -> EmulatedRig:
        if not self._started:
            if self.trigger is not None:
                self.trigger.start()
            for chain in self.radars.values():
                chain.start()
            self._started = True
        return self

    def close(self) -> None:
        if self.trigger is not None:
            self.trigger.close()
        for chain in self.radars.values():
            chain.close()
        self._started = False

    def __enter__(self) -> EmulatedRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def injected(self) -> dict[str, Any]:
        """What the emulators did, per radar, to compare with what the recorder counted
        (JSON-ready: per-frame dicts are keyed by frame number as text)."""
        out: dict[str, Any] = {}
        for name, chain in self.radars.items():
            stats = asdict(chain.dca.stats)
            stats["dropped_bytes_per_frame"] = {
                str(k): v for k, v in stats["dropped_bytes_per_frame"].items()
            }
            out[name] = {"dca": stats, "frames_skipped_late_start": chain.frames_skipped}
        return out


# --- running the emulated rig in its own process ------------------------------------------------
def endpoints_to_dict(endpoints: RigEndpoints) -> dict[str, Any]:
    return {
        "trigger_port": endpoints.trigger_port,
        "radars": {name: vars(ep) for name, ep in endpoints.radars.items()},
    }


def endpoints_from_dict(d: dict[str, Any]) -> RigEndpoints:
    return RigEndpoints(
        d["trigger_port"], {name: RadarEndpoints(**ep) for name, ep in d["radars"].items()}
    )


def _raise_priority() -> None:
    """Run the emulated hardware ahead of everything else when allowed (real devices do not
    slow down when the host is busy); a no-op without the privilege."""
    try:
        os.nice(-10)
    except OSError:
        pass


class EmulatedRigProcess:
    """The emulated rig in a child process: its own interpreter, as separate as real hardware.

    Cameras are not wire-protocol devices, so simulated cameras run in the recording process
    (see :meth:`Recorder`); everything with a wire (trigger board, radar CLIs, capture cards)
    runs here.
    """

    def __init__(self, rig_path: str | Path, *, faults: FaultPlan | None = None) -> None:
        self.rig_path = Path(rig_path)
        self.faults = faults or FaultPlan()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.endpoints: RigEndpoints | None = None
        #: after ``close``: what the emulators injected (see :meth:`EmulatedRig.injected`).
        self.injected: dict[str, Any] = {}

    def start(self, timeout_s: float = 60.0) -> RigEndpoints:
        self._dir = tempfile.TemporaryDirectory(prefix="emulated-rig-")
        out = Path(self._dir.name) / "endpoints.json"
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "acquisition.emulated_rig",
                str(self.rig_path),
                "--endpoints",
                str(out),
                "--faults",
                json.dumps(asdict(self.faults)),
            ],
            stdin=subprocess.PIPE,
            preexec_fn=_raise_priority,
        )
        deadline = time.monotonic() + timeout_s
        while not out.exists():
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"emulated rig process exited with status {self._proc.returncode}"
                )
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError("emulated rig process did not publish its endpoints")
            time.sleep(0.05)
        self.endpoints = endpoints_from_dict(json.loads(out.read_text()))
        return self.endpoints

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._dir is not None:
            report = Path(self._dir.name) / "injected.json"
            if report.is_file():
                self.injected = json.loads(report.read_text())
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> EmulatedRigProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Serve an emulated rig until terminated: ``python -m acquisition.emulated_rig RIG.yaml``.

    Prints the pseudo terminals and UDP ports to connect to (and writes them as JSON with
    ``--endpoints FILE``).
    """
    import argparse
    import signal

    from acquisition.rig import load_rig

    parser = argparse.ArgumentParser(prog="python -m acquisition.emulated_rig")
    parser.add_argument("rig")
    parser.add_argument("--endpoints", help="write the endpoints as JSON to this file")
    parser.add_argument("--faults", default="{}", help="FaultPlan fields as JSON")
    args = parser.parse_args(argv)
    rig = load_rig(args.rig)
    faults = FaultPlan(**json.loads(args.faults))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with EmulatedRig(rig, faults=faults) as emulated:
        data = json.dumps(endpoints_to_dict(emulated.endpoints), indent=2)
        if args.endpoints:
            tmp = Path(args.endpoints).with_suffix(".tmp")
            tmp.write_text(data)
            os.replace(tmp, args.endpoints)
        else:
            print(data, flush=True)
        while not stop.wait(0.2):
            pass
        if args.endpoints:
            report = Path(args.endpoints).with_name("injected.json")
            report.write_text(json.dumps(emulated.injected()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
