"""Console-script entry of ``panoptic_node``: importing PyTorch and rclpy takes seconds, and a Ctrl-C
in that time should end the process as quietly as one a moment later (``node.main`` handles those)."""
from __future__ import annotations

import os
import random
import signal
import sys
from typing import Any


def main() -> int:
    """Import the node with Ctrl-C held back, then stop at once if one came. Raised in the middle of
    the imports, the ``KeyboardInterrupt`` can be lost: ``import torchvision`` swallowed it (the node
    then started and ran on, deaf to that Ctrl-C) or turned it into a ``RecursionError``. A second
    Ctrl-C interrupts at once (an import that hangs). Held back whatever the inherited disposition, as
    rclpy handles Ctrl-C from its start on whatever it was."""
    interrupted: list[int] = []

    def hold_back(signum: int, frame: object) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    signal.signal(signal.SIGINT, hold_back)
    try:
        from panoptic_ros.ros.node import main as node_main
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        return 0
    return node_main()


def node_command(params: dict[str, str], remappings: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``panoptic_node`` in a child process of this interpreter with ``params``
    (``name: value`` as ``-p name:=value``) and topic ``remappings`` (``-r from:=to``): how the replay
    and soak tools start the real node."""
    cmd = [sys.executable, "-m", "panoptic_ros.ros.node", "--ros-args"]
    for name, value in params.items():
        cmd += ["-p", f"{name}:={value}"]
    for source, target in (remappings or {}).items():
        cmd += ["-r", f"{source}:={target}"]
    return cmd


def private_ros_env() -> dict[str, str]:
    """ROS settings for a tool that starts its own node and talks to it alone: a DDS domain of its own,
    drawn among the safe ids 1-101 but the environment's own (the user's nodes), on loopback only, so
    neither the robot's stack nor a camera driver on the same topic mixes into its run. Two such tools
    at once draw the same domain one time in a hundred."""
    ambient = os.environ.get("ROS_DOMAIN_ID", "0")
    domain = random.choice([d for d in range(1, 102) if str(d) != ambient])
    return {"ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


LARGE_FRAMES_PROFILE = "fastdds_large_frames.xml"  # in config/: shared memory big enough for camera frames


def large_frames_transport() -> dict[str, str]:
    """Fast DDS settings that carry camera-sized messages through shared memory (``config/`` has the
    profile and why), for a tool's own processes; {} when the user has a profile of their own."""
    if "FASTDDS_DEFAULT_PROFILES_FILE" in os.environ:
        return {}
    from panoptic_ros.resources import package_file
    return {"FASTDDS_DEFAULT_PROFILES_FILE": str(package_file("panoptic_ros", "config", LARGE_FRAMES_PROFILE))}


def init_context(ros_env: dict[str, str]) -> Any:
    """A new rclpy context whose participants use ``ros_env`` (``private_ros_env``, or {} for the
    ambient settings): the middleware reads them from the environment when a participant is created,
    so they are set for that moment and the process's own environment is left as it was."""
    import rclpy

    saved = dict(os.environ)
    os.environ.update(ros_env)
    try:
        context = rclpy.Context()
        rclpy.init(context=context)
        return context
    finally:
        os.environ.clear()
        os.environ.update(saved)
