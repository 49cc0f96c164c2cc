"""The cameras of a replay: names, ground truth and preview files from the command line's lists."""
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
