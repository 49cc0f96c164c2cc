"""ROS settings for a tool (replay, soak) that talks to a node of its own: a private DDS domain, shared
memory big enough for camera frames, and the environment that applies them to the tool's own context
and node (``spinning_node``) without changing the process's."""
from __future__ import annotations

import contextlib
import os
import random
from typing import Iterator

LARGE_FRAMES_PROFILE = "fastdds_large_frames.xml"  # in config/: shared memory big enough for camera frames


def private_ros_env() -> dict[str, str]:
    """ROS settings for a tool that starts its own node and talks to it alone: a DDS domain of its own,
    drawn among the safe ids 1-101 but the environment's own (the user's nodes), on loopback only, so
    neither the robot's stack nor a camera driver on the same topic mixes into its run. Two such tools
    at once draw the same domain one time in a hundred."""
    ambient = os.environ.get("ROS_DOMAIN_ID", "0")
    domain = random.choice([d for d in range(1, 102) if str(d) != ambient])
    return {"ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def large_frames_transport() -> dict[str, str]:
    """Fast DDS settings that carry camera-sized messages through shared memory (``config/`` has the
    profile and why), for a tool's own processes; {} when the user has a profile of their own."""
    if "FASTDDS_DEFAULT_PROFILES_FILE" in os.environ:
        return {}
    from panoptic_ros.resources import package_file
    return {"FASTDDS_DEFAULT_PROFILES_FILE": str(package_file("panoptic_ros", "config", LARGE_FRAMES_PROFILE))}


@contextlib.contextmanager
def ros_environment(ros_env: dict[str, str]) -> Iterator[None]:
    """``ros_env`` (``private_ros_env`` and ``large_frames_transport``, or {} for the ambient settings)
    in the environment for the block that makes a context and its node: rcl reads the domain when the
    context is initialised, Fast DDS its profile when the node's participant is created. The process's
    own environment is given back afterwards."""
    saved = dict(os.environ)
    os.environ.update(ros_env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
