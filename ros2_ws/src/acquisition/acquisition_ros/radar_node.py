"""Radar node, one per board: configures the radar over its CLI, streams raw ADC frames through
its DCA1000 and publishes ``<radar>/frames`` (``acquisition_interfaces/RadarFrame``).

Arming is the plain recorder's: CLI configuration without ``sensorStart``, capture card FPGA and
packet set-up, receiver bound, ``record start``, then ``sensorStart`` so that the radar waits for
SYNC_IN. The node reports ``armed`` once that is done and the trigger's pulse topic is matched.

Each frame gets the trigger index of the pulse that started it (frame counter from the capture
card's byte counts + arrival time of its first packet, :class:`AlignedStream`) and the header
stamp of that pulse's edge (trigger clock model, host wall clock); ``host_stamp`` is the first
packet's arrival, ``device_stamp`` the pulse's board time. Lost packets and bytes, and
``valid=False`` for a frame with zero-filled bytes, are in every message and in the diagnostics.

Previews (``previews.enable``): a range-Doppler image (``range_doppler/image``, mono8 dB) and a
CFAR point cloud (``points``, PointCloud2 x y z velocity intensity in the radar's TI frame: x along
the azimuth array, y boresight, z up; TF frame ``<radar>``), computed on their own thread from the
newest frame; frames are never delayed by them.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from typing import Any

from acquisition.dca1000.control import DCA1000Control
from acquisition.dca1000.protocol import MAX_PAYLOAD_BYTES
from acquisition.dca1000.receiver import DCA1000Receiver, RawFrame
from acquisition.emulated_rig import endpoints_from_dict
from acquisition.errors import DeviceError
from acquisition.radar.config import load_radar_config
from acquisition.radar_cli.driver import RadarCli
from acquisition.rig import load_rig
from acquisition_ros import params
from acquisition_ros.preview import point_cloud_fields, preview_frame
from acquisition_ros.ros_io import (
    NodeRuntime,
    declare,
    diagnostic_status,
    interfaces,
    ns_of,
    reliable,
    run_node,
    to_time,
    wait_for_file,
)
from acquisition_ros.sync_stream import (
    ERROR,
    AlignedStream,
    PulseBook,
    StreamCounters,
    stream_level,
)


def body(rt: NodeRuntime) -> None:
    from sensor_msgs.msg import Image, PointCloud2, PointField

    p = declare(rt.node, params.RADAR)
    rig = load_rig(p["rig_file"])
    name = p["radar_name"] or rt.node.get_namespace().strip("/")
    spec = rig.radar(name)
    if spec.capture is None:
        raise DeviceError(name, "raw-ADC streaming needs a capture card in the rig")
    assert rig.trigger is not None
    frame_id = p["frame_id"] or name
    cfg = load_radar_config(spec.cfg_path)
    radar_params = cfg.params(spec.board)
    shape = radar_params.cube_shape
    sample_format = "int16_iq_sdk" if radar_params.complex_samples else "int16_real"
    rate_hz = rig.trigger.rate_hz
    period_ns = round(1e9 / rate_hz)

    cli_port, dca_ip, config_port = spec.cli_port, spec.capture.ip, spec.capture.config_port
    host_config_port, data_port = spec.capture.config_port, spec.capture.data_port
    if p["endpoints_file"]:
        ep = endpoints_from_dict(
            wait_for_file(p["endpoints_file"], p["endpoints_timeout_s"], rt.stop)
        ).radars[name]
        cli_port, dca_ip, config_port = ep.cli_port, ep.dca_ip, ep.dca_config_port
        host_config_port, data_port = 0, ep.host_data_port

    book = PulseBook()
    stream = AlignedStream(
        name,
        book,
        period_ns,
        warmup=p["sync.warmup_frames"],
        wait_for_pulse_s=p["sync.wait_for_pulse_s"],
        confirm=p["sync.confirm_frames"],
        resync=p["sync.resync"],
    )
    counters = StreamCounters()

    def on_pulse(msg: Any) -> None:
        book.add(msg.index, msg.board_time_us, ns_of(msg.host_receive_stamp))

    rt.node.create_subscription(interfaces.TriggerPulse, p["pulses_topic"], on_pulse, reliable(100))
    rt.watch_states([p["trigger_state_topic"].rsplit("/", 1)[0]])
    frames_pub = rt.node.create_publisher(
        interfaces.RadarFrame, "frames", reliable(p["frames_qos_depth"])
    )
    previews = bool(p["previews.enable"])
    rd_pub = points_pub = None
    if previews and p["previews.rd_image"]:
        rd_pub = rt.node.create_publisher(Image, "range_doppler/image", reliable(2))
    if previews and p["previews.points"]:
        points_pub = rt.node.create_publisher(PointCloud2, "points", reliable(2))
    preview_slot: queue.Queue[tuple[RawFrame, int, int] | None] = queue.Queue(maxsize=1)

    def publish(raw: RawFrame, trigger: int) -> None:
        host_wall = raw.first_rx_wall_ns or time.time_ns()
        stamp = stream.stamp_of(trigger, host_wall)
        msg = interfaces.RadarFrame()
        to_time(msg.header.stamp, stamp)
        msg.header.frame_id = frame_id
        msg.radar_id = name
        msg.frame_number = raw.index
        msg.trigger_index = trigger
        board_us = book.board_us_of(trigger)
        to_time(msg.device_stamp, board_us * 1000 if board_us is not None else 0)
        to_time(msg.host_stamp, raw.first_rx_wall_ns or 0)
        msg.num_loops, msg.num_chirps_per_loop, msg.num_rx, msg.num_samples = shape
        msg.sample_format = sample_format
        msg.num_packets = raw.packets
        msg.lost_packets = math.ceil(raw.lost_bytes / MAX_PAYLOAD_BYTES)
        msg.lost_bytes = raw.lost_bytes
        msg.valid = raw.valid
        msg.data = raw.data
        frames_pub.publish(msg)
        counters.count(
            valid=raw.valid,
            lost_packets=msg.lost_packets,
            lost_bytes=raw.lost_bytes,
            trigger=trigger,
        )
        if previews and raw.index % max(1, p["previews.every_n_frames"]) == 0:
            try:
                preview_slot.put_nowait((raw, trigger, stamp))
            except queue.Full:
                pass  # previews are best effort: the newest frame that fits is shown

    raw_frames: queue.Queue[RawFrame | None] = queue.Queue()

    def frame_loop() -> None:
        while True:
            raw = raw_frames.get()
            decided = (
                stream.flush() if raw is None else stream.push(raw.index, raw.first_rx_wall_ns, raw)
            )
            for frame, trigger in decided:
                publish(frame, trigger)
            if raw is None:
                return

    def preview_loop() -> None:
        while True:
            item = preview_slot.get()
            if item is None:
                return
            raw, _trigger, stamp = item
            try:
                image, points = preview_frame(
                    raw.data,
                    radar_params,
                    dynamic_range_db=p["previews.rd_dynamic_range_db"],
                    pfa=p["previews.cfar_pfa"],
                    remove_clutter=p["previews.remove_clutter"],
                    points=points_pub is not None,
                )
            except Exception as exc:  # a preview must never stop the raw stream
                rt.log.warning(f"preview failed: {exc!r}")
                continue
            if rd_pub is not None:
                img = Image()
                to_time(img.header.stamp, stamp)
                img.header.frame_id = frame_id
                img.height, img.width = image.shape
                img.encoding = "mono8"
                img.step = image.shape[1]
                img.data = image.tobytes()
                rd_pub.publish(img)
            if points_pub is not None and points is not None:
                cloud = PointCloud2()
                to_time(cloud.header.stamp, stamp)
                cloud.header.frame_id = frame_id
                cloud.height, cloud.width = 1, points.shape[0]
                cloud.fields = [
                    PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
                    for n, o in point_cloud_fields()
                ]
                cloud.is_bigendian = False
                cloud.point_step = 4 * len(cloud.fields)
                cloud.row_step = cloud.point_step * points.shape[0]
                cloud.data = points.tobytes()
                cloud.is_dense = True
                points_pub.publish(cloud)

    cli = RadarCli(cli_port, name=name, baudrate=spec.cli_baud)
    control = DCA1000Control(
        dca_ip,
        config_port=config_port,
        host_ip=spec.capture.host_ip,
        host_config_port=host_config_port,
        name=f"{name}-dca1000",
    )
    receiver = DCA1000Receiver(
        spec.capture.host_ip,
        data_port,
        bytes_per_frame=radar_params.bytes_per_frame,
        name=f"{name}-dca1000",
        on_frame=raw_frames.put,
    )
    final: dict[str, Any] = {}

    def diagnostics() -> None:
        level, message = stream_level(counters, rate_hz, rt.state == "armed")
        values: dict[str, Any] = {"state": rt.state, **counters.values()}
        values["resyncs"] = stream.aligner.resyncs
        values["jitter_outliers"] = stream.aligner.jitter_outliers
        values["pulse_gaps"] = book.gaps
        stats = final or _capture_stats(receiver)
        values.update({f"capture.{k}": v for k, v in stats.items()})
        if rt.state.startswith("failed"):
            level, message = ERROR, rt.state
        rt.publish_diagnostics([diagnostic_status(rt.fqn, name, level, message, values)])

    rt.periodic(p["diagnostics_period_s"], diagnostics)
    workers = [
        threading.Thread(target=frame_loop, name=f"{name}-frames", daemon=True),
        threading.Thread(target=preview_loop, name=f"{name}-previews", daemon=True),
    ]
    for worker in workers:
        worker.start()
    armed = False
    try:
        cli.open()
        cli.configure(cfg, start=False)
        control.connect()
        version = control.read_fpga_version()
        control.configure_fpga(lanes=2)
        control.configure_packets()
        receiver.start()
        control.start_record()
        cli.start()  # armed: the radar waits for SYNC_IN pulses
        armed = True
        rt.log.info(f"{name}: configured ({len(cfg.commands())} commands), FPGA {version}")
        while rt.node.count_publishers(p["pulses_topic"]) == 0 and not rt.stop.is_set():
            time.sleep(0.05)
        rt.set_state("armed")
        rt.stop.wait()
        rt.set_state("stopping")
        # The trigger stops first; the frames of its last pulses are still on the wire.
        rt.wait_states(lambda s: s == "stopped", p["shutdown.trigger_wait_s"], honour_stop=False)
        time.sleep(p["shutdown.drain_s"])
    finally:
        if armed:
            for action in (cli.stop, control.stop_record):
                try:
                    action()
                except DeviceError as exc:
                    rt.log.warning(str(exc))
        final.update(_capture_stats(receiver, receiver.stop() if armed else None))
        raw_frames.put(None)
        workers[0].join(timeout=10.0)
        preview_slot.put(None)
        cli.close()
        control.close()
        diagnostics()
        if not rt.state.startswith("failed"):
            rt.set_state("stopped")


def _capture_stats(receiver: DCA1000Receiver, stats: Any = None) -> dict[str, Any]:
    try:
        s = stats if stats is not None else receiver.stats
    except Exception:
        return {}
    keys = (
        "packets",
        "lost_packets",
        "lost_bytes",
        "out_of_order",
        "late_dropped",
        "duplicates",
        "malformed",
        "rejected",
        "frames_complete",
        "frames_incomplete",
        "frames_queue_dropped",
    )
    return {k: getattr(s, k) for k in keys if hasattr(s, k)}


def main(argv: list[str] | None = None) -> int:
    return run_node(body, "radar")


if __name__ == "__main__":
    raise SystemExit(main())
