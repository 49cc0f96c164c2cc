import builtins
import os
import signal
import time
import types

import pytest

from panoptic_ros.ros import entry


def test_a_ctrl_c_during_the_imports_stops_the_node_even_where_an_import_swallows_it(monkeypatch):
    """``import torchvision`` swallowed a ``KeyboardInterrupt`` raised inside it, and the node then ran
    on, deaf to that Ctrl-C; the entry holds Ctrl-C back until the imports are done."""
    real_import = builtins.__import__

    def swallowing_import(name, *args, **kwargs):
        if name != "panoptic_ros.ros.node":
            return real_import(name, *args, **kwargs)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here
        except KeyboardInterrupt:
            pass  # what the library did
        return types.SimpleNamespace(main=lambda: pytest.fail("the node started after a Ctrl-C"))

    monkeypatch.setattr(builtins, "__import__", swallowing_import)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    try:
        assert entry.main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_private_ros_context_is_on_its_own_domain_and_leaves_the_environment_alone(monkeypatch):
    import rclpy
    from panoptic_ros.ros.entry import init_context, private_ros_env

    monkeypatch.setenv("ROS_DOMAIN_ID", "0")
    env = private_ros_env()
    assert 1 <= int(env["ROS_DOMAIN_ID"]) <= 101 and env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    context = init_context({"ROS_DOMAIN_ID": "42"})
    try:
        assert context.get_domain_id() == 42 and os.environ["ROS_DOMAIN_ID"] == "0"
    finally:
        rclpy.try_shutdown(context=context)


def test_tools_carry_camera_frames_through_shared_memory_unless_the_user_has_a_profile(monkeypatch):
    from panoptic_ros.ros.entry import large_frames_transport

    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    profile = large_frames_transport()["FASTDDS_DEFAULT_PROFILES_FILE"]
    text = open(profile).read()
    assert "<segment_size>33554432</segment_size>" in text and "<type>UDPv4</type>" in text  # other hosts: UDP
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/theirs.xml")
    assert large_frames_transport() == {}
