"""The real ``panoptic_node`` as a child process of a tool (replay, soak): started with parameters and
remappings, its output in a log file, and always stopped as an operator would stop it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from panoptic_ros.ros.log_lines import PLAIN_CONSOLE

STOP_TIMEOUT_S = 60.0  # after Ctrl-C, how long the node may take to finish its frame and shut down


def node_command(params: dict[str, str], remappings: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``panoptic_node`` in a child process of this interpreter with ``params``
    (``name: value`` as ``-p name:=value``) and topic ``remappings`` (``-r from:=to``): through its
    console entry, so that a Ctrl-C during the imports ends it quietly, as it does the installed one."""
    cmd = [sys.executable, "-m", "panoptic_ros.ros.entry", "--ros-args"]
    for name, value in params.items():
        cmd += ["-p", f"{name}:={value}"]
    for source, target in (remappings or {}).items():
        cmd += ["-r", f"{source}:={target}"]
    return cmd


def _default_ctrl_c() -> None:
    """In the child before it runs: Ctrl-C at its default, as from a shell (a tool started in the
    background has it ignored, and an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class ChildNode:
    """``panoptic_node`` running in a child process, its output (stdout and stderr) in ``log``.

    A context manager: leaving it stops the node (``stop``) whatever happened, so a failed run never
    leaves a node behind, and closes the log.
    """

    def __init__(self, params: dict[str, str], log: Path, remappings: dict[str, str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_file = open(log, "w")
        try:
            self.process = subprocess.Popen(node_command(params, remappings), stdout=self._log_file,
                                            stderr=subprocess.STDOUT, preexec_fn=_default_ctrl_c,
                                            env=os.environ | (env or {}) | {"PYTHONUNBUFFERED": "1", **PLAIN_CONSOLE})
        except BaseException:
            self._log_file.close()
            raise
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        """Whether the node is still running."""
        return self.process.poll() is None

    def exit_reason(self) -> str:
        """Why the node ended, for a tool's one-line error: its exit status, its log's last FATAL line
        (no such device, a file that is no checkpoint), else its last ERROR line, else its last line (a
        traceback's), and where the log is."""
        if not self._log_file.closed:
            self._log_file.flush()
        lines = [line.strip() for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        fatal = [line for line in lines if line.startswith("[FATAL]")]
        errors = [line for line in lines if line.startswith("[ERROR]")]
        said = (fatal or errors or lines or ["its log is empty"])[-1]
        return f"exit status {self.process.poll()}: {said}; its log: {self.log}"

    def stop(self) -> int | None:
        """Ctrl-C, as an operator would, then its exit code; None when it had to be killed after
        ``STOP_TIMEOUT_S``. Stopping it again returns the same."""
        if not self._log_file.closed:
            self.exit_code = self._ctrl_c()
            self._log_file.close()
        return self.exit_code

    def _ctrl_c(self) -> int | None:
        if not self.alive():
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def __enter__(self) -> "ChildNode":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
