"""An output folder that only gets its real name once everything in it is written."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType


class StagedOutput:
    """Work in ``<out>.partial``; on success it replaces ``<out>``, on failure it stays ``.partial``
    with an ``INCOMPLETE`` note, so a half-written replay never looks like a finished one. An ``<out>``
    that holds anything but an earlier replay's output is refused, never deleted."""

    def __init__(self, out: Path) -> None:
        self.final = out
        self.path = out.with_name(out.name + ".partial")

    def __enter__(self) -> Path:
        if self.final.exists() and not (self.final / "report.json").is_file() and (
                not self.final.is_dir() or any(self.final.iterdir())):
            raise ValueError(f"{self.final} exists and is not the output of a replay (no report.json): "
                             "give another --out; a replay replaces only a replay's output")
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            (self.path / "INCOMPLETE").write_text(f"replay failed: {type(exc).__name__}: {exc}\n")
            return
        if self.final.exists():
            shutil.rmtree(self.final)
        self.path.rename(self.final)
