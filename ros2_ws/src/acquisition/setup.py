"""ament_python package ``acquisition``; its Python module is ``acquisition_ros`` so that it never
shadows the toolkit's own ``acquisition`` package."""

from glob import glob

from setuptools import setup

PACKAGE = "acquisition"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=["acquisition_ros"],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Radar Sensing Toolkit maintainers",
    maintainer_email="maintainers@radar-sensing-toolkit.org",
    description="ROS 2 nodes of the mmWave-radar human-sensing toolkit",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "radar_node = acquisition_ros.radar_node:main",
            "trigger_node = acquisition_ros.trigger_node:main",
            "camera_node = acquisition_ros.camera_node:main",
            "recorder_node = acquisition_ros.recorder_node:main",
            "rig_tf_node = acquisition_ros.rig_tf_node:main",
            "launcher = acquisition_ros.launcher:main",
        ],
    },
)
