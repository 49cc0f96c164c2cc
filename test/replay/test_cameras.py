"""The cameras of a replay: names, ground truth and preview files from the command line's lists."""
import dataclasses

from sensor_msgs.msg import Image

from panoptic_ros.replay.bag_io import TopicSummary
from panoptic_ros.replay.cameras import replay_cameras

SUMMARY = TopicSummary(Image, 3, 10.0, False)


def test_one_camera_keeps_the_plain_preview_names_and_several_each_get_their_own():
    (one,) = replay_cameras(["/camera/image_raw"], [], [SUMMARY], [])
    assert (one.name, one.label, one.ground_truth, one.preview) == ("", "/camera/image_raw", {},
                                                                     ("preview.mp4", "preview.png"))
    gt = {1: object()}
    front, left = replay_cameras(["/f", "/l"], ["front", "left"], [SUMMARY, SUMMARY], [({}, ()), (gt, ())])
    assert (front.label, front.preview, front.ground_truth) == ("front", ("preview_front.mp4", "preview_front.png"), {})
    assert left.ground_truth is gt and left.preview == ("preview_left.mp4", "preview_left.png")


def test_a_camera_s_outputs_name_only_previews_that_were_written_readable(tmp_path):
    """VP8 takes 2x2 frames and writes a file without any: the report must not offer it."""
    import numpy as np
    from helpers import small_categories
    from panoptic_ros.replay.cameras import camera_runs
    (camera,) = replay_cameras(["/camera/image_raw"], [], [SUMMARY], [])
    camera = dataclasses.replace(camera, preview=("preview.webm", "preview.png"))
    with camera_runs([camera], small_categories(), tmp_path) as (run,):
        for k in range(3):
            run.preview.add(np.full((2, 2, 3), 80 * k, np.uint8))
    report = run.finish(tmp_path, tmp_path / "reported", {})
    assert (tmp_path / "preview.webm").exists()  # on disk, but without a frame
    assert list(report["outputs"].values()) == [str(tmp_path / "reported" / "preview.png")]
