"""An output folder that only gets its real name once everything in it is written."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType


INCOMPLETE = "INCOMPLETE"  # in a staging folder from its start: what it is, and why it never finished
# what a replay writes into its folder, by the report's name for it
OUTPUT_BAG, PREVIEW_MP4, PREVIEW_PNG = "output_bag", "preview.mp4", "preview.png"
REPORT_JSON, REPORT_MD = "report.json", "report.md"
OUTPUT_FILES = {"bag": OUTPUT_BAG, "preview_mp4": PREVIEW_MP4, "preview_png": PREVIEW_PNG}


class StagedOutput:
    """Work in ``<out>.partial``; on success it replaces ``<out>``, on failure (or if the process dies)
    it stays ``.partial`` with an ``INCOMPLETE`` note, so a half-written replay never looks like a
    finished one. An ``<out>`` or ``<out>.partial`` holding anything but a replay's own output is
    refused, never deleted."""

    def __init__(self, out: Path) -> None:
        self.final = out
        self.path = out.with_name(out.name + ".partial")

    def __enter__(self) -> Path:
        for folder, mark in ((self.final, REPORT_JSON), (self.path, INCOMPLETE)):
            if folder.exists() and not (folder / mark).is_file() and (
                    not folder.is_dir() or any(folder.iterdir())):
                raise ValueError(f"{folder} exists and is not a replay's (no {mark}): give another --out; a "
                                 "replay replaces only its own output")
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        (self.path / INCOMPLETE).write_text("replay running, or stopped before it finished\n")
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            (self.path / INCOMPLETE).write_text(f"replay failed: {type(exc).__name__}: {exc}\n")
            return
        (self.path / INCOMPLETE).unlink()
        if self.final.exists():
            shutil.rmtree(self.final)
        self.path.rename(self.final)
