"""ROS 2 message schemas of the recording format, usable without a ROS installation.

The toolkit's own messages live in ``acquisition/recording/msg/*.msg``; the ROS 2 interface package
``ros2_ws/src/acquisition_interfaces`` builds the very same files (its ``msg`` folder is a link
here), so a recording written by the plain-Python recorder and one written through ROS 2 carry
identical schemas. Standard messages (``std_msgs/Header``, ``sensor_msgs/Image`` ...) are spelled
out below as the ROS 2 interface definitions define them.

MCAP stores a ``ros2msg`` schema as the message text followed by every dependency, each after a
line of 80 ``=`` and ``MSG: pkg/Type``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

MSG_DIR = Path(__file__).with_name("msg")
INTERFACES_PACKAGE = "acquisition_interfaces"

_STANDARD: dict[str, str] = {
    "builtin_interfaces/Time": "int32 sec\nuint32 nanosec\n",
    "std_msgs/Header": "builtin_interfaces/Time stamp\nstring frame_id\n",
    "sensor_msgs/Image": (
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n"
        "uint8 is_bigendian\nuint32 step\nuint8[] data\n"
    ),
    "sensor_msgs/RegionOfInterest": (
        "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n"
    ),
    "sensor_msgs/CameraInfo": (
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\n"
        "float64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\n"
        "uint32 binning_y\nsensor_msgs/RegionOfInterest roi\n"
    ),
    "sensor_msgs/PointField": (
        "uint8 INT8=1\nuint8 UINT8=2\nuint8 INT16=3\nuint8 UINT16=4\nuint8 INT32=5\n"
        "uint8 UINT32=6\nuint8 FLOAT32=7\nuint8 FLOAT64=8\n"
        "string name\nuint32 offset\nuint8 datatype\nuint32 count\n"
    ),
    "sensor_msgs/PointCloud2": (
        "std_msgs/Header header\nuint32 height\nuint32 width\nsensor_msgs/PointField[] fields\n"
        "bool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n"
    ),
}

_SEPARATOR = "=" * 80
_TYPE_TOKEN = re.compile(r"^\s*([A-Za-z_][\w/]*)(\[[^\]]*\])?\s+\w+")
_PRIMITIVES = {
    "bool",
    "byte",
    "char",
    "float32",
    "float64",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "string",
    "wstring",
}


def own_message_names() -> list[str]:
    """``acquisition_interfaces/Name`` for every ``.msg`` of the toolkit."""
    return sorted(f"{INTERFACES_PACKAGE}/{p.stem}" for p in MSG_DIR.glob("*.msg"))


def message_text(name: str) -> str:
    """The ``.msg`` text of a message type (``pkg/Type``)."""
    if name in _STANDARD:
        return _STANDARD[name]
    package, _, short = name.partition("/")
    if package == INTERFACES_PACKAGE:
        path = MSG_DIR / f"{short}.msg"
        if path.is_file():
            return path.read_text()
    raise KeyError(f"unknown message type {name!r}")


def _dependencies(name: str) -> list[str]:
    package = name.partition("/")[0]
    found: list[str] = []
    for line in message_text(name).splitlines():
        line = line.split("#", 1)[0]
        m = _TYPE_TOKEN.match(line)
        if not m or "=" in line:
            continue
        field_type = m.group(1)
        if field_type in _PRIMITIVES:
            continue
        if "/" not in field_type:
            field_type = f"{package}/{field_type}"
        if field_type == "std_msgs/Header" or field_type.endswith("/Header"):
            field_type = "std_msgs/Header"
        found.append(field_type)
    return found


@cache
def schema_text(name: str) -> str:
    """Full ``ros2msg`` schema: the message followed by all its dependencies, depth first."""
    ordered: list[str] = []

    def visit(type_name: str) -> None:
        for dep in _dependencies(type_name):
            if dep not in ordered:
                ordered.append(dep)
                visit(dep)

    visit(name)
    parts = [message_text(name).rstrip("\n")]
    for dep in ordered:
        parts.append(f"{_SEPARATOR}\nMSG: {dep}\n{message_text(dep).rstrip()}")
    return "\n".join(parts) + "\n"


@cache
def encoder(name: str) -> Callable[[Any], bytes]:
    """CDR encoder of a message type; takes a dict (nested dicts for sub-messages)."""
    from mcap_ros2._dynamic import serialize_dynamic

    encoders = serialize_dynamic(name, schema_text(name))
    return encoders[name]


@cache
def decoder(name: str) -> Callable[[bytes], Any]:
    """CDR decoder of a message type; returns an object with attribute access."""
    from mcap_ros2._dynamic import generate_dynamic

    decoders = generate_dynamic(name, schema_text(name))
    return decoders[name]
