"""Trigger node: owns the trigger board and its clock model; publishes ``/trigger/pulses``.

Configures the board (stopped, rate and width from the rig file, armed), then waits until every
node in ``wait_for`` reports ``armed`` on its latched ``<node>/state`` topic, and only then starts
pulsing (state ``running``). Each pulse report becomes an ``acquisition_interfaces/TriggerPulse``
whose header stamp is the edge on the host wall clock from :class:`TriggerClock` (the same
estimate the plain-Python recorder writes). On SIGINT the board stops first and the node reports
``stopped``: the sensor nodes wait for that before stopping their devices.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from acquisition.emulated_rig import endpoints_from_dict
from acquisition.recorder import PulseTimeline
from acquisition.rig import load_rig
from acquisition.trigger.clock import ClockNotReady
from acquisition.trigger.driver import PulseRecord, TriggerBoard
from acquisition_ros import params
from acquisition_ros.ros_io import (
    NodeRuntime,
    declare,
    diagnostic_status,
    interfaces,
    reliable,
    run_node,
    to_time,
    wait_for_file,
)
from acquisition_ros.sync_stream import ERROR, OK, WARN, RateMeter


def body(rt: NodeRuntime) -> None:
    p = declare(rt.node, params.TRIGGER)
    rig = load_rig(p["rig_file"])
    if rig.trigger is None:
        raise ValueError(f"{p['rig_file']} has no trigger board")
    port = p["port"] or rig.trigger.port
    if p["endpoints_file"]:
        endpoints = endpoints_from_dict(
            wait_for_file(p["endpoints_file"], p["endpoints_timeout_s"], rt.stop)
        )
        port = endpoints.trigger_port or port
    wait_for = [n for n in p["wait_for"] if n]
    rt.watch_states(wait_for)

    publisher = rt.node.create_publisher(interfaces.TriggerPulse, "~/pulses", reliable(100))
    timeline = PulseTimeline()
    wall_offset_ns = time.time_ns() - time.monotonic_ns()
    meter = RateMeter()
    lock = threading.Lock()
    count = {"pulses": 0}

    def on_pulse(pulse: PulseRecord) -> None:
        edge_ns = timeline.add(pulse)
        msg = interfaces.TriggerPulse()
        msg.header.frame_id = "trigger"
        to_time(msg.header.stamp, edge_ns + wall_offset_ns)
        msg.index = pulse.index
        msg.board_time_us = pulse.board_time_us
        to_time(msg.host_receive_stamp, pulse.wall_receive_ns)
        publisher.publish(msg)
        with lock:
            count["pulses"] += 1
            meter.tick()

    board = TriggerBoard(port, name="trigger", baudrate=rig.trigger.baud, on_pulse=on_pulse)

    def diagnostics() -> None:
        stats = board.stats() if board is not None else None
        values: dict[str, Any] = {"state": rt.state, "port": port}
        with lock:
            values["pulses"] = count["pulses"]
            values["rate_hz"] = f"{meter.rate():.2f}"
        level, message = OK, rt.state
        if stats is not None:
            values.update(
                missed_reports=stats.missed_reports,
                bad_lines=stats.bad_lines,
                silent_episodes=stats.silent_episodes,
                board_dropped_reports=stats.board_dropped_reports,
            )
            if stats.missed_reports or stats.bad_lines:
                level, message = WARN, f"{rt.state}; {stats.missed_reports} pulse reports lost"
        try:
            fit = timeline.clock.fit()
            values.update(
                clock_drift_ppm=f"{fit.drift_ppm:.2f}",
                clock_residual_rms_us=f"{fit.residual_rms_us:.1f}",
            )
        except ClockNotReady:
            pass
        if rt.state == "running" and float(values["rate_hz"]) < 0.5 * rig.trigger.rate_hz:
            if count["pulses"] > 2:
                level, message = ERROR, f"pulse rate {values['rate_hz']} Hz"
        if rt.state.startswith("waiting"):
            level = WARN
        rt.publish_diagnostics([diagnostic_status(rt.fqn, "trigger", level, message, values)])

    rt.periodic(p["diagnostics_period_s"], diagnostics)
    board.open()
    try:
        board.stop()
        board.set_rate(rig.trigger.rate_hz)
        board.set_width(int(rig.trigger.pulse_width_us))
        board.arm()
        rt.set_state("armed")
        # The handshake: every sensor armed and the recorder listening, then start.
        deadline = time.monotonic() + p["armed_timeout_s"]
        missing = wait_for
        next_log = time.monotonic()
        while missing and not rt.stop.is_set():
            missing = rt.wait_states(lambda s: s == "armed", 0.5)
            failed = {n: s for n, s in rt.states().items() if s.startswith("failed")}
            if failed:
                raise RuntimeError(f"not starting the trigger: {failed}")
            if missing and time.monotonic() > deadline:
                raise TimeoutError(f"not armed after {p['armed_timeout_s']:.0f} s: {missing}")
            if missing and time.monotonic() >= next_log:
                rt.state = "waiting for " + ", ".join(missing)
                rt.log.info(rt.state)
                next_log += 5.0
        if rt.stop.is_set():
            return
        time.sleep(p["start_settle_s"])
        board.start()
        rt.set_state("running")
        rt.log.info(f"trigger running at {rig.trigger.rate_hz} Hz")
        rt.stop.wait()
    finally:
        try:
            board.stop()
        finally:
            diagnostics()
            board.close()
            rt.set_state("stopped")


def main(argv: list[str] | None = None) -> int:
    return run_node(body, "trigger")


if __name__ == "__main__":
    raise SystemExit(main())
