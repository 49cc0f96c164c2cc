"""An output folder that only gets its real name once everything in it is written."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import TracebackType

from panoptic_ros.inference.video import DEFAULT_VIDEO_FORMAT, VIDEO_FORMATS
from panoptic_ros.ros.parameters import CAMERA_NAME

INCOMPLETE = "INCOMPLETE"  # in a staging folder from its start: what it is, and why it never finished
# what a replay writes into its folder, by the report's name for it
OUTPUT_BAG, PREVIEW_PNG = "output_bag", "preview.png"
DEFAULT_PREVIEW_VIDEO = f"preview.{DEFAULT_VIDEO_FORMAT}"
REPORT_JSON, REPORT_MD = "report.json", "report.md"
NODE_LOG = "node.log"  # a live replay's node's output, when the replay started the node
PREVIEW_KEYS = ("preview_video", "preview_png")  # the report's names for a camera's video and strip
REPLAY_NAMES = frozenset({OUTPUT_BAG, PREVIEW_PNG, REPORT_JSON, REPORT_MD, NODE_LOG,
                          *(f"preview.{suffix}" for suffix in VIDEO_FORMATS)})
# a replay of several cameras previews each in its own files, named by the camera (a name's / as -)
CAMERA_PREVIEW = re.compile(rf"preview_({CAMERA_NAME.pattern.replace('/', '-')})\.({'|'.join(VIDEO_FORMATS)}|png)")


def preview_names(camera: str, several: bool, video_format: str = DEFAULT_VIDEO_FORMAT) -> tuple[str, str]:
    """(video, strip) file names of camera ``camera``'s preview: ``preview.<video_format>`` and
    ``preview.png`` for a replay of one camera, ``preview_<camera>.*`` for each of several."""
    stem = "preview_" + camera.replace("/", "-") if several else "preview"
    return f"{stem}.{video_format}", f"{stem}.png"


def _is_replay_report(path: Path) -> bool:
    """Whether ``path`` is a report a replay wrote (``panoptic-eval --out`` writes a report.json too)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and {"bag", "mode"} <= report.keys()


def _not_a_replays(folder: Path, mark: str) -> str:
    """Why ``folder`` (existing) is not a replay's own output or staging folder, which a replay may
    replace; "" when it is one (or empty). A replay's holds only the names a replay writes, and its
    ``mark``: an ``INCOMPLETE`` note, or a report.json that is a replay's."""
    if not folder.is_dir():
        return "it is not a folder"
    names = {p.name for p in folder.iterdir()}
    if not names:
        return ""
    foreign = sorted(n for n in names - REPLAY_NAMES - {INCOMPLETE} if not CAMERA_PREVIEW.fullmatch(n))
    if foreign:
        return f"it holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}, which a replay never writes"
    if not (folder / mark).is_file():
        return f"no {mark}"
    if mark == REPORT_JSON and not _is_replay_report(folder / mark):
        return f"its {mark} is not a replay's report"
    return ""


class StagedOutput:
    """Work in ``<out>.partial``; on success it replaces ``<out>``, on failure (or if the process dies)
    it stays ``.partial`` with an ``INCOMPLETE`` note, so a half-written replay never looks like a
    finished one (a failure before anything was written leaves no folder). An ``<out>`` or
    ``<out>.partial`` holding anything but a replay's own output is refused, never deleted."""

    def __init__(self, out: Path) -> None:
        self.final = out
        self.path = out.with_name(out.name + ".partial")
        self.entered = False  # whether ``path`` is this replay's (an older one's may be left there before)

    def __enter__(self) -> Path:
        for folder, mark in ((self.final, REPORT_JSON), (self.path, INCOMPLETE)):
            why = _not_a_replays(folder, mark) if folder.exists() else ""
            if why:
                raise ValueError(f"{folder} exists and is not a replay's ({why}): give another --out; a "
                                 "replay replaces only its own output")
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        (self.path / INCOMPLETE).write_text("replay running, or stopped before it finished\n")
        self.entered = True
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            if {p.name for p in self.path.iterdir()} == {INCOMPLETE}:  # failed before any output (a bad
                shutil.rmtree(self.path)                                  # --model, say): nothing to keep
            else:
                (self.path / INCOMPLETE).write_text(f"replay failed: {type(exc).__name__}: {exc}\n")
            return
        (self.path / INCOMPLETE).unlink()
        if self.final.exists():
            shutil.rmtree(self.final)
        self.path.rename(self.final)
