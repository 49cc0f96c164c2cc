"""Run ``panoptic_node`` as its own process and talk to it over DDS from the test process."""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable


from panoptic_msgs.msg import PanopticInfo
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter, parameter_value_to_python
from sensor_msgs.msg import CompressedImage, Image

from panoptic_ros.ros.spinning_node import SpinningNode
from panoptic_ros.ros.qos import camera_publisher_qos, latched_qos, output_qos
from panoptic_ros.ros.topics import CATEGORIES, DIAGNOSTICS, OUTPUTS, camera_topic, input_topic, node_topic



_DOMAIN_IDS = random.sample(range(1, 101), 100)  # this run's order of the safe domain ids


def isolated_ros_env() -> dict[str, str]:
    """A private DDS domain on loopback, so parallel runs and other sessions never cross.

    Successive calls get distinct domain ids (the least recently handed out when all 100 have been):
    a random draw per call made two nodes of one test share a domain now and then, and a client then
    saw the other node's subscription.
    """
    env = dict(os.environ)
    domain = _DOMAIN_IDS.pop(0)
    _DOMAIN_IDS.append(domain)
    env["ROS_DOMAIN_ID"] = str(domain)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_executable() -> str:
    exe = shutil.which("panoptic_node", path=str(Path(sys.executable).parent)) or shutil.which("panoptic_node")
    assert exe, "panoptic_node console script not installed (pip install -e .)"
    return exe


class NodeProcess:
    started: list["NodeProcess"] = []  # every one, so a test's teardown can stop what a failure left running

    def __init__(self, env: dict[str, str], params: dict[str, str], log: Path, ros_args: tuple[str, ...] = ()) -> None:
        NodeProcess.started.append(self)
        args = [node_executable(), "--ros-args", *ros_args]
        for k, v in params.items():
            args += ["-p", f"{k}:={v}"]
        self.log_path = log
        self._log = open(log, "w")
        # Ctrl-C at its default in the child, as from a shell: the test process may have it ignored
        # (seen in the full suite), and an ignored signal stays ignored across exec
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.alive() and time.monotonic() < deadline, f"{text!r} not logged:\n{self.log()}"
            time.sleep(0.05)

    def stop(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Client:
    """A test node in this process: publishes camera frames, records the panoptic node's outputs.

    Camera ``c`` (``""``: the node's default one) publishes on ``pubs[c]``; its outputs are recorded
    under ``camera_topic(c, output)`` (``panoptic`` for the default camera, ``front/panoptic``, ...).
    ``pub`` is the first camera's publisher."""

    def __init__(self, domain_id: int, transport: str = "raw", cameras: tuple[str, ...] = ("",)) -> None:
        self.spinning = SpinningNode("panoptic_test_client", {"ROS_DOMAIN_ID": str(domain_id)})
        self.node = self.spinning.node
        compressed = transport == "compressed"
        msg_type, topic = (CompressedImage if compressed else Image), input_topic(compressed)
        self.pubs = {c: self.node.create_publisher(msg_type, "/" + camera_topic(c, topic), camera_publisher_qos())
                     for c in cameras}
        self.pub = self.pubs[cameras[0]]
        self.lock = threading.Lock()
        self.received: dict[str, list[Any]] = {camera_topic(c, k): [] for c in cameras for k in OUTPUTS}
        self.received["categories"] = []
        self.received["diagnostics"] = []
        for c in cameras:
            for name, t in OUTPUTS.items():
                self.node.create_subscription(t, node_topic(camera_topic(c, name)), self._recorder(camera_topic(c, name)),
                                              output_qos(depth=50))
        self.node.create_subscription(PanopticInfo, node_topic(CATEGORIES), self._recorder("categories"), latched_qos())
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._recorder("diagnostics"), 10)
        self.spinning.start()

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(msg: Any) -> None:
            with self.lock:
                self.received[name].append(msg)
        return record

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.received[name])

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str, node: NodeProcess) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert node.alive(), f"panoptic_node died while waiting for {what}:\n{node.log()}"
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\nnode log:\n{node.log()}")

    def last_diagnostics(self, status_name: str = "panoptic: panoptic segmentation") -> dict[str, str]:
        """The values of the newest ``/diagnostics`` status of that name (the node's own, or
        ``panoptic: camera <c>``)."""
        with self.lock:
            status = next(s for s in self.received["diagnostics"][-1].status if s.name == status_name)
        return {kv.key: kv.value for kv in status.values}

    def _call(self, srv_type: Any, name: str, request: Any, node: NodeProcess) -> Any:
        service = self.node.create_client(srv_type, node_topic(name))
        self.wait_for(lambda: service.service_is_ready(), 30, f"the {name} service", node)
        future = service.call_async(request)
        self.wait_for(future.done, 30, f"the {name} service's answer", node)
        self.node.destroy_client(service)
        return future.result()

    def set_parameters(self, values: dict[str, Any], node: NodeProcess) -> list[SetParametersResult]:
        """Through the node's ``set_parameters`` service, as ``ros2 param set`` does."""
        return self._call(SetParameters, "set_parameters", SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]), node).results

    def get_parameters(self, names: list[str], node: NodeProcess) -> list[Any]:
        """Values through the node's ``get_parameters`` service, as ``ros2 param get`` does."""
        answer = self._call(GetParameters, "get_parameters", GetParameters.Request(names=names), node)
        return [parameter_value_to_python(v) for v in answer.values]

    def change_state(self, transition: int, node: NodeProcess) -> bool:
        """A lifecycle transition (``lifecycle_msgs/Transition`` id) through ``~/change_state``."""
        return self._call(ChangeState, "change_state", ChangeState.Request(transition=Transition(id=transition)),
                          node).success

    def lifecycle_state(self, node: NodeProcess) -> str:
        return self._call(GetState, "get_state", GetState.Request(), node).current_state.label

    def close(self) -> None:
        self.spinning.close()
