"""Previews of replayed overlays: an MP4 and a PNG strip of evenly spaced frames."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from panoptic_ros.replay.output import PREVIEW_MP4, PREVIEW_PNG

STRIP_FRAMES = 6
DEFAULT_PREVIEW_FPS = 5.0  # where the bag does not tell its camera's rate
MAX_HOLD_SECONDS = 2.0  # the longest a gap in the frames' times holds the last overlay in the video


class PreviewWriter:
    """The MP4 of every overlay and a strip of ``STRIP_FRAMES`` spread over the run, in bounded memory:
    thumbnails are kept every ``stride``-th frame, the stride doubling whenever more than twice the
    strip's frames are held, so a bag of any length keeps at most that many.

    Given each overlay's time in the bag, the video keeps the bag's clock (at ``speed`` times its
    pace): where frames are missing (a live node that dropped them for newer ones) the last overlay
    is held, as a display of the node's output would hold it, instead of the video running fast.
    """

    def __init__(self, out_dir: Path, fps: float, speed: float = 1.0) -> None:
        self.out_dir = out_dir
        self.fps = min(max(fps * speed, 1.0), 120.0)  # the video's frames per second of wall clock
        self.speed = speed
        self.video: cv2.VideoWriter | None = None
        self.frames: list[np.ndarray] = []  # thumbnails of frames 0, stride, 2 * stride, ...
        self.stride = 1
        self.count = 0
        self.written = 0  # video frames, holds included
        self.start_ns: int | None = None  # the bag time of the video's first frame
        self.last: np.ndarray | None = None

    def _hold_until(self, time_ns: int) -> None:
        """Repeat the last overlay until the video reaches bag time ``time_ns`` (at most ``MAX_HOLD_SECONDS``)."""
        if self.start_ns is None or self.last is None:
            self.start_ns = time_ns
            return
        due = round((time_ns - self.start_ns) * 1e-9 / self.speed * self.fps)
        for _ in range(min(due - self.written, round(MAX_HOLD_SECONDS * self.fps))):
            self.video.write(self.last)  # type: ignore[union-attr]
        self.written = max(self.written, due)  # a long gap is cut short, not made up later

    def add(self, overlay_rgb: np.ndarray, time_ns: int | None = None) -> None:
        """Append an overlay (RGB [H, W, 3]) to the video (resized to the first frame's size), after
        holding the previous one until ``time_ns`` (its frame's time in the bag; None: right after),
        and keep every ``stride``-th for the strip, halving the kept ones when they outgrow it."""
        bgr = np.ascontiguousarray(overlay_rgb[..., ::-1])
        if self.video is None:
            h, w = bgr.shape[:2]
            self.size = (w, h)
            self.video = cv2.VideoWriter(str(self.out_dir / PREVIEW_MP4), cv2.VideoWriter_fourcc(*"mp4v"),
                                         self.fps, self.size)
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_NEAREST)
        if time_ns is not None:
            self._hold_until(time_ns)
        self.video.write(bgr)
        self.written += 1
        self.last = bgr
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
