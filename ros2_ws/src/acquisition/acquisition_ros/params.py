"""Every node's parameters: name, default and description, in one place (no ROS imports).

Nodes declare exactly these (``ros_io.declare``); ``config/<node>.yaml`` lists the same names
with the same defaults (checked by ``tests/ros2/test_ros_nodes_plain.py``); the launch file and
the launcher override the rig-specific ones from the rig YAML (:mod:`acquisition_ros.nodeset`).
Dotted names are ROS parameter namespaces (``previews.enable`` is ``previews: {enable: ...}`` in
YAML).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str


_COMMON = (
    ParamSpec("rig_file", "", "Rig YAML (sensor_configs/rigs/*.yaml); required."),
    ParamSpec(
        "endpoints_file",
        "",
        "Simulated rig only: JSON written by `python -m acquisition.emulated_rig --endpoints` "
        "with the emulators' pseudo terminals and UDP ports ('' = use the rig file's ports).",
    ),
    ParamSpec(
        "endpoints_timeout_s", 60.0, "Seconds to wait for endpoints_file to appear before failing."
    ),
    ParamSpec("diagnostics_period_s", 1.0, "Period of /diagnostics (DiagnosticArray), seconds."),
)

_SENSOR_SHUTDOWN = (
    ParamSpec("pulses_topic", "/trigger/pulses", "TriggerPulse topic of the trigger node."),
    ParamSpec(
        "trigger_state_topic",
        "/trigger/state",
        "Latched state topic of the trigger node; on shutdown the sensor waits for 'stopped' "
        "there before stopping its device, so the last triggered frames are still delivered.",
    ),
    ParamSpec(
        "shutdown.trigger_wait_s",
        3.0,
        "On shutdown: at most this long to wait for the trigger to report 'stopped'.",
    ),
    ParamSpec(
        "shutdown.drain_s",
        0.3,
        "On shutdown: seconds to keep receiving after the trigger stopped (frames in flight).",
    ),
    ParamSpec(
        "sync.wait_for_pulse_s",
        1.0,
        "Longest wait for the trigger pulse of a frame before deciding its index without it.",
    ),
    ParamSpec(
        "sync.warmup_frames", 10, "Frames voting for the first frame-counter -> pulse offset."
    ),
    ParamSpec(
        "sync.confirm_frames",
        3,
        "A skipped pulse is accepted when this many following frames confirm it (frames are "
        "published this many frames late).",
    ),
    ParamSpec(
        "sync.resync",
        True,
        "Accept pulse skips detected from timing; false trusts the device frame counter after "
        "the warm-up (set for emulated rigs, whose timing follows the host's load).",
    ),
)

RADAR = (
    *_COMMON,
    ParamSpec("radar_name", "", "Name of the radar in the rig file; '' = the node's namespace."),
    ParamSpec("frame_id", "", "TF frame of the radar's TI frame; '' = the radar name."),
    *_SENSOR_SHUTDOWN,
    ParamSpec("frames_qos_depth", 50, "Publisher history depth of the raw frame topic."),
    ParamSpec("previews.enable", False, "Publish range-Doppler images and CFAR point clouds."),
    ParamSpec("previews.every_n_frames", 1, "Compute previews for one frame in N (CPU budget)."),
    ParamSpec("previews.rd_image", True, "Publish range_doppler/image (mono8, dB scaled)."),
    ParamSpec("previews.rd_dynamic_range_db", 60.0, "dB below the peak mapped to black."),
    ParamSpec("previews.points", True, "Publish points (PointCloud2, CFAR detections)."),
    ParamSpec("previews.cfar_pfa", 1e-5, "Design false-alarm probability of the CFAR."),
    ParamSpec("previews.remove_clutter", True, "Subtract the loop mean (static objects)."),
)

TRIGGER = (
    *_COMMON,
    ParamSpec("port", "", "Serial port of the trigger board; '' = the rig file's (or emulator's)."),
    ParamSpec(
        "wait_for",
        [""],
        "Fully qualified names of the nodes that must publish 'armed' on <node>/state before "
        "the trigger starts (radars, cameras, recorder); [''] = start at once.",
    ),
    ParamSpec(
        "armed_timeout_s",
        120.0,
        "Give up (node exits with an error) when they are not all armed after this many seconds.",
    ),
    ParamSpec("start_settle_s", 0.5, "Seconds between the last 'armed' and the trigger start."),
)

CAMERA = (
    *_COMMON,
    ParamSpec("camera_name", "", "Name of the camera in the rig file; '' = the node's namespace."),
    *_SENSOR_SHUTDOWN,
    ParamSpec(
        "sim.fire_from_pulses",
        True,
        "Simulated camera: expose one frame per TriggerPulse message (the trigger wire of the "
        "emulated rig, which runs in another process).",
    ),
    ParamSpec("read_timeout_s", 0.2, "Timeout of one camera read, seconds."),
    ParamSpec("images_qos_depth", 30, "Publisher history depth of the image topics."),
)

RECORDER = (
    *_COMMON,
    ParamSpec("session", "", "Session folder name, e.g. 2024-05; required."),
    ParamSpec("subject", "", "Subject pseudonym, e.g. S01."),
    ParamSpec("action", "", "Action label, e.g. wave."),
    ParamSpec("take", "", "Take folder name; '' = <subject>_<action>_<local time>."),
    ParamSpec("scene", "", "Scene label (room, layout); '' = none."),
    ParamSpec("consent_ref", "", "Reference of the subject's consent form; '' = none."),
    ParamSpec("sessions_root", "", "Root of the sessions; '' = the rig file's recording root."),
    ParamSpec(
        "wait_for",
        [""],
        "Fully qualified names of the sensor and trigger nodes; on shutdown the take is closed "
        "once all of them published 'stopped' (or after shutdown.timeout_s).",
    ),
    ParamSpec("status_period_s", 1.0, "Period of /recorder/status (RecorderStatus), seconds."),
    ParamSpec("shutdown.timeout_s", 10.0, "Longest wait for the sensors to stop on shutdown."),
    ParamSpec("shutdown.drain_s", 0.3, "Seconds to keep receiving after every sensor stopped."),
    ParamSpec("flush_interval_s", 1.0, "The take's MCAP chunks are flushed at least this often."),
    ParamSpec("frames_qos_depth", 50, "Subscription history depth of the raw frame topics."),
    ParamSpec("images_qos_depth", 30, "Subscription history depth of the camera topics."),
    ParamSpec("ground_truth", True, "Simulated rig: write the simulator's per-pulse ground truth."),
)

RIG_TF = (
    ParamSpec("rig_file", "", "Rig YAML (sensor_configs/rigs/*.yaml); required."),
    ParamSpec("rig_frame", "rig", "Parent frame of every sensor (the rig frame, REP-103)."),
)

NODE_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "radar": RADAR,
    "trigger": TRIGGER,
    "camera": CAMERA,
    "recorder": RECORDER,
    "rig_tf": RIG_TF,
}


def nested_defaults(specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """The defaults as the nested mapping a ``ros__parameters`` YAML block holds."""
    out: dict[str, Any] = {}
    for spec in specs:
        *parents, leaf = spec.name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = spec.default
    return out


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


_HEADERS = {
    "radar": "Radar node (one per board, namespace = radar name): radar_node.py",
    "trigger": "Trigger node: acquisition_ros/trigger_node.py",
    "camera": "Camera node (one per camera, namespace = camera name): camera_node.py",
    "recorder": "Recorder node: acquisition_ros/recorder_node.py",
    "rig_tf": "Static transforms of the rig: acquisition_ros/rig_tf_node.py",
}


def render_yaml(kind: str) -> str:
    """``config/<kind>.yaml``: every parameter with its default and description (generated:
    ``python -m acquisition_ros.params`` rewrites the files)."""
    import textwrap

    import yaml

    specs = NODE_PARAMS[kind]
    descriptions = {s.name: s.description for s in specs}
    lines = [
        f"# {_HEADERS[kind]}",
        "# Every parameter with its default (generated from acquisition_ros/params.py by",
        "# `python -m acquisition_ros.params`). The launch file and the launcher override the",
        "# rig-specific ones (rig_file, endpoints_file, names, wait_for) from the rig YAML.",
        "/**:",
        "  ros__parameters:",
    ]

    def emit(mapping: dict[str, Any], indent: int, prefix: str) -> None:
        for key, value in mapping.items():
            full = prefix + key
            if isinstance(value, dict):
                lines.append(" " * indent + f"{key}:")
                emit(value, indent + 2, full + ".")
                continue
            for text in textwrap.wrap(descriptions[full], 96 - indent):
                lines.append(" " * indent + "# " + text)
            shown = yaml.safe_dump(value, default_flow_style=True).replace("\n...", "").strip()
            lines.append(" " * indent + f"{key}: {shown}")

    emit(nested_defaults(specs), 4, "")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "config"
    for kind in NODE_PARAMS:
        (config / f"{kind}.yaml").write_text(render_yaml(kind))
        print(config / f"{kind}.yaml")
