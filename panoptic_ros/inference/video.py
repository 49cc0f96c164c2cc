"""Videos of overlays (MP4 or WebM) with a PNG strip of evenly spaced frames: the previews of a
replay and the outputs of ``panoptic-predict`` for a video. Plain OpenCV, no ROS."""
from __future__ import annotations

import math
import queue
import threading
from pathlib import Path

import cv2
import numpy as np

# the video formats, by file suffix: OpenCV's codec for each. MPEG-4 part 2 is the cheapest to write
# (about 1 ms a 480x360 frame) and plays in VLC, mpv and QuickTime, not in web browsers; VP8 in WebM
# plays in browsers too, for about ten times the encoder's CPU time
VIDEO_FORMATS = {"mp4": "mp4v", "webm": "VP80"}
DEFAULT_VIDEO_FORMAT = "mp4"
STRIP_FRAMES = 6
DEFAULT_PREVIEW_FPS = 5.0  # where the source does not tell its rate (or tells 0 or nonsense)
MAX_FPS = 120.0  # a video plays at most this fast (a faster source plays slower than life)
MAX_HOLD_SECONDS = 2.0  # the longest a gap between two frames' bag times holds the last overlay


def letterboxed(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` [H, W, 3] scaled to fit ``size`` (width, height) with its aspect ratio kept, centred on
    black: a video has one frame size, and a camera's frames of another shape must not be stretched."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = max(1, min(width, round(image.shape[1] * scale))), max(1, min(height, round(image.shape[0] * scale)))
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    out[y:y + h, x:x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return out


def usable_fps(fps: float | None) -> float | None:
    """``fps`` where it is a finite rate above 0, else None (unknown): a container may report 0 or NaN."""
    return fps if fps is not None and math.isfinite(fps) and fps > 0 else None


class GapCutClock:
    """Bag time since the first frame, each gap between frames cut to ``MAX_HOLD_SECONDS`` (a paused
    recording, a clock jump) and counted from the newest time seen (a late frame adds nothing): the
    preview video's clock, and the live replay's pace."""

    def __init__(self) -> None:
        self.elapsed_ns = 0
        self.latest_ns: int | None = None

    def advance(self, time_ns: int) -> bool:
        """Go on to bag time ``time_ns``; whether a gap was cut on the way."""
        longest = round(MAX_HOLD_SECONDS * 1e9)
        gap = 0 if self.latest_ns is None else max(time_ns - self.latest_ns, 0)
        self.latest_ns = time_ns if self.latest_ns is None else max(self.latest_ns, time_ns)
        self.elapsed_ns += min(gap, longest)
        return gap > longest


class PreviewWriter:
    """The video of every overlay and a strip of ``STRIP_FRAMES`` spread over the run, in bounded memory:
    thumbnails are kept every ``stride``-th frame, the stride doubling whenever more than twice the
    strip's frames are held, so a bag of any length keeps at most that many.

    Given each overlay's time in the bag, the video keeps the bag's clock (at ``speed`` times its
    pace): where frames are missing (a live node that dropped them for newer ones) the last overlay
    is held, as a display of the node's output would hold it, and where frames come faster than the
    video's rate some are left out, so the video never runs fast or slow. Frames are encoded on a
    thread of their own, so a live replay's publishing never waits for the encoder.
    """

    def __init__(self, out_dir: Path, names: tuple[str, str], fps: float | None, speed: float = 1.0) -> None:
        """``names``: the video's and the strip's file names in ``out_dir`` (the video's suffix, one of
        ``VIDEO_FORMATS``, chooses its codec); ``fps``: the source's frames per second of its own time
        (None, 0 or not finite: unknown, ``DEFAULT_PREVIEW_FPS``), played at ``speed`` times that, within
        1 to ``MAX_FPS`` frames per second."""
        self.video_path, self.strip_path = (out_dir / name for name in names)
        self.fps = min(max((usable_fps(fps) or DEFAULT_PREVIEW_FPS) * speed, 1.0), MAX_FPS)  # of wall clock
        self.speed = speed
        self.frames: list[np.ndarray] = []  # thumbnails of frames 0, stride, 2 * stride, ...
        self.stride = 1
        self.count = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the video
        self.written = 0  # video frames, holds included
        self.clock = GapCutClock()
        self.last: np.ndarray | None = None
        self._jobs: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(maxsize=8)
        self._encoder: threading.Thread | None = None
        self._opened = False

    def _encode(self, video: cv2.VideoWriter) -> None:
        """The encoder thread: write each queued frame as many times as asked, until ``None``."""
        self._opened = video.isOpened()
        while (job := self._jobs.get()) is not None:
            frame, times = job
            for _ in range(times):
                video.write(frame)
        video.release()

    def _video_frames_for(self, time_ns: int | None) -> int:
        """How many video frames this overlay takes (holds of the last one before it, then itself):
        those due by its bag time ``time_ns``; 0 where the video is ahead of it; 1 without a time."""
        if time_ns is None:
            return 1
        self.clock.advance(time_ns)
        due = round(self.clock.elapsed_ns * 1e-9 / self.speed * self.fps)  # the video frame showing this time
        return due + 1 - self.written if due >= self.written else 0

    def add(self, overlay_rgb: np.ndarray, time_ns: int | None = None) -> None:
        """Append an overlay (RGB [H, W, 3]) to the video (fitted into the first frame's size) at its
        frame's bag time ``time_ns`` (None: right after the last), and keep every ``stride``-th for the
        strip, halving the kept ones when they outgrow it."""
        bgr = np.ascontiguousarray(overlay_rgb[..., ::-1])
        if self.size is None:
            self.size = (bgr.shape[1], bgr.shape[0])
            codec = VIDEO_FORMATS[self.video_path.suffix.removeprefix(".")]
            video = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*codec), self.fps, self.size)
            self._encoder = threading.Thread(target=self._encode, args=(video,), name="preview", daemon=True)
            self._encoder.start()
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = letterboxed(bgr, self.size)
        frames = self._video_frames_for(time_ns)
        if frames > 1 and self.last is not None:
            self._jobs.put((self.last, frames - 1))
        if frames > 0:
            self._jobs.put((bgr, 1))
        self.written += frames
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
        if self._encoder is not None:
            self._jobs.put(None)
            self._encoder.join()
            if self._opened and _plays(self.video_path):
                written.append(self.video_path)
        if self.frames:
            idx = np.linspace(0, len(self.frames) - 1, min(STRIP_FRAMES, len(self.frames))).round().astype(int)
            strip = np.concatenate([self.frames[i] for i in idx], axis=0)
            if cv2.imwrite(str(self.strip_path), strip):
                written.append(self.strip_path)
        return written


def _plays(path: Path) -> bool:
    """Whether a written video gives back its first frame: an encoder can open, take every frame and
    still leave none (VP8 at 2x2 pixels)."""
    capture = cv2.VideoCapture(str(path))
    try:
        return capture.read()[0]
    finally:
        capture.release()
