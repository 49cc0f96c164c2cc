"""Overlay videos (a replay's previews, panoptic-predict's videos): the strip spreads over the whole run,
memory stays bounded, the video keeps its source's clock, and a rate the source cannot tell is replaced."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from panoptic_ros.inference.video import DEFAULT_PREVIEW_FPS, STRIP_FRAMES, PreviewWriter, letterboxed

NAMES = ("preview.mp4", "preview.png")


def test_a_long_run_keeps_a_bounded_number_of_thumbnails_spread_over_all_of_it(tmp_path):
    preview = PreviewWriter(tmp_path, NAMES, fps=5.0)
    for k in range(1000):
        preview.add(np.full((16, 32, 3), k * 255 // 999, np.uint8))  # brightness tells the frame
        assert len(preview.frames) <= 2 * STRIP_FRAMES
    assert [p.name for p in preview.close()] == ["preview.mp4", "preview.png"]
    strip = cv2.imread(str(tmp_path / "preview.png"))
    rows = [int(strip[row * 128 + 64, 128, 0]) for row in range(STRIP_FRAMES)]  # 256x128 thumbnails
    assert strip.shape[0] == STRIP_FRAMES * 128
    assert rows[0] == 0 and rows == sorted(set(rows)) and rows[-1] > 255 * 3 // 4  # spread over the run


def _video_frames(path) -> int:
    video = cv2.VideoCapture(str(path))
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    video.release()
    return count


def test_the_video_keeps_the_bags_clock_holding_the_last_overlay_over_dropped_frames(tmp_path):
    period = 100_000_000  # a 10 Hz camera
    answered = [k for k in range(40) if k % 3 == 0 or k < 10]  # a live node that kept one frame in three
    preview = PreviewWriter(tmp_path / "a", NAMES, fps=10.0, speed=2.0)  # --rate 2: the video plays at 20 fps
    (tmp_path / "a").mkdir()
    for k in answered:
        preview.add(np.full((16, 32, 3), k, np.uint8), 5 * 10**9 + k * period)
    preview.close()
    assert _video_frames(tmp_path / "a" / "preview.mp4") == 40  # 39 periods after the first: the bag's 3.9 s at 2x


@pytest.mark.parametrize("fps,speed,expected", [
    (60.0, 4.0, 60),   # 240 frames/s asked for, 120 the most: every second frame; 2 s of bag at 4x is 0.5 s
    (10.0, 0.25, 20),  # --rate 0.25: the video at 2.5 frames/s, one in four frames; 2 s of bag at 1/4x is 8 s
])
def test_the_video_keeps_the_clock_when_its_rate_is_clamped_or_slowed(tmp_path, fps, speed, expected):
    preview = PreviewWriter(tmp_path, NAMES, fps=fps, speed=speed)
    for k in range(round(2 * fps)):  # two seconds of the camera
        preview.add(np.zeros((16, 32, 3), np.uint8), round(k * 1e9 / fps))
    preview.close()
    assert abs(_video_frames(tmp_path / "preview.mp4") - expected) <= 1


def test_a_pause_in_the_recording_is_held_at_most_two_seconds_of_bag_time(tmp_path):
    preview = PreviewWriter(tmp_path, NAMES, fps=10.0, speed=0.25)  # the video at 2.5 frames/s
    period = 100_000_000
    for t in (0, period, 3600 * 10**9, 3600 * 10**9 + period):  # an hour's pause in the recording
        preview.add(np.zeros((16, 32, 3), np.uint8), t)
    preview.close()
    # the bag's clock runs 0, 0.1, 2.1 (the hour cut to 2 s), 2.2 s: 8.8 s of video at 2.5 frames/s
    assert _video_frames(tmp_path / "preview.mp4") == round(2.2 / 0.25 * 2.5) + 1


@pytest.mark.parametrize("fps", [None, 0.0, float("nan"), float("inf"), -3.0])
def test_a_rate_the_source_cannot_tell_plays_at_the_default_and_the_video_is_written(tmp_path, fps):
    preview = PreviewWriter(tmp_path, NAMES, fps=fps)  # a container may report 0 or NaN frames per second
    for k in range(3):
        preview.add(np.full((16, 32, 3), k, np.uint8))
    assert tmp_path / "preview.mp4" in preview.close()
    assert cv2.VideoCapture(str(tmp_path / "preview.mp4")).get(cv2.CAP_PROP_FPS) == pytest.approx(DEFAULT_PREVIEW_FPS)


def test_a_webm_video_is_vp8(tmp_path):
    preview = PreviewWriter(tmp_path, ("preview.webm", "preview.png"), fps=5.0)
    for k in range(3):
        preview.add(np.full((16, 32, 3), 80 * k, np.uint8))
    assert [p.name for p in preview.close()] == ["preview.webm", "preview.png"]
    video = cv2.VideoCapture(str(tmp_path / "preview.webm"))
    fourcc = int(video.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc == "VP80" and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_a_video_the_encoder_left_without_frames_is_not_reported_written(tmp_path):
    """VP8 opens for 2x2 frames, takes them, and writes a file with none."""
    preview = PreviewWriter(tmp_path, ("preview.webm", "preview.png"), fps=5.0)
    for k in range(3):
        preview.add(np.full((2, 2, 3), 80 * k, np.uint8))
    assert [p.name for p in preview.close()] == ["preview.png"]


def test_frames_of_another_shape_are_fitted_into_the_video_unstretched():
    wide = np.full((36, 64, 3), 200, np.uint8)  # 16:9 into a 64x48 (4:3) video
    fitted = letterboxed(wide, (64, 48))
    assert fitted.shape == (48, 64, 3)
    assert (fitted[:6] == 0).all() and (fitted[-6:] == 0).all() and (fitted[6:42] == 200).all()
    tall = letterboxed(np.full((96, 32, 3), 200, np.uint8), (64, 48))  # 1:3, halved to 16x48 in the middle
    assert (tall[:, 24:40] == 200).all() and (tall[:, :24] == 0).all() and (tall[:, 40:] == 0).all()
