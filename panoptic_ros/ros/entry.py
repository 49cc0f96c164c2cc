"""Console-script entry of ``panoptic_node``: importing PyTorch and rclpy takes seconds, and a Ctrl-C or
SIGTERM (systemd, launch) in that time should end the process as quietly as one a moment later
(``node.main`` handles those): the node is imported with both held back (``entry.import_held_back``),
and a stop that came meanwhile exits 0 (left unhandled, SIGTERM killed the process). rclpy handles both
from its start on, whatever the inherited disposition."""
from __future__ import annotations

import signal
import sys

from panoptic_ros.entry import import_held_back

STOPS = (signal.SIGINT, signal.SIGTERM)  # what rclpy turns into a stop once it runs


def main() -> int:
    """Import the node with ``STOPS`` held back; 0 at once if one came, else the node's ``main``."""
    node = import_held_back("panoptic_ros.ros.node", STOPS)
    return 0 if node is None else node.main()


if __name__ == "__main__":
    sys.exit(main())
