# shellcheck shell=bash
# Source me (bash or zsh) to use ROS 2 from PyPI wheels plus the interface packages built by
# build_interfaces.sh:
#
#   source ros2_ws/scripts/ros_env.sh [VENV]
#
# VENV defaults to $VIRTUAL_ENV, else the repository's .venv. Sets AMENT_PREFIX_PATH,
# CMAKE_PREFIX_PATH, PYTHONPATH and LD_LIBRARY_PATH so that `import rclpy` and
# `from acquisition_interfaces.msg import RadarFrame` work in VENV's Python. Safe to source twice.
# For the pip path only: on a PC with a ROS 2 distribution source /opt/ros/<distro>/setup.bash
# and ros2_ws/install/setup.bash instead.

if [ -n "${BASH_SOURCE:-}" ]; then
    _ros_env_script="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
    # shellcheck disable=SC2296
    _ros_env_script="${(%):-%x}"
else
    _ros_env_script="$0"
fi
_ros_env_ws="$(cd "$(dirname "$_ros_env_script")/.." && pwd)"
_ros_env_venv="${1:-${VIRTUAL_ENV:-$(dirname "$_ros_env_ws")/.venv}}"

# Prepend $2 to the path list in variable $1 unless it is already there.
_ros_env_prepend() {
    eval "_ros_env_cur=\"\${$1:-}\""
    case ":$_ros_env_cur:" in
        *":$2:"*) ;;
        *) if [ -n "$_ros_env_cur" ]; then export "$1=$2:$_ros_env_cur"; else export "$1=$2"; fi ;;
    esac
}

if [ ! -x "$_ros_env_venv/bin/python" ] || [ ! -d "$_ros_env_venv/share/rclpy" ]; then
    echo "ros_env.sh: no ROS 2 wheels in '$_ros_env_venv'; run ros2_ws/scripts/install_ros2_pip.sh" >&2
else
    _ros_env_venv="$(cd "$_ros_env_venv" && pwd)"
    if [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/${ROS_DISTRO}" ]; then
        echo "ros_env.sh: warning: ROS ${ROS_DISTRO} from /opt/ros is sourced too; mixing it" \
            "with the pip wheels is not supported" >&2
    fi
    _ros_env_site="$_ros_env_venv/lib/python3.11/site-packages"

    # Underlay: the venv prefix, where the wheels put share/ and lib/.
    _ros_env_prepend AMENT_PREFIX_PATH "$_ros_env_venv"
    _ros_env_prepend CMAKE_PREFIX_PATH "$_ros_env_venv"
    # What ros-wheels-bootstrapper's .pth would otherwise add by re-executing Python.
    for _ros_env_d in "$_ros_env_site"/ros_*.libs; do
        if [ -d "$_ros_env_d" ]; then _ros_env_prepend LD_LIBRARY_PATH "$_ros_env_d"; fi
    done
    _ros_env_prepend LD_LIBRARY_PATH "$_ros_env_venv/lib"
    export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1

    # Overlay: every package colcon installed into ros2_ws/install/<package>.
    for _ros_env_p in "$_ros_env_ws"/install/*/; do
        _ros_env_p="${_ros_env_p%/}"
        if [ ! -f "$_ros_env_p/share/$(basename "$_ros_env_p")/package.xml" ]; then continue; fi
        _ros_env_prepend AMENT_PREFIX_PATH "$_ros_env_p"
        _ros_env_prepend CMAKE_PREFIX_PATH "$_ros_env_p"
        if [ -d "$_ros_env_p/lib" ]; then _ros_env_prepend LD_LIBRARY_PATH "$_ros_env_p/lib"; fi
        if [ -d "$_ros_env_p/lib/python3.11/site-packages" ]; then
            _ros_env_prepend PYTHONPATH "$_ros_env_p/lib/python3.11/site-packages"
        fi
        # An ament_python package built with --symlink-install (setup.py develop) is imported
        # from its build folder (colcon's pythonpath_develop hook).
        _ros_env_b="$_ros_env_ws/build/$(basename "$_ros_env_p")"
        if [ -f "$_ros_env_b/share/$(basename "$_ros_env_p")/hook/pythonpath_develop.dsv" ]; then
            _ros_env_prepend PYTHONPATH "$_ros_env_b"
        fi
    done
    if [ ! -d "$_ros_env_ws/install/acquisition_interfaces" ]; then
        echo "ros_env.sh: acquisition_interfaces is not built yet;" \
            "run ros2_ws/scripts/build_interfaces.sh" >&2
    fi
    export ROS2_PIP_VENV="$_ros_env_venv"
fi

unset _ros_env_script _ros_env_ws _ros_env_venv _ros_env_site _ros_env_d _ros_env_p _ros_env_b \
    _ros_env_cur
unset -f _ros_env_prepend
