"""The node set of a rig: the one description that ``launch/dual_radar.launch.py`` and
``python -m acquisition_ros.launcher`` both turn into processes (no ROS imports here).

A rig YAML drives it: one radar node per radar (namespace = radar name), one camera node per
camera (namespace = camera name), the trigger node, the recorder node (unless ``record:=false``)
and the static-transform node; for a simulated rig also the emulated devices
(``python -m acquisition.emulated_rig``) as a plain process whose endpoints file every node reads.

Start order is not left to process start-up: the trigger node starts pulsing only when every node
in its ``wait_for`` list has published ``armed`` on its latched ``<node>/state`` topic (radars
configured and waiting for SYNC_IN, cameras streaming, the recorder subscribed to everything).
Shutdown (SIGINT to every process at once, as ``ros2 launch`` does) is ordered the same way: the
trigger stops first, the sensors wait for its ``stopped`` and drain, the recorder closes the take
once every sensor reported ``stopped``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PACKAGE = "acquisition"
STATE_TOPIC = "state"  # relative to the node: <node fqn>/state (std_msgs/String, latched)


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str


#: The launch arguments, shared by the launch file and the launcher (``name:=value``).
LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument(
        "rig",
        "",
        "Rig YAML; '' = sensor_configs/rigs/dual_radar.yaml (dual_radar_sim.yaml with sim:=true) "
        "of the toolkit checkout.",
    ),
    LaunchArgument(
        "sim",
        "auto",
        "true: run the emulated rig (the rig file must be a simulated one); auto: as the rig "
        "file says.",
    ),
    LaunchArgument("session", "", "Session folder; '' = today's date (YYYY-MM-DD)."),
    LaunchArgument("subject", "S00", "Subject pseudonym."),
    LaunchArgument("action", "unlabelled", "Action label."),
    LaunchArgument("take", "", "Take folder; '' = <subject>_<action>_<time>."),
    LaunchArgument("sessions_root", "", "Recording root; '' = the rig file's."),
    LaunchArgument("record", "true", "Start the recorder node."),
    LaunchArgument("previews", "false", "Radar previews: range-Doppler image and CFAR points."),
    LaunchArgument("duration", "0", "Seconds until an orderly shutdown; 0 = until Ctrl-C."),
    LaunchArgument(
        "inject_loss", "0.0", "Simulated rig: DCA1000 packet-loss probability (fault injection)."
    ),
    LaunchArgument("config_dir", "", "Folder of the per-node YAMLs; '' = the package's config/."),
)


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class NodeSpec:
    """One ROS node: ``kind`` names the executable ``<kind>_node``, the module
    ``acquisition_ros.<kind>_node`` and the parameter file ``config/<kind>.yaml``."""

    kind: str
    name: str
    namespace: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def fqn(self) -> str:
        return f"{self.namespace.rstrip('/')}/{self.name}"

    @property
    def executable(self) -> str:
        return f"{self.kind}_node"

    @property
    def module(self) -> str:
        return f"acquisition_ros.{self.kind}_node"

    @property
    def config_file(self) -> str:
        return f"{self.kind}.yaml"


@dataclass(frozen=True)
class ProcessSpec:
    """A plain (non-ROS) process; ``cmd[0]`` is the Python interpreter."""

    name: str
    cmd: list[str]


@dataclass(frozen=True)
class NodeSet:
    rig_file: str
    simulated: bool
    config_dir: Path
    nodes: list[NodeSpec]
    emulator: ProcessSpec | None
    endpoints_file: str
    duration_s: float

    def node(self, fqn: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.fqn == fqn:
                return spec
        raise KeyError(fqn)


def toolkit_root() -> Path | None:
    """Root of the toolkit checkout (where sensor_configs/ is), if the toolkit runs from one."""
    try:
        import acquisition
    except ImportError:
        return None
    root = Path(acquisition.__file__).resolve().parents[1]
    return root if (root / "sensor_configs").is_dir() else None


def default_config_dir() -> Path:
    """The package's ``config/``: installed share folder, else the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory(PACKAGE)) / "config"
        if share.is_dir():
            return share
    except Exception:  # not installed through colcon (source tree, pip install -e)
        pass
    return Path(__file__).resolve().parents[1] / "config"


def resolve_arguments(values: dict[str, str]) -> dict[str, str]:
    """Launch argument values with defaults filled in; unknown names raise ``KeyError``."""
    known = {a.name: a.default for a in LAUNCH_ARGUMENTS}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise KeyError(f"unknown launch argument(s) {unknown}; known: {sorted(known)}")
    return {**known, **values}


def describe(
    arguments: dict[str, str],
    *,
    runtime_dir: str | Path | None = None,
    python: str = "python3",
) -> NodeSet:
    """The node set for launch argument values (strings, as launch gives them).

    Args:
        arguments: launch argument values (see :data:`LAUNCH_ARGUMENTS`; missing = default).
        runtime_dir: folder for the emulated rig's endpoints file (default: a new temp folder).
        python: interpreter of the emulator process.
    """
    from acquisition.rig import load_rig

    args = resolve_arguments(arguments)
    sim_arg = args["sim"].strip().lower()
    rig_file = args["rig"]
    if not rig_file:
        root = toolkit_root()
        if root is None:
            raise ValueError("rig:=... is required (no toolkit checkout with sensor_configs/)")
        name = "dual_radar_sim.yaml" if sim_arg in ("true", "1") else "dual_radar.yaml"
        rig_file = str(root / "sensor_configs" / "rigs" / name)
    rig_file = str(Path(rig_file).expanduser().resolve())
    rig = load_rig(rig_file)
    simulated = rig.simulated if sim_arg == "auto" else _bool(sim_arg)
    if simulated and not rig.simulated:
        raise ValueError(
            f"sim:=true but {rig_file} is a hardware rig; use its simulated twin "
            "(e.g. sensor_configs/rigs/dual_radar_sim.yaml)"
        )
    if rig.simulated and not simulated:
        raise ValueError(f"{rig_file} is a simulated rig: it needs sim:=true (or sim:=auto)")
    if rig.trigger is None:
        raise ValueError(f"{rig_file}: the ROS node set needs a trigger board in the rig")
    config_dir = Path(args["config_dir"]) if args["config_dir"] else default_config_dir()
    record = _bool(args["record"])
    previews = _bool(args["previews"])

    endpoints_file = ""
    emulator: ProcessSpec | None = None
    if simulated:
        run_dir = Path(runtime_dir or tempfile.mkdtemp(prefix="acquisition_ros-"))
        run_dir.mkdir(parents=True, exist_ok=True)
        endpoints_file = str(run_dir / "endpoints.json")
        faults = {"packet_loss": float(args["inject_loss"])}
        emulator = ProcessSpec(
            "emulated_rig",
            [
                python,
                "-m",
                "acquisition.emulated_rig",
                rig_file,
                "--endpoints",
                endpoints_file,
                "--faults",
                json.dumps(faults),
            ],
        )
    common = {"rig_file": rig_file, "endpoints_file": endpoints_file}

    sensors: list[NodeSpec] = []
    for radar in rig.radars:
        sensors.append(
            NodeSpec(
                "radar",
                "radar",
                f"/{radar.name}",
                {
                    **common,
                    "radar_name": radar.name,
                    "previews.enable": previews,
                    # Emulated devices never skip a pulse once started; their timing is the
                    # host's load (see acquisition_ros.sync_stream.CausalCounterAligner).
                    "sync.resync": not simulated,
                },
            )
        )
    for camera in rig.cameras:
        sensors.append(
            NodeSpec(
                "camera",
                "camera",
                f"/{camera.name}",
                {**common, "camera_name": camera.name, "sync.resync": not simulated},
            )
        )
    recorder: NodeSpec | None = None
    trigger_name = NodeSpec("trigger", "trigger", "/").fqn
    if record:
        recorder = NodeSpec(
            "recorder",
            "recorder",
            "/",
            {
                **common,
                "session": args["session"] or datetime.now().strftime("%Y-%m-%d"),
                "subject": args["subject"],
                "action": args["action"],
                "take": args["take"],
                "sessions_root": args["sessions_root"],
                "wait_for": [trigger_name, *(s.fqn for s in sensors)],
            },
        )
    armed_by = [s.fqn for s in sensors] + ([recorder.fqn] if recorder else [])
    trigger = NodeSpec("trigger", "trigger", "/", {**common, "wait_for": armed_by or [""]})
    rig_tf = NodeSpec("rig_tf", "rig_tf", "/", {"rig_file": rig_file})
    nodes = [*sensors, *([recorder] if recorder else []), trigger, rig_tf]
    return NodeSet(
        rig_file=rig_file,
        simulated=simulated,
        config_dir=config_dir,
        nodes=nodes,
        emulator=emulator,
        endpoints_file=endpoints_file,
        duration_s=float(args["duration"]),
    )


def parameters_yaml(spec: NodeSpec) -> dict[str, Any]:
    """``spec.parameters`` as a ``--params-file`` document for that node."""
    nested: dict[str, Any] = {}
    for name, value in spec.parameters.items():
        *parents, leaf = name.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return {spec.fqn: {"ros__parameters": nested}}
