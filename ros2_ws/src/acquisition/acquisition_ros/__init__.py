"""ROS 2 nodes of the mmWave-radar human-sensing toolkit (ROS package ``acquisition``).

Thin nodes over the toolkit's drivers (``acquisition``): ``radar_node``, ``trigger_node``,
``camera_node``, ``recorder_node``, ``rig_tf_node``; the node set of a rig (``nodeset``), shared
by ``launch/dual_radar.launch.py`` and ``python -m acquisition_ros.launcher``. The modules
``params``, ``nodeset``, ``sync_stream``, ``take_session``, ``transforms``, ``preview`` and
``launcher`` import no ROS and are tested without it. See docs/ros2.md.
"""
