"""``SpinningNode``: the spin thread has ended before the node is destroyed, in the closing thread."""
from __future__ import annotations

import threading

from std_msgs.msg import String

from panoptic_ros.ros.spinning_node import SpinningNode
from ros_harness import isolated_ros_env


def test_close_ends_the_spin_thread_before_the_node_is_destroyed_in_the_calling_thread():
    spinning = SpinningNode("spinning_test", {"ROS_DOMAIN_ID": isolated_ros_env()["ROS_DOMAIN_ID"]})
    heard = threading.Event()
    spinning.node.create_subscription(String, "chatter", lambda msg: heard.set(), 10)
    pub = spinning.node.create_publisher(String, "chatter", 10)
    spinning.start()
    pub.publish(String(data="hello"))
    assert heard.wait(10)  # the callbacks run in the background
    seen = []
    destroy = spinning.node.destroy_node

    def recording_destroy() -> None:
        seen.append((spinning.thread.is_alive(), threading.current_thread()))
        destroy()

    spinning.node.destroy_node = recording_destroy
    spinning.close()
    assert seen == [(False, threading.current_thread())]
    assert not spinning.context.ok()
