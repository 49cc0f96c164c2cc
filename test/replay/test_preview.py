"""Replay previews: the strip spreads over the whole run and memory stays bounded."""
from __future__ import annotations

import cv2
import numpy as np

from panoptic_ros.replay.preview import STRIP_FRAMES, PreviewWriter


def test_a_long_run_keeps_a_bounded_number_of_thumbnails_spread_over_all_of_it(tmp_path):
    preview = PreviewWriter(tmp_path, fps=5.0)
    for k in range(1000):
        preview.add(np.full((16, 32, 3), k * 255 // 999, np.uint8))  # brightness tells the frame
        assert len(preview.frames) <= 2 * STRIP_FRAMES
    assert [p.name for p in preview.close()] == ["preview.mp4", "preview.png"]
    strip = cv2.imread(str(tmp_path / "preview.png"))
    rows = [int(strip[row * 128 + 64, 128, 0]) for row in range(STRIP_FRAMES)]  # 256x128 thumbnails
    assert strip.shape[0] == STRIP_FRAMES * 128
    assert rows[0] == 0 and rows == sorted(set(rows)) and rows[-1] > 255 * 3 // 4  # spread over the run
