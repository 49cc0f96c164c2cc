"""``panoptic_node``: camera images in, panoptic segmentation out, for one camera or several through
one network. A lifecycle node: configure loads the model onto its device and creates the
publishers, activate warms it up (bringing it back onto the device after a deactivate) and
subscribes, deactivate unsubscribes and moves the network off the device (its memory goes back),
cleanup drops the model; ``autostart`` (default) runs configure and activate at start, so ``ros2 run``
and the launch file behave like a plain node.

Each camera's subscription callback only parks the newest message in its camera's slot of a
``NewestFrameWorker`` (an older one still waiting is dropped and counted for that camera), whose one
thread converts the newest frame of every camera, calls the ``Predictor`` once on all of them and
publishes each camera's results, so latency stays bounded however fast frames come and no camera
starves another. Whatever one frame raises is counted for its camera, logged once per kind (then
throttled) and produces no output; the other frames and the next batch go on. A stop waits
``shutdown_timeout`` for the batch in inference, then abandons it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from panoptic_msgs.msg import PanopticInfo
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.subscription import MessageInfo
from rclpy.timer import Timer
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.device import release_cached_memory, set_cpu_threads
from panoptic_ros.inference.predictor import Predictor, PredictorOptions, TorchPredictor
from panoptic_ros.image_size import network_size
from panoptic_ros.memory import keep_frame_buffers
from panoptic_ros.model.checkpoint import CheckpointError
from panoptic_ros.structures import PanopticResult
from panoptic_ros.ros import conversions
from panoptic_ros.ros.diagnostics import NodeStats, camera_status, diagnostic_status
from panoptic_ros.ros.newest_frame import NewestFrameWorker
from panoptic_ros.ros.parameters import BY_NAME, PARAMETERS, descriptor, score_threshold_option, validate
from panoptic_ros.ros.log_lines import BAD_FRAME, FAILED_FRAME, KindThrottledWarnings, frame_warning, one_line
from panoptic_ros.ros.qos import camera_qos_for, diagnostics_qos, latched_qos, output_qos
from panoptic_ros.ros.topics import (
    CATEGORIES, COMPRESSED, DIAGNOSTICS, LABEL_IMAGES, LEGEND, NODE_NAME, OUTPUTS, OVERLAY, camera_input_topic,
    camera_topic,
)


WARM_UP_FRAME = (360, 480)  # a camera frame's size to warm up at, before the first frame says it
Frame = tuple[Image | CompressedImage, float]  # (message, monotonic time it reached the callback)


class PanopticNode(LifecycleNode):
    """The ROS node: camera messages in, the ``Predictor``'s results out as messages (see the
    module docstring). ``predictor``: a ready one (tests); otherwise ``model`` is loaded on configure."""
    def __init__(self, predictor: Predictor | None = None, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params = self._declare_parameters()  # a bad value stops the start here, in any state
        self._given_predictor = predictor
        self.predictor: Predictor | None = None
        self.failure = ""  # the last failed transition's reason
        self._log_failures = True
        self.cameras: list[str] = self.params["cameras"]
        self.stats = NodeStats(self.cameras)
        self._warnings = KindThrottledWarnings(self.get_logger())
        self._publish_lock = threading.Lock()  # a stop never destroys a publisher in the middle of a publish
        self._worker: NewestFrameWorker[str, Frame] | None = None
        self._stopped = threading.Event()  # of the current activation; set: publish nothing more
        self.subs: list[Any] = []  # one per camera while active
        self.outputs: dict[str, dict[str, Any]] = {}  # camera -> output name -> publisher, while configured
        self._entities: list[Any] = []  # publishers and timer of the configured state
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> bool:
        """``autostart``: configure and activate; False (reason in ``failure``, not logged) if either fails."""
        self._log_failures = False
        try:
            return (self.trigger_configure() == TransitionCallbackReturn.SUCCESS
                    and self.trigger_activate() == TransitionCallbackReturn.SUCCESS)
        finally:
            self._log_failures = True

    def _transition(self, name: str, work: Callable[[], None]) -> TransitionCallbackReturn:
        """A failed transition leaves the node in its previous state with one ERROR line, no traceback."""
        try:
            work()
        except Exception as exc:
            self.failure = one_line(exc, plain=(ValueError, CheckpointError))
            if self._log_failures:
                self.get_logger().error(f"{name} failed: {self.failure}")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("configure", self._configure)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("activate", self._activate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("deactivate", self._deactivate)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("cleanup", self._cleanup)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        def shutdown() -> None:
            if self.subs:
                self._deactivate()
            if self.predictor is not None:
                self._cleanup()
        return self._transition("shutdown", shutdown)

    def _configure(self) -> None:
        set_cpu_threads(self.params["cpu_threads"])
        self.predictor = self._given_predictor or self._load_predictor()
        try:
            self._create_publishers()
        except Exception:  # a bad QoS override, ...: what was made goes again, the network with it
            self._cleanup()
            raise

    def _create_publishers(self) -> None:
        """The configured state's publishers and diagnostics timer, each kept in ``_entities`` as it is
        made (so a failure half-way can take back what was made)."""
        def made(entity: Any) -> Any:
            self._entities.append(entity)
            return entity

        assert self.predictor is not None
        self._colors = self.predictor.categories.colors_by_id(self.predictor.device)
        # qos_overrides./panoptic/<output>.publisher.*: best effort or depth 1 for RViz over Wi-Fi, ...
        self.outputs = {camera: {name: made(self.create_publisher(
            msg_type, "~/" + camera_topic(camera, name), output_qos(),
            qos_overriding_options=QoSOverridingOptions.with_default_policies()))
            for name, msg_type in OUTPUTS.items()} for camera in self.cameras}
        self.pub_categories = made(self.create_publisher(PanopticInfo, "~/" + CATEGORIES, latched_qos()))
        self.pub_legend = made(self.create_publisher(MarkerArray, "~/" + LEGEND, latched_qos()))
        self._legend_sent = False
        self.pub_diagnostics = made(self.create_publisher(DiagnosticArray, DIAGNOSTICS, diagnostics_qos()))
        made(self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics))
        self.pub_categories.publish(conversions.categories_message(
            self.predictor.categories, self.predictor.model_name, Header(stamp=self.get_clock().now().to_msg())))

    def _activate(self) -> None:
        assert self.predictor is not None
        self.predictor.restore()
        try:
            self._start_taking_frames()
        except Exception:  # whatever was made (worker, subscriptions) goes again, and the device is freed
            self._deactivate()
            raise
        self.get_logger().info(
            f"model {self.predictor.model_name!r} on {self.predictor.device}, mask cues "
            f"{'on' if self.predictor.mask_cues else 'off'}, score threshold {self.predictor.score_threshold:g}, "
            f"listening on "
            f"{', '.join(sub.topic_name for sub in self.subs)}")

    def _start_taking_frames(self) -> None:
        """Warm up, start the inference thread, then subscribe each camera."""
        assert self.predictor is not None
        height, width = network_size(WARM_UP_FRAME, tuple(self.params["inference_size"]))  # type: ignore[arg-type]
        blank = torch.zeros(3, height, width, dtype=torch.uint8, device=self.predictor.device)
        self.predictor.predict([blank] * len(self.cameras))  # warm up at the batch the cameras will make
        stopped = self._stopped = threading.Event()
        self._worker = NewestFrameWorker(lambda batch: self._process(batch, stopped),
                                         lambda batch, exc: self._on_failure(list(batch), exc, stopped),
                                         name="panoptic-inference")
        self.stats.forget_publishers()
        compressed = self.params["input_transport"] == COMPRESSED
        for camera in self.cameras:
            topic = camera_input_topic(camera, compressed, self.resolve_topic_name)
            # what the publishers already there offer; qos_overrides./<topic>.subscription.* win, as in
            # image_pipeline's nodes
            offered = [info.qos_profile.reliability
                       for info in self.get_publishers_info_by_topic(self.resolve_topic_name(topic))]
            self.subs.append(self.create_subscription(
                CompressedImage if compressed else Image, topic, partial(self._on_image, camera),
                camera_qos_for(offered), qos_overriding_options=QoSOverridingOptions.with_default_policies()))

    def _deactivate(self) -> None:
        assert self.predictor is not None
        for sub in self.subs:
            self.destroy_subscription(sub)
        self.subs = []
        if self.stop():
            self.predictor.offload()
        else:  # moving the weights under the running frame would fail it, or worse, on a GPU
            self.get_logger().warning(f"deactivating: the frame in inference was abandoned; the network stays "
                                      f"on {self.predictor.device} until cleanup")

    def _cleanup(self) -> None:
        for entity in self._entities:
            (self.destroy_timer if isinstance(entity, Timer) else self.destroy_publisher)(entity)
        self._entities = []
        self.outputs = {}
        device, self.predictor = self.predictor.device, None  # type: ignore[union-attr]
        release_cached_memory(device)  # the network's memory, and cuBLAS's workspaces, go back

    # ---- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        for spec in PARAMETERS:
            try:
                self.declare_parameter(spec.name, spec.default, descriptor(spec))
            except ParameterException as exc:  # out of the descriptor's range, or the wrong type
                raise ValueError(f"parameter {spec.name!r}: {exc}") from exc
        return validate({spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS})

    def _check_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Checks this node's own parameters; others (``use_sim_time``, ...) are rclpy's to judge. The
        model's (``at_configure``) change only while the node is unconfigured, where a lifecycle manager
        puts it (cleanup) to load another model, device or precision at its next configure."""
        loaded = [p.name for p in params if p.name in BY_NAME and BY_NAME[p.name].at_configure]
        if loaded and self.predictor is not None:
            return SetParametersResult(successful=False, reason=(
                f"{', '.join(loaded)} can change only while the node is unconfigured: "
                f"'ros2 lifecycle set {self.get_fully_qualified_name()} cleanup' first (deactivate before, if active)"))
        try:
            validate({p.name: p.value for p in params if p.name in BY_NAME})
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list[Parameter]) -> None:
        """Runs once a change is accepted (post-set), so a refused change never half-applies; values as
        ``validate`` gives them (lists, floats)."""
        values = validate({p.name: p.value for p in params if p.name in BY_NAME})
        self.params.update(values)
        if "score_threshold" in values and self.predictor is not None:
            self.predictor.set_score_threshold(score_threshold_option(values["score_threshold"]))

    def _load_predictor(self) -> TorchPredictor:
        p = self.params
        threshold = score_threshold_option(p["score_threshold"])
        options = PredictorOptions(p["device"], p["precision"], p["mask_cues"], p["head"] or None, threshold,
                                   tuple(p["inference_size"]))  # type: ignore[arg-type]
        predictor = TorchPredictor.from_checkpoint(p["model"], options)
        if threshold is not None and threshold != predictor.checkpoint_score_threshold:  # an old params file, say
            self.get_logger().warning(
                f"model {predictor.model_name!r} was evaluated at score threshold "
                f"{predictor.checkpoint_score_threshold:g} (its config's, panoptic-eval's too); this node keeps "
                f"instances from {threshold:g} (parameter score_threshold; -1: the model's own)")
        return predictor

    # ---- frames -------------------------------------------------------------------------------
    def _on_image(self, camera: str, msg: Image | CompressedImage, info: MessageInfo) -> None:
        dropped = self._worker.submit(camera, (msg, time.monotonic()))  # type: ignore[union-attr]
        gid = info.get("publisher_gid")
        self.stats.cameras[camera].count_received(gid["data"] if gid else None,
                                                  info.get("publication_sequence_number"), dropped)

    @contextmanager
    def _guard(self, cameras: list[str], stopped: threading.Event) -> Iterator[None]:
        """Inside a batch: what the guarded work raises is counted for ``cameras`` (the frames it
        concerns), and the rest of the batch goes on."""
        try:
            yield
        except Exception as exc:
            self._on_failure(cameras, exc, stopped)

    def _process(self, batch: dict[str, Frame], stopped: threading.Event) -> None:
        """The newest frame of every camera that has one: converted one by one (a bad frame is its
        camera's alone), then one ``predict`` for all, then each camera's messages."""
        assert self.predictor is not None
        frames: dict[str, tuple[Frame, torch.Tensor]] = {}
        for camera, frame in batch.items():
            with self._guard([camera], stopped):
                frames[camera] = frame, conversions.rgb_from_message(frame[0], self.predictor.device,
                                                                     self.params["input_bits"])
        results = []
        with self._guard(list(frames), stopped):
            if frames:
                results = self.predictor.predict([rgb for _, rgb in frames.values()])
                self.stats.count_batch(len(frames))
        for (camera, (frame, rgb)), result in zip(frames.items(), results):
            with self._guard([camera], stopped):
                self._publish(camera, frame, rgb, result, stopped)

    def _publish(self, camera: str, frame: Frame, rgb: torch.Tensor, result: PanopticResult,
                 stopped: threading.Event) -> None:
        assert self.predictor is not None
        msg, received = frame
        publishers = self.outputs[camera]
        overlay = None
        if self.params["publish_overlay"] or publishers[OVERLAY].get_subscription_count() > 0:
            overlay = render_overlay(rgb, result, self._colors, self.params["overlay_alpha"],
                                     self.params["overlay_max_size"] or None)
        wanted = tuple(name for name in LABEL_IMAGES if publishers[name].get_subscription_count() > 0)
        messages = conversions.frame_messages(result, msg.header, overlay, wanted)
        with self._publish_lock:
            if stopped.is_set():  # deactivated or stopping: the publishers may be gone
                return
            for name, message in messages.items():
                publishers[name].publish(message)
            if not self._legend_sent:  # needs a frame id, so it waits for the first frame
                self.pub_legend.publish(conversions.legend_message(self.predictor.categories, msg.header.frame_id))
                self._legend_sent = True
        self.stats.cameras[camera].count("processed", latency=time.monotonic() - received)

    def _on_failure(self, cameras: list[str], exc: Exception, stopped: threading.Event) -> None:
        """A guard's report: a bad frame, or any other failure of the frames of ``cameras`` (out of
        memory, a decoder's assertion, ...), counted for each. A failure while the node stops (its
        context already shut down) is no error."""
        if stopped.is_set() or not self.context.ok():
            return
        bad = isinstance(exc, ImageEncodingError)
        if bad:  # said before it is counted: whoever sees the count in /diagnostics finds the line logged
            self._warnings.warn(frame_warning(BAD_FRAME, cameras, one_line(exc, plain=(ImageEncodingError,))))
        else:
            self._warnings.warn(frame_warning(FAILED_FRAME, cameras, one_line(exc)))
        for camera in cameras:
            self.stats.cameras[camera].count("bad" if bad else "errors")

    def _publish_diagnostics(self) -> None:
        """The node's status (totals and batch sizes), then one per named camera."""
        assert self.predictor is not None
        node, device = self.get_fully_qualified_name(), str(self.predictor.device)
        total, per_camera = self.stats.snapshot()
        active = bool(self.subs)
        statuses = [diagnostic_status(node, device, total, {"model": self.predictor.model_name,
                                                            "mask_cues": str(self.predictor.mask_cues).lower(),
                                                            "head": self.predictor.head,
                                                            "score_threshold": f"{self.predictor.score_threshold:g}",
                                                            "input_bits": str(self.params["input_bits"])},
                                               active)]
        if self.cameras != [""]:
            statuses += [camera_status(node, device, camera, snapshot, active)
                         for camera, snapshot in per_camera.items()]
        self.pub_diagnostics.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=statuses))

    def stop(self) -> bool:
        """Stop taking frames and wait ``shutdown_timeout`` for the one in inference; False: it was
        abandoned (still running, and it will publish nothing)."""
        if self._worker is None:
            return True
        with self._publish_lock:
            self._stopped.set()
        finished = self._worker.stop(self.params["shutdown_timeout"])
        self._worker = None if finished else self._worker
        return finished


def main(args: list[str] | None = None) -> int:
    """Exit 0 after a stop (Ctrl-C, SIGTERM, a shut-down context); 1 with one FATAL line when the node
    cannot start. A frame still in inference after ``shutdown_timeout`` is abandoned: the process ends
    at once (``os._exit``), because letting the interpreter finalise under a thread still inside
    PyTorch aborts it."""
    logger = rclpy.logging.get_logger(NODE_NAME)
    if not keep_frame_buffers():
        logger.info("allocator not tuned for frame buffers (not glibc?): frames above 32 MB cost page faults")
    initialised = False
    try:
        rclpy.init(args=args)
        initialised = True
        node = PanopticNode()
        if node.params["autostart"] and not node.start():
            raise RuntimeError(node.failure)
    except KeyboardInterrupt:  # stopped while starting: nothing to clean up but the context
        rclpy.try_shutdown()
        return 0
    except Exception as exc:  # bad parameters or params file, missing/corrupt model, no GPU, ...
        if initialised and not rclpy.ok():  # a SIGTERM (rclpy shuts the context down) met the start: a stop
            return 0
        logger.fatal(f"cannot start: {one_line(exc, plain=(ValueError, RuntimeError))}")
        rclpy.try_shutdown()
        return 1
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    try:
        finished = node.stop()
    except KeyboardInterrupt:  # a second Ctrl-C while waiting for the frame in inference: stop waiting
        finished = False
    if not finished:
        logger.warning(f"stopping: the frame in inference did not finish within "
                       f"{node.params['shutdown_timeout']} s and was abandoned")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
