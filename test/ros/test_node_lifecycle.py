"""The node's lifecycle in this process, with the predictor instrumented: what each transition does
to the network (a CPU test of the state machine; GPU memory itself is not measured here)."""

import dataclasses
import threading
import time

import pytest
import rclpy
import torch
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image

from helpers import small_categories, small_model_config
from ros_harness import isolated_ros_env
from panoptic_ros.inference.predictor import PredictorOptions, TorchPredictor
from panoptic_ros.model.checkpoint import save_checkpoint
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.ros.node import PanopticNode

SUCCESS = TransitionCallbackReturn.SUCCESS


class RecordingPredictor(TorchPredictor):
    """A small network that records the calls the node makes and where its weights are."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(PanopticNet(small_model_config(), small_categories()), "small",
                         PredictorOptions(device="cpu", score_threshold=0.0, inference_size=(48, 80)))
        self.calls: list[str] = []

    def offload(self) -> None:
        super().offload()
        self.calls.append("offload")

    def restore(self) -> None:
        super().restore()
        self.calls.append("restore")

    def predict(self, images: list[torch.Tensor]) -> list:
        self.calls.append(f"predict {len(images)}")
        return super().predict(images)


@pytest.fixture
def make_node():
    """Nodes on two cameras (front, left), not started, with ``overrides`` and command-line ``args``."""
    made = []

    def make(*overrides: Parameter, args: list[str] = ()) -> tuple[PanopticNode, RecordingPredictor]:
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=int(isolated_ros_env()["ROS_DOMAIN_ID"]))
        predictor = RecordingPredictor()
        node = PanopticNode(predictor, context=context, cli_args=["--ros-args", *args], parameter_overrides=[
            Parameter("autostart", value=False), Parameter("cameras", value=["front", "left"]), *overrides])
        made.append((node, context))
        return node, predictor

    yield make
    for node, context in made:
        node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.fixture
def node_and_predictor(make_node):
    return make_node()


def test_deactivate_takes_the_network_off_its_device_and_activate_brings_it_back(node_and_predictor):
    node, predictor = node_and_predictor
    assert node.trigger_configure() == SUCCESS and predictor.calls == []
    published = {t for t, _ in node.get_publisher_names_and_types_by_node("panoptic", "/")}
    assert {f"/panoptic/{camera}/{output}" for camera in ("front", "left")
            for output in ("panoptic", "semantic", "segments", "overlay")} | {
        "/diagnostics", "/panoptic/categories", "/panoptic/legend"} <= published
    assert not {"/panoptic/panoptic", "/panoptic/overlay"} & published  # the unnamed camera's are not made
    for _ in range(2):
        assert node.trigger_activate() == SUCCESS
        assert predictor.calls[-2:] == ["restore", "predict 2"]  # back on the device, then the warm-up (2 cameras)
        assert sorted(sub.topic_name for sub in node.subs) == ["/front/image", "/left/image"]
        assert node.trigger_deactivate() == SUCCESS
        assert predictor.calls[-1] == "offload" and node.subs == []
    assert node.trigger_cleanup() == SUCCESS and node.predictor is None and node.outputs == {}
    assert predictor.calls == ["restore", "predict 2", "offload"] * 2


def test_shutdown_while_active_unsubscribes_and_takes_the_network_off_its_device(node_and_predictor):
    node, predictor = node_and_predictor
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    assert node.trigger_shutdown() == SUCCESS
    assert predictor.calls[-1] == "offload" and node.subs == [] and node.predictor is None


def test_a_failed_activate_leaves_nothing_subscribed_running_or_on_the_device(make_node):
    node, predictor = make_node(  # the second camera's subscription cannot be made
        Parameter("qos_overrides./left/image.subscription.reliability", value="best-effort"))
    assert node.trigger_configure() == SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.FAILURE
    assert "best-effort" in node.failure
    assert node.subs == [] and list(node.subscriptions) == []  # the first camera's went again
    assert predictor.calls[-1] == "offload"
    assert not [t for t in threading.enumerate() if t.name == "panoptic-inference"]


def test_a_deactivate_that_abandons_a_frame_leaves_the_network_where_that_frame_runs(make_node):
    """Moving the weights off the device under a frame still in inference would fail it (or worse, on
    a GPU); they stay until cleanup, and the abandoned frame publishes nothing when it ends."""
    node, predictor = make_node(Parameter("shutdown_timeout", value=0.0))
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    started, release = threading.Event(), threading.Event()
    predict = predictor.predict

    def stuck_predict(images: list[torch.Tensor]) -> list:
        started.set()
        release.wait(10)
        return predict(images)

    predictor.predict = stuck_predict
    frame = Image(height=48, width=80, encoding="rgb8", step=240, data=bytes(48 * 240))
    node._worker.submit("front", (frame, 0.0))
    assert started.wait(10)
    assert node.trigger_deactivate() == SUCCESS
    assert predictor.calls[-1] != "offload" and node.subs == []
    release.set()
    node._worker.stop(10)  # the abandoned one
    front = node.stats.cameras["front"]
    assert (front.processed, front.errors) == (0, 0)
    assert node.trigger_cleanup() == SUCCESS and node.predictor is None


def test_label_images_are_made_only_for_their_listeners(node_and_predictor):
    """A full-size label image costs a copy off the device and a serialisation: made only while someone
    subscribes to it (``~/segments`` always)."""
    node, _ = node_and_predictor
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    published: list[str] = []
    for name, publisher in node.outputs["front"].items():
        publisher.publish = lambda message, name=name: published.append(name)
    listener = rclpy.create_node("listener", context=node.context)
    try:
        listener.create_subscription(Image, "/panoptic/front/semantic", lambda message: None, 1)
        deadline = time.monotonic() + 10
        while node.outputs["front"]["semantic"].get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        frame = Image(height=48, width=80, encoding="rgb8", step=240, data=bytes(48 * 240))
        node._worker.submit("front", (frame, time.monotonic()))
        while node.stats.cameras["front"].processed == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert published == ["semantic", "segments"]
    finally:
        listener.destroy_node()


def test_frames_sent_while_inactive_are_not_counted_as_lost(node_and_predictor):
    node, _ = node_and_predictor
    front = node.stats.cameras["front"]
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    front.count_received(b"camera", 1, dropped=False)
    assert node.trigger_deactivate() == SUCCESS and node.trigger_activate() == SUCCESS
    front.count_received(b"camera", 500, dropped=False)  # the camera went on while the node was inactive
    assert front.lost == 0


def test_a_compressed_input_follows_its_cameras_remapped_image_topic_as_image_transport_does(make_node):
    node, _ = make_node(Parameter("input_transport", value="compressed"), args=[
        "-r", "front/image:=/f/image_raw", "-r", "left/image/compressed:=/l/jpeg"])  # left's own remap wins
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    assert [sub.topic_name for sub in node.subs] == ["/f/image_raw/compressed", "/l/jpeg"]


def test_a_qos_override_of_one_camera_leaves_the_other_cameras_alone(make_node):
    node, _ = make_node(Parameter("qos_overrides./front/image.subscription.reliability", value="best_effort"),
                        Parameter("qos_overrides./front/image.subscription.depth", value=1))
    assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
    front, left = sorted(node.subs, key=lambda sub: sub.topic_name)
    assert (front.qos_profile.reliability, front.qos_profile.depth) == (ReliabilityPolicy.BEST_EFFORT, 1)
    assert (left.qos_profile.reliability, left.qos_profile.depth) == (ReliabilityPolicy.RELIABLE, 5)
    assert node.get_parameter("qos_overrides./left/image.subscription.reliability").value == "reliable"


def test_a_camera_that_publishes_best_effort_is_heard(make_node):
    """A driver on the sensor-data profile (best effort) is never heard by a reliable reader: the
    subscription follows the publishers already on the topic (the other camera has none: reliable)."""
    node, _ = make_node()
    camera = rclpy.create_node("camera_driver", context=node.context)
    try:
        camera.create_publisher(Image, "/front/image", qos_profile_sensor_data)
        assert node.trigger_configure() == SUCCESS and node.trigger_activate() == SUCCESS
        front, left = sorted(node.subs, key=lambda sub: sub.topic_name)
        assert front.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        assert left.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    finally:
        camera.destroy_node()


def test_cpu_threads_apply_at_configure(make_node):
    from panoptic_ros.device import set_cpu_threads
    node, _ = make_node(Parameter("cpu_threads", value=1))
    try:
        assert node.trigger_configure() == SUCCESS and torch.get_num_threads() == 1
    finally:
        set_cpu_threads(0)


def test_output_publishers_take_qos_overrides(make_node):
    node, _ = make_node(Parameter("qos_overrides./panoptic/front/overlay.publisher.reliability",
                                  value="best_effort"))
    assert node.trigger_configure() == SUCCESS
    assert node.outputs["front"]["overlay"].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    assert node.outputs["left"]["overlay"].qos_profile.reliability == ReliabilityPolicy.RELIABLE


def test_a_configure_that_fails_after_loading_takes_back_the_network_and_its_publishers(make_node):
    node, _ = make_node(Parameter("qos_overrides./panoptic/left/overlay.publisher.reliability", value="best_efort"))
    assert node.trigger_configure() != SUCCESS and "best_efort" in node.failure
    assert node.predictor is None and node.outputs == {}
    assert node.get_publishers_info_by_topic("/panoptic/front/panoptic") == []  # made before the failing one
    (result,) = node.set_parameters([Parameter("model", value="other.pt")])  # unconfigured, so it may change
    assert result.successful, result.reason


def test_the_score_threshold_is_the_checkpoint_s_own_unless_the_parameter_sets_one(tmp_path, capfd):
    cfg = small_model_config()
    cfg = dataclasses.replace(cfg, instance=dataclasses.replace(cfg.instance, score_threshold=0.05))
    path = save_checkpoint(tmp_path / "own.pt", PanopticNet(cfg, small_categories()), "own")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(isolated_ros_env()["ROS_DOMAIN_ID"]))
    node = PanopticNode(context=context, parameter_overrides=[
        Parameter("autostart", value=False), Parameter("model", value=str(path)), Parameter("device", value="cpu")])
    try:
        assert node.trigger_configure() == SUCCESS
        assert node.predictor.score_threshold == 0.05  # as panoptic-eval scored it
        assert "evaluated at score threshold" not in capfd.readouterr().err
        assert node.trigger_cleanup() == SUCCESS
        assert node.set_parameters([Parameter("score_threshold", value=0.5)])[0].successful  # an old params file's
        assert node.trigger_configure() == SUCCESS and node.predictor.score_threshold == 0.5
        assert "'own' was evaluated at score threshold 0.05" in capfd.readouterr().err  # said, not silent
        assert node.set_parameters([Parameter("score_threshold", value=0.3)])[0].successful
        assert node.predictor.score_threshold == 0.3
        assert node.set_parameters([Parameter("score_threshold", value=-1.0)])[0].successful
        assert node.predictor.score_threshold == 0.05  # back to the checkpoint's own
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_a_lifecycle_manager_can_load_another_model_while_the_node_is_unconfigured(tmp_path):
    """cleanup, set ``model`` (or device, precision, ...), configure: the next model runs. Configured,
    the change is refused with what to do, and the running model stays."""
    torch.manual_seed(0)
    net = PanopticNet(small_model_config(), small_categories())
    first, second = (str(save_checkpoint(tmp_path / f"{name}.pt", net, name)) for name in ("first", "second"))
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(isolated_ros_env()["ROS_DOMAIN_ID"]))
    node = PanopticNode(context=context, parameter_overrides=[
        Parameter("autostart", value=False), Parameter("model", value=first), Parameter("device", value="cpu")])
    try:
        assert node.trigger_configure() == SUCCESS and node.predictor.model_name == "first"
        (refused,) = node.set_parameters([Parameter("model", value=second)])
        assert not refused.successful and "unconfigured" in refused.reason and "cleanup" in refused.reason
        assert node.get_parameter("model").value == first
        assert node.trigger_cleanup() == SUCCESS
        assert all(r.successful for r in node.set_parameters([Parameter("model", value=second),
                                                              Parameter("mask_cues", value=False)]))
        assert node.trigger_configure() == SUCCESS
        assert node.predictor.model_name == "second" and not node.predictor.mask_cues
        # as `ros2 param set /panoptic inference_size "[64, 0]"` sends it: rclpy makes an array('q') of it
        assert node.trigger_cleanup() == SUCCESS
        message = Parameter("inference_size", value=[64, 0]).to_parameter_msg()
        (result,) = node.set_parameters([Parameter.from_parameter_msg(message)])
        assert result.successful, result.reason
        assert node.trigger_configure() == SUCCESS and node.predictor.options.inference_size == (64, 0)
        assert node.params["inference_size"] == [64, 0]
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


@pytest.mark.parametrize("stopped", [True, False])
def test_a_start_that_meets_a_shut_down_context_is_a_stop_not_a_failure(monkeypatch, capfd, stopped):
    """rclpy answers SIGTERM by shutting the context down; a start still loading the model then fails on
    the dead context. That is the stop it was asked for (exit 0), not "cannot start" (exit 1)."""
    from panoptic_ros.ros import node as node_module

    class StartMeetsAStop:
        params = {"autostart": True}
        failure = "RCLError: the context is invalid"

        def start(self) -> bool:
            if stopped:
                rclpy.shutdown()  # what rclpy's SIGTERM handler does
            return False

    monkeypatch.setattr(node_module, "PanopticNode", StartMeetsAStop)
    monkeypatch.setenv("ROS_DOMAIN_ID", isolated_ros_env()["ROS_DOMAIN_ID"])
    try:
        assert node_module.main([]) == (0 if stopped else 1)
    finally:
        rclpy.try_shutdown()
    assert ("cannot start" in capfd.readouterr().err) != stopped
