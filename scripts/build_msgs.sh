#!/usr/bin/env bash
# Build panoptic_msgs with colcon against the venv's ROS 2 Kilted wheels (the wheel path).
# It installs into the venv itself: the libraries land in $venv/lib, which the wheels' bootstrapper
# already puts on LD_LIBRARY_PATH, so activating the venv is all a user needs. Idempotent.
# Usage: scripts/build_msgs.sh <venv-dir>
set -euo pipefail
venv=$(cd "$1" && pwd)
py="$venv/bin/python"
# The wheels' CMake files name the wheel builder's Python/numpy include dirs; point them at ours.
py_inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$py" -c 'import numpy; print(numpy.get_include())')
{ grep -rl --include='*.cmake' -e '/opt/python/cp311-cp311' "$venv/share" || true; } | while read -r f; do
  sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
         -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" "$f"
done
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
"$venv/bin/colcon" --log-base build/colcon-log build --base-paths panoptic_msgs \
  --build-base build/colcon --install-base "$venv" --merge-install \
  --cmake-args -DPython3_EXECUTABLE="$py" -DBUILD_TESTING=OFF -Wno-dev >/dev/null \
  || { echo "panoptic_msgs build failed: see build/colcon-log/latest/" >&2; exit 1; }
