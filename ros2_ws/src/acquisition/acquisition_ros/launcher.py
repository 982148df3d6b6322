"""Start the rig's node set without ``ros2 launch`` (ROS 2 from PyPI wheels has no launch).

Examples::

    python -m acquisition_ros.launcher sim:=true session:=demo subject:=S01 action:=wave
    python -m acquisition_ros.launcher --rig sensor_configs/rigs/dual_radar_sim.yaml \\
        session:=demo duration:=10 inject_loss:=0.001
    python -m acquisition_ros.launcher --rig sensor_configs/rigs/dual_radar.yaml --print

Exactly the processes ``ros2 launch acquisition dual_radar.launch.py`` starts, from the same
description (:func:`acquisition_ros.nodeset.describe`), each node its own process with its
``config/<node>.yaml`` and the rig-derived overrides as parameter files. Arguments are the launch
arguments (``name:=value``; ``--rig FILE`` is ``rig:=FILE``). Ctrl-C (or ``duration:=S``) sends
SIGINT to every node at once, as ``ros2 launch`` does; the nodes order their own shutdown
(trigger, then sensors, then the recorder closes the take). A node that exits on its own ends the
launch. ``--log-dir DIR`` writes each process's output to ``DIR/<name>.log`` instead of the
terminal. Exit status: 0 when every node exited cleanly, else 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

import yaml

from acquisition_ros.nodeset import LAUNCH_ARGUMENTS, NodeSet, describe, parameters_yaml

SHUTDOWN_TIMEOUT_S = 30.0


def ros_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a node process: this interpreter's ROS prefix (pip wheels: the venv)
    and every package of ``ros2_ws/install``, as ``ros2_ws/scripts/ros_env.sh`` sets them, plus
    the ``acquisition_ros`` source folder (so the nodes run from a source checkout too)."""
    env = dict(os.environ if base is None else base)

    def prepend(var: str, value: Path, *, first: bool = False) -> None:
        parts = [p for p in env.get(var, "").split(os.pathsep) if p]
        if first and str(value) in parts:
            parts.remove(str(value))
        if str(value) not in parts:
            env[var] = os.pathsep.join([str(value), *parts])

    venv = Path(sys.prefix)
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if (venv / "share" / "rclpy").is_dir():  # ROS 2 from PyPI wheels
        prepend("AMENT_PREFIX_PATH", venv)
        site = venv / "lib" / pyver / "site-packages"
        for libs in sorted(site.glob("ros_*.libs")):
            prepend("LD_LIBRARY_PATH", libs)
        prepend("LD_LIBRARY_PATH", venv / "lib")
        env["_ROS_WHEELS_BOOTSTRAP_COMPLETE"] = "1"
    workspace = workspace_root()
    install = workspace / "install" if workspace is not None else None
    if install is not None:
        for prefix in sorted(install.iterdir()):
            if not (prefix / "share" / prefix.name / "package.xml").is_file():
                continue
            prepend("AMENT_PREFIX_PATH", prefix)
            if (prefix / "lib").is_dir():
                prepend("LD_LIBRARY_PATH", prefix / "lib")
            if (prefix / "lib" / pyver / "site-packages").is_dir():
                prepend("PYTHONPATH", prefix / "lib" / pyver / "site-packages")
            develop = install.parent / "build" / prefix.name
            if (develop / "share" / prefix.name / "hook" / "pythonpath_develop.dsv").is_file():
                prepend("PYTHONPATH", develop)  # ament_python built with --symlink-install
    # The nodes run from the same copy of acquisition_ros as this launcher (a source checkout
    # before an older install).
    prepend("PYTHONPATH", Path(__file__).resolve().parents[1], first=True)
    return env


def _shown(default: str) -> str:
    return default if default else "''"


def workspace_root() -> Path | None:
    """The colcon workspace (``ros2_ws``) this module runs from: source tree or install space."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "install").is_dir() and (parent / "src").is_dir():
            return parent
    return None


def parse_arguments(argv: Sequence[str]) -> tuple[dict[str, str], argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m acquisition_ros.launcher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="launch arguments (name:=value):\n"
        + "\n".join(f"  {a.name}:={_shown(a.default)}  {a.description}" for a in LAUNCH_ARGUMENTS),
    )
    parser.add_argument("--rig", help="rig YAML (same as rig:=FILE)")
    parser.add_argument("--log-dir", help="write each process's output to DIR/<name>.log")
    parser.add_argument("--print", action="store_true", help="print the node set and exit")
    parser.add_argument("assignments", nargs="*", metavar="name:=value")
    ns = parser.parse_args(argv)
    values: dict[str, str] = {}
    for item in ns.assignments:
        if ":=" not in item:
            parser.error(f"expected name:=value, got {item!r}")
        key, value = item.split(":=", 1)
        values[key] = value
    if ns.rig:
        values["rig"] = ns.rig
    return values, ns


def node_commands(node_set: NodeSet, params_dir: Path) -> list[tuple[str, list[str]]]:
    """(process name, command line) of every node, parameter files written to ``params_dir``."""
    commands = []
    for spec in node_set.nodes:
        override = params_dir / f"{spec.fqn.strip('/').replace('/', '__')}.yaml"
        override.write_text(yaml.safe_dump(parameters_yaml(spec), sort_keys=False))
        cmd = [
            sys.executable,
            "-m",
            spec.module,
            "--ros-args",
            "-r",
            f"__node:={spec.name}",
            "-r",
            f"__ns:={spec.namespace}",
            "--params-file",
            str(node_set.config_dir / spec.config_file),
            "--params-file",
            str(override),
        ]
        commands.append((spec.fqn.strip("/").replace("/", "_"), cmd))
    return commands


class Launch:
    """The running processes of a node set."""

    def __init__(self, node_set: NodeSet, *, log_dir: str | Path | None = None) -> None:
        self.node_set = node_set
        self.log_dir = Path(log_dir) if log_dir else None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="acquisition_ros-params-")
        self.env = ros_environment()

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out: Any = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "wb")
            self._logs.append(out)
        self.procs[name] = subprocess.Popen(
            cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None
        )

    def start(self) -> None:
        if self.node_set.emulator is not None:
            self._spawn(self.node_set.emulator.name, self.node_set.emulator.cmd)
        for name, cmd in node_commands(self.node_set, Path(self._tmp.name)):
            self._spawn(name, cmd)

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> dict[str, int | None]:
        """SIGINT to every node at once, the emulated devices last; returns exit codes."""
        emulator = self.node_set.emulator.name if self.node_set.emulator else None
        nodes = {n: p for n, p in self.procs.items() if n != emulator}
        for proc in nodes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for proc in nodes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if emulator is not None:
            proc = self.procs[emulator]
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._logs:
            log.close()
        self._tmp.cleanup()
        return {n: p.returncode for n, p in self.procs.items()}


def main(argv: Sequence[str] | None = None) -> int:
    values, ns = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        # --print starts nothing: the endpoints file of a simulated rig is only named.
        runtime = Path(tempfile.gettempdir()) / "acquisition_ros-print" if ns.print else None
        node_set = describe(values, python=sys.executable, runtime_dir=runtime)
    except (KeyError, ValueError, OSError) as exc:
        print(f"launcher: error: {exc}", file=sys.stderr)
        return 2
    if ns.print:
        if node_set.emulator is not None:
            print(f"{node_set.emulator.name}: {' '.join(node_set.emulator.cmd)}")
        for spec in node_set.nodes:
            print(f"{spec.fqn}: {spec.executable} {spec.config_file} {spec.parameters}")
        return 0
    stop = {"requested": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    launch = Launch(node_set, log_dir=ns.log_dir)
    launch.start()
    started = time.monotonic()
    reason = "Ctrl-C"
    while not stop["requested"]:
        if node_set.duration_s > 0 and time.monotonic() - started >= node_set.duration_s:
            reason = f"duration {node_set.duration_s:g} s"
            break
        exited = launch.exited()
        if exited:
            reason = f"process exited: {exited}"
            break
        time.sleep(0.1)
    print(f"launcher: stopping ({reason})", file=sys.stderr, flush=True)
    codes = launch.stop()
    bad = {n: c for n, c in codes.items() if c not in (0, None, -signal.SIGTERM)}
    emulator = node_set.emulator.name if node_set.emulator else None
    bad.pop(emulator or "", None)
    if bad:
        print(f"launcher: unclean exits: {bad}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
