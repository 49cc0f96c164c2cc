"""An rclpy node of a tool's own, in a context of its own, spun by a background thread: what the replay
and soak tools (and the tests' client) use to publish frames and record the node's answers while their
main thread does the waiting.

Closing stops the spin thread before the node is destroyed. ``Executor.shutdown`` returns without
waiting for the spin thread to leave its wait, and ``Node.destroy_node`` defers the destruction to
whichever thread releases the node last: the spin thread then tore down the DDS participant holding
the GIL, and once Fast DDS waited there for a discovery callback (a peer leaving at that moment) the
whole process hung (seen twice in ``make test``, caught under gdb).
"""
from __future__ import annotations

import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from panoptic_ros.ros.private_ros import ros_environment

JOIN_TIMEOUT = 10.0  # s; the spin thread leaves its wait as soon as the executor's guard fires


class SpinningNode:
    """``node`` (create its publishers and subscriptions, then ``start``) on ``ros_env``'s domain
    (``private_ros.ros_environment``); ``close`` stops the spinning and destroys it all in the calling thread."""

    def __init__(self, name: str, ros_env: dict[str, str]) -> None:
        with ros_environment(ros_env):
            self.context = rclpy.Context()
            rclpy.init(context=self.context)
            self.node: Node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.thread = threading.Thread(target=self.executor.spin, name=f"{name}-spin", daemon=True)

    def start(self) -> None:
        """Spin the node's callbacks in the background from now on."""
        self.executor.add_node(self.node)
        self.thread.start()

    def close(self) -> None:
        """Stop the spin thread, then destroy the node and its context here (see the module's docstring)."""
        self.executor.shutdown()
        if self.thread.is_alive():
            self.thread.join(JOIN_TIMEOUT)
            if self.thread.is_alive():  # destroying now is what hung; leave the node to the process's end
                raise RuntimeError(f"the spin thread of {self.node.get_name()} did not stop within {JOIN_TIMEOUT} s")
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
