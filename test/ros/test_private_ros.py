import os

import rclpy

from panoptic_ros.ros.private_ros import large_frames_transport, private_ros_env
from panoptic_ros.ros.spinning_node import SpinningNode


def test_a_tool_s_node_is_on_its_own_domain_with_its_profile_and_leaves_the_environment_alone(monkeypatch):
    monkeypatch.setenv("ROS_DOMAIN_ID", "0")
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    env = private_ros_env()
    assert 1 <= int(env["ROS_DOMAIN_ID"]) <= 101 and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    seen = []  # the environment Fast DDS reads its profile from: the participant's, made with the node
    create_node = rclpy.create_node
    monkeypatch.setattr(rclpy, "create_node", lambda *args, **kwargs: seen.append(dict(os.environ)) or
                        create_node(*args, **kwargs))
    spinning = SpinningNode("private_ros_test", {"ROS_DOMAIN_ID": "42", **large_frames_transport()})
    try:
        assert spinning.context.get_domain_id() == 42 and os.environ["ROS_DOMAIN_ID"] == "0"
        assert seen[0]["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("fastdds_large_frames.xml")
        assert "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ
    finally:
        spinning.close()


def test_tools_carry_camera_frames_through_shared_memory_unless_the_user_has_a_profile(monkeypatch):
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    profile = large_frames_transport()["FASTDDS_DEFAULT_PROFILES_FILE"]
    text = open(profile).read()
    assert "<segment_size>33554432</segment_size>" in text and "<type>UDPv4</type>" in text  # other hosts: UDP
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/theirs.xml")
    assert large_frames_transport() == {}
