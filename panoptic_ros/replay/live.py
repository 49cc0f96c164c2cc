"""Live replay: the bag's images go over DDS at their recorded rate to the real ``panoptic_node``,
whose outputs are recorded, so the node itself is measured: end-to-end latency from publishing a
frame to its output arriving, and how many frames it dropped."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from panoptic_msgs.msg import PanopticInfo
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from tqdm import tqdm

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.replay.bag_io import BagWriter, Frame, stamp_ns
from panoptic_ros.replay.ground_truth import GroundTruthFrame
from panoptic_ros.replay.preview import PreviewWriter
from panoptic_ros.replay.report import ReplayRecorder
from panoptic_ros.ros.diagnostics import status_name
from panoptic_ros.ros.topics import CATEGORIES, DIAGNOSTICS, OUTPUTS, node_name, node_topic


class LiveSession:
    """Publishes camera frames and records the node's outputs (arrival times included)."""

    def __init__(self, topic: str, compressed: bool, namespace: str = "") -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("panoptic_replay", context=self.context)
        self.pub = self.node.create_publisher(CompressedImage if compressed else Image, topic,
                                              QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.lock = threading.Lock()
        self.status_name = status_name(node_name(namespace))  # the node's entry in /diagnostics
        self.outputs: dict[str, dict[int, tuple[float, Any]]] = {k: {} for k in OUTPUTS}
        self.info: PanopticInfo | None = None
        self.diagnostics: DiagnosticArray | None = None
        for name, cls in OUTPUTS.items():
            self.node.create_subscription(cls, node_topic(name, namespace), self._record(name),
                                          QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(PanopticInfo, node_topic(CATEGORIES, namespace), self._on_info,
                                      QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                                 durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diagnostics, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _record(self, name: str) -> Any:
        def callback(msg: Any) -> None:
            with self.lock:
                self.outputs[name][stamp_ns(msg)] = (time.monotonic(), msg)
        return callback

    def _on_info(self, msg: PanopticInfo) -> None:
        self.info = msg

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if any(s.name == self.status_name for s in msg.status):
            self.diagnostics = msg

    def wait_ready(self, timeout: float, alive: Any) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pub.get_subscription_count() > 0 and self.info is not None:
                return
            if not alive():
                raise RuntimeError("panoptic_node exited before it was ready")
            time.sleep(0.1)
        raise RuntimeError(f"panoptic_node did not subscribe to {self.pub.topic_name} within {timeout:.0f} s")

    def categories(self) -> CategoryTable:
        assert self.info is not None
        return CategoryTable(tuple(Category(c.id, c.name, c.is_thing,
                                            (round(c.color.r * 255), round(c.color.g * 255), round(c.color.b * 255)))
                                   for c in self.info.categories))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def replay_live(frames: list[Frame], session: LiveSession, out_dir: Path, ground_truth: dict[int, GroundTruthFrame],
                rate: float, settle: float, alive: Any, storage: str = "mcap", progress: bool = True
                ) -> tuple[ReplayRecorder, dict[str, Any]]:
    published: dict[int, float] = {}
    t0_bag = frames[0].timestamp if frames else 0
    start = time.monotonic()
    for frame in tqdm(frames, unit="frame", disable=not progress, desc="publish"):
        due = start + (frame.timestamp - t0_bag) / 1e9 / rate
        time.sleep(max(0.0, due - time.monotonic()))
        if not alive():
            raise RuntimeError("panoptic_node exited during the replay")
        published[frame.stamp_ns] = time.monotonic()
        session.pub.publish(frame.msg)
    deadline = time.monotonic() + settle
    last_frame = frames[-1].stamp_ns if frames else None
    while time.monotonic() < deadline:  # the newest frame is never dropped: wait for it
        with session.lock:
            if last_frame in session.outputs["segments"] and last_frame in session.outputs["overlay"]:
                break
        time.sleep(0.05)
    time.sleep(0.5)  # let in-flight messages of other topics land
    finished = time.monotonic()

    recorder = ReplayRecorder(session.categories(), frames_in=len(frames), latency_name="e2e_latency_ms")
    preview = PreviewWriter(out_dir, fps=5.0 * rate)
    with session.lock:
        outputs = {k: dict(v) for k, v in session.outputs.items()}
    e2e = []
    with BagWriter(out_dir / "output_bag", storage) as bag:
        for frame in frames:
            stamp = frame.stamp_ns
            if stamp not in outputs["segments"]:
                continue
            arrival, segments = outputs["segments"][stamp]
            e2e.append(arrival - published[stamp])
            recorder.add_result([s.category_id for s in segments.segments], [s.area for s in segments.segments], None)
            for name in OUTPUTS:
                if stamp in outputs[name]:
                    bag.write(node_topic(name), outputs[name][stamp][1], frame.timestamp)
            if stamp in outputs["overlay"]:
                ov = outputs["overlay"][stamp][1]
                preview.add(np.frombuffer(bytes(ov.data), np.uint8).reshape(ov.height, ov.width, 3))
            if stamp in ground_truth and stamp in outputs["panoptic"]:
                pan = outputs["panoptic"][stamp][1]
                recorder.add_ground_truth(ground_truth[stamp],
                                          np.frombuffer(bytes(pan.data), "<i4").reshape(pan.height, pan.width))
    preview.close()
    recorder.latencies = e2e
    recorder.seconds = finished - start
    node_diag = {}
    if session.diagnostics is not None:
        status = next(s for s in session.diagnostics.status if s.name == session.status_name)
        node_diag = {kv.key: kv.value for kv in status.values}
    extra = {"dropped": len(frames) - recorder.processed, "node_diagnostics": node_diag}
    return recorder, extra
