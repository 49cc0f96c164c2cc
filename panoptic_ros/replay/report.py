"""The replay report: latency, throughput, segments, classes and (with ground truth) PQ.

One ``ReplayRecorder`` per camera collects per-frame facts from either replay mode; ``finish`` turns
them into that camera's report, ``combined_report`` into the replay's (with several cameras: totals,
and each camera's own), and ``markdown`` renders it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from panoptic_ros.categories import CategoryTable
from panoptic_ros.message_kind import message_kind
from panoptic_ros.eval.model_eval import panoptic_to_segments, semantic_from_panoptic
from panoptic_ros.eval.miou import IoUAccumulator, format_iou_table
from panoptic_ros.eval.pq import PQAccumulator, format_table
from panoptic_ros.latency import latency_percentiles
from panoptic_ros.replay.ground_truth import GroundTruthFrame
from panoptic_ros.replay.output import REPORT_JSON, REPORT_MD
from panoptic_ros.structures import COCO_ID_OFFSET



@dataclasses.dataclass
class ReplayRecorder:
    """Every input frame ends as processed, bad (unusable input), failed (inference raised) or, live,
    dropped (the node skipped it for a newer one, or it was lost on the way); ground truth that cannot
    be scored is skipped with its reason, never silently."""

    categories: CategoryTable
    frames_in: int = 0
    bad_frames: int = 0
    failed_frames: int = 0
    processed: int = 0
    latencies: list[float] = dataclasses.field(default_factory=list)      # seconds per frame
    segments_per_frame: list[int] = dataclasses.field(default_factory=list)
    class_segments: dict[int, int] = dataclasses.field(default_factory=dict)
    class_pixels: dict[int, int] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)  # said after the bad-frame reasons (live: where)
    failure_notes: list[str] = dataclasses.field(default_factory=list)  # said after the inference errors
    gt_skipped: list[str] = dataclasses.field(default_factory=list)        # "stamp: reason" per skipped frame
    gt_matched: set[int] = dataclasses.field(default_factory=set)          # ground-truth stamps scored
    seconds: float = 0.0  # wall-clock time the throughput is measured over (offline: reading the first frame
    # to writing the last output; live: publishing its first frame to its last output's arrival)
    latency_name: str = "latency_ms"  # live replays measure end to end: "e2e_latency_ms"

    def __post_init__(self) -> None:
        self.pq = PQAccumulator(self.categories)
        self.iou = IoUAccumulator(self.categories)
        self.gt_frames = 0
        # message kind -> [its first message, frames of that kind]: a reason per kind, not per frame
        self._bad_reasons: dict[str, list[Any]] = {}
        self._failures: dict[str, list[Any]] = {}

    def add_result(self, category_ids: list[int], areas: list[int], latency: float | None) -> None:
        """Count a processed frame: its segments' categories and areas, and its latency (seconds; None
        where the frame's own latency is not known)."""
        self.processed += 1
        if latency is not None:
            self.latencies.append(latency)
        self.segments_per_frame.append(len(category_ids))
        for c, a in zip(category_ids, areas):
            self.class_segments[c] = self.class_segments.get(c, 0) + 1
            self.class_pixels[c] = self.class_pixels.get(c, 0) + a

    def add_ground_truth(self, stamp: int, truth: GroundTruthFrame, pred_panoptic: np.ndarray) -> None:
        """Score one frame against its ground truth; one that cannot be (another size), or a second
        frame of the camera with the same stamp (a driver without a clock: the label image is the
        first one's), is skipped."""
        if stamp in self.gt_matched:
            self.gt_skipped.append(f"{stamp}: another frame has this stamp and was scored against its ground truth "
                                   "(a label image pairs with one frame)")
            return
        if truth.labels.shape != pred_panoptic.shape:
            self.gt_skipped.append(f"{stamp}: ground truth {truth.labels.shape} and frame {pred_panoptic.shape} "
                                   "differ in size")
            return
        truth_panoptic = truth.panoptic
        gt, gt_cats = panoptic_to_segments(truth_panoptic)
        pred, pred_cats = panoptic_to_segments(pred_panoptic)
        crowd = {value + COCO_ID_OFFSET for value in truth.crowd}  # panoptic_to_segments' ids
        self.pq.add(gt, gt_cats, crowd, pred, pred_cats)
        self.iou.add(semantic_from_panoptic(truth_panoptic), semantic_from_panoptic(pred_panoptic))
        self.gt_frames += 1
        self.gt_matched.add(stamp)

    def add_figures(self, other: "ReplayRecorder") -> None:
        """Add ``other``'s processed frames: latencies, segments, classes and scores (not its counts
        of input frames or their reasons, which a rig reports by camera)."""
        self.latencies += other.latencies
        self.segments_per_frame += other.segments_per_frame
        for c, n in other.class_segments.items():
            self.class_segments[c] = self.class_segments.get(c, 0) + n
            self.class_pixels[c] = self.class_pixels.get(c, 0) + other.class_pixels[c]
        self.pq.merge(other.pq)
        self.iou.merge(other.iou)
        self.gt_frames += other.gt_frames

    def bad(self, message: str, timestamp: int | None = None) -> None:
        """Count an unusable input frame. Reasons are kept by kind (``message_kind``: a flaky camera's
        corrupt JPEGs of a thousand sizes are one reason, not a thousand): the first message of a kind
        with its frame's bag time (``timestamp``, ns), so it can be found in a long bag (``ros2 bag play
        --start-offset``), and how many frames it stands for."""
        self.bad_frames += 1
        where = ""
        if timestamp is not None:
            seconds, nanoseconds = divmod(timestamp, 1_000_000_000)
            where = f" (first at bag time {seconds}.{nanoseconds:09d} s)"
        _count(self._bad_reasons, message + where, message)

    def failed(self, message: str) -> None:
        """Count a frame whose inference failed, its reason kept by kind as ``bad`` keeps them."""
        self.failed_frames += 1
        _count(self._failures, message, message)

    @property
    def errors(self) -> list[str]:
        """The bad-frame reasons, one per kind, each with its count where it stands for several frames,
        then the ``notes``."""
        return _counted(self._bad_reasons) + self.notes

    @property
    def failures(self) -> list[str]:
        """The inference errors, one per kind, as ``errors``, then the ``failure_notes``."""
        return _counted(self._failures) + self.failure_notes

    def finish(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The report's dictionary from what was counted, with ``extra`` (the mode's own fields) merged in."""
        names = {c.id: c.name for c in self.categories.categories}
        spf = self.segments_per_frame
        report: dict[str, Any] = {
            **extra,
            "frames": self.frames_in, "processed": self.processed, "bad_frames": self.bad_frames,
            "bad_frame_errors": self.errors, "failed_frames": self.failed_frames, "failures": self.failures,
            "ground_truth_matched": len(self.gt_matched),
            self.latency_name: latency_percentiles(self.latencies),
            "fps": self.processed / self.seconds if self.seconds > 0 else 0.0,
            "segments_per_frame": {"mean": float(np.mean(spf)), "min": int(min(spf)), "max": int(max(spf))}
            if spf else {},
            "class_histogram": {names.get(c, str(c)): {"segments": n, "pixels": self.class_pixels[c]}
                                for c, n in sorted(self.class_segments.items())},
        }
        if self.gt_skipped:
            report["ground_truth_skipped"] = {"frames": len(self.gt_skipped), "first": self.gt_skipped[:10]}
        if self.gt_frames:
            semantic = self.iou.summary()
            report["pq"] = self.pq.summary() | {"frames": self.gt_frames, "miou": semantic["miou"],
                                                "miou_per_class": semantic["per_class"],
                                                "confusion": semantic["confusion"]}
        return report


# a report's counts, which a replay of several cameras adds up over them (the last three: live only)
COUNTS = ("frames", "processed", "bad_frames", "failed_frames", "dropped", "restamped_frames", "stray_outputs")
ERRORS = ("bad_frame_errors", "failures")  # a report's reasons, which the top level of several gives by camera


def rig_figures(recorders: list[ReplayRecorder]) -> dict[str, Any]:
    """What the cameras' recorders say of all their frames together, as one camera's report words it:
    latency percentiles over every frame, segments per frame, classes, and PQ and mIoU over every
    frame with ground truth (a camera rig's; the counts and throughput are added up elsewhere)."""
    rig = ReplayRecorder(recorders[0].categories, latency_name=recorders[0].latency_name)
    for recorder in recorders:
        rig.add_figures(recorder)
    figures = rig.finish({})
    return {key: figures[key] for key in (rig.latency_name, "segments_per_frame", "class_histogram", "pq")
            if key in figures}


def combined_report(common: dict[str, Any], cameras: list[dict[str, Any]], recorders: list[ReplayRecorder],
                    outputs: dict[str, str], seconds: float, inference_seconds: float = 0.0) -> dict[str, Any]:
    """The replay's report from its cameras' (``CameraRun.finish``).

    Args:
        common: what holds for the whole replay (bag, mode, model, settings).
        cameras: each camera's report, its preview files as its ``outputs``.
        recorders: the cameras' recorders, in the same order, for the figures of all their frames.
        outputs: the replay's own files (output bag, report).
        seconds: the replay's wall-clock time, for the throughput over all cameras.
        inference_seconds: offline, the predictor's time over all batches (input resize, network, head,
            result maps; 0: not measured), for ``inference_fps``: a batch holds several cameras'
            frames, so it is a figure of the whole replay, not of each camera.

    Returns:
        With one camera, its report as the replay's, its previews among the outputs; with several,
        the counts added up (and the ground-truth frames met), the reasons for bad and failed frames
        by camera, the figures of all their frames together (``rig_figures``: the rig's latency,
        classes, PQ), and each camera's report under ``cameras`` by its name. The throughput is over
        all cameras either way.
    """
    processed = sum(camera["processed"] for camera in cameras)
    throughput = {"fps": processed / seconds if seconds > 0 else 0.0,
                  **({"inference_fps": processed / inference_seconds} if inference_seconds > 0 else {})}
    if len(cameras) == 1:
        camera = cameras[0]
        return common | camera | throughput | {"outputs": outputs | camera["outputs"]}
    totals = {key: sum(camera[key] for camera in cameras) for key in COUNTS if key in cameras[0]}
    errors = {key: [f"camera {camera['camera']}: {e}" for camera in cameras for e in camera[key]] for key in ERRORS}
    truths = [camera["ground_truth"] for camera in cameras if "ground_truth" in camera]
    ground_truth = {"ground_truth": {key: sum(t[key] for t in truths) for key in ("frames", "matched")}} \
        if truths else {}
    return common | totals | errors | ground_truth | throughput | rig_figures(recorders) | {
        "cameras": {camera["camera"]: camera for camera in cameras}, "outputs": outputs}


# what the network ran with besides model, device and mask cues, as the replay's report names it
SETTINGS = ("head", "precision", "score_threshold", "inference_size", "input_bits", "batch", "rate")


def _count(reasons: dict[str, list[Any]], text: str, message: str) -> None:
    """Count ``message`` under its kind in ``reasons``, keeping ``text`` where the kind is new."""
    kind = message_kind(message)
    if kind not in reasons:
        reasons[kind] = [text, 0]
    reasons[kind][1] += 1


def _counted(reasons: dict[str, list[Any]]) -> list[str]:
    """One line per kind: its first message, with how many frames it stands for where they are several."""
    return [text if n == 1 else f"{text}; {n} frames of this kind" for text, n in reasons.values()]


def markdown(report: dict[str, Any]) -> str:
    """The report's figures as a short Markdown page: settings, throughput, latency, drops, PQ; with
    several cameras, those of all their frames, then a section per camera."""
    lines = [f"# Replay report: {report.get('bag', '')}", "",
             f"- mode: {report.get('mode')}, model: {report.get('model')}, device: {report.get('device')}, "
             f"mask cues: {report.get('mask_cues')}"
             + "".join(f", {key.replace('_', ' ')}: {report[key]}" for key in SETTINGS if key in report)]
    if report.get("bag_error"):
        lines.append(f"- **the bag is damaged**: {report['bag_error']}")
    if late := report.get("publish_late_ms"):
        lines.append(f"- frames published late against the bag's pace (the replay's own work, not the node's): "
                     f"p50 {late['p50']:.1f} ms, p90 {late['p90']:.1f} ms, max {late['max']:.1f} ms")
    batch = report.get("batch", 1)
    if "cameras" not in report:
        return "\n".join(lines + _camera_lines(report, batch, "##")) + "\n"
    cameras = ", ".join(f"{name} ({camera['topic']})" for name, camera in report["cameras"].items())
    rig = {key: value for key, value in report.items() if key not in ERRORS}  # told in the cameras' sections
    lines += [f"- cameras: {cameras}", *_camera_lines(rig, batch, "## All cameras:")]
    for name, camera in report["cameras"].items():
        lines += ["", f"## Camera {name} ({camera['topic']})", ""] + _camera_lines(camera, batch, "###")
    return "\n".join(lines) + "\n"


def _camera_lines(report: dict[str, Any], batch: int, heading: str) -> list[str]:
    """One camera's figures (or all cameras'): counts, throughput, latency, segments, errors,
    classes, PQ (under ``heading``)."""
    lines = [f"- frames: {report['frames']}, processed: {report['processed']}, bad: {report['bad_frames']}, "
             f"failed: {report['failed_frames']}" + (f", dropped: {report['dropped']}" if "dropped" in report else ""),
             f"- throughput: {report['fps']:.2f} frames/s"
             + (f" ({report['inference_fps']:.2f} frames/s in inference alone)" if "inference_fps" in report else "")]
    for key, title in (("latency_ms", f"inference latency (each frame: its batch of up to {batch})" if batch > 1
                        else "inference latency"), ("e2e_latency_ms", "end-to-end latency (publish to output)")):
        lat = report.get(key)
        if lat:
            lines.append(f"- {title}: p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                         f"max {lat['max']:.1f} ms")
    if report.get("segments_per_frame"):
        s = report["segments_per_frame"]
        lines.append(f"- segments per frame: mean {s['mean']:.1f} (min {s['min']}, max {s['max']})")
    for err in report.get("bad_frame_errors", []):
        lines.append(f"- bad frame: {err}")
    for err in report.get("failures", []):
        lines.append(f"- failed frame: {err}")
    if report.get("ground_truth", {}).get("error"):
        lines.append(f"- ground truth: {report['ground_truth']['error']}")
    for err in report.get("ground_truth_skipped", {}).get("first", []):
        lines.append(f"- ground truth not scored: {err}")
    lines += ["", "| class | segments | pixels |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['segments']} | {v['pixels']} |" for k, v in report["class_histogram"].items()]
    if "pq" in report:
        lines += ["", f"{heading} Panoptic quality ({report['pq']['frames']} frames with ground truth)", "",
                  f"Semantic mIoU: {100 * report['pq']['miou']:.2f}", "", "```", format_table(report["pq"]), "",
                  format_iou_table(report["pq"]["miou_per_class"], report["pq"]["confusion"]), "```"]
    return lines


def write_report(out_dir: Path, report: dict[str, Any]) -> None:
    """The report as JSON (for scripts) and Markdown (for people) in ``out_dir``."""
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2))
    (out_dir / REPORT_MD).write_text(markdown(report))
