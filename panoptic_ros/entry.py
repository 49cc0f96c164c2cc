"""Console-script entries. Importing PyTorch (and rclpy) takes seconds; a Ctrl-C in that time should
end a tool as quietly as one a moment later, which its ``main`` (``arguments.quiet_ctrl_c``) answers
with one line and ``CTRL_C_STATUS``. So each entry imports its tool with the signal held back, then
stops at once if one came. Raised in the middle of the imports, the ``KeyboardInterrupt`` can be lost
(``import torchvision`` swallowed it, and the program ran on, deaf to that Ctrl-C) or end in a
traceback. A second signal interrupts at once (an import that hangs)."""
from __future__ import annotations

import importlib
import signal
import sys
from types import ModuleType
from typing import Callable

from panoptic_ros.arguments import CTRL_C_STATUS


def import_held_back(module: str, signals: tuple[signal.Signals, ...]) -> ModuleType | None:
    """``module`` imported with ``signals`` held back; None if one came meanwhile. A signal the process
    inherited ignored (``trap '' INT``, a job started with ``&``) stays ignored, then and afterwards;
    the others are as they were afterwards."""
    interrupted: list[int] = []

    def hold_back(signum: int, frame: object) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(signum)

    previous = {signum: signal.signal(signum, hold_back) for signum in signals
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        imported = importlib.import_module(module)
    except KeyboardInterrupt:
        return None
    finally:
        for signum, disposition in previous.items():
            signal.signal(signum, disposition)
    return None if interrupted else imported


def _tool(module: str, name: str) -> Callable[[], int]:
    """The entry of the tool ``name`` whose ``main`` is in ``module``."""
    def run() -> int:
        tool = import_held_back(module, (signal.SIGINT,))
        if tool is None:
            print(f"{name}: interrupted", file=sys.stderr)
            return CTRL_C_STATUS
        return tool.main()
    run.__doc__ = f"``{name}``: ``{module}.main``, imported with Ctrl-C held back."
    return run


replay = _tool("panoptic_ros.replay.cli", "panoptic-replay")
train = _tool("panoptic_ros.train", "panoptic-train")
evaluate = _tool("panoptic_ros.eval.cli", "panoptic-eval")
bench = _tool("panoptic_ros.tools.bench", "panoptic-bench")
soak = _tool("panoptic_ros.tools.soak", "panoptic-soak")
predict = _tool("panoptic_ros.tools.predict", "panoptic-predict")
