"""Static transforms of the rig, from the rig file's extrinsics, on ``/tf_static``.

Frames (see :mod:`acquisition.geometry`; REP-103 body frames, TI and optical frames below them)::

    rig                                  rig frame: x forward into the scene, y left, z up
    +- <radar>_link                      radar body frame: x along the boresight
    |  +- <radar>                        TI radar frame: x along the azimuth array, y boresight,
    |                                    z up; frame_id of RadarFrame and of the radar's points
    +- <camera>_link                     camera body frame: x along the optical axis
       +- <camera>_color_optical_frame   OpenCV optical frame: x right, y down, z forward
       +- <camera>_depth_optical_frame   (depth cameras)

Published as one ``tf2_msgs/TFMessage`` on ``/tf_static`` with the latched QoS tf2 uses. Where
``tf2_msgs`` is not installed (ROS 2 from PyPI wheels has no geometry2;
``ros2_ws/scripts/build_interfaces.sh`` builds a stand-in with the identical definition) the
node falls back to ``geometry_msgs/TransformStamped`` messages on ``/rig_tf/transforms``
(latched, one per frame), and says so in its log.
"""

from __future__ import annotations

import time
from typing import Any

from geometry_msgs.msg import TransformStamped

from acquisition_ros import params
from acquisition_ros.ros_io import LATCHED, NodeRuntime, declare, run_node, to_time
from acquisition_ros.transforms import rig_transforms


def body(rt: NodeRuntime) -> None:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    from acquisition.rig import load_rig

    p = declare(rt.node, params.RIG_TF)
    rig = load_rig(p["rig_file"])
    now = time.time_ns()
    transforms = []
    for t in rig_transforms(rig, p["rig_frame"]):
        msg = TransformStamped()
        to_time(msg.header.stamp, now)
        msg.header.frame_id = t.parent
        msg.child_frame_id = t.child
        (
            msg.transform.translation.x,
            msg.transform.translation.y,
            msg.transform.translation.z,
        ) = t.translation
        (
            msg.transform.rotation.x,
            msg.transform.rotation.y,
            msg.transform.rotation.z,
            msg.transform.rotation.w,
        ) = t.quaternion
        transforms.append(msg)
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError:
        qos = QoSProfile(
            depth=max(1, len(transforms)),
            history=HistoryPolicy.KEEP_LAST,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        pub: Any = rt.node.create_publisher(TransformStamped, "~/transforms", qos)
        rt.log.warning(
            "tf2_msgs is not installed: publishing geometry_msgs/TransformStamped on "
            f"{rt.fqn}/transforms instead of /tf_static (run ros2_ws/scripts/build_interfaces.sh)"
        )
        for msg in transforms:
            pub.publish(msg)
    else:
        pub = rt.node.create_publisher(TFMessage, "/tf_static", LATCHED)
        pub.publish(TFMessage(transforms=transforms))
    rt.set_state("armed")
    rt.stop.wait()
    rt.set_state("stopped")


def main(argv: list[str] | None = None) -> int:
    return run_node(body, "rig_tf")


if __name__ == "__main__":
    raise SystemExit(main())
