"""Console-script entry of ``panoptic_node``: importing PyTorch and rclpy takes seconds, and a Ctrl-C
in that time should end the process as quietly as one a moment later (``node.main`` handles those)."""
from __future__ import annotations

import signal
import sys


def main() -> int:
    """Import the node with Ctrl-C held back, then stop at once if one came. Raised in the middle of
    the imports, the ``KeyboardInterrupt`` can be lost: ``import torchvision`` swallowed it (the node
    then started and ran on, deaf to that Ctrl-C) or turned it into a ``RecursionError``. A second
    Ctrl-C interrupts at once (an import that hangs). Held back whatever the inherited disposition, as
    rclpy handles Ctrl-C from its start on whatever it was."""
    interrupted: list[int] = []

    def hold_back(signum: int, frame: object) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    signal.signal(signal.SIGINT, hold_back)
    try:
        from panoptic_ros.ros.node import main as node_main
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        return 0
    return node_main()


if __name__ == "__main__":
    sys.exit(main())
