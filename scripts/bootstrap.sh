#!/usr/bin/env bash
# Install everything the toolkit needs into ./.venv (idempotent; safe to re-run).
#
#   bash scripts/bootstrap.sh            # toolkit + all Python extras + test tools + ROS 2
#   TOOLKIT_SKIP_ROS=1 bash scripts/bootstrap.sh   # without ROS 2 (e.g. a PC with a ROS 2
#                                                  # distribution: see ros2_ws/README.md)
#
# ROS 2 comes from the Python package index here (ros2_ws/scripts/install_ros2_pip.sh), and the
# workspace (message package, nodes) is built with colcon (ros2_ws/scripts/build_interfaces.sh).
#
# System libraries: pyrealsense2 needs Debian's libusb-1.0-0. As root with apt available it is
# installed here; otherwise a note says what to install (everything else still works).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing libusb-1.0-0 (needed by pyrealsense2)"
    apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libusb-1.0-0 >/dev/null; } \
      || echo "bootstrap: could not install libusb-1.0-0; RealSense cameras will be unavailable"
  else
    echo "bootstrap: note: libusb-1.0-0 is missing; for RealSense cameras run: sudo apt-get install libusb-1.0-0"
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,cameras,torch,labeling]'
if [ "${TOOLKIT_SKIP_ROS:-0}" != 1 ]; then
  ros2_ws/scripts/install_ros2_pip.sh .venv
  ros2_ws/scripts/build_interfaces.sh .venv
fi
echo "bootstrap: ready (.venv)"
