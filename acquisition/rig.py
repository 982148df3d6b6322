"""Rig files: which radars, capture cards, trigger board and cameras a lab set-up has, and where.

A rig file is YAML (reference: ``docs/rig_files.md``; examples: ``sensor_configs/rigs/``)::

    rig = load_rig("sensor_configs/rigs/dual_radar.yaml")
    for radar in rig.radars:
        print(radar.name, radar.cfg_path, radar.capture.ip if radar.capture else "-")
    manifest["rig"] = rig.to_dict()

Everything is checked when the file is loaded and every problem raises :class:`RigFileError`,
whose message reads ``FILE:LINE: key.path[0].name: reason``. Relative paths are resolved against
the folder of the rig file. Poses are in the rig frame (REP-103: ``x`` forward, ``y`` left,
``z`` up, metres; see :mod:`acquisition.geometry`). Questionable but usable set-ups (a radar whose
TI ``x`` axis points down, an unused capture card...) emit :class:`RigFileWarning`.

The radar ``.cfg`` checks (parse, validate against the board, frame period shorter than the
trigger period) use :mod:`acquisition.radar.config`, imported when a rig is loaded.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

import yaml

from acquisition.geometry import TI_TO_BODY, Pose, quaternion_from_rotation, rpy_from_rotation

__all__ = [
    "CameraIntrinsics",
    "CameraSpec",
    "CaptureCardSpec",
    "RadarSpec",
    "RecordingSpec",
    "RigConfig",
    "RigFileError",
    "RigFileWarning",
    "SimulationSpec",
    "SubjectSpec",
    "TriggerSpec",
    "load_rig",
    "parse_rig",
]

DeviceKind = Literal["hardware", "emulated"]
Mounting = Literal["horizontal", "vertical"]
RadarOutput = Literal["raw_adc", "point_cloud"]
CameraKind = Literal["realsense", "kinect", "uvc", "sim"]
SyncRole = Literal["free-run", "external-trigger", "subordinate", "master"]
KeyPath = tuple[str | int, ...]

DEVICE_KINDS: tuple[DeviceKind, ...] = ("hardware", "emulated")
MOUNTINGS: tuple[Mounting, ...] = ("horizontal", "vertical")
RADAR_OUTPUTS: tuple[RadarOutput, ...] = ("raw_adc", "point_cloud")
CAMERA_KINDS: tuple[CameraKind, ...] = ("realsense", "kinect", "uvc", "sim")
SYNC_ROLES: tuple[SyncRole, ...] = ("free-run", "external-trigger", "subordinate", "master")

AUTO = "auto"  # serial port of an emulated device: the emulator allocates a pseudo terminal
DEFAULT_CLI_BAUD = 115_200
DEFAULT_DATA_BAUD = 921_600
DEFAULT_TRIGGER_BAUD = 115_200
DEFAULT_PULSE_WIDTH_US = 1000.0
DEFAULT_SESSIONS_ROOT = "~/radar_sessions"
# How far (degrees) a radar's TI x axis may lean from the horizontal plane ("horizontal"
# mounting) or from the vertical ("vertical" mounting) before the mounting and pose disagree.
MOUNTING_TOLERANCE_DEG = 20.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


#: MCAP chunk compressions a rig file may ask for (``recording.compression``)
RECORDING_COMPRESSIONS = ("zstd", "lz4", "none")


class RigFileError(ValueError):
    """A rig file that cannot be used. ``str()`` reads ``file:line: key.path: reason``.

    Attributes:
        file: the rig file.
        key_path: dotted key path with list indexes, e.g. ``radars[1].capture.data_port``.
        line: 1-based line of the offending key (or of its closest parent), when known.
        reason: what is wrong.
    """

    def __init__(self, file: str, key_path: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.key_path = key_path
        self.line = line
        self.reason = reason
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {key_path}: {reason}")


class RigFileWarning(UserWarning):
    """A rig set-up that loads but is probably not what was meant."""


# --- specs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureCardSpec:
    """A DCA1000EVM (or its emulator) streaming one radar's raw ADC samples over UDP.

    Attributes:
        kind: ``"hardware"`` or ``"emulated"``.
        ip: the card's (FPGA) IPv4 address; ``127.0.0.1`` for the emulator.
        host_ip: the PC's address the card sends to.
        config_port: UDP port of configuration commands (TI default 4096); 0 = emulator picks.
        data_port: UDP port of the ADC data stream (TI default 4098); 0 = emulator picks.
    """

    kind: DeviceKind
    ip: str
    host_ip: str
    config_port: int
    data_port: int


@dataclass(frozen=True, eq=False)
class RadarSpec:
    """One TI radar board (equality is identity: ``pose`` holds arrays; compare ``to_dict()``).

    Attributes:
        name: identifier, unique in the rig (used in topic names and file names).
        board: board name from :data:`acquisition.radar.boards.BOARDS`.
        cfg_path: absolute path of the TI ``.cfg`` sent over the CLI port.
        kind: ``"hardware"`` or ``"emulated"``.
        cli_port: CLI UART (115200 baud by default), or ``"auto"`` for an emulator.
        cli_baud: CLI baud rate.
        data_port: data UART carrying the demo's TLV output, or None when unused.
        data_baud: data UART baud rate.
        capture: the capture card of a raw-ADC radar, or None.
        mounting: ``"horizontal"`` (TI x axis level: resolves azimuth) or ``"vertical"`` (rolled
            90 degrees about the boresight: resolves elevation).
        pose: the radar's body frame (x along the boresight) in the rig frame.
        output: ``"raw_adc"`` (LVDS to a capture card) or ``"point_cloud"`` (UART TLVs).
    """

    name: str
    board: str
    cfg_path: Path
    kind: DeviceKind
    cli_port: str
    cli_baud: int
    data_port: str | None
    data_baud: int
    capture: CaptureCardSpec | None
    mounting: Mounting
    pose: Pose
    output: RadarOutput

    def ti_x_axis_in_rig(self) -> tuple[float, float, float]:
        """Unit vector of the radar's TI ``x`` (azimuth array) axis in the rig frame."""
        v = self.pose.rotation @ TI_TO_BODY[:, 0]
        return (float(v[0]), float(v[1]), float(v[2]))


@dataclass(frozen=True)
class TriggerSpec:
    """The microcontroller that pulses the radars' SYNC_IN and the cameras' trigger inputs.

    Attributes:
        kind: ``"hardware"`` or ``"emulated"``.
        port: its serial port, or ``"auto"`` for the emulator.
        baud: serial baud rate.
        rate_hz: pulse rate; one radar frame and one camera frame per pulse.
        pulse_width_us: high time of each pulse, shorter than the period.
    """

    kind: DeviceKind
    port: str
    baud: int
    rate_hz: float
    pulse_width_us: float

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels of the configured resolution (OpenCV convention)."""

    fx: float
    fy: float
    cx: float
    cy: float


@dataclass(frozen=True, eq=False)
class CameraSpec:
    """One RGB(-D) camera (equality is identity: ``pose`` holds arrays).

    Attributes:
        name: identifier, unique in the rig.
        kind: ``"realsense"``, ``"kinect"`` (Azure Kinect), ``"uvc"`` or ``"sim"``.
        serial: device serial number (RealSense / Kinect), None = the only one connected.
        device: video device path of a UVC camera (e.g. ``/dev/video0``), None = first.
        width: colour image width, pixels.
        height: colour image height, pixels.
        fps: configured frame rate.
        sync_role: ``"free-run"`` (own clock, matched by timestamp), ``"external-trigger"``
            (one frame per trigger pulse; ``fps`` must be at least the trigger rate),
            ``"subordinate"`` (Azure Kinect sync-in driven by the trigger at exactly ``fps``)
            or ``"master"`` (drives other cameras' sync).
        pose: the camera's body frame (x along the optical axis) in the rig frame.
        intrinsics: pinhole intrinsics, or None to read them from the device.
        depth: whether the depth stream is recorded too.
    """

    name: str
    kind: CameraKind
    serial: str | None
    device: str | None
    width: int
    height: int
    fps: float
    sync_role: SyncRole
    pose: Pose
    intrinsics: CameraIntrinsics | None
    depth: bool


@dataclass(frozen=True)
class RecordingSpec:
    """Recording defaults.

    Attributes:
        sessions_root: folder under which sessions and takes are written (absolute).
        take_duration_s: default length of one take, seconds (None = until stopped).
        compression: MCAP chunk compression of ``streams.mcap`` (``zstd``, ``lz4`` or ``none``).
            Raw ADC frames shrink 1.3x with zstd but then cost ~1.5 ms each to decompress in
            every later read (dataset-build); lz4 leaves them as they are (0.1 ms) and still
            compresses rendered / static images ~28x. See docs/recording_format.md.
    """

    sessions_root: Path
    take_duration_s: float | None
    compression: str = "zstd"


@dataclass(frozen=True)
class SubjectSpec:
    """The simulated person.

    Attributes:
        action: action name the simulator animates (one of ``acquisition.sim.person.ACTIONS``).
        seed: seed of the subject's body shape and motion variation.
        position: (x, y) of the subject's feet on the floor, rig frame, metres.
        heading_deg: direction the subject faces, degrees about the rig z axis from rig x
            (180 = facing the sensors).
    """

    action: str
    seed: int
    position: tuple[float, float]
    heading_deg: float


@dataclass(frozen=True)
class SimulationSpec:
    """Settings of a simulated rig: noise seed and the subject."""

    seed: int
    subject: SubjectSpec


@dataclass(frozen=True, eq=False)
class RigConfig:
    """A loaded, checked rig file (equality is identity; compare ``to_dict()``).

    Attributes:
        name: rig name.
        description: free text.
        source: absolute path of the rig file.
        simulated: True when every device is an emulator (``kind: emulated`` / ``sim``).
        radars: the radar boards, in file order.
        trigger: the trigger board, or None.
        cameras: the cameras, in file order.
        recording: recording defaults.
        simulation: simulator settings of a simulated rig, else None.
    """

    name: str
    description: str
    source: Path
    simulated: bool
    radars: tuple[RadarSpec, ...]
    trigger: TriggerSpec | None
    cameras: tuple[CameraSpec, ...]
    recording: RecordingSpec
    simulation: SimulationSpec | None = field(default=None)

    def radar(self, name: str) -> RadarSpec:
        for radar in self.radars:
            if radar.name == name:
                return radar
        raise KeyError(f"rig {self.name!r} has no radar {name!r}")

    def camera(self, name: str) -> CameraSpec:
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise KeyError(f"rig {self.name!r} has no camera {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The rig as plain JSON/YAML data for a recording manifest.

        The result is itself a valid rig file (absolute paths, defaults filled in, poses as
        ``xyz`` + ``rpy_deg`` plus a ``quaternion_xyzw`` for tf2), so ``load_rig`` reads a
        manifest's rig back. ``source`` names the file it came from.
        """
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": str(self.source),
            "simulated": self.simulated,
            "radars": [_radar_dict(r) for r in self.radars],
            "cameras": [_camera_dict(c) for c in self.cameras],
            "recording": {
                "sessions_root": str(self.recording.sessions_root),
                "take_duration_s": self.recording.take_duration_s,
                "compression": self.recording.compression,
            },
        }
        if self.trigger is not None:
            t = self.trigger
            out["trigger"] = {
                "kind": t.kind,
                "port": t.port,
                "baud": t.baud,
                "rate_hz": t.rate_hz,
                "pulse_width_us": t.pulse_width_us,
            }
        if self.simulation is not None:
            s = self.simulation.subject
            out["simulation"] = {
                "seed": self.simulation.seed,
                "subject": {
                    "action": s.action,
                    "seed": s.seed,
                    "position": list(s.position),
                    "heading_deg": s.heading_deg,
                },
            }
        return out


def _pose_dict(pose: Pose) -> dict[str, list[float]]:
    roll, pitch, yaw = rpy_from_rotation(pose.rotation)
    return {
        "xyz": [round(float(v), 9) for v in pose.position],
        "rpy_deg": [round(math.degrees(a), 9) + 0.0 for a in (roll, pitch, yaw)],
        "quaternion_xyzw": [round(v, 12) + 0.0 for v in quaternion_from_rotation(pose.rotation)],
    }


def _radar_dict(r: RadarSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": r.name,
        "board": r.board,
        "cfg": str(r.cfg_path),
        "kind": r.kind,
        "cli_port": r.cli_port,
        "cli_baud": r.cli_baud,
        "data_port": r.data_port,
        "data_baud": r.data_baud,
        "output": r.output,
        "mounting": r.mounting,
        "pose": _pose_dict(r.pose),
    }
    if r.capture is not None:
        c = r.capture
        out["capture"] = {
            "kind": c.kind,
            "ip": c.ip,
            "host_ip": c.host_ip,
            "config_port": c.config_port,
            "data_port": c.data_port,
        }
    return out


def _camera_dict(c: CameraSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "kind": c.kind,
        "serial": c.serial,
        "device": c.device,
        "width": c.width,
        "height": c.height,
        "fps": c.fps,
        "sync_role": c.sync_role,
        "depth": c.depth,
        "pose": _pose_dict(c.pose),
    }
    if c.intrinsics is not None:
        i = c.intrinsics
        out["intrinsics"] = {"fx": i.fx, "fy": i.fy, "cx": i.cx, "cy": i.cy}
    return out


# --- YAML with line numbers ---------------------------------------------------------------------
def format_key_path(path: KeyPath) -> str:
    """``("radars", 1, "capture", "data_port")`` -> ``"radars[1].capture.data_port"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<document>"


class _Doc:
    """The parsed document plus the line of every key, for error messages."""

    def __init__(self, file: str, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.lines = lines

    def line(self, path: KeyPath) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: KeyPath, reason: str) -> RigFileError:
        return RigFileError(self.file, format_key_path(path), reason, self.line(path))

    def fail(self, path: KeyPath, reason: str) -> NoReturn:
        raise self.error(path, reason)

    def warn(self, path: KeyPath, reason: str) -> None:
        line = self.line(path)
        where = f"{self.file}:{line}" if line is not None else self.file
        warnings.warn(f"{where}: {format_key_path(path)}: {reason}", RigFileWarning, stacklevel=3)


def _index_lines(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], file: str) -> None:
    """Record the 1-based line of every key and list item; reject duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise RigFileError(file, format_key_path(path), "keys must be plain text", line)
            key = str(key_node.value)
            if key in seen:
                raise RigFileError(
                    file, format_key_path((*path, key)), "key appears twice in one mapping", line
                )
            seen.add(key)
            lines[(*path, key)] = line
            _index_lines(value_node, (*path, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_lines(item, (*path, index), lines, file)


def _compose(text: str, file: str) -> tuple[Any, _Doc]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            lines[()] = node.start_mark.line + 1
            _index_lines(node, (), lines, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RigFileError(file, "<document>", f"not valid YAML: {exc.problem}", line) from exc
    except yaml.YAMLError as exc:
        raise RigFileError(file, "<document>", f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return data, _Doc(file, lines)


# --- typed field access -------------------------------------------------------------------------
_MISSING: Any = object()


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Map:
    """A YAML mapping at a key path, with typed getters that fail naming the key."""

    def __init__(
        self,
        doc: _Doc,
        path: KeyPath,
        value: Any,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> None:
        if not isinstance(value, dict):
            doc.fail(path, f"must be a mapping of keys, got {_type_name(value)}")
        self.doc = doc
        self.path = path
        self.value = cast(dict[str, Any], value)
        allowed = (*required, *optional)
        for key in self.value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                doc.fail(
                    (*path, str(key)),
                    f"unknown key {key!r}{hint}; allowed here: {', '.join(allowed)}",
                )
        for key in required:
            if key not in self.value:
                doc.fail(path, f"missing required key {key!r}")

    def at(self, key: str) -> KeyPath:
        return (*self.path, key)

    def has(self, key: str) -> bool:
        return key in self.value and self.value[key] is not None

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.value:
            return self.value[key]
        if default is _MISSING:  # pragma: no cover - required keys are checked in __init__
            self.doc.fail(self.path, f"missing required key {key!r}")
        return default

    def text(self, key: str, default: Any = _MISSING, *, hint: str = "") -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value.strip():
            self.doc.fail(self.at(key), f"must be non-empty text, got {_type_name(value)}{hint}")
        return value

    def optional_text(self, key: str, *, hint: str = "") -> str | None:
        if not self.has(key):
            return None
        return self.text(key, hint=hint)

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if value not in choices:
            self.doc.fail(
                self.at(key), f"must be one of {', '.join(choices)}; got {_type_name(value)}"
            )
        return cast(str, value)

    def integer(self, key: str, default: Any = _MISSING, *, low: int = 0) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.doc.fail(self.at(key), f"must be an integer, got {_type_name(value)}")
        if value < low:
            self.doc.fail(self.at(key), f"must be at least {low}, got {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, *, positive: bool = False) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.doc.fail(self.at(key), f"must be a number, got {_type_name(value)}")
        if not math.isfinite(value):
            self.doc.fail(self.at(key), f"must be a finite number, got {value}")
        if positive and value <= 0:
            self.doc.fail(self.at(key), f"must be greater than 0, got {value}")
        return float(value)

    def optional_number(self, key: str, *, positive: bool = False) -> float | None:
        return self.number(key, positive=positive) if self.has(key) else None

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.doc.fail(self.at(key), f"must be true or false, got {_type_name(value)}")
        return value

    def vector(self, key: str, length: int, default: Any = _MISSING) -> tuple[float, ...]:
        value = self.raw(key, default)
        if not isinstance(value, list | tuple) or len(value) != length:
            self.doc.fail(self.at(key), f"must be a list of {length} numbers, got {value!r}")
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int | float):
                self.doc.fail((*self.at(key), index), f"must be a number, got {_type_name(item)}")
            if not math.isfinite(item):
                self.doc.fail((*self.at(key), index), f"must be finite, got {item}")
        return tuple(float(v) for v in value)

    def items(self, key: str) -> Iterator[tuple[KeyPath, Any]]:
        """(path, item) of a list-valued key (missing or null = empty)."""
        value = self.raw(key, None)
        if value is None:
            return
        if not isinstance(value, list):
            self.doc.fail(self.at(key), f"must be a list, got {_type_name(value)}")
        for index, item in enumerate(value):
            yield (*self.at(key), index), item


def _serial_port(m: _Map, key: str, kind: DeviceKind, *, required: bool = True) -> str | None:
    if not required and not m.has(key):
        return None
    port = m.text(key, hint=" (a device such as /dev/ttyACM0, or 'auto' for an emulator)")
    if port == AUTO and kind != "emulated":
        m.doc.fail(m.at(key), "'auto' is only allowed for emulated devices (kind: emulated)")
    return port


def _udp_port(m: _Map, key: str, kind: DeviceKind) -> int:
    value = m.raw(key)
    if isinstance(value, bool) or not isinstance(value, int):
        m.doc.fail(m.at(key), f"must be a UDP port number, got {_type_name(value)}")
    low = 0 if kind == "emulated" else 1
    if not low <= value <= 65535:
        why = "0 (= emulator picks) .. 65535" if kind == "emulated" else "1 .. 65535"
        m.doc.fail(m.at(key), f"UDP port {value} is out of range {why}")
    return value


def _ipv4(m: _Map, key: str) -> str:
    value = m.text(key)
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        m.doc.fail(m.at(key), f"must be an IPv4 address such as 192.168.33.180, got {value!r}")


def _pose(doc: _Doc, path: KeyPath, value: Any) -> Pose:
    m = _Map(doc, path, value, ("xyz",), ("rpy_deg", "quaternion_xyzw"))
    xyz = m.vector("xyz", 3)
    rpy = m.vector("rpy_deg", 3, [0.0, 0.0, 0.0])
    if m.has("quaternion_xyzw"):
        m.vector("quaternion_xyzw", 4)  # informational (written by to_dict); rpy_deg rules
    return Pose.from_xyz_rpy((xyz[0], xyz[1], xyz[2]), (rpy[0], rpy[1], rpy[2]))


def _name(m: _Map) -> str:
    name = m.text("name")
    if not _NAME.match(name):
        m.doc.fail(
            m.at("name"),
            f"{name!r} must start with a letter and use only letters, digits, '_' and '-' "
            "(it names topics and files)",
        )
    return name


# --- sections -----------------------------------------------------------------------------------
def _capture(doc: _Doc, path: KeyPath, value: Any, radar_kind: DeviceKind) -> CaptureCardSpec:
    m = _Map(doc, path, value, ("ip", "config_port", "data_port"), ("kind", "host_ip"))
    kind = cast(DeviceKind, m.choice("kind", DEVICE_KINDS, radar_kind))
    if kind != radar_kind:
        doc.fail(m.at("kind"), f"capture card is {kind} but its radar is {radar_kind}")
    ip = _ipv4(m, "ip")
    host_ip = _ipv4(m, "host_ip") if m.has("host_ip") else None
    if host_ip is None:
        host_ip = "127.0.0.1" if kind == "emulated" else "192.168.33.30"
    config_port = _udp_port(m, "config_port", kind)
    data_port = _udp_port(m, "data_port", kind)
    if config_port and config_port == data_port:
        doc.fail(m.at("data_port"), f"data port {data_port} equals the config port")
    if kind == "hardware":
        card_net = ipaddress.IPv4Network(f"{ip}/24", strict=False)
        if ipaddress.IPv4Address(host_ip) not in card_net:
            doc.warn(m.at("host_ip"), f"host {host_ip} is not in the card's subnet {card_net}")
    return CaptureCardSpec(kind, ip, host_ip, config_port, data_port)


def _radar(doc: _Doc, path: KeyPath, value: Any, base: Path) -> RadarSpec:
    m = _Map(
        doc,
        path,
        value,
        ("name", "board", "cfg", "cli_port", "output", "pose"),
        ("kind", "cli_baud", "data_port", "data_baud", "capture", "mounting"),
    )
    name = _name(m)
    board = m.text("board")
    try:
        from acquisition.radar.boards import BOARDS
    except ImportError:  # pragma: no cover - boards.py ships with the package
        BOARDS = {}
    if BOARDS and board not in BOARDS:
        close = difflib.get_close_matches(board, list(BOARDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        doc.fail(m.at("board"), f"unknown board {board!r}{hint}; known: {', '.join(BOARDS)}")
    kind = cast(DeviceKind, m.choice("kind", DEVICE_KINDS, "hardware"))
    cfg_text = m.text("cfg")
    cfg_path = (base / Path(cfg_text).expanduser()).resolve()
    if not cfg_path.is_file():
        doc.fail(m.at("cfg"), f"radar config {cfg_text!r} not found (looked for {cfg_path})")
    cli_port = cast(str, _serial_port(m, "cli_port", kind))
    data_port = _serial_port(m, "data_port", kind, required=False)
    output = cast(RadarOutput, m.choice("output", RADAR_OUTPUTS))
    capture = _capture(doc, m.at("capture"), m.raw("capture"), kind) if m.has("capture") else None
    if output == "raw_adc" and capture is None:
        doc.fail(path, "output raw_adc needs a 'capture' card (DCA1000) for the LVDS stream")
    if output == "point_cloud" and data_port is None:
        doc.fail(path, "output point_cloud needs a 'data_port' (the demo's data UART)")
    if output == "point_cloud" and capture is not None:
        doc.warn(m.at("capture"), "capture card configured for a point_cloud radar: unused")
    return RadarSpec(
        name=name,
        board=board,
        cfg_path=cfg_path,
        kind=kind,
        cli_port=cli_port,
        cli_baud=m.integer("cli_baud", DEFAULT_CLI_BAUD, low=1),
        data_port=data_port,
        data_baud=m.integer("data_baud", DEFAULT_DATA_BAUD, low=1),
        capture=capture,
        mounting=cast(Mounting, m.choice("mounting", MOUNTINGS, "horizontal")),
        pose=_pose(doc, m.at("pose"), m.raw("pose")),
        output=output,
    )


def _trigger(doc: _Doc, path: KeyPath, value: Any) -> TriggerSpec:
    m = _Map(doc, path, value, ("port", "rate_hz"), ("kind", "baud", "pulse_width_us"))
    kind = cast(DeviceKind, m.choice("kind", DEVICE_KINDS, "hardware"))
    rate = m.number("rate_hz", positive=True)
    width = m.number("pulse_width_us", DEFAULT_PULSE_WIDTH_US, positive=True)
    if width * 1e-6 >= 1.0 / rate:
        doc.fail(
            m.at("pulse_width_us"),
            f"pulse width {width:g} us is not shorter than the {1e6 / rate:g} us trigger period",
        )
    return TriggerSpec(
        kind=kind,
        port=cast(str, _serial_port(m, "port", kind)),
        baud=m.integer("baud", DEFAULT_TRIGGER_BAUD, low=1),
        rate_hz=rate,
        pulse_width_us=width,
    )


def _camera(doc: _Doc, path: KeyPath, value: Any) -> CameraSpec:
    m = _Map(
        doc,
        path,
        value,
        ("name", "kind", "width", "height", "fps", "pose"),
        ("serial", "device", "sync_role", "intrinsics", "depth"),
    )
    kind = cast(CameraKind, m.choice("kind", CAMERA_KINDS))
    quote = " (quote serial numbers: YAML reads digits as a number and drops leading zeros)"
    intrinsics = None
    if m.has("intrinsics"):
        i = _Map(doc, m.at("intrinsics"), m.raw("intrinsics"), ("fx", "fy", "cx", "cy"), ())
        intrinsics = CameraIntrinsics(
            fx=i.number("fx", positive=True),
            fy=i.number("fy", positive=True),
            cx=i.number("cx"),
            cy=i.number("cy"),
        )
    depth = m.boolean("depth", False)
    if depth and kind == "uvc":
        doc.fail(m.at("depth"), "a UVC camera has no depth stream")
    return CameraSpec(
        name=_name(m),
        kind=kind,
        serial=m.optional_text("serial", hint=quote),
        device=m.optional_text("device"),
        width=m.integer("width", low=1),
        height=m.integer("height", low=1),
        fps=m.number("fps", positive=True),
        sync_role=cast(SyncRole, m.choice("sync_role", SYNC_ROLES, "free-run")),
        pose=_pose(doc, m.at("pose"), m.raw("pose")),
        intrinsics=intrinsics,
        depth=depth,
    )


def _recording(doc: _Doc, path: KeyPath, value: Any, base: Path) -> RecordingSpec:
    m = _Map(
        doc,
        path,
        {} if value is None else value,
        (),
        ("sessions_root", "take_duration_s", "compression"),
    )
    root = m.text("sessions_root", DEFAULT_SESSIONS_ROOT)
    return RecordingSpec(
        sessions_root=(base / Path(root).expanduser()).resolve(),
        take_duration_s=m.optional_number("take_duration_s", positive=True),
        compression=m.choice("compression", RECORDING_COMPRESSIONS, "zstd"),
    )


def _simulation(doc: _Doc, path: KeyPath, value: Any) -> SimulationSpec:
    m = _Map(doc, path, {} if value is None else value, (), ("seed", "subject"))
    s = _Map(
        doc,
        m.at("subject"),
        m.raw("subject", None) or {},
        (),
        ("action", "seed", "position", "heading_deg"),
    )
    position = s.vector("position", 2, [2.5, 0.0])
    action = s.text("action", "walk_wave")
    from acquisition.sim.person import ACTIONS

    if action not in ACTIONS:
        doc.fail((*s.path, "action"), f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return SimulationSpec(
        seed=m.integer("seed", 0),
        subject=SubjectSpec(
            action=action,
            seed=s.integer("seed", 0),
            position=(position[0], position[1]),
            heading_deg=s.number("heading_deg", 180.0),
        ),
    )


# --- cross checks -------------------------------------------------------------------------------
def _check_unique(doc: _Doc, rig: RigConfig) -> None:
    seen: dict[str, KeyPath] = {}
    named: list[tuple[KeyPath, str]] = [(("radars", i), r.name) for i, r in enumerate(rig.radars)]
    named += [(("cameras", i), c.name) for i, c in enumerate(rig.cameras)]
    for owner, name in named:
        if name in seen:
            doc.fail(
                (*owner, "name"), f"name {name!r} is already used by {format_key_path(seen[name])}"
            )
        seen[name] = owner

    ports: dict[str, KeyPath] = {}
    for index, radar in enumerate(rig.radars):
        for key, port in (("cli_port", radar.cli_port), ("data_port", radar.data_port)):
            if port is None or port == AUTO:
                continue
            if port in ports:
                doc.fail(
                    ("radars", index, key),
                    f"serial port {port} is already used by {format_key_path(ports[port])}",
                )
            ports[port] = ("radars", index, key)
    if rig.trigger is not None and rig.trigger.port in ports:
        doc.fail(
            ("trigger", "port"),
            f"serial port {rig.trigger.port} is already used by "
            f"{format_key_path(ports[rig.trigger.port])}",
        )

    # A card's own address, and the host-side sockets (host_ip, port) the receiver binds: two
    # cards streaming to the same host port cannot be told apart.
    cards: dict[str, KeyPath] = {}
    sockets: dict[tuple[str, int], KeyPath] = {}
    for index, radar in enumerate(rig.radars):
        card = radar.capture
        if card is None:
            continue
        base: KeyPath = ("radars", index, "capture")
        if card.kind == "hardware":
            if card.ip in cards:
                doc.fail(
                    (*base, "ip"),
                    f"capture card address {card.ip} is already used by "
                    f"{format_key_path(cards[card.ip])}",
                )
            cards[card.ip] = (*base, "ip")
        udp_ports = (("config_port", card.config_port), ("data_port", card.data_port))
        for key, udp_port in udp_ports:
            if udp_port == 0:
                continue  # emulator picks a free port
            for address in sorted({card.ip, card.host_ip}):
                if (address, udp_port) in sockets:
                    doc.fail(
                        (*base, key),
                        f"UDP address {address}:{udp_port} is already used by "
                        f"{format_key_path(sockets[(address, udp_port)])}",
                    )
                sockets[(address, udp_port)] = (*base, key)


def _check_simulated(doc: _Doc, rig: RigConfig) -> None:
    def check(path: KeyPath, emulated: bool) -> None:
        if rig.simulated and not emulated:
            doc.fail(path, "a simulated rig needs emulated devices (kind: emulated / sim)")
        if not rig.simulated and emulated:
            doc.fail(path, "emulated device in a hardware rig; set 'simulated: true' at the top")

    for index, radar in enumerate(rig.radars):
        check(("radars", index, "kind"), radar.kind == "emulated")
    if rig.trigger is not None:
        check(("trigger", "kind"), rig.trigger.kind == "emulated")
    for index, camera in enumerate(rig.cameras):
        check(("cameras", index, "kind"), camera.kind == "sim")


def _check_mounting(doc: _Doc, rig: RigConfig) -> None:
    """The pose must agree with the mounting: an error, since a radar whose azimuth array is
    assumed level but is not puts world elevation on the azimuth axis of every map."""
    limit = math.sin(math.radians(MOUNTING_TOLERANCE_DEG))
    for index, radar in enumerate(rig.radars):
        up = radar.ti_x_axis_in_rig()[2]  # z component of the TI x axis in the rig frame
        path: KeyPath = ("radars", index, "pose")
        lean = math.degrees(math.asin(max(-1.0, min(1.0, up))))
        if radar.mounting == "horizontal" and abs(up) > limit:
            doc.fail(
                path,
                f"mounting is horizontal but the pose tilts the TI x axis {lean:.0f} degrees "
                "out of the horizontal plane (vertical radars use rpy_deg [-90, 0, 0])",
            )
        if radar.mounting == "vertical":
            if abs(up) < math.cos(math.radians(MOUNTING_TOLERANCE_DEG)):
                doc.fail(
                    path,
                    f"mounting is vertical but the pose leaves the TI x axis {lean:.0f} degrees "
                    "from level; a vertical radar is rolled -90 degrees (rpy_deg [-90, 0, 0]) so "
                    "that its TI x axis points up",
                )
            if up < 0:
                doc.warn(
                    path,
                    "vertical radar with its TI x axis pointing DOWN (roll +90): elevation maps "
                    "come out upside down compared with HuPR's rig (roll -90)",
                )


def _check_radar_configs(doc: _Doc, rig: RigConfig) -> None:
    """Parse and validate each radar's ``.cfg`` against its board and the trigger."""
    try:
        from acquisition.radar.config import RadarConfigError, load_radar_config
    except ImportError as exc:  # the parser is optional for loading a rig
        doc.warn(("radars",), f"radar .cfg files not checked ({exc})")
        return
    trigger = rig.trigger
    for index, radar in enumerate(rig.radars):
        path: KeyPath = ("radars", index, "cfg")
        try:
            cfg = load_radar_config(radar.cfg_path)
            triggered = cfg.hardware_triggered
            raw = cfg.streams_raw_adc
            period = trigger.period_s if (trigger is not None and triggered) else None
            issues = cfg.validate(radar.board, trigger_period_s=period)
        except RadarConfigError as exc:
            doc.fail(path, f"radar config does not parse: {exc}")
        except KeyError as exc:  # unknown board, reported by the board table
            doc.fail(path, f"radar config cannot be checked: {exc}")
        for issue in issues:
            if issue.severity == "error":
                doc.fail(path, f"radar config is invalid: {issue}")
            doc.warn(path, str(issue))
        if triggered and trigger is None:
            doc.fail(
                path,
                "the cfg waits for a hardware trigger (frameCfg triggerSelect 2) but the rig "
                "has no 'trigger' board: the radar would never start a frame",
            )
        if radar.output == "raw_adc" and not raw:
            doc.fail(
                path,
                "output is raw_adc but the cfg does not stream raw ADC over LVDS "
                "(needs 'lvdsStreamCfg -1 0 1 0')",
            )


def _check_cameras(doc: _Doc, rig: RigConfig) -> None:
    for index, camera in enumerate(rig.cameras):
        path: KeyPath = ("cameras", index, "sync_role")
        if camera.sync_role not in ("external-trigger", "subordinate"):
            continue
        trigger = rig.trigger
        if trigger is None:
            doc.fail(path, f"sync_role {camera.sync_role} needs a 'trigger' board in the rig")
        fps_path: KeyPath = ("cameras", index, "fps")
        if camera.sync_role == "external-trigger" and camera.fps < trigger.rate_hz:
            doc.fail(
                fps_path,
                f"camera fps {camera.fps:g} is below the {trigger.rate_hz:g} Hz trigger rate: "
                "an externally triggered camera drops pulses faster than its frame rate",
            )
        if camera.sync_role == "subordinate" and not math.isclose(camera.fps, trigger.rate_hz):
            doc.fail(
                fps_path,
                f"a subordinate camera runs at exactly its sync-in rate: fps {camera.fps:g} "
                f"!= trigger rate {trigger.rate_hz:g} Hz",
            )


# --- entry points -------------------------------------------------------------------------------
_TOP_REQUIRED = ("name", "radars")
_TOP_OPTIONAL = (
    "description",
    "source",
    "simulated",
    "trigger",
    "cameras",
    "recording",
    "simulation",
)


def parse_rig(text: str, *, source: str | Path = "<rig>", check_configs: bool = True) -> RigConfig:
    """Parse and check the text of a rig file.

    Args:
        text: YAML text.
        source: the file the text came from; relative paths are resolved against its folder.
        check_configs: also parse and validate each radar ``.cfg`` (needs
            :mod:`acquisition.radar.config`).

    Raises:
        RigFileError: naming the file, the line, the key path and the reason.
    """
    file = str(source)
    source_path = Path(source).expanduser().resolve()
    base = source_path.parent
    data, doc = _compose(text, file)
    top = _Map(doc, (), data, _TOP_REQUIRED, _TOP_OPTIONAL)
    description = top.text("description") if top.has("description") else ""

    radars = tuple(_radar(doc, path, item, base) for path, item in top.items("radars"))
    if not radars:
        doc.fail(("radars",), "a rig needs at least one radar")
    simulated = top.boolean("simulated", False)
    if top.has("simulation") and not simulated:
        doc.fail(("simulation",), "a 'simulation' block needs 'simulated: true'")
    rig = RigConfig(
        name=top.text("name"),
        description=description,
        source=source_path,
        simulated=simulated,
        radars=radars,
        trigger=_trigger(doc, ("trigger",), top.raw("trigger")) if top.has("trigger") else None,
        cameras=tuple(_camera(doc, path, item) for path, item in top.items("cameras")),
        recording=_recording(doc, ("recording",), top.raw("recording", None), base),
        simulation=(
            _simulation(doc, ("simulation",), top.raw("simulation", None)) if simulated else None
        ),
    )
    _check_unique(doc, rig)
    _check_simulated(doc, rig)
    _check_mounting(doc, rig)
    _check_cameras(doc, rig)
    if check_configs:
        _check_radar_configs(doc, rig)
    return rig


def load_rig(path: str | Path, *, check_configs: bool = True) -> RigConfig:
    """Read and check a rig file (see :func:`parse_rig`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RigFileError(
            str(path), "<document>", f"cannot read rig file: {exc.strerror}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise RigFileError(str(path), "<document>", f"not UTF-8 text: {exc.reason}") from exc
    return parse_rig(text, source=path, check_configs=check_configs)
