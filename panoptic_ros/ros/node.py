"""``panoptic_node``: camera images in, panoptic segmentation out.

The subscription callback only parks the newest message (an older one still waiting is dropped and
counted), and one inference thread takes it from there, so latency stays bounded however fast
frames come. The thread converts the message, calls the ``Predictor`` and publishes; malformed
frames are counted, logged once per kind (then throttled) and produce no output.
"""
from __future__ import annotations

import collections
import sys
import threading
import time
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from panoptic_msgs.msg import PanopticInfo, PanopticSegmentation
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.inference.predictor import Predictor, PredictorOptions, TorchPredictor, shipped_model_path
from panoptic_ros.ros import conversions
from panoptic_ros.ros.parameters import PARAMETERS, validate

LATENCY_WINDOW = 500


class FrameStats:
    """Counters and a latency window for /diagnostics (touched by two threads, hence the lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = self.processed = self.dropped = self.bad = self.errors = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self.last_received = self.last_processed = 0
        self.last_time = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            now = time.monotonic()
            dt = max(now - self.last_time, 1e-9)
            lat = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
            snap = {"frames_received": self.received, "frames_processed": self.processed,
                    "frames_dropped": self.dropped, "bad_frames": self.bad, "errors": self.errors,
                    "input_rate_hz": (self.received - self.last_received) / dt,
                    "output_rate_hz": (self.processed - self.last_processed) / dt,
                    "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p90_ms": float(np.percentile(lat, 90)),
                    "latency_p99_ms": float(np.percentile(lat, 99)), "latency_max_ms": float(lat.max())}
            self.last_received, self.last_processed, self.last_time = self.received, self.processed, now
            return snap


class PanopticNode(Node):
    def __init__(self, predictor: Predictor | None = None, **kwargs: Any) -> None:
        super().__init__("panoptic", **kwargs)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None  # started last: a failed start has nothing to stop
        self.params = self._declare_parameters()
        self.predictor = predictor or self._load_predictor()
        self.stats = FrameStats()
        self._pending: tuple[Any, float] | None = None
        self._wake = threading.Condition()
        self._warned: set[str] = set()
        self._colors = self.predictor.categories.colors_by_id(self.predictor.device)

        out_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_panoptic = self.create_publisher(Image, "~/panoptic", out_qos)
        self.pub_semantic = self.create_publisher(Image, "~/semantic", out_qos)
        self.pub_segments = self.create_publisher(PanopticSegmentation, "~/segments", out_qos)
        self.pub_overlay = self.create_publisher(Image, "~/overlay", out_qos)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_categories = self.create_publisher(PanopticInfo, "~/categories", latched)
        self.pub_legend = self.create_publisher(MarkerArray, "~/legend", latched)
        self._legend_sent = False
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_categories.publish(conversions.categories_message(
            self.predictor.categories, self.predictor.model_name, Header(stamp=self.get_clock().now().to_msg())))

        in_qos = QoSProfile(depth=self.params["qos_depth"], history=HistoryPolicy.KEEP_LAST,
                            reliability=ReliabilityPolicy.RELIABLE if self.params["qos_reliability"] == "reliable"
                            else ReliabilityPolicy.BEST_EFFORT)
        if self.params["input_transport"] == "compressed":
            self.sub = self.create_subscription(CompressedImage, "image/compressed", self._on_image, in_qos)
        else:
            self.sub = self.create_subscription(Image, "image", self._on_image, in_qos)
        self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._run, name="panoptic-inference", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"model {self.predictor.model_name!r} on {self.predictor.device}, mask cues "
            f"{'on' if self.predictor.mask_cues else 'off'}, listening on {self.sub.topic_name}")

    # ---- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        for spec in PARAMETERS:
            desc = ParameterDescriptor(description=spec.description, read_only=not spec.dynamic)
            if spec.choices:
                desc.additional_constraints = "one of: " + ", ".join(repr(c) for c in spec.choices)
            if spec.minimum is not None and isinstance(spec.default, float):
                desc.floating_point_range = [FloatingPointRange(from_value=spec.minimum, to_value=spec.maximum)]
            elif spec.minimum is not None:
                desc.integer_range = [IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
            try:
                self.declare_parameter(spec.name, spec.default, desc)
            except ParameterException as exc:  # out of the descriptor's range, or the wrong type
                raise ValueError(f"parameter {spec.name!r}: {exc}") from exc
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        values["inference_size"] = list(values["inference_size"])
        return validate(values)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        try:
            validate({p.name: p.value for p in params})
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        for p in params:
            self.params[p.name] = p.value
            if p.name == "score_threshold" and isinstance(self.predictor, TorchPredictor):
                self.predictor.model.instance.set_score_threshold(p.value)
        return SetParametersResult(successful=True)

    def _load_predictor(self) -> TorchPredictor:
        p = self.params
        size = tuple(p["inference_size"]) if any(p["inference_size"]) else None
        options = PredictorOptions(p["device"], p["precision"], p["mask_cues"], p["head"] or None,
                                   p["score_threshold"], size)  # type: ignore[arg-type]
        return TorchPredictor.from_checkpoint(p["model"] or shipped_model_path(), options)

    # ---- frames -------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            with self.stats.lock:
                self.stats.received += 1
                if self._pending is not None:
                    self.stats.dropped += 1
            self._pending = (msg, time.monotonic())
            self._wake.notify()

    def _warn(self, kind: str, message: str) -> None:
        """First occurrence of each kind of problem at WARN, then at most one line every 10 s."""
        if kind not in self._warned:
            self._warned.add(kind)
            self.get_logger().warning(message)
        else:
            self.get_logger().warning(message, throttle_duration_sec=10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stop.is_set(), timeout=0.5)
                item, self._pending = self._pending, None
            if item is not None:
                self._process(*item)

    def _process(self, msg: Image | CompressedImage, received: float) -> None:
        try:
            rgb = conversions.rgb_from_message(msg, self.predictor.device)
        except ImageEncodingError as exc:
            with self.stats.lock:
                self.stats.bad += 1
            self._warn(f"bad:{type(msg).__name__}:{str(exc).split(' ')[0]}", f"dropping bad frame: {exc}")
            return
        try:
            result = self.predictor.predict([rgb])[0]
            panoptic, semantic, segments = conversions.result_messages(result, msg.header)
            overlay = None
            if self.params["publish_overlay"] or self.pub_overlay.get_subscription_count() > 0:
                overlay = conversions.overlay_message(
                    render_overlay(rgb, result.panoptic, self._colors, self.params["overlay_alpha"]), msg.header)
        except Exception as exc:  # a failing frame (e.g. out of GPU memory) must not stop the node
            with self.stats.lock:
                self.stats.errors += 1
            self._warn(f"error:{type(exc).__name__}", f"inference failed on a frame: {type(exc).__name__}: {exc}")
            return
        self.pub_panoptic.publish(panoptic)
        self.pub_semantic.publish(semantic)
        self.pub_segments.publish(segments)
        if overlay is not None:
            self.pub_overlay.publish(overlay)
        if not self._legend_sent:  # needs a frame id, so it waits for the first frame
            self.pub_legend.publish(conversions.legend_message(self.predictor.categories, msg.header))
            self._legend_sent = True
        with self.stats.lock:
            self.stats.processed += 1
            self.stats.latencies.append(time.monotonic() - received)

    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        level = DiagnosticStatus.OK
        message = "running"
        if snap["errors"] or snap["bad_frames"]:
            level, message = DiagnosticStatus.WARN, f"{snap['bad_frames']} bad frames, {snap['errors']} errors"
        values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in snap.items()]
        values += [KeyValue(key="device", value=str(self.predictor.device)),
                   KeyValue(key="model", value=self.predictor.model_name),
                   KeyValue(key="mask_cues", value=str(self.predictor.mask_cues).lower())]
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: panoptic segmentation", message=message,
                                  hardware_id=str(self.predictor.device), values=values)
        self.pub_diagnostics.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=[status]))

    def destroy_node(self) -> None:
        self._stop.set()
        if self._worker is not None:
            with self._wake:
                self._wake.notify_all()
            self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = PanopticNode()
    except (ValueError, OSError, RuntimeError) as exc:  # bad parameters, missing/corrupt model, no GPU
        rclpy.logging.get_logger("panoptic").fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return 1
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
