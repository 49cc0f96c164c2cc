"""panoptic-replay on generated and on real bags: outputs, report, ground truth, errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import damaged_mid_way, save_small_street_model, small_model_config, write_coco_panoptic
from ros_harness import NodeProcess, isolated_ros_env
from panoptic_ros.data.camvid import CamVidDataset
from panoptic_ros.data.dataset import SyntheticStreetScenes
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.replay.bag_io import read_messages
from panoptic_ros.replay.cli import main as replay
from panoptic_ros.replay.sample_bag import GT_TOPIC, IMAGE_TOPIC, write_sample_bag
from panoptic_msgs.msg import PanopticInfo, PanopticSegmentation
from sensor_msgs.msg import CompressedImage, Image

IMAGE = {"sensor_msgs/msg/Image": Image}
SHARED_BAGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "bags"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return save_small_street_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    return write_sample_bag(tmp_path_factory.mktemp("bags") / "street", SyntheticStreetScenes(6, 5, 64, 128), 6)


def _args(bag: Path, out: Path, model: str, *extra: str) -> list[str]:
    return [str(bag), "--out", str(out), "--model", model, "--score-threshold", "0.0", "--inference-size", "64", "128",
            "--quiet", *extra]


def test_synthetic_bag_has_images_and_matching_ground_truth(bag):
    images = list(read_messages(bag, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image}))
    labels = list(read_messages(bag, GT_TOPIC, {"sensor_msgs/msg/Image": Image}))
    assert len(images) == len(labels) == 6
    assert [m.header.stamp for _, m in images] == [m.header.stamp for _, m in labels]
    gt = np.frombuffer(bytes(labels[0][1].data), "<i4").reshape(64, 128)
    cats = set((gt[gt >= 0] // 1000).tolist())
    assert cats <= {c.id for c in STREET_CATEGORIES.categories} and len(cats) >= 3


def test_a_bag_of_real_frames_spreads_over_the_whole_held_out_drive(tmp_path):
    drive = CamVidDataset(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "camvid", "heldout")
    path = write_sample_bag(tmp_path / "camvid", drive, frames=3, rate_hz=2.0)
    labels = list(read_messages(path, GT_TOPIC, {"sensor_msgs/msg/Image": Image}))
    images = list(read_messages(path, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image}))
    assert len(images) == len(labels) == 3 and (images[0][1].width, images[0][1].height) == (480, 360)
    assert [t for t, _ in images] == [1_700_000_000_000_000_000 + k * 500_000_000 for k in range(3)]
    first = np.frombuffer(bytes(images[0][1].data), np.uint8).reshape(360, 480, 3)
    last = np.frombuffer(bytes(images[2][1].data), np.uint8).reshape(360, 480, 3)
    assert np.array_equal(first, drive[0].image) and np.array_equal(last, drive[len(drive) - 1].image)
    gt = np.frombuffer(bytes(labels[0][1].data), "<i4").reshape(360, 480)
    assert set((gt[gt >= 0] // 1000).tolist()) <= {c.id for c in STREET_CATEGORIES.categories}


def test_offline_replay_writes_bag_previews_and_report(bag, model, tmp_path):
    out = tmp_path / "replay"
    assert replay(_args(bag, out, model, "--gt-topic", GT_TOPIC, "--batch", "4")) == 0
    assert not (tmp_path / "replay.partial").exists()
    assert {p.name for p in out.iterdir()} == {"output_bag", "preview.mp4", "preview.png", "report.json", "report.md"}
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == report["processed"] == 6 and report["bad_frames"] == 0
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max", "mean"} and report["fps"] > 0
    assert report["pq"]["frames"] == 6 and set(report["pq"]["All"]) == {"pq", "sq", "rq", "n"}
    assert sum(v["segments"] for v in report["class_histogram"].values()) == round(
        report["segments_per_frame"]["mean"] * 6)
    inputs = [m.header.stamp for _, m in read_messages(bag, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image})]
    pans = [m for _, m in read_messages(out / "output_bag", "/panoptic/panoptic", {"sensor_msgs/msg/Image": Image})]
    segs = [m for _, m in read_messages(out / "output_bag", "/panoptic/segments",
                                        {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation})]
    assert [m.header.stamp for m in pans] == [m.header.stamp for m in segs] == inputs
    pan = np.frombuffer(bytes(pans[0].data), "<i4").reshape(pans[0].height, pans[0].width)
    ids, areas = np.unique(pan[pan >= 0], return_counts=True)
    assert sorted((s.id, s.area) for s in segs[0].segments) == list(zip(ids.tolist(), areas.tolist()))
    assert "Panoptic quality" in (out / "report.md").read_text()
    # Any tool reads it: plain CDR messages in the .mcap (compressed by its chunks), which reads without
    # the metadata; metadata version 8, which every ROS 2 distribution reads.
    (mcap,) = (out / "output_bag").glob("*.mcap")
    assert len(list(read_messages(mcap, "/panoptic/segments",
                                  {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation}))) == 6
    assert "version: 8" in (out / "output_bag" / "metadata.yaml").read_text()
    # the category table, latched as the node offers it, so ids in the bag have names and colours
    ((when, info),) = read_messages(out / "output_bag", "/panoptic/categories",
                                    {"panoptic_msgs/msg/PanopticInfo": PanopticInfo})
    assert [c.name for c in info.categories] == [c.name for c in STREET_CATEGORIES.categories]
    assert info.model_name == "street-small" and when == next(iter(read_messages(bag, IMAGE_TOPIC, IMAGE)))[0]
    assert "durability: 1" in (out / "output_bag" / "metadata.yaml").read_text()  # transient local


def test_the_preview_plays_at_the_cameras_recorded_rate(model, tmp_path):
    fast = write_sample_bag(tmp_path / "fast", SyntheticStreetScenes(3, 5, 64, 128), 3, rate_hz=20.0)
    assert replay(_args(fast, tmp_path / "out", model)) == 0
    assert cv2.VideoCapture(str(tmp_path / "out" / "preview.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(20.0)


def test_a_webm_preview_is_written_on_request_and_named_in_the_report(bag, model, tmp_path):
    out = tmp_path / "out"
    assert replay(_args(bag, out, model, "--preview-format", "webm")) == 0
    assert {p.name for p in out.iterdir()} == {"output_bag", "preview.webm", "preview.png", "report.json", "report.md"}
    assert json.loads((out / "report.json").read_text())["outputs"]["preview_video"] == str(out / "preview.webm")
    video = cv2.VideoCapture(str(out / "preview.webm"))
    ok, frame = video.read()
    assert ok and frame.shape == (64, 128, 3)  # VP8, which web browsers play


def test_a_named_camera_gets_the_nodes_topics_for_it(bag, model, tmp_path):
    out = tmp_path / "rear"
    assert replay(_args(bag, out, model, "--camera", "rear")) == 0
    names = {name for name in ("panoptic", "semantic", "segments", "overlay")
             if list(read_messages(out / "output_bag", f"/panoptic/rear/{name}", {
                 "sensor_msgs/msg/Image": Image, "panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation}))}
    assert len(names) == 4


@pytest.mark.parametrize("storage,topic", [("coco_sample_sqlite3", "/camera/image_raw/compressed"),
                                           ("coco_sample_mcap", "/camera/image_raw")])
def test_real_bags_in_both_storages_and_transports(storage, topic, model, tmp_path):
    out = tmp_path / "out"
    assert replay(_args(SHARED_BAGS / storage, out, model, "--topic", topic)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == report["processed"] == 6


def test_missing_topic_and_corrupt_bag_are_clear_errors_and_leave_nothing_complete(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert replay(_args(SHARED_BAGS / "coco_sample_mcap", out, model, "--topic", "/nope")) == 2
    err = capsys.readouterr().err
    assert "topic '/nope' is not in" in err and "/camera/image_raw (sensor_msgs/msg/Image)" in err
    assert not out.exists() and not (tmp_path / "out.partial").exists()  # checked before anything loads
    broken = tmp_path / "broken"
    shutil.copytree(SHARED_BAGS / "coco_sample_sqlite3", broken)
    db = broken / "coco_sample_sqlite3.db3"
    db.write_bytes(db.read_bytes()[:20000])
    assert replay(_args(broken, out, model)) == 2
    assert "panoptic-replay:" in capsys.readouterr().err and not out.exists()


def test_a_node_that_cannot_start_is_reported_with_its_own_words(bag, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"no checkpoint")
    assert replay(_args(bag, tmp_path / "out", str(bad), "--live", "--startup-timeout", "120")) == 2
    err = capsys.readouterr().err
    assert "panoptic_node exited before it was ready (exit status" in err and "[FATAL]" in err
    assert "is not a PyTorch file" in err and f"its log: {tmp_path / 'out.partial' / 'node.log'}" in err


def test_ctrl_c_is_one_line_naming_what_was_kept(bag, model, tmp_path, monkeypatch, capsys):
    def interrupted(args, cameras, out, frames):
        (out / "node.log").write_text("")
        raise KeyboardInterrupt
    monkeypatch.setattr("panoptic_ros.replay.cli.run_offline", interrupted)
    assert replay(_args(bag, tmp_path / "out", model)) == 130
    err = capsys.readouterr().err
    assert err == f"panoptic-replay: interrupted; what it wrote is in {tmp_path / 'out.partial'}\n"
    assert "KeyboardInterrupt" in (tmp_path / "out.partial" / "INCOMPLETE").read_text()


def test_unknown_encodings_are_counted_and_an_all_bad_bag_fails(tmp_path, model, capsys):
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header
    from panoptic_ros.replay.bag_io import BagWriter
    path = tmp_path / "bad"
    with BagWriter(path) as bag:
        for i in range(3):
            bag.write("/cam", Image(header=Header(stamp=Time(sec=i)), height=2, width=2, encoding="32FC1", step=4,
                                    data=bytes(8)), i)
    assert replay(_args(path, tmp_path / "out", model, "--topic", "/cam")) == 2
    assert "no frame of /cam could be used: unsupported encoding '32FC1'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing to report: an earlier OUT would stay as it was


def test_a_running_node_in_a_namespace_is_replayed_through_its_named_camera(bag, model, tmp_path, monkeypatch,
                                                                          capsys):
    """``--no-start-node``: the node as a robot runs it (a namespace, a name of its own; camera ``front``
    remapped to the bag's topic) answers on ``~/front/...``; the output bag keeps those names, and the report's node
    counters have seen the last answer. The bag recorded its camera best effort, but the running node
    listens reliable (nothing published when it activated), so the replay publishes reliable."""
    original, bag = bag, _best_effort_copy(bag, tmp_path / "sensor_data")
    env = isolated_ros_env()
    node = NodeProcess(env, {"model": model, "score_threshold": "0.0", "inference_size": "[64,128]",
                             "cameras": "[front]", "device": "cpu"}, tmp_path / "node.log",
                       ("-r", "__ns:=/robot1", "-r", "__node:=panoptic_front", "-r", f"front/image:={IMAGE_TOPIC}"))
    monkeypatch.setenv("ROS_DOMAIN_ID", env["ROS_DOMAIN_ID"])
    out = tmp_path / "live"
    try:
        node.wait_for_log("listening on", 120)
        assert replay([str(bag), "--out", str(out), "--quiet", "--topic", IMAGE_TOPIC, "--live", "--rate", "2",
                       "--no-start-node", "--namespace", "robot1", "--node-name", "panoptic_front", "--camera",
                       "front"]) == 0
        assert replay([str(original), "--out", str(tmp_path / "wrong"), "--quiet", "--topic", IMAGE_TOPIC, "--camera",
                       "front", "--topic", GT_TOPIC, "--camera", "rear", "--live", "--no-start-node", "--namespace",
                       "robot1", "--node-name", "panoptic_front", "--startup-timeout", "3"]) == 2  # no such camera
    finally:
        node.stop()
    err = capsys.readouterr().err
    assert "no status 'robot1/panoptic_front: camera rear' on /diagnostics" in err and "reports cameras: front)" in err
    report = json.loads((out / "report.json").read_text())
    assert report["processed"] >= 1 and report["processed"] + report["dropped"] == 6
    assert int(report["node_diagnostics"]["frames_processed"]) == report["processed"]
    assert report["camera_reliability"] == "reliable"
    assert report["head"] == small_model_config().panoptic.kind and "precision" not in report  # the node's own
    assert report["score_threshold"] == 0.0  # the running node's, from its diagnostics
    segments = list(read_messages(out / "output_bag", "/robot1/panoptic_front/front/segments",
                                  {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation}))
    assert len(segments) == report["processed"]
    assert len(list(read_messages(out / "output_bag", "/robot1/panoptic_front/categories",
                                  {"panoptic_msgs/msg/PanopticInfo": PanopticInfo}))) == 1


def test_a_running_node_that_answers_on_other_topics_is_an_error_naming_the_options(bag, model, tmp_path,
                                                                                   monkeypatch, capsys):
    env = isolated_ros_env()
    node = NodeProcess(env, {"model": model, "inference_size": "[64,128]", "cameras": "[front]", "device": "cpu"},
                       tmp_path / "node.log", ("-r", f"front/image:={IMAGE_TOPIC}"))
    monkeypatch.setenv("ROS_DOMAIN_ID", env["ROS_DOMAIN_ID"])
    try:
        node.wait_for_log("listening on", 120)
        assert replay([str(bag), "--out", str(tmp_path / "live"), "--quiet", "--topic", IMAGE_TOPIC, "--live",
                       "--rate", "4", "--settle", "3", "--no-start-node"]) == 2  # camera 'front' not named
    finally:
        node.stop()
    err = capsys.readouterr().err
    assert "answered none of the 6 frames" in err and "--camera" in err


@pytest.mark.parametrize("extra,message", [
    (["--rate", "2"], "--rate: for a live replay (--live) only"),
    (["--live", "--batch", "2"], "--batch applies offline only"),
    (["--live", "--no-start-node", "--head", "upsnet"], "--head would be ignored"),
    (["--live", "--no-start-node", "--no-mask-cues"], "--no-mask-cues would be ignored"),
    (["--live", "--no-start-node", "--input-bits", "12"], "--input-bits would be ignored"),
    (["--namespace", "robot1"], "--namespace: for a node already running"),
    (["--node-name", "panoptic_front"], "--node-name: for a node already running"),
    (["--live", "--no-start-node", "--node-name", "2nd"], "--node-name: node name '2nd'"),
    (["--camera", "front left"], "a camera name is letters, digits"),
    (["--inference-size", "10", "10"], "--inference-size [10, 10] is out of range"),
    (["--gt-topic", "/gt", "--gt-json", "a.json", "--gt-dir", "d"], "not both"),
])
def test_options_that_would_be_ignored_or_fail_later_are_refused_first(extra, message, bag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        replay([str(bag), "--out", str(tmp_path / "out"), *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def _best_effort_copy(bag: Path, path: Path) -> Path:
    """The bag's camera as recorded from a driver on the sensor-data profile (best effort)."""
    from panoptic_ros.replay.bag_io import BagWriter, recorded_qos
    from panoptic_ros.ros.qos import camera_publisher_qos
    with BagWriter(path) as out:
        for t, msg in read_messages(bag, IMAGE_TOPIC, IMAGE):
            out.write(IMAGE_TOPIC, msg, t, qos=recorded_qos(camera_publisher_qos(best_effort=True)))
    return path


def test_a_camera_recorded_best_effort_is_played_and_heard_best_effort(bag, model, tmp_path):
    """As the robot's node hears a driver on the sensor-data profile (the node this replay starts is
    told to listen best effort, whatever it sees when it activates)."""
    path = _best_effort_copy(bag, tmp_path / "sensor_data")
    assert replay(_args(path, tmp_path / "live", model, "--live", "--rate", "2")) == 0
    report = json.loads((tmp_path / "live" / "report.json").read_text())
    assert report["camera_reliability"] == "best_effort" and report["processed"] >= 1


@pytest.mark.parametrize("camera", ["", "front"])
def test_live_replay_measures_the_running_node(camera, bag, model, tmp_path):
    out = tmp_path / "live"
    assert replay(_args(bag, out, model, "--live", "--rate", "2", "--gt-topic", GT_TOPIC, "--camera", camera)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "live" and report["frames"] == 6
    assert report["processed"] + report["dropped"] == 6 and report["processed"] >= 1
    assert report["e2e_latency_ms"]["p50"] > 0
    assert report["node_diagnostics"]["model"] == "street-small"
    assert report["mask_cues"] is True and report["node_diagnostics"]["mask_cues"] == "true"  # the node's own
    assert report["head"] == report["node_diagnostics"]["head"] == small_model_config().panoptic.kind
    assert report["score_threshold"] == 0.0 and report["node_diagnostics"]["score_threshold"] == "0"
    assert report["input_bits"] == 16 and report["node_diagnostics"]["input_bits"] == "16"
    assert report["pq"]["frames"] == report["processed"]
    late = report["publish_late_ms"]  # whether the replay's own work kept up with the bag's pace
    assert 0 <= late["p50"] <= late["max"] and "frames published late" in (out / "report.md").read_text()
    assert (out / "preview.png").is_file() and (out / "output_bag").is_dir()
    segments = read_messages(out / "output_bag", f"/panoptic/{camera + '/' if camera else ''}segments",
                             {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation})
    assert len(list(segments)) == report["processed"]


def _coco_ground_truth(bag: Path, folder: Path, shift_ns: int = 0) -> list[str]:
    """The bag's label topic as COCO panoptic PNGs named <stamp_ns + shift_ns>.png: replay arguments."""
    from panoptic_ros.data.sample import PanopticSample
    from panoptic_ros.replay.bag_io import label_image

    samples = []
    for _, msg in read_messages(bag, GT_TOPIC, {"sensor_msgs/msg/Image": Image}):
        pan = label_image(msg)
        seg = pan.astype(np.int64) + 1  # void (-1) -> 0
        cats = {int(i): int((i - 1) // 1000) for i in np.unique(seg) if i}
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec + shift_ns
        samples.append(PanopticSample(np.zeros((*pan.shape, 3), np.uint8), seg.astype(np.int32), cats, name=str(stamp)))
    write_coco_panoptic(folder, samples, STREET_CATEGORIES, write_images=False)
    return ["--gt-json", str(folder / "panoptic.json"), "--gt-dir", str(folder / "panoptic")]


def test_ground_truth_from_a_coco_panoptic_folder_named_by_stamp(bag, model, tmp_path):
    """The same ground truth as the label topic, as COCO panoptic PNGs named <stamp_ns>.png."""
    by_topic, by_folder = tmp_path / "a", tmp_path / "b"
    assert replay(_args(bag, by_topic, model, "--gt-topic", GT_TOPIC)) == 0
    assert replay(_args(bag, by_folder, model, *_coco_ground_truth(bag, tmp_path / "gt"))) == 0
    a = json.loads((by_topic / "report.json").read_text())["pq"]
    b = json.loads((by_folder / "report.json").read_text())
    assert a["frames"] == b["pq"]["frames"] == 6 and b["ground_truth"] == {"frames": 6, "matched": 6}
    assert a["All"] == pytest.approx(b["pq"]["All"]) and a["per_class"] == b["pq"]["per_class"]


def test_ground_truth_that_meets_no_frame_is_an_error_not_a_report_without_pq(bag, model, tmp_path, capsys):
    out = tmp_path / "out"
    assert replay(_args(bag, out, model, *_coco_ground_truth(bag, tmp_path / "gt", shift_ns=1))) == 2
    assert "none of the 6 ground-truth frames has the stamp of a processed frame" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())  # the run's outputs are kept, the report says why
    assert report["processed"] == 6 and "pq" not in report and "none of the 6" in report["ground_truth"]["error"]


def test_an_out_folder_that_is_not_a_replay_is_refused_and_kept_and_a_replay_is_replaced(bag, model, tmp_path,
                                                                                          capsys):
    mine = tmp_path / "my_bags"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert replay(_args(bag, mine, model)) == 2
    assert "exists and is not a replay's (it holds notes.txt, which a replay never writes)" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me" and not (tmp_path / "my_bags.partial").exists()
    theirs = tmp_path / "x.partial"  # a folder of the user's that happens to carry the staging name
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me too")
    assert replay(_args(bag, tmp_path / "x", model)) == 2 and (theirs / "notes.txt").is_file()
    out = tmp_path / "replay"
    assert replay(_args(bag, out, model)) == 0 and replay(_args(bag, out, model, "--batch", "2")) == 0
    assert json.loads((out / "report.json").read_text())["batch"] == 2


def _restamped_copy(bag: Path, path: Path, stamp: int = 0) -> Path:
    """The bag's images and labels with every header stamp set to ``stamp`` (a driver without a clock)."""
    from panoptic_ros.replay.bag_io import BagWriter
    with BagWriter(path) as out:
        for topic in (IMAGE_TOPIC, GT_TOPIC):
            for t, msg in read_messages(bag, topic, {"sensor_msgs/msg/Image": Image}):
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
                out.write(topic, msg, t)
    return path


def test_live_frames_sharing_a_stamp_each_get_their_own_output_with_the_stamp_given_back(bag, model, tmp_path,
                                                                                       capsys):
    zeros = _restamped_copy(bag, tmp_path / "zeros")
    out = tmp_path / "live"
    assert replay(_args(zeros, out, model, "--live", "--rate", "2")) == 0
    assert "frames share header stamp 0" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["restamped_frames"] == 5 and report["stray_outputs"] == 0
    assert report["processed"] + report["dropped"] == 6 and report["processed"] >= 1
    segs = [m for _, m in read_messages(out / "output_bag", "/panoptic/segments",
                                        {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation})]
    assert len(segs) == report["processed"] and all(m.header.stamp.sec == m.header.stamp.nanosec == 0 for m in segs)
    assert len({t for t, _ in read_messages(out / "output_bag", "/panoptic/segments",
                                            {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation})}) \
        == report["processed"]  # each output at its own frame's bag time, none overwritten


def test_label_images_sharing_a_stamp_are_refused(bag, model, tmp_path, capsys):
    assert replay(_args(_restamped_copy(bag, tmp_path / "zeros"), tmp_path / "out", model, "--gt-topic", GT_TOPIC)) == 2
    assert "two label images have the stamp 0" in capsys.readouterr().err


def test_a_damaged_message_is_one_bad_frame_and_the_replay_goes_on(model, tmp_path):
    import sqlite3
    damaged = tmp_path / "damaged"
    shutil.copytree(SHARED_BAGS / "coco_sample_sqlite3", damaged)
    with sqlite3.connect(damaged / "coco_sample_sqlite3.db3") as db:
        topic_id = db.execute("SELECT id FROM topics WHERE name = '/camera/image_raw'").fetchone()[0]
        third = db.execute("SELECT id FROM messages WHERE topic_id = ? ORDER BY timestamp LIMIT 1 OFFSET 2",
                           (topic_id,)).fetchone()[0]
        db.execute("UPDATE messages SET data = ? WHERE id = ?", (b"\x00\x01\x00\x00" + b"\xff" * 12, third))
    out = tmp_path / "out"
    assert replay(_args(damaged, out, model, "--topic", "/camera/image_raw")) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["frames"], report["processed"], report["bad_frames"]) == (6, 5, 1)
    assert any("cannot be deserialised" in e for e in report["bad_frame_errors"])


def test_a_bag_damaged_mid_way_keeps_and_reports_the_frames_before_the_damage(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert replay(_args(damaged_mid_way(tmp_path / "damaged"), out, model, "--topic", "/camera/image_raw")) == 2
    err = capsys.readouterr().err
    assert err.count("panoptic-replay:") == 1 and "is corrupt" in err and f"the outputs are in {out}" in err
    report = json.loads((out / "report.json").read_text())  # a whole output of what could be read
    assert 0 < report["processed"] == report["frames"] < 6 and "of the 6 frames" in report["bag_error"]
    assert "the bag is damaged" in (out / "report.md").read_text()
    written = list(read_messages(out / "output_bag", "/panoptic/segments",
                                 {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation}))
    assert len(written) == report["processed"]


def test_ground_truth_in_a_bag_damaged_mid_way_scores_the_frames_before_the_damage(model, tmp_path, capsys):
    """It was refused whole, frames and all; now it ends where the damage is, as the frames do. (Zeroed at
    40 %, this bag's label topic meets the bad page after 4 images; its camera topic does not.)"""
    sqlite = write_sample_bag(tmp_path / "sqlite", SyntheticStreetScenes(12, 5, 64, 128), 12, storage="sqlite3")
    out = tmp_path / "out"
    damaged = damaged_mid_way(tmp_path / "damaged", sqlite, at=0.4)
    assert replay(_args(damaged, out, model, "--gt-topic", GT_TOPIC)) == 2
    err = capsys.readouterr().err
    assert err.count("panoptic-replay:") == 1 and f"the ground truth of {GT_TOPIC} stopped there" in err
    report = json.loads((out / "report.json").read_text())
    assert 0 < report["ground_truth"]["frames"] < 12 and f"the ground truth of {GT_TOPIC}" in report["bag_error"]
    assert report["ground_truth"]["matched"] > 0 and "pq" in report


def test_input_bits_reach_every_frame_s_conversion_and_the_report(bag, model, tmp_path, monkeypatch):
    """A bag of a 12-bit camera replays as the node with ``input_bits`` 12 would see it."""
    from panoptic_ros.ros import conversions
    convert, seen = conversions.rgb_from_message, []
    monkeypatch.setattr(conversions, "rgb_from_message",
                        lambda msg, device, bits: seen.append(bits) or convert(msg, device, bits))
    out = tmp_path / "out"
    assert replay(_args(bag, out, model, "--input-bits", "12")) == 0
    assert seen == [12] * 6 and json.loads((out / "report.json").read_text())["input_bits"] == 12
    assert "input bits: 12" in (out / "report.md").read_text()


def test_a_frame_whose_inference_fails_is_counted_and_its_batch_mates_are_kept(bag, model, tmp_path, monkeypatch):
    from panoptic_ros.inference.predictor import TorchPredictor
    predict, calls = TorchPredictor.predict, []

    def failing_on_the_third_frame(self, images, *args, **kwargs):
        calls.append(len(images))
        if any(int(img.long().sum()) == third_sum for img in images):
            raise RuntimeError("CUDA out of memory (simulated)\nmore lines")
        return predict(self, images, *args, **kwargs)

    third = list(read_messages(bag, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image}))[2][1]
    third_sum = int(np.frombuffer(bytes(third.data), np.uint8).astype(np.int64).sum())
    monkeypatch.setattr(TorchPredictor, "predict", failing_on_the_third_frame)
    out = tmp_path / "out"
    assert replay(_args(bag, out, model, "--batch", "4", "--gt-topic", GT_TOPIC)) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["frames"], report["processed"], report["failed_frames"]) == (6, 5, 1)
    assert report["failures"] == ["RuntimeError: CUDA out of memory (simulated)"] and report["pq"]["frames"] == 5
    assert calls[0] == 4 and calls[1:5] == [1, 1, 1, 1]  # the failed batch again frame by frame


def test_ground_truth_of_another_size_is_skipped_with_its_stamp_and_the_rest_scored(bag, model, tmp_path):
    from panoptic_ros.replay.bag_io import BagWriter
    path = tmp_path / "half_gt"
    with BagWriter(path) as out:
        for t, msg in read_messages(bag, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image}):
            out.write(IMAGE_TOPIC, msg, t)
        for k, (t, msg) in enumerate(read_messages(bag, GT_TOPIC, {"sensor_msgs/msg/Image": Image})):
            if k == 1:
                msg.height, msg.data = msg.height // 2, bytes(msg.data)[: len(msg.data) // 2]
            out.write(GT_TOPIC, msg, t)
    assert replay(_args(path, tmp_path / "out", model, "--gt-topic", GT_TOPIC)) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["pq"]["frames"] == 5 and report["ground_truth"] == {"frames": 6, "matched": 5}
    assert report["ground_truth_skipped"]["frames"] == 1 and "differ in size" in report["ground_truth_skipped"]["first"][0]


@pytest.mark.parametrize("flag", ["--rate", "--batch", "--settle"])
def test_rates_batches_and_waits_must_be_positive(flag, bag, tmp_path, capsys):
    with pytest.raises(SystemExit):
        replay([str(bag), "--out", str(tmp_path / "out"), flag, "0"])
    assert "must be" in capsys.readouterr().err and not (tmp_path / "out.partial").exists()


def test_a_bag_without_metadata_opens_by_its_one_storage_file_and_a_ros1_bag_is_named(model, tmp_path, capsys):
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(next((SHARED_BAGS / "coco_sample_mcap").glob("*.mcap")), loose)
    out = tmp_path / "out"
    assert replay(_args(loose, out, model, "--topic", "/camera/image_raw")) == 0
    assert json.loads((out / "report.json").read_text())["processed"] == 6
    ros1 = tmp_path / "drive.bag"
    ros1.write_bytes(b"#ROSBAG V2.0\n")
    assert replay(_args(ros1, tmp_path / "out1", model)) == 2
    assert "is a ROS 1 bag; convert it to rosbag2 first: rosbags-convert" in capsys.readouterr().err


def test_live_accounting_adds_up_with_a_frame_the_node_refuses(bag, model, tmp_path):
    """The node counts the bad frame (its diagnostics); the wait ends when every frame is accounted for."""
    from panoptic_ros.replay.bag_io import BagWriter
    path = tmp_path / "one_bad"
    with BagWriter(path) as out:
        for k, (t, msg) in enumerate(read_messages(bag, IMAGE_TOPIC, {"sensor_msgs/msg/Image": Image})):
            if k == 2:
                msg.encoding = "32FC1"  # a depth image on the camera topic
            out.write(IMAGE_TOPIC, msg, t)
    assert replay(_args(path, tmp_path / "live", model, "--live", "--rate", "2", "--settle", "40")) == 0
    report = json.loads((tmp_path / "live" / "report.json").read_text())
    assert (report["frames"], report["processed"], report["bad_frames"], report["failed_frames"]) == (6, 5, 1, 0)
    assert report["dropped"] == 0 and report["node_diagnostics"]["bad_frames"] == "1"
    assert any(e.startswith("the node's log: unsupported encoding '32FC1'") for e in report["bad_frame_errors"])


FRONT, LEFT = "/front/image_raw", "/left/image_raw"


def _two_camera_bag(bag: Path, path: Path) -> Path:
    """Two synchronised cameras (same header stamps, received 1 ms apart), each with its label topic:
    front is the bag's camera, left the same frames mirrored and narrower (so ground truth paired
    with the other camera's frames would not even fit)."""
    from panoptic_ros.replay.bag_io import BagWriter
    images = list(read_messages(bag, IMAGE_TOPIC, IMAGE))
    labels = list(read_messages(bag, GT_TOPIC, IMAGE))
    with BagWriter(path) as out:
        for (t, image), (_, label) in zip(images, labels):
            out.write(FRONT, image, t)
            out.write("/front/panoptic_gt", label, t)
            for msg, itemsize in ((image, 3), (label, 4)):
                rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, itemsize)
                msg.width = msg.width * 3 // 4
                msg.step = msg.width * itemsize
                msg.data = rows[:, ::-1][:, :msg.width].tobytes()
            out.write(LEFT, image, t + 1_000_000)
            out.write("/left/panoptic_gt", label, t + 1_000_000)
    return path


def _cameras(*extra: str) -> list[str]:
    return ["--topic", FRONT, "--camera", "front", "--topic", LEFT, "--camera", "left", *extra]


SEGMENTS_TYPE = {"panoptic_msgs/msg/PanopticSegmentation": PanopticSegmentation}


@pytest.mark.parametrize("mode", [[], ["--live", "--rate", "2"]])
def test_a_bag_damaged_before_a_camera_s_first_frame_keeps_the_other_camera_s_outputs(mode, bag, model, tmp_path,
                                                                                     monkeypatch, capsys):
    from panoptic_ros.replay import bag_io
    read = bag_io.read_frames

    def damaged_before_left(path, topics):
        for frame in read(path, topics):
            if frame.topic == LEFT:
                raise bag_io.BagError(f"bag {path} is corrupt: CorruptError: database disk image is malformed")
            yield frame
    monkeypatch.setattr(bag_io, "read_frames", damaged_before_left)
    out = tmp_path / "out"
    assert replay(_args(_two_camera_bag(bag, tmp_path / "two"), out, model, *_cameras(*mode))) == 2
    assert "is corrupt" in capsys.readouterr().err
    cameras = json.loads((out / "report.json").read_text())["cameras"]  # renamed: a whole output
    assert (cameras["front"]["frames"], cameras["left"]["frames"]) == (1, 0)
    assert cameras["front"]["processed"] + cameras["front"].get("dropped", 0) == 1


@pytest.mark.parametrize("mode", [[], ["--live", "--rate", "2"]])
def test_several_cameras_are_replayed_together_each_with_its_outputs_figures_and_ground_truth(mode, bag, model,
                                                                                              tmp_path):
    two = _two_camera_bag(bag, tmp_path / "two")
    out = tmp_path / "out"
    gt = ["--gt-topic", "/front/panoptic_gt", "--gt-topic", "/left/panoptic_gt"]
    assert replay(_args(two, out, model, *_cameras(*gt, *mode))) == 0
    assert {p.name for p in out.iterdir()} >= {"output_bag", "report.json", "report.md", "preview_front.mp4",
                                               "preview_front.png", "preview_left.mp4", "preview_left.png"}
    report = json.loads((out / "report.json").read_text())
    cameras = report["cameras"]
    assert list(cameras) == ["front", "left"] and [c["topic"] for c in cameras.values()] == [FRONT, LEFT]
    assert report["frames"] == 12 and report["bad_frames"] == 0
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in read_messages(bag, IMAGE_TOPIC, IMAGE)}
    for name, camera in cameras.items():
        assert camera["frames"] == 6 and camera["processed"] >= 1
        assert camera["processed"] + camera.get("dropped", 0) == 6 and camera.get("restamped_frames", 0) == 0
        assert camera["pq"]["frames"] == camera["processed"] == camera["ground_truth"]["matched"]
        assert camera["outputs"]["preview_png"] == str(out / f"preview_{name}.png")
        segments = [m for _, m in read_messages(out / "output_bag", f"/panoptic/{name}/segments", SEGMENTS_TYPE)]
        assert len(segments) == camera["processed"]
        assert {(m.header.stamp.sec, m.header.stamp.nanosec) for m in segments} <= stamps  # their own stamps
        widths = {m.width for _, m in read_messages(out / "output_bag", f"/panoptic/{name}/panoptic", IMAGE)}
        assert widths == {128 if name == "front" else 96}  # each camera's outputs on its own topics
    if not mode:
        assert cameras["front"]["processed"] == cameras["left"]["processed"] == 6
    assert report["ground_truth"]["frames"] == 12 and report["bad_frame_errors"] == report["failures"] == []
    assert ("restamped_frames" in report) == bool(mode)
    rig = report["pq"]  # over every frame of both cameras with ground truth: the rig's
    assert rig["frames"] == sum(c["pq"]["frames"] for c in cameras.values())
    assert rig["All"]["n"] >= max(c["pq"]["All"]["n"] for c in cameras.values())
    latency = "e2e_latency_ms" if mode else "latency_ms"
    assert report[latency]["max"] == max(c[latency]["max"] for c in cameras.values())
    page = (out / "report.md").read_text()
    assert f"- cameras: front ({FRONT}), left ({LEFT})" in page and "## Camera left" in page
    assert page.count("### Panoptic quality") == 2 and "## All cameras: Panoptic quality" in page


@pytest.mark.parametrize("extra, message", [
    (["--topic", FRONT, "--topic", LEFT], "2 --topic and 0 --camera"),
    (_cameras()[:6], "2 --topic and 1 --camera"),
    (["--topic", FRONT, "--camera", "a", "--topic", FRONT, "--camera", "b"], "names a topic twice"),
    (_cameras()[:4] + ["--topic", LEFT, "--camera", "front"], "names a camera twice"),
    (_cameras("--gt-topic", "/front/panoptic_gt"), "1 --gt-topic for 2 --topic"),
    (["--camera", "a", "--camera", "b"], "1 --topic and 2 --camera"),
])
def test_the_cameras_of_a_replay_are_named_one_per_topic(extra, message, bag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        replay([str(bag), "--out", str(tmp_path / "out"), *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_live_replay_of_cameras_in_two_transports_is_refused_before_a_node_starts(model, tmp_path, capsys):
    from panoptic_ros.replay.bag_io import BagWriter
    compressed = {"sensor_msgs/msg/CompressedImage": CompressedImage}
    with BagWriter(tmp_path / "mixed") as out:
        for t, msg in read_messages(SHARED_BAGS / "coco_sample_sqlite3", "/camera/image_raw/compressed", compressed):
            out.write("/left/image_raw/compressed", msg, t)
        for t, msg in read_messages(SHARED_BAGS / "coco_sample_mcap", "/camera/image_raw", IMAGE):
            out.write(FRONT, msg, t)
    cameras = ["--topic", FRONT, "--camera", "front", "--topic", "/left/image_raw/compressed", "--camera", "left"]
    assert replay(_args(tmp_path / "mixed", tmp_path / "live", model, *cameras, "--live")) == 2
    assert "one transport" in capsys.readouterr().err and not (tmp_path / "live.partial").exists()
    assert replay(_args(tmp_path / "mixed", tmp_path / "offline", model, *cameras)) == 0  # offline takes both


def test_ground_truth_may_be_given_for_some_cameras_only_from_either_source(bag, model, tmp_path):
    two = _two_camera_bag(bag, tmp_path / "two")
    coco = _coco_ground_truth(bag, tmp_path / "coco")  # the front camera's labels (its stamps are the bag's)
    for source in (["--gt-topic", "/front/panoptic_gt", "--gt-topic", ""],
                   [*coco, "--gt-json", "", "--gt-dir", ""]):
        out = tmp_path / "out"
        assert replay(_args(two, out, model, *_cameras(*source))) == 0
        cameras = json.loads((out / "report.json").read_text())["cameras"]
        assert cameras["front"]["pq"]["frames"] == 6 and cameras["front"]["ground_truth"]["matched"] == 6
        assert "pq" not in cameras["left"] and "ground_truth" not in cameras["left"]


@pytest.mark.parametrize("mode, message", [
    ([], "no frame of /left/panoptic_gt (camera left) could be used: unsupported"),
    (["--live", "--rate", "2", "--settle", "10"], "the node answered none of the 6 frames of /left/panoptic_gt on "
                                                 "/panoptic/left/segments: "),  # N bad (the rest dropped, on a busy CPU)
])
def test_a_camera_none_of_whose_frames_came_through_is_an_error_naming_it(mode, message, bag, model, tmp_path,
                                                                          capsys):
    """Say, a label topic (or a depth camera) given as a camera: the other camera's figures and outputs
    stand, in a whole report; the status and the last line say which camera gave nothing, and why."""
    two = _two_camera_bag(bag, tmp_path / "two")
    out = tmp_path / "out"
    cameras = ["--topic", FRONT, "--camera", "front", "--topic", "/left/panoptic_gt", "--camera", "left"]
    assert replay(_args(two, out, model, *cameras, *mode)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err and err.endswith(f"the outputs are in {out}") and ("bad or failed" in err or not mode)
    assert len(list(read_messages(out / "output_bag", "/panoptic/front/segments", SEGMENTS_TYPE))) >= 1
    report = json.loads((out / "report.json").read_text())["cameras"]
    assert report["front"]["processed"] >= 1 and report["left"]["processed"] == 0
    if mode:  # the node's log says whose frames it refused
        assert "dropping bad frame of camera left: unsupported" in (out / "node.log").read_text()


def test_the_node_a_live_replay_starts_gets_its_input_bits():
    import argparse
    from panoptic_ros.replay.cli import _node_params
    args = argparse.Namespace(device="cpu", precision="fp32", mask_cues=True, inference_size=[64, 128],
                              input_bits=12, score_threshold=None, model=None, head=None)
    assert _node_params(args)["input_bits"] == "12" and "score_threshold" not in _node_params(args)
