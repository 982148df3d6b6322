"""Camera node, one per camera: ``<camera>/color/image_raw`` (sensor_msgs/Image, rgb8),
``<camera>/color/camera_info``, ``<camera>/color/sync`` (acquisition_interfaces/FrameSync), and
the same three under ``depth/`` (16UC1, millimetres, aligned to colour) for a depth camera.

Backends come from :func:`acquisition.cameras.create_camera` (RealSense, Azure Kinect, UVC,
simulated). A simulated camera of an emulated rig renders the simulator's world; its trigger wire
is the trigger node's pulse topic (the emulated devices run in another process), so it exposes
one frame per ``TriggerPulse`` as a hardware-triggered camera does.

Stamps come from the device, not from "now": a frame matched to a trigger pulse (device frame
counter + reception time, :class:`AlignedStream`) is stamped with that pulse's edge, the same
instant as the radar frames of that pulse; an unmatched frame (free-running camera) is stamped
from its hardware timestamp mapped to host time by a :class:`TriggerClock` fitted to (device
time, reception time) pairs, or its reception time when the device has no clock (UVC).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from acquisition.cameras.base import Camera, CameraFrame, CameraLost
from acquisition.cameras.factory import create_camera
from acquisition.emulation.trigger_line import TriggerLine, TriggerPulse
from acquisition.errors import DeviceError
from acquisition.recording.records import NO_TRIGGER, CameraIntrinsics
from acquisition.rig import CameraSpec, RigConfig, load_rig
from acquisition.trigger.clock import ClockNotReady, TriggerClock
from acquisition_ros import params
from acquisition_ros.ros_io import (
    NodeRuntime,
    declare,
    diagnostic_status,
    interfaces,
    ns_of,
    reliable,
    run_node,
    to_time,
)
from acquisition_ros.sync_stream import (
    ERROR,
    WARN,
    AlignedStream,
    PulseBook,
    StreamCounters,
    stream_level,
)


def sim_camera_options(rig: RigConfig, spec: CameraSpec, book: PulseBook) -> dict[str, Any]:
    """A simulated camera of the rig's world, exposed through a local trigger line (fired from
    the pulse messages) and rendering the instant of the pulse that exposed it."""
    from acquisition.cameras.sim import DEFAULT_EXPOSURE_OFFSET_NS
    from acquisition.emulation.sim_world import world_from_rig

    world = world_from_rig(rig)
    line = TriggerLine()

    def frame_source(device_time_ns: int) -> Any:
        board_us = (device_time_ns - DEFAULT_EXPOSURE_OFFSET_NS) // 1000
        with book.lock:
            index = book.board_us_to_index.get(board_us, 0)
        return world.camera_images(spec.name, index)

    return {"frame_source": frame_source, "trigger_line": line}


def camera_info_msg(msg: Any, intr: CameraIntrinsics, stamp_ns: int, frame_id: str) -> Any:
    """Fill a sensor_msgs/CameraInfo (plumb-bob, as the recording's camera_info)."""
    k = intr.matrix()
    proj = np.zeros((3, 4))
    proj[:, :3] = k
    to_time(msg.header.stamp, stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = intr.height, intr.width
    msg.distortion_model = "plumb_bob"
    msg.d = [float(x) for x in intr.distortion]
    msg.k = [float(x) for x in k.ravel()]
    msg.r = [float(x) for x in np.eye(3).ravel()]
    msg.p = [float(x) for x in proj.ravel()]
    return msg


def body(rt: NodeRuntime) -> None:
    from sensor_msgs.msg import CameraInfo, Image

    p = declare(rt.node, params.CAMERA)
    rig = load_rig(p["rig_file"])
    name = p["camera_name"] or rt.node.get_namespace().strip("/")
    spec = rig.camera(name)
    assert rig.trigger is not None
    rate_hz = rig.trigger.rate_hz
    book = PulseBook()
    stream = AlignedStream(
        name,
        book,
        round(1e9 / rate_hz),
        warmup=p["sync.warmup_frames"],
        wait_for_pulse_s=p["sync.wait_for_pulse_s"],
        confirm=p["sync.confirm_frames"],
        resync=p["sync.resync"],
    )
    counters = StreamCounters()
    device_clock = TriggerClock()  # device microseconds -> host wall ns
    options: dict[str, Any] = {}
    local_line: TriggerLine | None = None
    if spec.kind == "sim" and p["sim.fire_from_pulses"]:
        options = sim_camera_options(rig, spec, book)
        local_line = options["trigger_line"]

    def on_pulse(msg: Any) -> None:
        edge = book.add(msg.index, msg.board_time_us, ns_of(msg.host_receive_stamp))
        if local_line is not None and edge is not None:
            local_line.fire(TriggerPulse(msg.index, msg.board_time_us, edge))

    rt.node.create_subscription(interfaces.TriggerPulse, p["pulses_topic"], on_pulse, reliable(100))
    rt.watch_states([p["trigger_state_topic"].rsplit("/", 1)[0]])
    depth_qos = reliable(p["images_qos_depth"])
    pubs: dict[str, tuple[Any, Any, Any]] = {}
    for kind in ("color", "depth") if spec.depth else ("color",):
        pubs[kind] = (
            rt.node.create_publisher(Image, f"{kind}/image_raw", depth_qos),
            rt.node.create_publisher(CameraInfo, f"{kind}/camera_info", depth_qos),
            rt.node.create_publisher(interfaces.FrameSync, f"{kind}/sync", depth_qos),
        )

    camera: Camera = create_camera(spec, **options)
    mismatches = {"n": 0}

    def stamp_of(frame: CameraFrame, trigger: int) -> int:
        if trigger != NO_TRIGGER:
            edge = book.edge_of(trigger)
            if edge is not None:
                return edge
        if frame.device_time_ns:
            try:
                return device_clock.to_host_ns(frame.device_time_ns // 1000)
            except ClockNotReady:
                pass
        return frame.host_time_ns

    def publish(frame: CameraFrame, trigger: int) -> None:
        if frame.trigger_index >= 0 and trigger >= 0 and frame.trigger_index != trigger:
            mismatches["n"] += 1  # the device says another pulse than the timing does
        stamp = stamp_of(frame, trigger)
        intr = camera.intrinsics
        for record in CameraFrame(**{**vars(frame), "trigger_index": trigger}).to_records(stamp):
            image_pub, info_pub, sync_pub = pubs[record.stream]
            frame_id = f"{name}_{record.stream}_optical_frame"
            img = Image()
            to_time(img.header.stamp, stamp)
            img.header.frame_id = frame_id
            array = np.ascontiguousarray(record.image)
            img.height, img.width = array.shape[:2]
            img.encoding = record.encoding
            img.is_bigendian = 0
            img.step = array.strides[0]
            img.data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            image_pub.publish(img)
            info_pub.publish(camera_info_msg(CameraInfo(), intr, stamp, frame_id))
            sync = interfaces.FrameSync()
            to_time(sync.header.stamp, stamp)
            sync.header.frame_id = frame_id
            sync.stream = f"/{name}/{record.stream}/image_raw"
            sync.frame_number = record.frame_number
            sync.trigger_index = trigger
            to_time(sync.device_stamp, record.device_time_ns)
            to_time(sync.host_stamp, record.host_time_ns)
            sync.valid = record.valid
            sync_pub.publish(sync)
        counters.count(trigger=trigger)
        counters.sync_mismatches = mismatches["n"]

    reading = threading.Event()

    def read_loop() -> None:
        while reading.is_set():
            try:
                frame = camera.read(timeout_s=p["read_timeout_s"])
            except CameraLost as exc:
                rt.log.error(str(exc))
                rt.state = f"lost: {exc}"
                break
            except DeviceError as exc:
                rt.log.warning(str(exc))
                continue
            if frame is None:
                if camera.state in ("lost", "ended"):
                    break
                continue
            frame_time = frame.host_time_ns
            if frame.device_time_ns:
                # The device clock, mapped by the lower envelope of its delivery delays, times
                # the exposure without the host's reception jitter.
                device_clock.add(frame.device_time_ns // 1000, frame.host_time_ns)
                frame_time = min(frame_time, device_clock.to_host_ns(frame.device_time_ns // 1000))
            for item, trigger in stream.push(frame.frame_number, frame_time, frame):
                publish(item, trigger)
        for item, trigger in stream.flush():
            publish(item, trigger)

    def diagnostics() -> None:
        level, message = stream_level(counters, rate_hz, rt.state == "armed")
        values: dict[str, Any] = {"state": rt.state, "kind": spec.kind, **counters.values()}
        values.update({f"camera.{k}": v for k, v in camera.counters.as_dict().items()})
        values["resyncs"] = stream.aligner.resyncs
        values["jitter_outliers"] = stream.aligner.jitter_outliers
        if camera.counters.dropped and level == 0:
            level, message = WARN, f"{message}; {camera.counters.dropped} frames dropped"
        if rt.state.startswith(("lost", "failed")):
            level, message = ERROR, rt.state
        rt.publish_diagnostics([diagnostic_status(rt.fqn, name, level, message, values)])

    rt.periodic(p["diagnostics_period_s"], diagnostics)
    reader = threading.Thread(target=read_loop, name=f"{name}-reader", daemon=True)
    opened = False
    try:
        camera.open()
        opened = True
        camera.start()
        reading.set()
        reader.start()
        while rt.node.count_publishers(p["pulses_topic"]) == 0 and not rt.stop.is_set():
            time.sleep(0.05)
        rt.set_state("armed")
        rt.stop.wait()
        rt.set_state("stopping")
        rt.wait_states(lambda s: s == "stopped", p["shutdown.trigger_wait_s"], honour_stop=False)
        time.sleep(p["shutdown.drain_s"])
    finally:
        if opened:
            reading.clear()  # the reader finishes its read, flushes the aligner and returns
            reader.join(timeout=5.0)
            try:
                camera.close()
            except DeviceError as exc:
                rt.log.warning(str(exc))
        diagnostics()
        if not rt.state.startswith("failed"):
            rt.set_state("stopped")


def main(argv: list[str] | None = None) -> int:
    return run_node(body, "camera")


if __name__ == "__main__":
    raise SystemExit(main())
