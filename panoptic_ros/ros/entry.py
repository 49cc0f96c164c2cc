"""Console-script entry of ``panoptic_node``: importing PyTorch and rclpy takes seconds, and a Ctrl-C or
SIGTERM (systemd, launch) in that time should end the process as quietly as one a moment later
(``node.main`` handles those)."""
from __future__ import annotations

import signal
import sys


STOPS = (signal.SIGINT, signal.SIGTERM)  # what rclpy turns into a stop once it runs


def main() -> int:
    """Import the node with Ctrl-C and SIGTERM held back, then stop at once (exit 0) if one came. Raised
    in the middle of the imports, the ``KeyboardInterrupt`` can be lost: ``import torchvision``
    swallowed it (the node then started and ran on, deaf to that Ctrl-C) or turned it into a
    ``RecursionError``; SIGTERM would have killed the process. A second signal interrupts at once (an
    import that hangs). Held back whatever the inherited disposition, as rclpy handles both from its
    start on whatever it was."""
    interrupted: list[int] = []

    def hold_back(signum: int, frame: object) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    for signum in STOPS:
        signal.signal(signum, hold_back)
    try:
        from panoptic_ros.ros.node import main as node_main
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if interrupted:
        return 0
    return node_main()


if __name__ == "__main__":
    sys.exit(main())
