"""What every benchmark table shares: a per-stage timer, the network's stages in order, and one frame
through them as the tools that keep the maps run it."""
from __future__ import annotations

import statistics
import time
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Iterator

import torch

from panoptic_ros.device import autocast, synchronize
from panoptic_ros.model.network import NETWORK_STAGES, PanopticNet
from panoptic_ros.model.result import build_results
from panoptic_ros.structures import Detections

POSTPROCESS = "postprocess"
STAGES = (*NETWORK_STAGES, POSTPROCESS)  # a frame: the network, then its results built


def run_stages(model: PanopticNet, images: torch.Tensor, precision: str, mask_cues: bool, head: str,
               stage: Callable[[str], AbstractContextManager[Any]]) -> Detections:
    """One frame of ``images`` through ``model`` as ``predict`` runs it, each of ``STAGES`` under
    ``stage(name)``: the network's own stage hooks, then ``POSTPROCESS``, the results with their
    full-size maps written, as tools that keep the maps write them (and as timed before the maps were
    made on first use). Returns the frame's detections."""
    with autocast(images.device, precision):
        channels, confidence, dets = model.panoptic_maps(images, mask_cues, head, stage)
        with stage(POSTPROCESS):
            for result in build_results(channels, confidence, dets, model.categories, None, mask_cues):
                result.write_maps()
    return dets


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
