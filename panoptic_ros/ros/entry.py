"""Console-script entry of ``panoptic_node``: importing PyTorch and rclpy takes seconds, and a Ctrl-C
in that time should end the process as quietly as one a moment later (``node.main`` handles those)."""
from __future__ import annotations


def main() -> int:
    try:
        from panoptic_ros.ros.node import main as node_main
    except KeyboardInterrupt:
        return 0
    return node_main()
