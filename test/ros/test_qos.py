"""The node's QoS profiles: new objects per call (rclpy writes qos_overrides into the one it is given)."""
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from panoptic_ros.ros.qos import CAMERA_DEPTH, camera_qos, camera_qos_for, latched_qos, output_qos


def test_each_call_makes_a_profile_of_its_own():
    for make in (camera_qos, output_qos, latched_qos):
        assert make() is not make()


def test_camera_subscriptions_are_reliable_unless_the_driver_is_best_effort():
    assert (camera_qos().reliability, camera_qos().depth) == (ReliabilityPolicy.RELIABLE, CAMERA_DEPTH)
    assert camera_qos(best_effort=True).reliability == ReliabilityPolicy.BEST_EFFORT
    assert latched_qos().durability == DurabilityPolicy.TRANSIENT_LOCAL and output_qos(50).depth == 50


def test_a_camera_subscription_follows_its_publishers_only_when_all_are_best_effort():
    best, reliable = ReliabilityPolicy.BEST_EFFORT, ReliabilityPolicy.RELIABLE
    assert camera_qos_for([]).reliability == reliable  # no driver yet: an ordinary one is reliable
    assert camera_qos_for([best, best]).reliability == best
    assert camera_qos_for([best, reliable]).reliability == reliable
