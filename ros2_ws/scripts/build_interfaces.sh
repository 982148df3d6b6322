#!/usr/bin/env bash
# Build the workspace's packages with colcon against ROS 2 installed from PyPI wheels
# (ros2_ws/scripts/install_ros2_pip.sh) into ros2_ws/build and ros2_ws/install:
#   acquisition_interfaces  the messages (ament_cmake + rosidl)
#   tf2_msgs                a stand-in with TFMessage only, when the venv has no tf2_msgs (geometry2
#                           is not on PyPI); ros2_ws/src/acquisition/shims/tf2_msgs
#   acquisition             the nodes (ament_python; module acquisition_ros), unless
#                           ACQ_BUILD_NODES=0; symlink install, so source edits need no rebuild
#
#   ros2_ws/scripts/build_interfaces.sh [VENV] [extra colcon build arguments...]
#
# VENV defaults to $VIRTUAL_ENV, else the repository's .venv. On a PC with a ROS 2 distribution
# use plain colcon instead (see ros2_ws/README.md).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WS="$(cd "$SCRIPT_DIR/.." && pwd)"
REPO_ROOT="$(cd "$WS/.." && pwd)"
VENV="${1:-${VIRTUAL_ENV:-$REPO_ROOT/.venv}}"
shift || true

log() { printf '[build_interfaces] %s\n' "$*"; }

if [[ ! -x "$VENV/bin/colcon" || ! -f "$VENV/share/rosidl_default_generators/package.xml" ]]; then
    log "no colcon/rosidl in $VENV: run ros2_ws/scripts/install_ros2_pip.sh $VENV first" >&2
    exit 1
fi
VENV="$(cd "$VENV" && pwd)"
if grep -rqs --include='*.cmake' -E '[";]/opt/python/cp311-cp311/' "$VENV/share"; then
    log "the wheels' CMake exports still name /opt/python/cp311-cp311:" \
        "rerun ros2_ws/scripts/install_ros2_pip.sh $VENV" >&2
    exit 1
fi

# The wheels install into the venv prefix (VENV/share, VENV/lib): it is the underlay.
export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"
export PATH="$VENV/bin:$PATH"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
unset PYTHONPATH
export MAKEFLAGS="${MAKEFLAGS:--j$(nproc)}"

cd "$WS"
# CMake caches the package locations it found: a build made against another venv (or a ROS
# distribution) would keep using them. Start that package afresh.
stamp="$WS/build/.pip_venv"
if [[ -d "$WS/build" && "$(cat "$stamp" 2>/dev/null)" != "$VENV" ]]; then
    log "build/ was made against another ROS installation: cleaning the packages built here"
    for pkg in acquisition_interfaces tf2_msgs acquisition; do
        rm -rf "${WS:?}/build/$pkg" "${WS:?}/install/$pkg"
    done
fi
mkdir -p "$WS/build"
printf '%s\n' "$VENV" >"$stamp"

packages=(acquisition_interfaces)
base_paths=("$WS/src")
if [[ ! -f "$VENV/share/tf2_msgs/package.xml" ]]; then
    # No geometry2 wheels: build the TFMessage stand-in (colcon never looks inside the
    # acquisition package on its own, so a ROS distribution's colcon build skips it).
    packages+=(tf2_msgs)
    base_paths+=("$WS/src/acquisition/shims")
fi

start=$(date +%s)
# colcon warns that VENV has no local_setup.* files (it is no colcon install space): harmless.
colcon --log-base "$WS/log" build \
    --base-paths "${base_paths[@]}" \
    --build-base "$WS/build" \
    --install-base "$WS/install" \
    --packages-select "${packages[@]}" \
    --cmake-args \
    "-DPython3_EXECUTABLE=$VENV/bin/python" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_TESTING=OFF \
    "$@"
if [[ "${ACQ_BUILD_NODES:-1}" != "0" ]]; then
    # The nodes: ament_python, symlinked (setup.py develop), so edits to acquisition_ros apply
    # without a rebuild. The toolkit itself must be importable from VENV (pip install -e .).
    colcon --log-base "$WS/log" build \
        --base-paths "${base_paths[@]}" \
        --build-base "$WS/build" \
        --install-base "$WS/install" \
        --packages-select acquisition \
        --symlink-install
    packages+=(acquisition)
fi
end=$(date +%s)

log "built ${packages[*]} in $((end - start)) s into $WS/install"
log "use it (bash/zsh):"
log "    source $SCRIPT_DIR/ros_env.sh $VENV"
log "    python -c 'import rclpy; from acquisition_interfaces.msg import RadarFrame'"
log "start the simulated rig:"
log "    python -m acquisition_ros.launcher sim:=true session:=demo subject:=S01 action:=wave"
