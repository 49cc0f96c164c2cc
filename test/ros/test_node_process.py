"""``panoptic_node`` started as its own process (its console script), driven over real DDS."""
from __future__ import annotations

import signal
import time

import cv2
import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time
from lifecycle_msgs.msg import Transition
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from helpers import small_categories, small_model_config, two_plane_yuv_from_rgb, yuv422_from_rgb
from panoptic_ros.image_encoding import INPUT_ENCODINGS
from panoptic_ros.model.checkpoint import save_checkpoint
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.tools import hostile_frames
from panoptic_ros.ros.topics import camera_topic
from ros_harness import OUTPUTS, Client, NodeProcess, isolated_ros_env

H, W = 48, 80
RGB = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _encode(rgb: np.ndarray, encoding: str) -> np.ndarray:
    if "16" in encoding:  # the 8-bit frame's values v as 257 v: the same picture
        return _encode(rgb, encoding.replace("16", "8")).astype(np.uint16) * 257
    if encoding == "rgb8":
        return rgb
    if encoding == "bgr8":
        return rgb[..., ::-1]
    if encoding in ("rgba8", "bgra8"):
        c = rgb if encoding == "rgba8" else rgb[..., ::-1]
        return np.dstack([c, np.full(rgb.shape[:2], 255, np.uint8)])
    if encoding == "mono8":
        return rgb[..., 1]
    if encoding.startswith("yuv422") or encoding in ("uyvy", "yuyv"):
        return yuv422_from_rgb(rgb, encoding)
    if encoding.startswith("nv"):
        return two_plane_yuv_from_rgb(rgb, encoding)  # the planes' rows, more than the image has
    pattern = encoding.split("_")[1][:4].upper()
    mosaic = np.zeros(rgb.shape[:2], np.uint8)
    for k, ch in enumerate(pattern):
        mosaic[k // 2::2, k % 2::2] = rgb[k // 2::2, k % 2::2, "RGB".index(ch)]
    return mosaic


def image_msg(array: np.ndarray, encoding: str, stamp: int, step: int | None = None, data: bytes | None = None,
              frame_id: str = "camera", height: int | None = None) -> Image:
    """``height``: the image's, where ``array`` holds more rows (the chroma plane of two-plane YUV)."""
    array = np.ascontiguousarray(array)
    h, w = array.shape[0] if height is None else height, array.shape[1]
    row = array.strides[0]
    return Image(header=Header(stamp=Time(sec=stamp), frame_id=frame_id), height=h, width=w, encoding=encoding,
                 is_bigendian=0, step=row if step is None else step, data=array.tobytes() if data is None else data)


BAD_FRAMES = [lambda s, fields=fields: Image(header=Header(stamp=Time(sec=s)), **fields)
              for fields in hostile_frames.RAW.values()]


@pytest.fixture(autouse=True)
def no_node_left_behind():
    """A test that fails half-way must not leave its node processes running (module fixtures' stay)."""
    before = len(NodeProcess.started)
    yield
    for node in NodeProcess.started[before:]:
        if node.alive():
            node.stop()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    return str(save_checkpoint(tmp_path_factory.mktemp("model") / "small.pt",
                               PanopticNet(small_model_config(), small_categories()), "small-random"))


def _checkpoint_with(tmp_path, name: str, change) -> str:
    """The small checkpoint with ``change(data)`` applied to its saved dictionary."""
    torch.manual_seed(0)
    data = torch.load(save_checkpoint(tmp_path / "m.pt", PanopticNet(small_model_config(), small_categories()), "m"),
                      weights_only=True)
    change(data)
    torch.save(data, tmp_path / name)
    return str(tmp_path / name)


def _start(checkpoint: str, tmp_path, cameras: tuple[str, ...] = ("",), **params: str):
    env = isolated_ros_env()
    if cameras != ("",):
        params["cameras"] = f"[{','.join(cameras)}]"
    node = NodeProcess(env, {"model": checkpoint, "score_threshold": "0.0", "inference_size": "[48,80]",
                             "diagnostics_period": "0.2"} | params,
                       tmp_path / "node.log")
    client = Client(int(env["ROS_DOMAIN_ID"]), params.get("input_transport", "raw"), cameras)
    try:
        client.wait_for(lambda: all(pub.get_subscription_count() > 0 for pub in client.pubs.values()), 90,
                        "the node to subscribe", node)
    except AssertionError:  # never leave a node process behind
        client.close()
        node.stop()
        raise
    return node, client


@pytest.fixture(scope="module")
def running(checkpoint, tmp_path_factory):
    node, client = _start(checkpoint, tmp_path_factory.mktemp("raw"))
    yield node, client
    client.close()
    assert node.stop() == 0, node.log()
    log = node.log()
    assert "inference failed" not in log and "Traceback" not in log, log  # a normal stop is no error
    assert max(len(line) for line in log.splitlines()) < 1000  # sender strings never flood the log


def _outputs_for(client: Client, stamp: int, camera: str = "") -> dict[str, object]:
    """Camera ``camera``'s output messages stamped ``stamp`` (None where none arrived)."""
    with client.lock:
        return {name: next((m for m in client.received[camera_topic(camera, name)] if m.header.stamp.sec == stamp),
                           None) for name in OUTPUTS}


def _check_consistent(out: dict, h: int, w: int) -> None:
    pan_msg, sem_msg, seg_msg = out["panoptic"], out["semantic"], out["segments"]
    assert (pan_msg.encoding, sem_msg.encoding) == ("32SC1", "mono8")
    assert (pan_msg.height, pan_msg.width, seg_msg.height, seg_msg.width) == (h, w, h, w)
    pan = np.frombuffer(bytes(pan_msg.data), "<i4").reshape(h, w)
    sem = np.frombuffer(bytes(sem_msg.data), np.uint8).reshape(h, w)
    assert np.array_equal(sem, np.where(pan >= 0, pan // 1000, 255))
    ids, areas = np.unique(pan[pan >= 0], return_counts=True)
    segs = sorted(seg_msg.segments, key=lambda s: s.id)
    assert [s.id for s in segs] == ids.tolist() and [s.area for s in segs] == areas.tolist()
    for s in segs:
        ys, xs = np.nonzero(pan == s.id)
        assert (s.bbox.x_offset, s.bbox.y_offset, s.bbox.width, s.bbox.height) == (
            xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert s.category_id == s.id // 1000 and s.instance_id == s.id % 1000 and s.is_thing == (s.instance_id > 0)


def test_every_encoding_gets_consistent_outputs_and_bad_frames_are_survived(running):
    node, client = running
    stamp = 100
    for k, encoding in enumerate(INPUT_ENCODINGS):
        stamp += 1
        client.pub.publish(image_msg(_encode(RGB, encoding), encoding, stamp, height=H))
        client.wait_for(lambda: all(_outputs_for(client, stamp).values()), 60, f"outputs of a {encoding} frame", node)
        out = _outputs_for(client, stamp)
        _check_consistent(out, H, W)
        assert out["overlay"].encoding == "rgb8" and (out["overlay"].height, out["overlay"].width) == (H, W)
        assert out["segments"].header.frame_id == "camera" and out["segments"].mask_cues
        stamp += 1
        client.pub.publish(BAD_FRAMES[k % len(BAD_FRAMES)](stamp))
        # Wait until it is counted: a newer frame would otherwise replace it (newest-frame policy).
        client.wait_for(lambda: client.count("diagnostics") > 0
                        and client.last_diagnostics()["bad_frames"] == str(k + 1), 30,
                        f"diagnostics to count bad frame {k + 1}", node)
        assert not any(_outputs_for(client, stamp).values())
    diag = client.last_diagnostics()
    assert diag["frames_processed"] == str(len(INPUT_ENCODINGS)) and diag["device"] == "cpu"
    assert diag["frames_lost"] == "0" and diag["errors"] == "0"
    assert float(diag["latency_p50_ms"]) > 0
    assert node.log().count("unsupported encoding '32FC1'") >= 1 and node.alive()


def test_categories_are_latched(running):
    node, client = running
    client.wait_for(lambda: client.count("categories") > 0, 30, "~/categories", node)
    info = client.received["categories"][0]
    assert info.model_name == "small-random"
    assert [(c.id, c.name, c.is_thing) for c in info.categories] == [
        (c.id, c.name, c.is_thing) for c in small_categories().categories]


def test_a_burst_faster_than_the_model_drops_old_frames_instead_of_queueing(running):
    node, client = running
    before = client.count("panoptic")
    stamps = range(1000, 1040)
    for s in stamps:
        client.pub.publish(image_msg(RGB, "rgb8", s))
    client.wait_for(lambda: _outputs_for(client, stamps[-1])["panoptic"] is not None, 60,
                    "the newest frame of the burst", node)
    processed = client.count("panoptic") - before
    assert processed < len(stamps)  # frames were dropped, not queued
    client.wait_for(lambda: int(client.last_diagnostics()["frames_dropped"]) > 0, 10, "drops in diagnostics", node)


def test_full_resolution_frames_from_a_reliable_camera_all_arrive(running):
    node, client = running
    frame = np.random.default_rng(1).integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    for s in (2001, 2002, 2003):
        client.pub.publish(image_msg(frame, "rgb8", s))
        client.wait_for(lambda: all(_outputs_for(client, s).values()), 90, f"outputs of 2048x1024 frame {s}", node)
        out = _outputs_for(client, s)
        assert (out["panoptic"].height, out["panoptic"].width) == (1024, 2048)
    _check_consistent(out, 1024, 2048)


CAMERA_SIZES = {"front": (48, 80), "left": (60, 100), "rear": (36, 64)}


def test_three_cameras_share_the_network_each_answered_on_its_own_topics_and_none_starved(checkpoint, tmp_path):
    """Three cameras at three resolutions through one node: each frame is answered on its own camera's
    topics with its own header and size; the predictor gets the cameras' frames together; while one
    camera floods the node, every frame of the two others is answered and only the fast one drops."""
    cameras = tuple(CAMERA_SIZES)
    node, client = _start(checkpoint, tmp_path, cameras=cameras)
    rng = np.random.default_rng(3)
    frames = {c: rng.integers(0, 256, (*size, 3), dtype=np.uint8) for c, size in CAMERA_SIZES.items()}

    def publish(camera: str, stamp: int) -> None:
        client.pubs[camera].publish(image_msg(frames[camera], "rgb8", stamp, frame_id=f"{camera}_optical"))

    try:
        for k, camera in enumerate(cameras):  # one frame each, at once
            publish(camera, 10 + k)
        for k, camera in enumerate(cameras):
            client.wait_for(lambda: all(_outputs_for(client, 10 + k, camera).values()), 60, f"{camera}'s outputs", node)
            out = _outputs_for(client, 10 + k, camera)
            _check_consistent(out, *CAMERA_SIZES[camera])
            assert (out["overlay"].height, out["overlay"].width) == CAMERA_SIZES[camera]
            assert {m.header.frame_id for m in out.values()} == {f"{camera}_optical"}
            assert not any(any(_outputs_for(client, 10 + k, other).values()) for other in cameras if other != camera)

        rounds, first = 5, {"left": 1000, "rear": 2000}
        answered = dict.fromkeys(first, 0)
        for camera in first:
            publish(camera, first[camera])
        fast, deadline = 5000, time.monotonic() + 120
        while min(answered.values()) < rounds:  # front floods; left and rear send their next frame once answered
            publish("front", fast)
            fast += 1
            for camera, done in answered.items():
                if done < rounds and _outputs_for(client, first[camera] + done, camera)["segments"] is not None:
                    answered[camera] = done + 1
                    if done + 1 < rounds:
                        publish(camera, first[camera] + done + 1)
            assert node.alive() and time.monotonic() < deadline, f"starved: {answered} after {fast - 5000} " \
                                                                   f"front frames\n{node.log()}"
            time.sleep(0.005)
        client.wait_for(lambda: client.last_diagnostics("panoptic: camera left")["frames_processed"] == str(1 + rounds)
                        and client.last_diagnostics("panoptic: camera rear")["frames_processed"] == str(1 + rounds),
                        30, "the slow cameras' counts in /diagnostics", node)
        total = client.last_diagnostics()
        per_camera = {c: client.last_diagnostics(f"panoptic: camera {c}") for c in cameras}
        assert 2 <= int(total["batch_size_max"]) <= 3 and int(total["batches"]) < int(total["frames_processed"])
        assert int(per_camera["front"]["frames_dropped"]) > 0 and int(per_camera["front"]["frames_processed"]) > 1
        assert per_camera["left"]["frames_dropped"] == per_camera["rear"]["frames_dropped"] == "0"
        assert all(float(per_camera[c]["latency_p50_ms"]) > 0 for c in cameras)
        assert total["frames_processed"] == str(sum(int(per_camera[c]["frames_processed"]) for c in cameras))
    finally:
        client.close()
        assert node.stop() == 0, node.log()
    assert "/front/image, /left/image, /rear/image" in node.log() and "Traceback" not in node.log()


def test_compressed_transport_survives_corrupt_huge_and_foreign_payloads(checkpoint, tmp_path):
    node, client = _start(checkpoint, tmp_path, input_transport="compressed")
    try:
        jpeg = cv2.imencode(".jpg", RGB[..., ::-1])[1].tobytes()
        for k, (name, payload) in enumerate(hostile_frames.COMPRESSED.items()):
            client.pub.publish(CompressedImage(header=Header(stamp=Time(sec=8 + k)), format="jpeg", data=payload))
            start = time.monotonic()
            client.wait_for(lambda: client.count("diagnostics") > 0
                            and client.last_diagnostics()["bad_frames"] == str(k + 1),
                            30, f"the {name} to be counted", node)
            assert time.monotonic() - start < 20, name  # a guard, not a figure: a JPEG bomb once took 37 s
        client.pub.publish(CompressedImage(header=Header(stamp=Time(sec=7)), format="jpeg", data=jpeg))
        client.wait_for(lambda: _outputs_for(client, 7)["segments"] is not None, 60, "output of a JPEG frame", node)
        _check_consistent(_outputs_for(client, 7), H, W)
        log = node.log()
        assert "could not be decoded" in log and "exceeds the" in log and "not JPEG or PNG" in log
        assert client.last_diagnostics()["errors"] == "0"
    finally:
        client.close()
        assert node.stop() == 0


def test_the_camera_subscription_is_reliable_keep_last_5_unless_qos_overrides_say_otherwise(running, checkpoint,
                                                                                           tmp_path):
    """Reliability travels with discovery; depth and history are read back as the node's parameters."""
    names = [f"qos_overrides./image.subscription.{policy}" for policy in ("reliability", "history", "depth")]
    node, client = running
    assert client.node.get_subscriptions_info_by_topic("/image")[0].qos_profile.reliability == \
        ReliabilityPolicy.RELIABLE
    assert client.get_parameters(names, node) == ["reliable", "keep_last", 5]
    other, other_client = _start(checkpoint, tmp_path, **{names[0]: "best_effort", names[2]: "20"})
    try:
        assert other_client.node.get_subscriptions_info_by_topic("/image")[0].qos_profile.reliability == \
            ReliabilityPolicy.BEST_EFFORT
        assert other_client.get_parameters(names, other) == ["best_effort", "keep_last", 20]
    finally:
        other_client.close()
        assert other.stop() == 0


def test_parameters_the_node_does_not_own_can_be_set_at_run_time(running):
    node, client = running
    results = client.set_parameters({"use_sim_time": True}, node)
    assert results[0].successful, results[0].reason
    results = client.set_parameters({"use_sim_time": False, "score_threshold": 0.0}, node)
    assert all(r.successful for r in results)
    refused = client.set_parameters({"overlay_alpha": 2.0}, node)[0]
    assert not refused.successful and "overlay_alpha" in refused.reason


def _frames_after_setting(running, name: str, values: dict[int, object], output: str,
                          frame: tuple[np.ndarray, str] = (RGB, "rgb8")) -> None:
    """For each stamp: set ``name`` at run time, publish ``frame`` (array, encoding) with that stamp, wait
    for its ``output``."""
    node, client = running
    for stamp, value in values.items():
        assert client.set_parameters({name: value}, node)[0].successful
        client.pub.publish(image_msg(*frame, stamp))
        client.wait_for(lambda: _outputs_for(client, stamp)[output] is not None, 60, f"{output} {stamp}", node)


def test_a_run_time_score_threshold_applies_to_the_next_frame(running):
    node, client = running
    _frames_after_setting(running, "score_threshold", {3001: 0.0, 3002: 1.0}, "segments")
    things = [[s for s in _outputs_for(client, stamp)["segments"].segments if s.is_thing] for stamp in (3001, 3002)]
    assert things[0] and not things[1]  # random weights find instances at 0.0, none survive 1.0
    assert client.set_parameters({"score_threshold": 0.0}, node)[0].successful


def test_a_run_time_input_bits_applies_to_the_next_16_bit_frame(running):
    """A 12-bit camera's mono16 frames: nearly black as cv_bridge scales them, as bright as the scene
    with ``input_bits`` 12 (the overlay shows the input where it is void, and half of it elsewhere)."""
    node, client = running
    twelve = RGB[..., 1].astype(np.uint16) * 16  # 0-4080
    _frames_after_setting(running, "input_bits", {3201: 16, 3202: 12}, "overlay", (twelve, "mono16"))
    dark, bright = (np.frombuffer(bytes(_outputs_for(client, stamp)["overlay"].data), np.uint8).mean()
                    for stamp in (3201, 3202))
    assert bright > dark + 20, (dark, bright)
    assert client.set_parameters({"input_bits": 16}, node)[0].successful


def test_a_run_time_overlay_cap_shrinks_the_next_overlay(running):
    node, client = running
    _frames_after_setting(running, "overlay_max_size", {3101: 0, 3102: 16}, "overlay")
    full, capped = (_outputs_for(client, stamp)["overlay"] for stamp in (3101, 3102))
    assert (full.height, full.width) == RGB.shape[:2] and max(capped.height, capped.width) == 16
    assert _outputs_for(client, 3102)["panoptic"].width == RGB.shape[1]  # only the overlay is capped
    assert client.set_parameters({"overlay_max_size": 0}, node)[0].successful


@pytest.mark.parametrize("shutdown_timeout", ["0.0", "60.0"])
def test_stopping_during_a_long_inference_exits_cleanly(checkpoint, tmp_path, shutdown_timeout):
    node, client = _start(checkpoint, tmp_path, inference_size="[0,0]", shutdown_timeout=shutdown_timeout)
    try:
        frame = np.random.default_rng(2).integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
        client.pub.publish(image_msg(frame, "rgb8", 1))
        client.wait_for(lambda: client.count("diagnostics") > 0 and client.last_diagnostics()["frames_received"] == "1",
                        30, "the frame to arrive", node)
        assert client.last_diagnostics()["frames_processed"] == "0"  # in flight
    finally:
        client.close()
    assert node.stop() == 0, node.log()
    log = node.log()
    assert "terminate called" not in log and "inference failed" not in log and "Traceback" not in log, log
    assert ("abandoned" in log) == (shutdown_timeout == "0.0"), log


def test_a_checkpoint_with_nan_weights_is_refused_at_start(tmp_path):
    nan = _checkpoint_with(tmp_path, "nan.pt", lambda d: d["state_dict"]["semantic_head.classifier.weight"].fill_(
        float("nan")))
    node = NodeProcess(isolated_ros_env(), {"model": nan}, tmp_path / "nan.log")
    assert node.proc.wait(timeout=90) == 1, node.log()
    assert "non-finite values" in node.log() and "Traceback" not in node.log()


def test_bad_start_ups_end_in_one_line_without_a_traceback(checkpoint, tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "obj": torch.nn.Linear(1, 1)}, evil)
    cases = [
        ({"model": _checkpoint_with(tmp_path, "none.pt", lambda d: d.update(state_dict=None))}, (),
         "state_dict must be a dictionary of tensors"),
        ({"model": _checkpoint_with(tmp_path, "ints.pt", lambda d: d["state_dict"].update(
            {k: 1 for k in d["state_dict"]}))}, (), "not a tensor"),
        ({"model": str(tmp_path)}, (), "is a directory"),
        ({"model": str(evil)}, (), "objects other than tensors"),
        ({"model": checkpoint}, ("--params-file", str(tmp_path / "absent.yaml")), "absent.yaml"),
    ]
    env = isolated_ros_env()
    for k, (params, ros_args, message) in enumerate(cases):
        node = NodeProcess(env, params, tmp_path / f"start{k}.log", ros_args)
        assert node.proc.wait(timeout=90) == 1, node.log()
        log = node.log()
        assert message in log and "cannot start" in log, log
        assert "Traceback" not in log and "weights_only" not in log, log
        assert len([line for line in log.splitlines() if "[panoptic]" in line]) == 1, log  # rcl may add its own


@pytest.mark.parametrize("delay", [0.3, 2.5])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_during_start_up_exits_quietly(checkpoint, tmp_path, delay, signum):
    node = NodeProcess(isolated_ros_env(), {"model": checkpoint}, tmp_path / "early.log")
    time.sleep(delay)
    node.proc.send_signal(signum)
    # 0, or killed by the signal itself when it came before the interpreter had started (not by 2.5 s)
    assert node.proc.wait(timeout=60) in ((0,) if delay > 1 else (0, -signum)), node.log()
    assert "Traceback" not in node.log() and "FATAL" not in node.log(), node.log()


def test_invalid_parameters_refuse_to_start_with_a_clear_message(checkpoint, tmp_path):
    env = isolated_ros_env()
    node = NodeProcess(env, {"model": checkpoint, "precision": "fp64"}, tmp_path / "bad.log")
    assert node.proc.wait(timeout=90) == 1
    assert "parameter 'precision' must be one of" in node.log()
    node = NodeProcess(env, {"model": str(tmp_path / "missing.pt")}, tmp_path / "missing.log")
    assert node.proc.wait(timeout=90) == 1
    assert "does not exist" in node.log()
    for params, message in (({"score_threshold": "2.0"}, "score_threshold"),
                            ({"qos_overrides./image.subscription.reliability": "sometimes"}, "reliability"),
                            ({"qos_overrides./image.subscription.depth": "deep"}, "depth")):
        node = NodeProcess(env, {"model": checkpoint} | params, tmp_path / "range.log")
        assert node.proc.wait(timeout=90) == 1
        assert "cannot start" in node.log() and message in node.log() and "Traceback" not in node.log()


def test_a_lifecycle_manager_drives_the_node_when_autostart_is_off(checkpoint, tmp_path):
    env = isolated_ros_env()
    node = NodeProcess(env, {"model": checkpoint, "score_threshold": "0.0", "inference_size": "[48,80]",
                             "autostart": "false"}, tmp_path / "lifecycle.log")
    client = Client(int(env["ROS_DOMAIN_ID"]))
    try:
        assert client.lifecycle_state(node) == "unconfigured" and client.pub.get_subscription_count() == 0
        assert client.change_state(Transition.TRANSITION_CONFIGURE, node)
        assert client.lifecycle_state(node) == "inactive"
        client.wait_for(lambda: client.count("categories") > 0, 30, "~/categories once configured", node)
        assert client.pub.get_subscription_count() == 0
        for stamp in (1, 2):  # activate, answer, deactivate: twice
            assert client.change_state(Transition.TRANSITION_ACTIVATE, node)
            client.wait_for(lambda: client.pub.get_subscription_count() > 0, 30, "the subscription", node)
            client.pub.publish(image_msg(RGB, "rgb8", stamp))
            client.wait_for(lambda: _outputs_for(client, stamp)["segments"] is not None, 60, f"frame {stamp}", node)
            assert client.change_state(Transition.TRANSITION_DEACTIVATE, node)
            client.wait_for(lambda: client.pub.get_subscription_count() == 0, 30, "the unsubscription", node)
        assert client.change_state(Transition.TRANSITION_CLEANUP, node)
        assert client.lifecycle_state(node) == "unconfigured"
    finally:
        client.close()
    assert node.stop() == 0, node.log()
    assert "Traceback" not in node.log()


def test_a_failed_transition_leaves_the_node_in_its_state_with_one_line(tmp_path):
    env = isolated_ros_env()
    node = NodeProcess(env, {"model": str(tmp_path / "absent.pt"), "autostart": "false"}, tmp_path / "failed.log")
    client = Client(int(env["ROS_DOMAIN_ID"]))
    try:
        assert not client.change_state(Transition.TRANSITION_CONFIGURE, node)
        assert client.lifecycle_state(node) == "unconfigured" and node.alive()
    finally:
        client.close()
    assert node.stop() == 0
    log = node.log()
    assert "configure failed" in log and "does not exist" in log and "Traceback" not in log, log
