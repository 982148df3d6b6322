"""Record a synchronised take from a rig (real or simulated).

Examples::

    acq-record --rig sensor_configs/rigs/dual_radar_sim.yaml --session 2024-05 \\
        --subject S01 --action wave --duration 60
    acq-record --rig sensor_configs/rigs/dual_radar.yaml --session 2024-05 --subject S02 \\
        --action squat --duration 30 --sessions-root /data/radar_sessions
    acq-record --rig sensor_configs/rigs/dual_radar_sim.yaml --session test --subject S01 \\
        --action wave --duration 10 --inject-loss 0.01      # emulated packet loss

A simulated rig (``simulated: true``) starts its emulators in a child process: the drivers talk
to them over pseudo terminals and loopback UDP exactly as to hardware. The take is written to
``<sessions-root>/<session>/<take>/`` (take name: ``<subject>_<action>_<time>`` unless given).
A status line shows frames per second per stream, lost bytes and MB/s; Ctrl-C stops the take
cleanly and keeps everything recorded. Exit status 0 when the take is complete, 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

from acquisition.emulated_rig import EmulatedRigProcess, FaultPlan, RigEndpoints
from acquisition.errors import DeviceError
from acquisition.recorder import Recorder, TakeInfo
from acquisition.recording.manifest import TakeManifest
from acquisition.recording.writer import RecordingError
from acquisition.rig import RigFileError, load_rig


def _status_printer() -> tuple[Callable[[str], None], Callable[[], None]]:
    tty = sys.stderr.isatty()

    def show(text: str) -> None:
        if tty:
            sys.stderr.write("\r\033[K" + text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done() -> None:
        if tty:
            sys.stderr.write("\n")

    return show, done


def summary_text(manifest: TakeManifest, directory: Path, status: str | None = None) -> str:
    """Printable summary of a take (``status`` overrides the manifest's, e.g. interrupted)."""
    lines = [f"take {manifest.session}/{manifest.take}: {status or manifest.status} -> {directory}"]
    lines.append(
        f"  duration {manifest.duration_s or 0:.1f} s, pulses {manifest.sync.get('pulses')}"
    )
    for topic, s in sorted(manifest.streams.items()):
        if s.kind == "camera_info":
            continue
        parts = [f"{s.frames} frames"]
        if s.invalid_frames:
            parts.append(f"{s.invalid_frames} incomplete")
        if s.lost_packets or s.lost_bytes:
            parts.append(f"{s.lost_packets} packets / {s.lost_bytes} bytes lost")
        if s.dropped_frames:
            parts.append(f"{s.dropped_frames} dropped")
        lines.append(f"  {topic:<28} " + ", ".join(parts))
    for name, st in manifest.sync.get("streams", {}).items():
        issues = [
            f"{k.replace('_', ' ')} {v}"
            for k, v in st.items()
            if k in ("missed_pulses", "late_start_pulses", "early_stop_pulses", "extra_frames")
            and v
        ]
        if issues:
            lines.append(f"  sync {name}: " + ", ".join(issues))
    for event in manifest.events:
        if event["kind"] in ("device_lost", "device_error", "stream_error", "write_error"):
            lines.append(f"  ! {event['message']}")
    return "\n".join(lines)


def record_take(
    rig_path: str | Path,
    info: TakeInfo,
    duration_s: float,
    *,
    sessions_root: str | Path | None = None,
    faults: FaultPlan | None = None,
    quiet: bool = False,
) -> tuple[TakeManifest, Path]:
    """Record one take; a simulated rig's emulators run in a child process meanwhile."""
    rig = load_rig(rig_path)
    show, done = _status_printer()
    emulated: EmulatedRigProcess | None = None
    endpoints: RigEndpoints | None = None
    if rig.simulated:
        emulated = EmulatedRigProcess(rig_path, faults=faults)
        endpoints = emulated.start()
    try:
        recorder = Recorder(
            rig,
            endpoints=endpoints,
            sessions_root=sessions_root,
            status=None if quiet else show,
            sim_faults=faults,
        )
        previous = signal.getsignal(signal.SIGINT)

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            recorder.stop()

        signal.signal(signal.SIGINT, on_sigint)
        try:
            manifest = recorder.record(info, duration_s)
        finally:
            signal.signal(signal.SIGINT, previous)
            if not quiet:
                done()
    finally:
        if emulated is not None:
            emulated.close()
    return manifest, recorder.sessions_root / info.session / info.take


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acq-record", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rig", required=True, help="rig YAML file")
    parser.add_argument("--session", required=True, help="session name, e.g. 2024-05")
    parser.add_argument("--subject", required=True, help="subject pseudonym, e.g. S01")
    parser.add_argument("--action", required=True, help="action label, e.g. wave")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--take", help="take folder name (default <subject>_<action>_<time>)")
    parser.add_argument("--sessions-root", help="overrides the rig file's recording root")
    parser.add_argument("--scene", help="scene label (room, layout)")
    parser.add_argument("--consent-ref", help="reference of the subject's consent form")
    parser.add_argument(
        "--inject-loss", type=float, default=0.0, help="simulated rigs: packet loss probability"
    )
    parser.add_argument("--quiet", action="store_true", help="no status line")
    parser.add_argument("-v", "--verbose", action="store_true", help="log driver details")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    take = args.take or f"{args.subject}_{args.action}_{datetime.now():%Y%m%dT%H%M%S}"
    info = TakeInfo(
        session=args.session,
        take=take,
        subject=args.subject,
        action=args.action,
        scene=args.scene,
        consent_ref=args.consent_ref,
    )
    started = time.monotonic()
    try:
        manifest, directory = record_take(
            args.rig,
            info,
            args.duration,
            sessions_root=args.sessions_root,
            faults=FaultPlan(packet_loss=args.inject_loss) if args.inject_loss else None,
            quiet=args.quiet,
        )
    except (RigFileError, RecordingError, DeviceError, OSError, ValueError) as exc:
        print(f"acq-record: error: {exc}", file=sys.stderr)
        return 1
    print(summary_text(manifest, directory))
    print(f"  wall time {time.monotonic() - started:.1f} s")
    return 0 if manifest.status == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
