"""The QoS of the node's topics, for the node and for whoever talks to it (the replay and soak tools,
the tests). Functions, not constants: rclpy writes ``qos_overrides`` into the profile it is given, so
a shared profile would carry one topic's overrides to the next."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

CAMERA_DEPTH = 5  # the camera subscription's queue: see the README on frames_lost


def _camera_reliability(best_effort: bool) -> ReliabilityPolicy:
    """Best effort for a driver on the sensor-data profile, else an ordinary driver's reliable."""
    return ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE


def camera_qos(best_effort: bool = False) -> QoSProfile:
    """A camera subscription's: reliable (a best-effort reader loses most full-size frames from a
    reliable driver over Fast DDS), or best effort for a driver on the sensor-data profile."""
    return QoSProfile(depth=CAMERA_DEPTH, history=HistoryPolicy.KEEP_LAST, reliability=_camera_reliability(best_effort))


def camera_qos_for(offered: list[ReliabilityPolicy]) -> QoSProfile:
    """A camera subscription's, given the reliabilities of the publishers already on its topic:
    reliable (``camera_qos``), or best effort where every one of them is (a driver on the sensor-data
    profile), which a reliable reader would never hear; image_proc follows the publisher the same way."""
    return camera_qos(best_effort=bool(offered) and all(p == ReliabilityPolicy.BEST_EFFORT for p in offered))


def camera_publisher_qos(best_effort: bool = False) -> QoSProfile:
    """A camera driver's publisher, as the tools that play one use: an ordinary (reliable) one, or
    one on the sensor-data profile (best effort)."""
    return QoSProfile(depth=10, reliability=_camera_reliability(best_effort))


def output_qos(depth: int = 5) -> QoSProfile:
    """The per-frame outputs: reliable; a recorder subscribes deeper than the node publishes."""
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


def diagnostics_qos() -> QoSProfile:
    """``/diagnostics``: ROS 2's default profile (reliable, volatile, the last 10), which ``ros2 topic
    echo`` and rqt's monitors match."""
    return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def latched_qos() -> QoSProfile:
    """``~/categories`` and ``~/legend``: sent once, kept for late joiners (transient local)."""
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
