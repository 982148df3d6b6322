"""Recorder node: subscribes to every stream of the rig and writes one take in the toolkit's
recording format (``<sessions_root>/<session>/<take>/``: manifest.json, streams.mcap, cfg/,
rig.yaml), readable with :class:`acquisition.recording.TakeReader`.

Start: the take folder is created and the node subscribes to ``/trigger/pulses``,
``/<radar>/frames`` and ``/<camera>/{color,depth}/{image_raw,sync,camera_info}``; it reports
``armed`` once every one of those topics has a matched publisher, so the trigger (which waits for
it) never fires a pulse the take would miss. ``/recorder/status`` (RecorderStatus) is published
every ``status_period_s``.

Stop (SIGINT): state ``stopping``; the take stays open until every node in ``wait_for`` has
reported ``stopped`` (the trigger first, then the sensors after draining their last frames) or
``shutdown.timeout_s`` passed, then the manifest gets the synchronisation summary and the take is
closed (status ``complete``; ``interrupted`` when a sensor never reported ``stopped``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np

from acquisition.recording.records import (
    CameraIntrinsics,
    RadarFrameRecord,
    TriggerPulseRecord,
)
from acquisition.rig import load_rig
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
from acquisition_ros.sync_stream import OK, WARN
from acquisition_ros.take_session import TakeSession

_DTYPES = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "mono8": (np.uint8, 1)}
_DTYPES.update({"16UC1": (np.dtype("<u2"), 1), "mono16": (np.dtype("<u2"), 1)})  # type: ignore[dict-item]


def image_array(msg: Any) -> Any:
    """A sensor_msgs/Image as (H, W, 3) / (H, W) numpy array."""
    dtype, channels = _DTYPES[msg.encoding]
    flat = np.frombuffer(bytes(msg.data), dtype=dtype)
    row = msg.step // np.dtype(dtype).itemsize
    array = flat.reshape(msg.height, row)[:, : msg.width * channels]
    return array.reshape(msg.height, msg.width, channels) if channels > 1 else array


def body(rt: NodeRuntime) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image

    p = declare(rt.node, params.RECORDER)
    rig = load_rig(p["rig_file"])
    if not p["session"]:
        raise ValueError("parameter 'session' is required")
    take = p["take"] or (
        f"{p['subject'] or 'S00'}_{p['action'] or 'take'}_{datetime.now():%Y%m%dT%H%M%S}"
    )
    root = p["sessions_root"] or str(rig.recording.sessions_root)
    session = TakeSession(
        rig,
        sessions_root=root,
        session=p["session"],
        take=take,
        subject=p["subject"] or None,
        action=p["action"] or None,
        scene=p["scene"] or None,
        consent_ref=p["consent_ref"] or None,
        flush_interval_s=p["flush_interval_s"],
    )
    rt.log.info(f"recording into {session.directory}")
    wait_for = [n for n in p["wait_for"] if n]
    rt.watch_states(wait_for)
    node_of_stream = {}
    for fqn in wait_for:
        ns = fqn.rsplit("/", 1)[0].strip("/")
        if ns:
            node_of_stream[fqn] = ns  # /horizontal/radar -> horizontal
    node_values: dict[str, dict[str, str]] = {}

    def on_diagnostics(msg: Any) -> None:
        for status in msg.status:
            stream = node_of_stream.get(status.name)
            if stream is not None:
                node_values[stream] = {kv.key: kv.value for kv in status.values}

    rt.node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, reliable(50))

    topics: list[str] = []

    def on_pulse(msg: Any) -> None:
        session.trigger_pulse(
            TriggerPulseRecord(
                index=msg.index,
                board_time_us=msg.board_time_us,
                stamp_ns=ns_of(msg.header.stamp),
                host_receive_ns=ns_of(msg.host_receive_stamp),
            )
        )

    topics.append("/trigger/pulses")
    rt.node.create_subscription(interfaces.TriggerPulse, topics[-1], on_pulse, reliable(100))

    def on_radar_frame(msg: Any) -> None:
        session.radar_frame(
            RadarFrameRecord(
                radar_id=msg.radar_id,
                frame_number=msg.frame_number,
                trigger_index=msg.trigger_index,
                stamp_ns=ns_of(msg.header.stamp),
                device_time_ns=ns_of(msg.device_stamp),
                host_time_ns=ns_of(msg.host_stamp),
                shape=(msg.num_loops, msg.num_chirps_per_loop, msg.num_rx, msg.num_samples),
                sample_format=msg.sample_format,
                num_packets=msg.num_packets,
                lost_packets=msg.lost_packets,
                lost_bytes=msg.lost_bytes,
                valid=msg.valid,
                data=bytes(msg.data),
            )
        )

    frames_qos = reliable(p["frames_qos_depth"])
    for radar in rig.radars:
        topics.append(f"/{radar.name}/frames")
        rt.node.create_subscription(interfaces.RadarFrame, topics[-1], on_radar_frame, frames_qos)

    for cam in rig.cameras:
        for stream in ("color", "depth") if cam.depth else ("color",):
            base = f"/{cam.name}/{stream}"

            def on_image(msg: Any, cam: str = cam.name, stream: str = stream) -> None:
                session.camera_image(
                    cam, stream, ns_of(msg.header.stamp), image_array(msg), msg.encoding
                )

            def on_sync(msg: Any, cam: str = cam.name, stream: str = stream) -> None:
                session.camera_sync(
                    cam,
                    stream,
                    ns_of(msg.header.stamp),
                    frame_number=msg.frame_number,
                    trigger_index=msg.trigger_index,
                    device_time_ns=ns_of(msg.device_stamp),
                    host_time_ns=ns_of(msg.host_stamp),
                    valid=msg.valid,
                )

            def on_info(msg: Any, cam: str = cam.name, stream: str = stream) -> None:
                if stream != "color":
                    return
                k = msg.k
                intr = CameraIntrinsics(
                    msg.width, msg.height, k[0], k[4], k[2], k[5], tuple(float(d) for d in msg.d)
                )
                session.camera_info(cam, intr, ns_of(msg.header.stamp))

            qos = reliable(p["images_qos_depth"])
            topics += [f"{base}/image_raw", f"{base}/sync", f"{base}/camera_info"]
            rt.node.create_subscription(Image, f"{base}/image_raw", on_image, qos)
            rt.node.create_subscription(interfaces.FrameSync, f"{base}/sync", on_sync, qos)
            rt.node.create_subscription(CameraInfo, f"{base}/camera_info", on_info, qos)

    status_pub = rt.node.create_publisher(interfaces.RecorderStatus, "~/status", reliable(10))
    started = time.monotonic()

    def publish_status() -> None:
        msg = interfaces.RecorderStatus()
        to_time(msg.header.stamp, time.time_ns())
        msg.session, msg.take = p["session"], take
        msg.state = "recording" if rt.state == "armed" else rt.state
        elapsed = time.monotonic() - started
        msg.elapsed_s = elapsed
        streams = []
        total = 0
        with session.lock:
            for topic, s in sorted(session.writer.manifest.streams.items()):
                if s.kind == "camera_info":
                    continue
                st = interfaces.StreamStatus()
                st.name = topic
                st.frames, st.dropped_frames = s.frames, s.dropped_frames
                st.lost_packets, st.lost_bytes = s.lost_packets, s.lost_bytes
                st.rate_hz = s.frames / elapsed if elapsed > 0 else 0.0
                total += s.bytes
                streams.append(st)
        msg.bytes_written = total
        msg.streams = streams
        status_pub.publish(msg)
        level = OK if rt.state == "armed" else WARN
        values = {st.name: f"{st.frames} frames, {st.lost_bytes} B lost" for st in streams}
        rt.publish_diagnostics(
            [
                diagnostic_status(
                    rt.fqn, "recorder", level, f"{msg.state}: {session.directory}", values
                )
            ]
        )

    rt.periodic(p["status_period_s"], publish_status)
    status = "complete"
    try:
        # Armed once every stream has a publisher: the trigger waits for this.
        while not rt.stop.is_set():
            missing = [t for t in topics if rt.node.count_publishers(t) == 0]
            if not missing:
                break
            time.sleep(0.05)
        if not rt.stop.is_set():
            rt.set_state("armed")
        rt.stop.wait()
        rt.set_state("stopping")
        missing = rt.wait_states(
            lambda s: s == "stopped" or s.startswith("failed"),
            p["shutdown.timeout_s"],
            honour_stop=False,
        )
        if missing:
            rt.log.warning(f"closing the take without 'stopped' from {missing}")
            session.writer.event("interrupted", f"nodes did not report stopped: {missing}")
            status = "interrupted"
        time.sleep(p["shutdown.drain_s"])
    except BaseException:
        status = "failed"
        raise
    finally:
        manifest = session.close(node_values, status=status, ground_truth=p["ground_truth"])
        rt.log.info(f"take {manifest.take}: {manifest.status} -> {session.directory}")
        if not rt.state.startswith("failed"):
            rt.set_state("closed")
        publish_status()


def main(argv: list[str] | None = None) -> int:
    return run_node(body, "recorder")


if __name__ == "__main__":
    raise SystemExit(main())
