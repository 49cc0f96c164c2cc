"""The cameras of one replay: which topic of the bag feeds which of the node's cameras, what each is
scored against, and where each one's figures and preview go while the replay runs.

A bag from a car holds several cameras; the node runs them through one network (its ``cameras``
parameter), so a replay plays them together, each camera with its own counts, latencies, ground
truth and preview, and all of their outputs in one output bag, named as the node names them.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.replay.bag_io import TopicSummary
from panoptic_ros.replay.ground_truth import GroundTruthFrame
from panoptic_ros.inference.video import DEFAULT_VIDEO_FORMAT, PreviewWriter
from panoptic_ros.replay.output import PREVIEW_KEYS, preview_names
from panoptic_ros.replay.report import ReplayRecorder


@dataclasses.dataclass(frozen=True)
class ReplayCamera:
    """One camera topic of the bag and what goes with it."""

    topic: str                                 # its topic in the bag
    name: str                                  # the node's name for it ("": a one-camera node's unnamed camera)
    summary: TopicSummary                      # what the bag's metadata says of the topic
    ground_truth: dict[int, GroundTruthFrame]  # by header stamp (ns); {} without ground truth
    declared: tuple[Category, ...]             # the categories its ground truth declares by name
    preview: tuple[str, str]                   # its preview's video and strip file names (``preview_names``)

    @property
    def label(self) -> str:
        """How reports and messages name it: its camera name, else its topic."""
        return self.name or self.topic


def replay_cameras(topics: list[str], names: list[str], summaries: list[TopicSummary],
                   ground_truth: list[tuple[dict[int, GroundTruthFrame], tuple[Category, ...]]],
                   preview_format: str = DEFAULT_VIDEO_FORMAT) -> list[ReplayCamera]:
    """The replay's cameras from the per-camera lists the command line gives (``names`` and
    ``ground_truth`` empty, or one per topic), their preview videos in ``preview_format``."""
    several = len(topics) > 1
    names = names or [""] * len(topics)
    ground_truth = ground_truth or [({}, ())] * len(topics)
    return [ReplayCamera(topic, name, summary, gt, declared, preview_names(name, several, preview_format))
            for topic, name, summary, (gt, declared) in zip(topics, names, summaries, ground_truth)]


@dataclasses.dataclass
class CameraRun:
    """A camera while the replay runs: its counts and figures, and its preview being written."""

    camera: ReplayCamera
    recorder: ReplayRecorder
    preview: PreviewWriter

    def finish(self, out_dir: Path, reported_dir: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """The camera's report: its topic and name, its figures, ``extra``, and as its ``outputs`` its
        preview files (those written in ``out_dir`` and readable, by their paths in ``reported_dir``,
        where the replay's output ends up)."""
        written = self.preview.close()
        previews = {key: str(reported_dir / name) for key, name in zip(PREVIEW_KEYS, self.camera.preview)
                    if out_dir / name in written}
        named = {"camera": self.camera.name} if self.camera.name else {}
        return self.recorder.finish({"topic": self.camera.topic, **named, **extra}) | {"outputs": previews}


@contextlib.contextmanager
def camera_runs(cameras: list[ReplayCamera], categories: CategoryTable, out_dir: Path, speed: float = 1.0,
                latency_name: str = "latency_ms") -> Iterator[list[CameraRun]]:
    """The cameras' runs, their previews being written to ``out_dir`` (at ``speed``, the replay's pace
    against the bag's: live ``--rate``); should the replay fail, the previews are closed, so what
    was written is a playable video and no encoder is left behind."""
    runs = [CameraRun(camera, ReplayRecorder(categories, latency_name=latency_name),
                      PreviewWriter(out_dir, camera.preview, camera.summary.rate, speed)) for camera in cameras]
    try:
        yield runs
    except BaseException:
        for run in runs:
            run.preview.close()
        raise
