"""The live replay's pacing, restamping and accounting (its runs through a real node are in test_replay.py)."""
from types import SimpleNamespace

import pytest

from builtin_interfaces.msg import Time
from panoptic_msgs.msg import PanopticSegmentation
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.inference.video import MAX_HOLD_SECONDS
from panoptic_ros.replay.live import Pacing, UniqueStamps, _CameraOutputs
from panoptic_ros.replay.report import ReplayRecorder
from panoptic_ros.ros.log_lines import BAD_FRAME, FAILED_FRAME, frame_warning
from panoptic_ros.ros.topics import OUTPUTS, PANOPTIC, SEGMENTS

SECOND = 1_000_000_000


def test_frames_are_due_at_the_bag_s_pace_with_long_gaps_cut():
    pacing = Pacing(rate=2.0)
    start, cut = pacing.due(100 * SECOND)
    assert pacing.start == start and not cut
    assert pacing.due(101 * SECOND) == (pytest.approx(start + 0.5), False)  # twice the pace
    paused = start + 0.5 + MAX_HOLD_SECONDS / 2
    assert pacing.due(3701 * SECOND) == (pytest.approx(paused), True)  # an hour's pause
    assert pacing.due(3701 * SECOND) == (pytest.approx(paused), False)  # another camera's frame of that time
    assert pacing.due(3700 * SECOND) == (pytest.approx(paused), False)  # late: due now
    assert pacing.due(3702 * SECOND) == (pytest.approx(paused + 0.5), False)
    assert pacing.gaps_cut == 1


def test_frames_sharing_a_stamp_get_the_next_free_nanoseconds():
    stamps = UniqueStamps()
    assert [stamps.key(0) for _ in range(4)] == [0, 1, 2, 3]
    assert stamps.key(2) == 4 and stamps.key(7) == 7 and stamps.key(0) == 5
    many = UniqueStamps()
    keys = [many.key(0) for _ in range(20_000)]  # an unclocked driver: each found at once
    assert keys == list(range(20_000)) and len(many.next_free) == 1


def test_only_the_last_frames_stamps_are_remembered():
    """An hour of a 30 Hz camera must not keep 108000 stamps."""
    stamps = UniqueStamps(window=4)
    assert [stamps.key(s) for s in (5, 5, 5, 6, 7, 8, 9)] == [5, 6, 7, 8, 9, 10, 11]  # 6-9 shared with earlier
    assert len(stamps.used) == 4 and stamps.key(5) == 5  # 5's frame is long gone: its stamp is free again
    unclocked = UniqueStamps(window=4)
    assert [unclocked.key(0) for _ in range(10)] == list(range(10))  # still unique, found at once


def _camera_outputs(name: str = "") -> tuple["_CameraOutputs", SimpleNamespace]:
    """One camera's side of a live replay, with a bag and a publisher that keep nothing."""
    run = SimpleNamespace(recorder=ReplayRecorder(STREET_CATEGORIES),
                          camera=SimpleNamespace(ground_truth={}, name=name))
    link = SimpleNamespace(output_topics={name: f"/out/{name}" for name in OUTPUTS}, pub=SimpleNamespace(
        publish=lambda msg: None))
    return _CameraOutputs(SimpleNamespace(write=lambda *args: None), run, link, {}), run


def test_frames_the_node_skipped_are_forgotten_once_a_later_one_is_answered():
    """An hour of a 30 Hz camera the node answers one frame in ten of must not keep 97000 entries."""
    camera, run = _camera_outputs()

    def header(sec: int) -> Header:
        return Header(stamp=Time(sec=sec))

    for sec in range(1, 7):
        camera.publish(SimpleNamespace(stamp_ns=sec * SECOND, timestamp=sec, msg=Image(header=header(sec))))
    camera.take(PANOPTIC, 0.0, Image(header=header(2)))  # frame 2: its panoptic image in, its segments not yet
    camera.take(SEGMENTS, 0.0, PanopticSegmentation(header=header(4)))
    assert list(camera.sent) == [2 * SECOND, 4 * SECOND, 5 * SECOND, 6 * SECOND]  # 1 and 3 were skipped
    camera.take(SEGMENTS, 0.0, PanopticSegmentation(header=header(2)))  # a frame part-answered goes on
    assert run.recorder.processed == 2 and camera.strays == 0
    camera.take(SEGMENTS, 0.0, PanopticSegmentation(header=header(3)))  # an answer of a forgotten frame: a stray
    assert camera.strays == 1


def test_why_the_node_refused_or_failed_frames_comes_from_its_log_each_under_its_own_heading():
    camera, run = _camera_outputs("left")
    log = "\n".join(f"[WARN] [1.0] [panoptic]: {line}" for line in (
        frame_warning(BAD_FRAME, ["left"], "not JPEG or PNG"), frame_warning(FAILED_FRAME, ["left"], "CUDA error")))
    camera.finish({"bad_frames": 2, "errors": 1}, log)
    report = run.recorder.finish({})
    assert report["bad_frame_errors"] == ["the node's log: not JPEG or PNG"]
    assert report["failures"] == ["the node's log: CUDA error"] and report["failed_frames"] == 1
    camera, run = _camera_outputs("left")
    camera.finish({"bad_frames": 1}, None)  # a running node's log is not at hand
    said = run.recorder.finish({})["bad_frame_errors"]
    assert said == ["the node's log says why (node.log when the replay started it)"]
