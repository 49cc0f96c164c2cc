"""Previews of replayed overlays: an MP4 and a PNG strip of evenly spaced frames."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from panoptic_ros.replay.output import PREVIEW_MP4, PREVIEW_PNG

STRIP_FRAMES = 6
DEFAULT_PREVIEW_FPS = 5.0  # where the bag does not tell its camera's rate


class PreviewWriter:
    """The MP4 of every overlay and a strip of ``STRIP_FRAMES`` spread over the run, in bounded memory:
    thumbnails are kept every ``stride``-th frame, the stride doubling whenever more than twice the
    strip's frames are held, so a bag of any length keeps at most that many."""

    def __init__(self, out_dir: Path, fps: float) -> None:
        self.out_dir = out_dir
        self.fps = min(max(fps, 1.0), 120.0)
        self.video: cv2.VideoWriter | None = None
        self.frames: list[np.ndarray] = []  # thumbnails of frames 0, stride, 2 * stride, ...
        self.stride = 1
        self.count = 0

    def add(self, overlay_rgb: np.ndarray) -> None:
        """Append an overlay (RGB [H, W, 3]) to the video (resized to the first frame's size) and keep
        every ``stride``-th for the strip, halving the kept ones when they outgrow it."""
        bgr = np.ascontiguousarray(overlay_rgb[..., ::-1])
        if self.video is None:
            h, w = bgr.shape[:2]
            self.size = (w, h)
            self.video = cv2.VideoWriter(str(self.out_dir / PREVIEW_MP4), cv2.VideoWriter_fourcc(*"mp4v"),
                                         self.fps, self.size)
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_NEAREST)
        self.video.write(bgr)
        if self.count % self.stride == 0:
            scale = 256 / bgr.shape[1]
            self.frames.append(cv2.resize(bgr, (256, max(1, round(bgr.shape[0] * scale))), interpolation=cv2.INTER_AREA))
            if len(self.frames) > 2 * STRIP_FRAMES:
                self.frames, self.stride = self.frames[::2], 2 * self.stride
        self.count += 1

    def close(self) -> list[Path]:
        """Finish the video and write the strip; the files written (none without frames)."""
        written = []
        if self.video is not None:
            opened = self.video.isOpened()
            self.video.release()
            if opened:
                written.append(self.out_dir / PREVIEW_MP4)
        if self.frames:
            idx = np.linspace(0, len(self.frames) - 1, min(STRIP_FRAMES, len(self.frames))).round().astype(int)
            strip = np.concatenate([self.frames[i] for i in idx], axis=0)
            cv2.imwrite(str(self.out_dir / PREVIEW_PNG), strip)
            written.append(self.out_dir / PREVIEW_PNG)
        return written
