"""rclpy plumbing shared by the nodes: start-up, parameters, stamps, the latched state topic,
diagnostics and the signal-driven shutdown. The only module besides the nodes that imports rclpy.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import String

from acquisition_ros.nodeset import STATE_TOPIC
from acquisition_ros.params import ParamSpec

try:
    from acquisition_interfaces import msg as interfaces
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"acquisition_interfaces is not importable ({exc}): build it (ros2_ws/scripts/"
        "build_interfaces.sh, or colcon build in ros2_ws) and source ros2_ws/scripts/ros_env.sh "
        "or ros2_ws/install/setup.bash"
    ) from exc

__all__ = ["interfaces"]

LATCHED = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def reliable(depth: int) -> QoSProfile:
    return QoSProfile(
        depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE
    )


# --- stamps ---------------------------------------------------------------------------------
def to_time(msg_time: Any, ns: int) -> Any:
    """Fill a builtin_interfaces/Time from integer nanoseconds; returns it."""
    ns = max(0, int(ns))
    msg_time.sec = ns // 1_000_000_000
    msg_time.nanosec = ns % 1_000_000_000
    return msg_time


def ns_of(msg_time: Any) -> int:
    return int(msg_time.sec) * 1_000_000_000 + int(msg_time.nanosec)


# --- parameters -----------------------------------------------------------------------------
def declare(node: Node, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Declare every parameter with its default and description; returns their values."""
    values: dict[str, Any] = {}
    for spec in specs:
        descriptor = ParameterDescriptor(description=spec.description)
        values[spec.name] = node.declare_parameter(spec.name, spec.default, descriptor).value
    return values


def wait_for_file(path: str, timeout_s: float, stop: threading.Event) -> dict[str, Any]:
    """JSON content of a file another process writes (the emulated rig's endpoints)."""
    deadline = time.monotonic() + timeout_s
    while not Path(path).is_file():
        if time.monotonic() > deadline or stop.is_set():
            raise TimeoutError(f"{path} did not appear in {timeout_s:.0f} s")
        time.sleep(0.05)
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


# --- diagnostics ----------------------------------------------------------------------------
def diagnostic_status(
    name: str, hardware_id: str, level: int, message: str, values: dict[str, Any]
) -> Any:
    status = DiagnosticStatus()
    status.level = bytes([level])
    status.name = name
    status.hardware_id = hardware_id
    status.message = message
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    return status


# --- the node's life --------------------------------------------------------------------------
class NodeRuntime:
    """A node spun on a background executor, with a latched ``~/state`` topic, a
    ``/diagnostics`` publisher and a stop event set by SIGINT / SIGTERM.

    rclpy's own signal handler would shut the context down at once; nodes here must still
    publish while they stop (last frames, final state), so Python handlers are installed
    instead and the context is shut down at the end of :meth:`finish`.
    """

    def __init__(self, default_name: str, argv: list[str] | None = None) -> None:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        args = sys.argv if argv is None else argv
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        self.node = Node(default_name)
        self.log = self.node.get_logger()
        self.stop = threading.Event()
        self.exit_code = 0
        self._state_pub = self.node.create_publisher(String, f"~/{STATE_TOPIC}", LATCHED)
        self._diag_pub = self.node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.state = ""
        self.set_state("starting")
        self._watched: dict[str, str] = {}
        self._watch_lock = threading.Lock()
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self._spin_thread = threading.Thread(target=self._spin, name="executor", daemon=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():  # a second Ctrl-C: leave now
            raise KeyboardInterrupt
        self.stop.set()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception as exc:  # context shut down under the executor
            if rclpy.ok():
                self.log.error(f"executor stopped: {exc!r}")

    def start_spinning(self) -> None:
        self._spin_thread.start()

    @property
    def fqn(self) -> str:
        return str(self.node.get_fully_qualified_name())

    # --- state topic ----------------------------------------------------------------------
    def set_state(self, state: str) -> None:
        self.state = state
        self._state_pub.publish(String(data=state))

    def watch_states(self, fqns: Iterable[str]) -> None:
        """Follow other nodes' latched state topics (``<fqn>/state``)."""
        for fqn in fqns:
            if not fqn:
                continue
            with self._watch_lock:
                self._watched.setdefault(fqn, "")

            def on_state(msg: Any, fqn: str = fqn) -> None:
                with self._watch_lock:
                    self._watched[fqn] = str(msg.data)

            self.node.create_subscription(String, f"{fqn}/{STATE_TOPIC}", on_state, LATCHED)

    def states(self) -> dict[str, str]:
        with self._watch_lock:
            return dict(self._watched)

    def wait_states(
        self, accept: Callable[[str], bool], timeout_s: float, *, honour_stop: bool = True
    ) -> list[str]:
        """Wait until every watched node's state is accepted; returns those still not."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = [n for n, s in self.states().items() if not accept(s)]
            if not missing or time.monotonic() > deadline:
                return missing
            if honour_stop and self.stop.is_set():
                return missing
            time.sleep(0.05)

    # --- diagnostics ----------------------------------------------------------------------
    def publish_diagnostics(self, statuses: list[Any]) -> None:
        array = DiagnosticArray()
        to_time(array.header.stamp, time.time_ns())
        array.status = statuses
        self._diag_pub.publish(array)

    def periodic(self, period_s: float, callback: Callable[[], None]) -> Any:
        return self.node.create_timer(period_s, callback)

    # --- end ------------------------------------------------------------------------------
    def finish(self) -> int:
        """Give the last messages time to leave, then shut the node down; returns the exit
        code."""
        time.sleep(0.2)
        try:
            self.executor.shutdown(timeout_sec=2.0)
        except Exception:
            pass
        # The executor thread must be out of rclpy before the context goes (else the C++
        # runtime aborts the process at exit).
        if self._spin_thread.is_alive():
            self._spin_thread.join(timeout=5.0)
        try:
            self.node.destroy_node()
        finally:
            rclpy.try_shutdown()
        return self.exit_code


def run_node(body: Callable[[NodeRuntime], None], default_name: str) -> int:
    """Create the runtime, run ``body`` (which returns once the node is stopped) and finish.
    An exception in ``body`` publishes state ``failed: ...`` and gives exit status 1."""
    runtime = NodeRuntime(default_name)
    runtime.start_spinning()
    try:
        body(runtime)
    except KeyboardInterrupt:
        runtime.exit_code = 130
    except Exception as exc:
        runtime.log.error(f"{type(exc).__name__}: {exc}")
        runtime.set_state(f"failed: {exc}")
        runtime.exit_code = 1
    return runtime.finish()
