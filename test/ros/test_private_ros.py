import os

from panoptic_ros.ros.private_ros import init_context, large_frames_transport, private_ros_env


def test_a_private_ros_context_is_on_its_own_domain_and_leaves_the_environment_alone(monkeypatch):
    import rclpy

    monkeypatch.setenv("ROS_DOMAIN_ID", "0")
    env = private_ros_env()
    assert 1 <= int(env["ROS_DOMAIN_ID"]) <= 101 and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    context = init_context({"ROS_DOMAIN_ID": "42"})
    try:
        assert context.get_domain_id() == 42 and os.environ["ROS_DOMAIN_ID"] == "0"
    finally:
        rclpy.try_shutdown(context=context)


def test_tools_carry_camera_frames_through_shared_memory_unless_the_user_has_a_profile(monkeypatch):
    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    profile = large_frames_transport()["FASTDDS_DEFAULT_PROFILES_FILE"]
    text = open(profile).read()
    assert "<segment_size>33554432</segment_size>" in text and "<type>UDPv4</type>" in text  # other hosts: UDP
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/theirs.xml")
    assert large_frames_transport() == {}
