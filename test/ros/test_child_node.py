"""A tool's child node: the command line, and stopping it whatever it does (the real node's runs are
in the replay and soak tests)."""
import signal
import sys
import time

import pytest

from panoptic_ros.ros import child_node
from panoptic_ros.ros.child_node import ChildNode, node_command


def test_node_command_passes_parameters_and_remappings():
    cmd = node_command({"device": "cpu", "inference_size": "[256,512]"}, {"image": "/cam/image_raw"})
    assert cmd[1:4] == ["-m", "panoptic_ros.ros.entry", "--ros-args"]
    assert cmd[4:] == ["-p", "device:=cpu", "-p", "inference_size:=[256,512]", "-r", "image:=/cam/image_raw"]


def _child(monkeypatch, tmp_path, script: str) -> ChildNode:
    """A ChildNode running ``script`` instead of the node, once it has printed 'up'."""
    monkeypatch.setattr(child_node, "node_command", lambda params, remappings=None: [sys.executable, "-c", script])
    node = ChildNode({}, tmp_path / "node.log")
    while "up" not in node.log.read_text():
        assert node.alive(), node.log.read_text()
    return node


def test_ctrl_c_reaches_the_child_even_when_this_process_ignores_it(monkeypatch, tmp_path):
    # a tool started in the background has Ctrl-C ignored, and an ignored signal stays ignored across exec
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        node = _child(monkeypatch, tmp_path, "import signal, time\n"
                      "print('up', signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)\n"
                      "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    raise SystemExit(3)")
    finally:
        signal.signal(signal.SIGINT, previous)
    with node:
        assert "up True" in node.log.read_text()
    assert node.exit_code == 3 and not node.alive() and node.stop() == 3


def test_a_child_that_ignores_ctrl_c_is_killed_and_reports_no_exit_code(monkeypatch, tmp_path):
    monkeypatch.setattr(child_node, "STOP_TIMEOUT_S", 0.5)
    node = _child(monkeypatch, tmp_path, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                  "print('up', flush=True)\ntime.sleep(60)")
    assert node.stop() is None and not node.alive()


def test_leaving_after_a_failure_stops_the_child_and_closes_its_log(monkeypatch, tmp_path):
    with pytest.raises(RuntimeError):
        with _child(monkeypatch, tmp_path, "import time\nprint('up', flush=True)\ntime.sleep(60)") as node:
            raise RuntimeError("the run failed")
    assert not node.alive() and node._log_file.closed


def test_a_child_that_already_exited_keeps_its_exit_code(monkeypatch, tmp_path):
    node = _child(monkeypatch, tmp_path, "print('up', flush=True)\nraise SystemExit(2)")
    node.process.wait()
    assert node.stop() == 2


def test_a_node_stopped_while_it_starts_exits_quietly(tmp_path):
    """Ctrl-C half a second in lands in its imports (torch alone takes longer): the console entry's
    handling, not a KeyboardInterrupt traceback."""
    node = ChildNode({"device": "cpu"}, tmp_path / "node.log")
    time.sleep(0.5)
    assert node.stop() == 0
    assert "Traceback" not in node.log.read_text()
