"""The ROS 2 interface package ``acquisition_interfaces`` against the toolkit's own schemas.

Needs rclpy (``ros2_ws/scripts/install_ros2_pip.sh`` or a sourced ROS 2 distribution) and the
built package (``ros2_ws/scripts/build_interfaces.sh``, or ``colcon build`` in ``ros2_ws``); the
module is skipped, with the reason, when either is missing. Set ``RADAR_REQUIRE_ROS2=1`` to turn
those skips into failures (for a CI job that installs ROS 2).

Checks:
- a ``RadarFrame`` with a 786,432-byte frame, published by a separate process (this file run as a
  script), arrives in this process with every field and byte intact, once discovery has matched
  the two (bounded wait);
- the rclpy-generated classes have exactly the fields, types and constants that
  ``acquisition.recording.schemas`` declares (the ``.msg`` files and the standard messages spelled
  out there), and rclpy's CDR bytes equal those of the MCAP writer's encoder for the same message.
"""

from __future__ import annotations

import array
import ctypes
import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # when run as the publisher script
    sys.path.insert(0, str(REPO_ROOT))

from acquisition.recording import schemas  # noqa: E402

PYTHON_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"
INSTALL_PREFIX = Path(
    os.environ.get(
        "ACQUISITION_INTERFACES_PREFIX",
        REPO_ROOT / "ros2_ws" / "install" / "acquisition_interfaces",
    )
)
TOPIC = "/test_ros_interfaces/radar_frame"
MATCH_TIMEOUT_S = 30.0
RECEIVE_TIMEOUT_S = 30.0
PUBLISH_PERIOD_S = 0.2
# 64 loops x 3 chirps x 4 RX x 256 complex int16 samples.
NUM_LOOPS, NUM_CHIRPS, NUM_RX, NUM_SAMPLES = 64, 3, 4, 256
FRAME_BYTES = NUM_LOOPS * NUM_CHIRPS * NUM_RX * NUM_SAMPLES * 2 * 2
assert FRAME_BYTES == 786_432


def _unavailable(reason: str) -> None:
    if os.environ.get("RADAR_REQUIRE_ROS2") == "1":
        raise RuntimeError(f"RADAR_REQUIRE_ROS2=1 but {reason}")
    pytest.skip(reason, allow_module_level=True)


try:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.serialization import deserialize_message, serialize_message
except ImportError as exc:  # pragma: no cover - depends on the machine
    _unavailable(
        f"rclpy is not importable ({exc}); install ROS 2 with ros2_ws/scripts/install_ros2_pip.sh "
        "or source a ROS 2 distribution"
    )


def _site_packages(prefix: Path) -> Path:
    return prefix / "lib" / PYTHON_DIR / "site-packages"


def _import_interfaces() -> Any:
    """``acquisition_interfaces.msg``, from the environment or from ``ros2_ws/install``."""
    try:
        return importlib.import_module("acquisition_interfaces.msg")
    except ImportError:
        pass
    site = _site_packages(INSTALL_PREFIX)
    if not site.is_dir():
        _unavailable(
            f"acquisition_interfaces is not built for {PYTHON_DIR} ({site} missing); run "
            "ros2_ws/scripts/build_interfaces.sh"
        )
    # ros2_ws/scripts/ros_env.sh was not sourced. The dynamic loader reads LD_LIBRARY_PATH only at
    # process start, so load the package's libraries by path, globally, before the generated
    # extensions and the type-support dispatch ask for them by name.
    pending = sorted((INSTALL_PREFIX / "lib").glob("libacquisition_interfaces__*.so"))
    while pending:
        failed = []
        for lib in pending:
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                failed.append(lib)  # needs one of the others first
        if len(failed) == len(pending):
            _unavailable(f"cannot load {failed[0]} from {INSTALL_PREFIX}")
        pending = failed
    sys.path.insert(0, str(site))
    for var, value in (
        ("AMENT_PREFIX_PATH", INSTALL_PREFIX),
        ("LD_LIBRARY_PATH", INSTALL_PREFIX / "lib"),
        ("PYTHONPATH", site),
    ):
        old = os.environ.get(var)
        os.environ[var] = f"{value}{os.pathsep}{old}" if old else str(value)
    return importlib.import_module("acquisition_interfaces.msg")


msgs = _import_interfaces()


# --- the frame both processes agree on ----------------------------------------------------------


def frame_data(index: int) -> bytes:
    return np.random.default_rng(1000 + index).integers(0, 256, FRAME_BYTES, np.uint8).tobytes()


def make_frame(index: int) -> Any:
    msg = msgs.RadarFrame()
    msg.header.stamp.sec = 1_700_000_000 + index
    msg.header.stamp.nanosec = 123_456_789
    msg.header.frame_id = "radar0_link"
    msg.radar_id = "iwr6843_0"
    msg.frame_number = 2**40 + index
    msg.trigger_index = -1
    msg.device_stamp.sec = 42
    msg.device_stamp.nanosec = 999_999_999
    msg.host_stamp.sec = 1_700_000_000 + index
    msg.host_stamp.nanosec = 5
    msg.num_loops = NUM_LOOPS
    msg.num_chirps_per_loop = NUM_CHIRPS
    msg.num_rx = NUM_RX
    msg.num_samples = NUM_SAMPLES
    msg.sample_format = "int16_iq_sdk"
    msg.num_packets = 538
    msg.lost_packets = 1
    msg.lost_bytes = 1456
    msg.valid = False
    msg.data = frame_data(index)
    return msg


def publisher_main(topic: str) -> int:
    """Run in a subprocess: wait for a subscriber, then publish frames until killed (or 60 s)."""
    rclpy.init()
    node = rclpy.create_node("radar_frame_test_publisher")
    publisher = node.create_publisher(msgs.RadarFrame, topic, 10)
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print("no subscriber matched", file=sys.stderr, flush=True)
            return 2
        time.sleep(0.05)
    print("matched", flush=True)
    frames = [make_frame(i) for i in range(3)]
    deadline = time.monotonic() + 60.0
    index = 0
    while time.monotonic() < deadline:
        publisher.publish(frames[index % len(frames)])
        index += 1
        time.sleep(PUBLISH_PERIOD_S)
    node.destroy_node()
    rclpy.shutdown()
    return 0


# --- cross-process publish / subscribe ----------------------------------------------------------


@pytest.fixture
def ros_context() -> Iterator[Any]:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.mark.slow
def test_radar_frame_round_trip_between_processes(ros_context: Any) -> None:
    topic = f"{TOPIC}_{os.getpid()}"
    node = rclpy.create_node("radar_frame_test_subscriber", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    received: list[Any] = []
    node.create_subscription(msgs.RadarFrame, topic, received.append, 10)

    env = dict(os.environ)
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)  # let ros-wheels-bootstrapper set up the child
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, __file__, "publish", topic],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Discovery first: subscribers miss what is published before the match.
        deadline = time.monotonic() + MATCH_TIMEOUT_S
        while node.count_publishers(topic) == 0:
            assert proc.poll() is None, f"publisher exited early: {proc.communicate()}"
            assert time.monotonic() < deadline, f"no publisher matched in {MATCH_TIMEOUT_S} s"
            executor.spin_once(timeout_sec=0.1)
        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while not received:
            assert proc.poll() is None, f"publisher exited early: {proc.communicate()}"
            assert time.monotonic() < deadline, f"no frame received in {RECEIVE_TIMEOUT_S} s"
            executor.spin_once(timeout_sec=0.1)
    finally:
        proc.kill()
        proc.communicate()
        executor.shutdown()
        node.destroy_node()

    msg = received[0]
    index = msg.header.stamp.sec - 1_700_000_000
    assert index in range(3)
    expected = make_frame(index)
    assert msg == expected  # generated __eq__ compares every field
    assert msg.header.frame_id == "radar0_link"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1_700_000_000 + index, 123_456_789)
    assert msg.radar_id == "iwr6843_0"
    assert msg.frame_number == 2**40 + index
    assert msg.trigger_index == -1
    assert (msg.device_stamp.sec, msg.device_stamp.nanosec) == (42, 999_999_999)
    assert (msg.num_loops, msg.num_chirps_per_loop, msg.num_rx, msg.num_samples) == (
        NUM_LOOPS,
        NUM_CHIRPS,
        NUM_RX,
        NUM_SAMPLES,
    )
    assert msg.sample_format == "int16_iq_sdk"
    assert (msg.num_packets, msg.lost_packets, msg.lost_bytes, msg.valid) == (538, 1, 1456, False)
    assert len(msg.data) == FRAME_BYTES
    assert bytes(msg.data) == frame_data(index)


# --- the ROS messages and the MCAP schemas are the same -----------------------------------------

STANDARD_MESSAGES = [
    "builtin_interfaces/Time",
    "std_msgs/Header",
    "sensor_msgs/Image",
    "sensor_msgs/CameraInfo",
    "sensor_msgs/RegionOfInterest",
    "sensor_msgs/PointField",
    "sensor_msgs/PointCloud2",
]
# .msg primitive -> the type name rclpy reports (rosidl's IDL spelling).
_IDL_NAMES = {
    "bool": "boolean",
    "byte": "octet",
    "char": "uint8",
    "float32": "float",
    "float64": "double",
}
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
_TYPE = re.compile(
    r"(?P<base>[A-Za-z_][\w/]*)(?:<=(?P<strlen>\d+))?(?:\[(?P<bound><=)?(?P<n>\d*)\])?"
)


def _rclpy_type_name(msg_type: str, package: str) -> str:
    m = _TYPE.fullmatch(msg_type)
    assert m, msg_type
    base = m["base"]
    if base in _PRIMITIVES:
        base = _IDL_NAMES.get(base, base)
        if m["strlen"]:
            base = f"{base}<{m['strlen']}>"
    elif base == "Header":
        base = "std_msgs/Header"
    elif "/" not in base:
        base = f"{package}/{base}"
    if m["n"] is None:
        return base
    if m["n"] == "":
        return f"sequence<{base}>"
    if m["bound"]:
        return f"sequence<{base}, {m['n']}>"
    return f"{base}[{m['n']}]"


def _declared(name: str) -> tuple[list[tuple[str, str]], dict[str, int | float | str]]:
    """Fields (name, rclpy type name) and constants of a message, from ``schemas``."""
    package = name.partition("/")[0]
    fields: list[tuple[str, str]] = []
    constants: dict[str, int | float | str] = {}
    for raw in schemas.message_text(name).splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        msg_type, _, rest = line.partition(" ")
        rest = rest.strip()
        if "=" in rest and not rest.startswith("="):
            const, _, value = rest.partition("=")
            value = value.strip()
            if msg_type == "string":
                constants[const.strip()] = value.strip("\"'")
            elif msg_type.startswith("float"):
                constants[const.strip()] = float(value)
            else:
                constants[const.strip()] = int(value)
            continue
        field_name = rest.split()[0]
        fields.append((field_name, _rclpy_type_name(msg_type, package)))
    return fields, constants


def _rclpy_class(name: str) -> Any:
    package, _, short = name.partition("/")
    module = (
        msgs if package == schemas.INTERFACES_PACKAGE else importlib.import_module(f"{package}.msg")
    )
    return getattr(module, short)


def test_every_msg_file_is_built() -> None:
    built = sorted(
        f"{schemas.INTERFACES_PACKAGE}/{n}"
        for n in dir(msgs)
        if not n.startswith("_") and isinstance(getattr(msgs, n), type)
    )
    assert built == schemas.own_message_names()


@pytest.mark.parametrize("name", schemas.own_message_names() + STANDARD_MESSAGES)
def test_rclpy_message_matches_schema(name: str) -> None:
    cls = _rclpy_class(name)
    fields, constants = _declared(name)
    assert list(cls.get_fields_and_field_types().items()) == fields
    for const, value in constants.items():
        assert getattr(cls, const) == value, const


def _sample_recorder_status() -> Any:
    status = msgs.RecorderStatus()
    status.header.stamp.sec = 17
    status.header.frame_id = "rig"
    status.session = "s01"
    status.take = "t003"
    status.state = "recording"
    status.bytes_written = 2**33 + 5
    status.elapsed_s = 12.5
    for i in range(2):
        stream = msgs.StreamStatus()
        stream.name = f"/radar{i}/frames"
        stream.frames = 100 + i
        stream.dropped_frames = i
        stream.lost_packets = 3 * i
        stream.lost_bytes = 1456 * 3 * i
        stream.rate_hz = 9.98
        status.streams.append(stream)
    return status


def _sample_messages() -> list[tuple[str, Any]]:
    sync = msgs.FrameSync()
    sync.header.frame_id = "camera0_color_optical_frame"
    sync.stream = "/camera0/color/image_raw"
    sync.frame_number = 12
    sync.trigger_index = 11
    sync.host_stamp.sec = 3
    sync.valid = True
    pulse = msgs.TriggerPulse()
    pulse.index = 7
    pulse.board_time_us = 700_000
    pulse.host_receive_stamp.nanosec = 1
    return [
        ("acquisition_interfaces/RadarFrame", make_frame(1)),
        ("acquisition_interfaces/FrameSync", sync),
        ("acquisition_interfaces/TriggerPulse", pulse),
        ("acquisition_interfaces/RecorderStatus", _sample_recorder_status()),
    ]


def _assert_same(decoded: Any, msg: Any, path: str) -> None:
    """A message decoded by the MCAP schema's decoder equals the rclpy message, field by field."""
    if hasattr(msg, "get_fields_and_field_types"):
        for field in msg.get_fields_and_field_types():
            _assert_same(getattr(decoded, field), getattr(msg, field), f"{path}.{field}")
    elif isinstance(msg, list):
        assert len(decoded) == len(msg), path
        for i, (d, m) in enumerate(zip(decoded, msg, strict=True)):
            _assert_same(d, m, f"{path}[{i}]")
    elif isinstance(msg, (bytes, array.array, np.ndarray)):
        assert bytes(decoded) == bytes(msg), path
    else:
        assert decoded == msg, path


@pytest.mark.parametrize("case", range(4))
def test_cdr_matches_mcap_schema(case: int) -> None:
    """rclpy's CDR and the MCAP writer's encoding of one message are interchangeable.

    The byte strings differ only in alignment padding, which Fast CDR leaves uninitialised.
    """
    pytest.importorskip("mcap_ros2")
    name, msg = _sample_messages()[case]
    ros_bytes = bytes(serialize_message(msg))
    mcap_bytes = schemas.encoder(name)(msg)
    assert len(mcap_bytes) == len(ros_bytes)
    assert deserialize_message(mcap_bytes, type(msg)) == msg
    _assert_same(schemas.decoder(name)(ros_bytes), msg, name)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "publish":
        sys.exit(publisher_main(sys.argv[2]))
    sys.exit(f"usage: {sys.argv[0]} publish TOPIC")
