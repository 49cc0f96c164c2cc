"""Run ``launch/panoptic.launch.py`` under the real ``launch`` and ``launch_ros`` and check the node's
lifecycle, namespace and camera remapping from outside, over DDS.

``launch`` and ``launch_ros`` are not wheels, so ``make test`` cannot do this; run it by hand where
their sources are at hand (they are pure Python)::

    git clone https://github.com/ros2/launch && git clone https://github.com/ros2/launch_ros
    pip install --target deps osrf-pycommon lark
    PYTHONPATH=launch/launch:launch_ros/launch_ros:deps .venv/bin/python scripts/check_launch_file.py

The node runs from a throw-away ament prefix that points ``lib/panoptic_ros/panoptic_node`` at this
checkout's virtual environment (what ``colcon build`` would install). Where ``composition_interfaces``
(imported by launch_ros, unused by a plain node) is not installed, an empty stand-in is put on the path.
Six launches: ``autostart:=false`` driven to active by launch's own ``ChangeState`` events,
the default (the node activates itself), two cameras, compressed input, two cameras named in
a params file with an integer given for a double parameter, and ``model``, ``use_sim_time`` and
``log_level`` given. Exits 1 if a launch does not end as expected.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import GetState

from panoptic_ros.ros.topics import OUTPUTS, node_name

REPO = Path(__file__).resolve().parents[1]
NODE = node_name("ns")


def _ament_prefix(root: Path) -> Path:
    """A minimal install space holding panoptic_ros: index marker, executable and params file."""
    prefix = root / "install"
    (prefix / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (prefix / "share/ament_index/resource_index/packages/panoptic_ros").touch()
    (prefix / "lib/panoptic_ros").mkdir(parents=True)
    (prefix / "lib/panoptic_ros/panoptic_node").symlink_to(Path(sys.executable).parent / "panoptic_node")
    shutil.copytree(REPO / "config", prefix / "share/panoptic_ros/config")
    return prefix


def _composition_interfaces_stand_in(root: Path) -> None:
    try:
        import composition_interfaces.srv  # noqa: F401
    except ImportError:
        package = root / "stub/composition_interfaces"
        package.mkdir(parents=True)
        (package / "__init__.py").touch()
        (package / "srv.py").write_text("class _Srv:\n    class Request: ...\n    class Response: ...\n\n\n"
                                        + "".join(f"class {n}(_Srv): ...\n" for n in ("LoadNode", "UnloadNode",
                                                                                      "ListNodes")))
        sys.path.insert(0, str(root / "stub"))


def _params_file(root: Path, **values) -> Path:
    """A params file keyed ``/**`` (as the shipped one) that sets ``values``."""
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def _watch(seconds: float, on_done) -> tuple[list[str], list[str]]:
    """The node's lifecycle states as they change; at the end, the topics in its namespace and its
    camera subscriptions (``sub:`` + topic)."""
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = rclpy.create_node("launch_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    client = probe.create_client(GetState, f"{NODE}/get_state")
    states: list[str] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if client.wait_for_service(timeout_sec=1.0):
            future = client.call_async(GetState.Request())
            rclpy.spin_until_future_complete(probe, future, executor=executor, timeout_sec=2.0)
            if future.result() is not None and (not states or states[-1] != future.result().current_state.label):
                states.append(future.result().current_state.label)
        time.sleep(0.5)
    topics = sorted(name for name, _ in probe.get_topic_names_and_types() if name.startswith("/ns/"))
    topics += sorted(f"sub:{name}" for name, _ in probe.get_subscriber_names_and_types_by_node("panoptic", "/ns")
                     if "img" in name)
    executor.shutdown()
    probe.destroy_node()
    rclpy.shutdown(context=context)
    on_done()
    return states, topics


def _launch(arguments: dict[str, str], drive: bool, seconds: float = 40.0) -> tuple[list[str], list[str]]:
    from launch import LaunchDescription, LaunchService
    from launch.actions import EmitEvent, IncludeLaunchDescription, TimerAction
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch_ros.events.lifecycle import ChangeState

    actions = [IncludeLaunchDescription(PythonLaunchDescriptionSource(str(REPO / "launch/panoptic.launch.py")),
                                        launch_arguments=arguments.items())]
    if drive:  # what a launch-file author or a lifecycle manager does with autostart:=false
        def ours(action) -> bool:
            return action.node_name == NODE
        actions += [TimerAction(period=period, actions=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=ours, transition_id=transition))])
            for period, transition in ((8.0, Transition.TRANSITION_CONFIGURE),
                                       (20.0, Transition.TRANSITION_ACTIVATE))]
    service = LaunchService(argv=[])
    service.include_launch_description(LaunchDescription(actions))
    seen: list[tuple[list[str], list[str]]] = []
    watcher = threading.Thread(target=lambda: seen.append(_watch(seconds, service.shutdown)), daemon=True)
    watcher.start()
    service.run()
    watcher.join()
    return seen[0]


def main() -> int:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["AMENT_PREFIX_PATH"] = f"{_ament_prefix(root)}{os.pathsep}{os.environ.get('AMENT_PREFIX_PATH', '')}"
        _composition_interfaces_stand_in(root)
        base = {"namespace": "ns", "device": "cpu", "camera": "/cam/img"}
        one = {"sub:/cam/img"} | {f"{NODE}/{t}" for t in OUTPUTS}
        two = {"sub:/f/img", "sub:/l/img"} | {f"{NODE}/{c}/{t}" for c in ("front", "left") for t in OUTPUTS}
        checks = [("autostart:=false, driven by ChangeState events", base | {"autostart": "false"}, True,
                   ["inactive", "active"], one),
                  ("autostart (default)", base, False, ["active"], one),
                  ("two cameras", base | {"cameras": "[front, left]", "camera": "[/f/img, /l/img]"}, False,
                   ["active"], two),
                  ("compressed input, following the camera's topic", base | {"input_transport": "compressed"},
                   False, ["active"], {"sub:/cam/img/compressed"}),
                  ("cameras from a params file, an integer for a double", base | {
                      "params_file": str(_params_file(root, cameras=["front", "left"])),
                      "camera": "[/f/img, /l/img]", "score_threshold": "1"}, False, ["active"], two),
                  ("a model path, sim time and a log level", base | {
                      "model": str(REPO / "models" / "street_lite0.pt"), "use_sim_time": "true",
                      "log_level": "debug"}, False, ["active"], one)]
        failed = False
        for title, arguments, drive, want_states, want_topics in checks:
            states, topics = _launch(arguments, drive)
            ok = states[-1:] == want_states[-1:] and set(states) <= {"unconfigured", *want_states} \
                and want_topics <= set(topics)
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'} {title}: states {states}; topics {topics}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
