"""What every benchmark table shares: a per-stage timer and the network's stages in order."""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Any, Iterator

import torch

from panoptic_ros.device import synchronize
from panoptic_ros.model.network import NETWORK_STAGES

STAGES = (*NETWORK_STAGES, "postprocess")  # a frame: the network, then its results built


class StageTimer:
    """Per-stage elapsed times: CUDA events on a GPU (no sync inside the frame), else wall clock."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.marks: list[tuple[str, Any, Any]] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
        else:
            start = time.perf_counter()
            yield
            end = time.perf_counter()
        self.marks.append((name, start, end))

    def elapsed_ms(self) -> dict[str, float]:
        """Milliseconds per stage of the frame just timed (on a GPU, waits for its events first)."""
        if self.cuda:
            synchronize(self.device)
            return {n: s.elapsed_time(e) for n, s, e in self.marks}
        return {n: (e - s) * 1000 for n, s, e in self.marks}


def medians(runs: list[dict[str, float]], stages: tuple[str, ...]) -> dict[str, float]:
    """Median per stage and of the per-run total."""
    out = {s: statistics.median(r[s] for r in runs) for s in stages}
    out["total"] = statistics.median(sum(r[s] for s in stages) for r in runs)
    return out
