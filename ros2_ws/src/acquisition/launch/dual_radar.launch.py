"""The HuPR dual-radar rig (two radars, trigger, camera(s), recorder, static transforms) from a rig
YAML.

    ros2 launch acquisition dual_radar.launch.py sim:=true session:=demo subject:=S01 action:=wave
    ros2 launch acquisition dual_radar.launch.py rig:=/path/to/my_rig.yaml session:=2024-05 \\
        subject:=S02 action:=squat

The node set is :func:`acquisition_ros.nodeset.describe`, the same description that
``python -m acquisition_ros.launcher`` (no ``ros2 launch`` needed) starts. Start order is the
nodes' own handshake (the trigger starts once every sensor and the recorder report ``armed``);
Ctrl-C stops the trigger first, then the sensors, then the recorder closes the take.
"""

from __future__ import annotations

import sys
from pathlib import Path

from acquisition_ros.nodeset import LAUNCH_ARGUMENTS, describe
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    TimerAction,
)
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in LAUNCH_ARGUMENTS}
    node_set = describe(values, python=sys.executable)
    actions = []
    if node_set.emulator is not None:
        actions.append(
            ExecuteProcess(cmd=node_set.emulator.cmd, name=node_set.emulator.name, output="screen")
        )
    for spec in node_set.nodes:
        actions.append(
            Node(
                package="acquisition",
                executable=spec.executable,
                name=spec.name,
                namespace=spec.namespace,
                parameters=[str(Path(node_set.config_dir) / spec.config_file), spec.parameters],
                output="screen",
                # The nodes order their own shutdown; give the recorder time to close the take.
                sigterm_timeout="30",
            )
        )
    if node_set.duration_s > 0:
        actions.append(
            TimerAction(
                period=node_set.duration_s,
                actions=[EmitEvent(event=Shutdown(reason=f"duration {node_set.duration_s} s"))],
            )
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
                for a in LAUNCH_ARGUMENTS
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
