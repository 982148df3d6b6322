"""Check a rig: validate its file and probe every device.

Examples::

    acq-rig check sensor_configs/rigs/dual_radar.yaml
    acq-rig check sensor_configs/rigs/dual_radar_sim.yaml      # starts the emulators first
    acq-rig check sensor_configs/rigs/dual_radar.yaml --no-probe   # file and cfgs only

Prints one ``PASS`` / ``FAIL`` line per check (rig file, each radar's .cfg, each radar's CLI
port and firmware, each capture card, the trigger board, each camera) and exits with status 1
when any check failed. Probing does not start the sensors: radars are asked for their version,
capture cards for their FPGA version, the trigger board for its version, cameras are opened and
closed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from acquisition.emulated_rig import EmulatedRigProcess, RadarEndpoints, RigEndpoints
from acquisition.errors import DeviceError
from acquisition.rig import CameraSpec, RadarSpec, RigConfig, RigFileError, load_rig


class _Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, label: str, probe: Callable[[], str]) -> None:
        try:
            detail = probe()
        except (DeviceError, OSError, ValueError, ImportError, RuntimeError) as exc:
            self.failed += 1
            print(f"FAIL  {label}: {exc}")
        else:
            print(f"PASS  {label}" + (f": {detail}" if detail else ""))


def _probe_radar_cli(spec: RadarSpec, port: str | None) -> str:
    from acquisition.radar_cli.driver import RadarCli

    if not port or port == "auto":
        raise ValueError("no CLI port in the rig file")
    with RadarCli(port, name=spec.name, baudrate=spec.cli_baud, timeout_s=2.0) as cli:
        version = cli.query_version()
    summary = ", ".join(f"{k} {v}" for k, v in list(version.items())[:2])
    return f"{port} answers ({summary})" if summary else f"{port} answers"


def _probe_capture_card(spec: RadarSpec, ep: RadarEndpoints | None) -> str:
    from acquisition.dca1000.control import DCA1000Control

    capture = spec.capture
    assert capture is not None
    control = DCA1000Control(
        ep.dca_ip if ep is not None else capture.ip,
        config_port=ep.dca_config_port if ep is not None else capture.config_port,
        host_ip=capture.host_ip,
        host_config_port=0 if ep is not None else capture.config_port,
        name=f"{spec.name}-dca1000",
        timeout_s=1.0,
        retries=1,
    )
    with control:
        control.connect()
        version = control.read_fpga_version()
    return f"{control.board_ip}:{control.config_port} FPGA {version}"


def _probe_trigger(port: str | None, baud: int) -> str:
    from acquisition.trigger.driver import TriggerBoard

    if not port or port == "auto":
        raise ValueError("no trigger port in the rig file")
    with TriggerBoard(port, name="trigger", baudrate=baud) as board:
        version = board.version
    return f"{port} {version}"


def _probe_camera(spec: CameraSpec) -> str:
    from acquisition.cameras.factory import create_camera

    device = create_camera(spec)
    device.open()
    try:
        intr = device.intrinsics
    finally:
        device.close()
    return f"{intr.width}x{intr.height}, depth {'yes' if device.has_depth else 'no'}"


def _probe_devices(rig: RigConfig, endpoints: RigEndpoints | None, report: _Report) -> None:
    for spec in rig.radars:
        ep = endpoints.radars.get(spec.name) if endpoints is not None else None
        cli_port = ep.cli_port if ep is not None else spec.cli_port
        report.check(f"radar {spec.name} CLI", partial(_probe_radar_cli, spec, cli_port))
        if spec.capture is not None:
            report.check(f"radar {spec.name} capture card", partial(_probe_capture_card, spec, ep))
    if rig.trigger is not None:
        port = endpoints.trigger_port if endpoints is not None else rig.trigger.port
        report.check("trigger board", partial(_probe_trigger, port, rig.trigger.baud))
    for cam in rig.cameras:
        if cam.kind == "sim":
            print(f"PASS  camera {cam.name}: simulated (rendered by the recorder)")
        else:
            report.check(f"camera {cam.name} ({cam.kind})", partial(_probe_camera, cam))


def check(rig_path: str, *, probe: bool = True) -> int:
    report = _Report()
    rig: RigConfig | None = None

    def load() -> str:
        nonlocal rig
        rig = load_rig(rig_path)
        return (
            f"{rig.name}: {len(rig.radars)} radars, {len(rig.cameras)} cameras, "
            f"trigger {'yes' if rig.trigger else 'no'}" + (", simulated" if rig.simulated else "")
        )

    try:
        report.check(f"rig file {rig_path}", load)
    except RigFileError as exc:  # pragma: no cover - load() errors are ValueErrors
        print(f"FAIL  rig file: {exc}")
        return 1
    if rig is None:
        return 1
    for spec in rig.radars:
        print(f"PASS  radar {spec.name} cfg {Path(spec.cfg_path).name}: valid for {spec.board}")
    if probe:
        emulated: EmulatedRigProcess | None = None
        endpoints = None
        try:
            if rig.simulated:
                emulated = EmulatedRigProcess(rig_path)
                endpoints = emulated.start()
            _probe_devices(rig, endpoints, report)
        finally:
            if emulated is not None:
                emulated.close()
    print("rig OK" if report.failed == 0 else f"{report.failed} check(s) failed")
    return 1 if report.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acq-rig", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    chk = sub.add_parser("check", help="validate a rig file and probe its devices")
    chk.add_argument("rig")
    chk.add_argument("--no-probe", action="store_true", help="check the file and cfgs only")
    args = parser.parse_args(argv)
    return check(args.rig, probe=not args.no_probe)


if __name__ == "__main__":
    sys.exit(main())
