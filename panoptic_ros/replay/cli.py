"""``panoptic-replay`` (also ``ros2 run panoptic_ros replay``): judge the model on a rosbag2.

    panoptic-replay BAG --topic /camera/image_raw --out out/replay [--gt-topic /camera/panoptic_gt]
    panoptic-replay BAG --live --rate 1.0 ...      # through the real panoptic_node over DDS
    panoptic-replay BAG --live --no-start-node --namespace robot1 --camera front ...  # a node already running
    panoptic-replay BAG --topic /front/image_raw --camera front --topic /left/image_raw --camera left ...

Writes OUT/output_bag (the node's output topics, stamped like the inputs), OUT/preview.mp4 (or .webm,
--preview-format), OUT/preview.png, OUT/report.json and OUT/report.md. Work happens in
OUT.partial, renamed to OUT only when everything is written. Ground truth: a label-image topic in the
~/panoptic encoding (--gt-topic), or a COCO panoptic folder whose PNGs are named by the frame's stamp in nanoseconds
(--gt-json/--gt-dir).

Several cameras (--topic and --camera repeated) are replayed together, as a node with those
cameras runs them: one output bag, a preview per camera (preview_<camera>.mp4 and .png), and a report
of the whole rig's figures with a section per camera; ground truth is given per camera ('' for one
without).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from panoptic_ros.categories import Category
from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.model.checkpoint import CheckpointError
from panoptic_ros.memory import keep_frame_buffers
from panoptic_ros.arguments import (
    CTRL_C_STATUS, PREDICTOR_ARGUMENTS, add_predictor_arguments, check_predictor_arguments, given_options,
    positive_float, positive_int, predictor_from_arguments,
)
from panoptic_ros.replay.bag_io import (
    DEFAULT_STORAGE, IMAGE_TYPES, STORAGES, BagError, FrameStream, TopicSummary, topic_summaries,
)
from panoptic_ros.replay.ground_truth import (
    GroundTruthFrame, check_categories, from_coco_panoptic, from_label_topic,
)
from panoptic_ros.replay.cameras import ReplayCamera, replay_cameras
from panoptic_ros.inference.video import DEFAULT_VIDEO_FORMAT, VIDEO_FORMATS
from panoptic_ros.replay.output import NODE_LOG, OUTPUT_BAG, REPORT_JSON, StagedOutput
from panoptic_ros.replay.report import ReplayRecorder, combined_report, markdown, write_report
from panoptic_ros.ros.child_node import ChildNode
from panoptic_ros.ros.private_ros import large_frames_transport, private_ros_env
from panoptic_ros.ros.parameters import BY_NAME, CAMERA_NAME, CAMERA_NAME_RULE
from panoptic_ros.ros.topics import (COMPRESSED, DEFAULT_CAMERA, ENCODINGS, NODE_NAME, PANOPTIC, RAW, SEGMENTS,
                                    camera_topic, input_topic, node_name)
from panoptic_ros.structures import ID_DIVISOR
from sensor_msgs.msg import CompressedImage


def ground_truth(args: argparse.Namespace
                 ) -> tuple[list[tuple[dict[int, GroundTruthFrame], tuple[Category, ...]]], list[str]]:
    """Each camera's ground truth, in the order of ``--topic`` (none given: []): (stamp (ns) -> its
    frame, the categories it declares by name: a COCO JSON's; a label topic's carry ids only); and
    where a damaged bag cut a label topic short. An empty name stands for a camera without ground
    truth among cameras with it."""
    if args.gt_topic:
        read = [from_label_topic(args.bag, topic) if topic else ({}, "") for topic in args.gt_topic]
        return [(gt, ()) for gt, _ in read], [damage for _, damage in read if damage]
    if args.gt_json:
        return [from_coco_panoptic(Path(json_file), Path(folder)) if json_file else ({}, ())
                for json_file, folder in zip(args.gt_json, args.gt_dir)], []
    return [], []


def with_ground_truth_matches(report: dict[str, Any], gt: dict[int, GroundTruthFrame], label: str = ""
                              ) -> tuple[dict[str, Any], str]:
    """A camera's report with how many ground-truth frames met a frame of the bag by stamp, and an
    error when ground truth was given and none could be scored (a PQ over nothing would look like no
    PQ at all); the report says it too, and keeps the run's outputs. ``label``: the camera, where a
    replay has several."""
    matched = report.pop("ground_truth_matched")
    if not gt:
        return report, ""
    camera = f"camera {label}: " if label else ""
    error = ""
    if matched == 0:
        skipped = report.get("ground_truth_skipped", {}).get("first", [])
        error = (f"no ground-truth frame could be scored: {'; '.join(skipped[:3])}" if skipped else
                 f"none of the {len(gt)} ground-truth frames has the stamp of a processed frame of "
                 f"{report['topic']} (ground truth is paired by header stamp in nanoseconds, e.g. {min(gt)})")
    elif matched < len(gt):
        print(f"panoptic-replay: {camera}{matched} of {len(gt)} ground-truth frames met a processed frame; PQ is "
              f"over those", file=sys.stderr)
    summary = {"frames": len(gt), "matched": matched} | ({"error": error} if error else {})
    return report | {"ground_truth": summary}, camera + error if error else ""


def _node_params(args: argparse.Namespace) -> dict[str, str]:
    params = {"device": args.device, "precision": args.precision, "mask_cues": str(args.mask_cues).lower(),
              "inference_size": f"[{args.inference_size[0]},{args.inference_size[1]}]",
              "input_bits": str(args.input_bits), "publish_overlay": "true"}
    if args.score_threshold is not None:
        params["score_threshold"] = str(args.score_threshold)
    if args.model:
        params["model"] = str(args.model)
    if args.head:
        params["head"] = args.head
    return params


def camera_topic_summaries(bag: Path, topics: list[str]) -> dict[str, TopicSummary]:
    """The camera topics' summaries, checked before a model loads or a node starts for nothing.

    Raises:
        BagError: the bag cannot be read, lacks a topic (the error lists its topics), or a topic is empty.
    """
    summaries = topic_summaries(bag, topics, IMAGE_TYPES)
    for topic, summary in summaries.items():
        if summary.count == 0:
            raise BagError(f"topic {topic} of {bag} has no messages (a camera that recorded nothing: leave its "
                           "--topic out)")
    return summaries


def input_compressed(summaries: dict[str, TopicSummary]) -> bool:
    """Whether the camera topics (topic -> summary) are CompressedImage, the node's
    ``input_transport``, which is one for all of its cameras: a live replay cannot mix them.

    Raises:
        BagError: some cameras are Image and some CompressedImage.
    """
    compressed = {summary.cls is CompressedImage for summary in summaries.values()}
    if len(compressed) > 1:
        kinds = ", ".join(f"{topic} ({summary.cls.__name__})" for topic, summary in summaries.items())
        raise BagError(f"the node takes all its cameras in one transport (input_transport), and these are not: "
                       f"{kinds}; replay them offline, or live in one run per transport")
    return compressed.pop()


class ModeResult(NamedTuple):
    """What a replay mode gives ``combined_report``."""

    common: dict[str, Any]           # what holds for the whole replay: mode, model, settings
    cameras: list[dict[str, Any]]    # each camera's report
    recorders: list[ReplayRecorder]  # each camera's recorder, for the figures of all cameras
    seconds: float                   # the replay's wall-clock time
    inference_seconds: float = 0.0   # offline: the predictor's time over all batches
    unusable: tuple[str, ...] = ()   # a camera none of whose frames gave an output, and why, where others
    # did: an error, said after the report is written (the other cameras' figures stand)


def _unanswered(report: dict[str, Any], frames: FrameStream) -> bool:
    """Whether a camera's frames all went without an output: an error to report, except for a camera
    whose first frame lay past the damage of a bag read part-way (the report's ``bag_error`` says so)."""
    return report["processed"] == 0 and not (frames.error and report["frames"] == 0)


def _bag_error(frames: FrameStream) -> list[str]:
    """Where the bag stopped, if it did, for an error that it may explain."""
    return [frames.error] if frames.error else []


def _reasons(report: dict[str, Any]) -> list[str]:
    """Why a camera's frames were bad or failed, as its report keeps them."""
    return report["bad_frame_errors"] + report["failures"]


def _none_answered(args: argparse.Namespace, camera: ReplayCamera, report: dict[str, Any], outputs: str) -> str:
    """Why the node answered no frame of ``camera`` (on its output topic ``outputs``)."""
    counted = report["bad_frames"] + report["failed_frames"]
    why = ""
    if counted:
        why = f": {counted} bad or failed ({'; '.join(_reasons(report)[:3])})"
    elif args.no_start_node:
        why = (f" (is the running node {node_name(args.namespace, args.node_name)!r} with camera "
               f"{camera.name or '(unnamed)'!r}? --namespace, --node-name, --camera)")
    return f"the node answered none of the {report['frames']} frames of {camera.topic} on {outputs}{why}"


def run_live(args: argparse.Namespace, cameras: list[ReplayCamera], out: Path, frames: FrameStream) -> ModeResult:
    """Through ``panoptic_node``: one this replay starts on a DDS domain of its own (loopback), with
    the replay's cameras as its ``cameras``, both processes carrying frames through shared memory
    (``large_frames_transport``), or with ``--no-start-node`` the one running on the ambient domain
    and settings (in ``--namespace``, the frames for its cameras ``--camera``). A camera recorded
    best effort is played so to a node this replay starts, which is told to listen so, as the robot's
    node hears that driver; a running node may listen reliable, which a best-effort publisher never
    reaches, so it gets a reliable one."""
    from panoptic_ros.replay.live import LiveSession, replay_live
    compressed = input_compressed({camera.topic: camera.summary for camera in cameras})
    best_effort = frozenset() if args.no_start_node else frozenset(c.topic for c in cameras if c.summary.best_effort)
    ros_env = {} if args.no_start_node else private_ros_env() | large_frames_transport()
    with contextlib.ExitStack() as stack:  # whatever happens, the session closes, then the node stops
        node = None
        if not args.no_start_node:
            params = _node_params(args) | {"input_transport": COMPRESSED if compressed else RAW}
            if cameras[0].name:  # quoted: [on] would be a list of booleans
                params["cameras"] = "[" + ", ".join(f"'{camera.name}'" for camera in cameras) + "]"
            for topic in sorted(best_effort):  # whatever publishers the node sees on the topic when it activates
                params[f"qos_overrides.{topic}.subscription.reliability"] = "best_effort"
            remappings = {camera_topic(c.name, input_topic(compressed)): c.topic for c in cameras}
            node = stack.enter_context(ChildNode(params, out / NODE_LOG, remappings, ros_env))
        alive = node.alive if node else (lambda: True)
        session = LiveSession(cameras, compressed, ros_env, args.namespace, best_effort, args.node_name)
        stack.callback(session.close)
        try:
            session.wait_ready(args.startup_timeout, alive, counters=args.no_start_node)
            for camera in cameras:
                if camera.ground_truth:
                    check_categories(camera.ground_truth, session.categories(), camera.declared)
            runs, live_fields, diag, seconds, late = replay_live(frames, frames.expected, session, out, cameras,
                                                                 args.rate, args.settle, alive, args.storage,
                                                                 not args.quiet, node.log if node else None)
        except RuntimeError as exc:
            if node is not None and not node.alive():  # the node's own words, not only that it ended
                raise RuntimeError(f"{exc} ({node.exit_reason()})") from None
            raise
    reports = [run.finish(out, args.out, fields | {"camera_reliability": "best_effort" if run.camera.topic in
                                                   best_effort else "reliable"})
               for run, fields in zip(runs, live_fields)]
    silent = [_none_answered(args, camera, report, session.links[camera.topic].output_topics[SEGMENTS])
              for camera, report in zip(cameras, reports) if _unanswered(report, frames)]
    if len(silent) == len(cameras):  # nothing to report: a setting to fix, and an earlier OUT stays as it is
        raise RuntimeError("; ".join(silent + _bag_error(frames)))
    # head, score threshold, input bits: the node's own, from its diagnostics; the others a running node
    # keeps to itself
    bits = _number(diag.get("input_bits"))
    told = {"head": diag.get("head"), "score_threshold": _number(diag.get("score_threshold")),
            "input_bits": None if bits is None else int(bits)}
    settings = {key: value for key, value in told.items() if value is not None}  # what the node said
    if not args.no_start_node:
        settings |= {"precision": args.precision, "inference_size": list(args.inference_size)}
    common = {"mode": "live", "rate": args.rate, "publish_late_ms": late, "model": diag.get("model"),
              "device": diag.get("device"),
              "mask_cues": diag.get("mask_cues", str(args.mask_cues).lower()) == "true",  # the node's own
              **settings, "node_diagnostics": diag}
    return ModeResult(common, reports, [run.recorder for run in runs], seconds, unusable=tuple(silent))


def _number(value: str | None) -> float | None:
    """A diagnostics value as a number (None where the node did not say, or not as a number)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def run_offline(args: argparse.Namespace, cameras: list[ReplayCamera], out: Path, frames: FrameStream) -> ModeResult:
    """The replay in this process, through the node's own predictor (no DDS)."""
    from panoptic_ros.replay.offline import replay_offline
    predictor = predictor_from_arguments(args)
    for camera in cameras:
        if camera.ground_truth:
            check_categories(camera.ground_truth, predictor.categories, camera.declared)
    runs, seconds, inference_seconds = replay_offline(
        frames, frames.expected, predictor, out, args.batch, cameras, storage=args.storage, progress=not args.quiet,
        bits=args.input_bits)
    reports = [run.finish(out, args.out, {}) for run in runs]
    unused = [f"no frame of {camera.topic}{f' (camera {camera.name})' if camera.name else ''} could be used: "
              f"{'; '.join(_reasons(report))}"
              for camera, report in zip(cameras, reports) if _unanswered(report, frames)]
    if len(unused) == len(cameras):  # nothing to report, and an earlier OUT stays as it is
        raise RuntimeError("; ".join(unused + _bag_error(frames)))
    common = {"mode": "offline", "batch": args.batch, **predictor.settings(), "input_bits": args.input_bits}
    return ModeResult(common, reports, [run.recorder for run in runs], seconds, inference_seconds, tuple(unused))


def _kept(staged: StagedOutput) -> str:
    """Where a replay that stopped short left its work, for its last line ("" where it wrote none)."""
    return f"; what it wrote is in {staged.path}" if staged.entered and staged.path.exists() else ""


LIVE_ONLY = ("rate", "settle", "startup_timeout", "no_start_node")
RUNNING_NODE_ONLY = ("namespace", "node_name")
# what a node this replay starts is given; a running node has its own
NODE_SETTINGS = (*PREDICTOR_ARGUMENTS, "input_bits")


def _check_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before any work, values out of range and options that would be silently ignored."""
    given = partial(given_options, p, args)

    if not args.out.name or args.out.name == "..":
        p.error(f"--out must name a folder of the replay's own, got {str(args.out)!r}")
    args.topic = args.topic or [DEFAULT_CAMERA]
    if len(set(args.topic)) < len(args.topic):
        p.error(f"--topic names a topic twice: {' '.join(args.topic)}")
    args.camera = [] if args.camera in (None, [""]) else args.camera
    if (len(args.topic) > 1 or len(args.camera) > 1) and len(args.camera) != len(args.topic):
        p.error(f"{len(args.topic)} --topic and {len(args.camera)} --camera: a replay of several cameras names "
                "each, one --camera per --topic in the same order (the node's `cameras`), so their outputs "
                "do not collide")
    for camera in args.camera:
        if not CAMERA_NAME.fullmatch(camera):
            p.error(f"--camera {camera!r}: a camera name is {CAMERA_NAME_RULE}")
    if len(set(args.camera)) < len(args.camera):
        p.error(f"--camera names a camera twice: {' '.join(args.camera)}")
    if [bool(j) for j in args.gt_json or []] != [bool(d) for d in args.gt_dir or []]:
        p.error("--gt-json and --gt-dir go together (one of each per camera; '' for both: none for that camera)")
    if args.gt_topic and args.gt_json:
        p.error("ground truth comes from --gt-topic or from --gt-json/--gt-dir, not both")
    for flag, given_gt in (("--gt-topic", args.gt_topic), ("--gt-json", args.gt_json)):
        if given_gt and len(given_gt) != len(args.topic):
            p.error(f"{len(given_gt)} {flag} for {len(args.topic)} --topic: ground truth is one per camera, in the "
                    "order of --topic ('' for a camera without)")
    check_predictor_arguments(p, args)
    if not args.live and given(LIVE_ONLY):
        p.error(f"{given(LIVE_ONLY)}: for a live replay (--live) only")
    if args.live and given(("batch",)):
        p.error("--batch applies offline only: the node batches its cameras' newest frames itself")
    try:
        node_name(args.namespace, args.node_name)
    except ValueError as exc:
        p.error(f"--node-name: {exc}")
    if not args.no_start_node and given(RUNNING_NODE_ONLY):
        p.error(f"{given(RUNNING_NODE_ONLY)}: for a node already running (--no-start-node) only; a node this "
                "replay starts is in no namespace, with the default name")
    if args.no_start_node and given(NODE_SETTINGS):
        p.error(f"--no-start-node replays through the running node with its own settings; {given(NODE_SETTINGS)} "
                "would be ignored (set them on that node: ros2 param set, or its params file)")


def main(argv: list[str] | None = None) -> int:
    """``panoptic-replay``'s entry: 0 on success, an error line and a non-zero status otherwise."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", type=Path, help="rosbag2 folder (sqlite3 or mcap), its metadata.yaml, or a single .mcap / "
                   ".db3 file")
    p.add_argument("--topic", action="append", help=f"Image or CompressedImage topic (default: {DEFAULT_CAMERA}); "
                   "repeat it for a bag's several cameras, each with its --camera, to replay them together")
    p.add_argument("--out", type=Path, default=Path("out/replay"), help="folder for the outputs (default: "
                   "%(default)s); an earlier replay's output there is replaced, anything else refused")
    add_predictor_arguments(p)
    p.add_argument("--batch", type=positive_int, default=4, help="offline batch size")
    p.add_argument("--gt-topic", action="append", help="ground-truth label images "
                   f"({ENCODINGS[PANOPTIC]}, category*{ID_DIVISOR}"
                   "+instance); with several cameras, one per --topic, in its order, '' for a camera without (so "
                   "are --gt-json and --gt-dir)")
    p.add_argument("--gt-json", action="append", help="COCO panoptic JSON of ground truth whose PNGs (in --gt-dir) "
                   "are named by the frame's stamp in nanoseconds")
    p.add_argument("--gt-dir", action="append", help="the folder of --gt-json's PNGs")
    p.add_argument("--live", action="store_true", help="replay through panoptic_node over DDS")
    p.add_argument("--rate", type=positive_float, default=1.0, help="live: playback speed factor")
    p.add_argument("--settle", type=positive_float, default=60.0, help="live: seconds to wait for the last outputs")
    p.add_argument("--startup-timeout", type=positive_float, default=180.0,
                   help="live: seconds the node may take to load its model and subscribe")
    p.add_argument("--no-start-node", action="store_true",
                   help="live: use a panoptic_node already running (its own model and settings)")
    p.add_argument("--namespace", default="", help="--no-start-node: the running node's namespace")
    p.add_argument("--node-name", default=NODE_NAME, help="--no-start-node: the running node's name (launch's "
                   "node_name:=)")
    p.add_argument("--camera", action="append", help="the node's camera name for a --topic's frames: outputs are "
                   "~/CAMERA/... as the node publishes a named camera's; one per --topic, in its order, when there "
                   "are several (the node's `cameras`; each gets preview_CAMERA.mp4 (or .webm) and .png, a / in "
                   "its name as -); "
                   "with --no-start-node, which of the running node's cameras they are for")
    p.add_argument("--preview-format", default=DEFAULT_VIDEO_FORMAT, choices=list(VIDEO_FORMATS),
                   help="the preview video's: mp4 (MPEG-4 part 2: VLC, mpv, QuickTime; cheapest to write) or webm "
                   "(VP8: plays in web browsers too; about ten times the encoder's CPU time) (default: %(default)s)")
    p.add_argument("--storage", default=DEFAULT_STORAGE, choices=list(STORAGES), help="the output bag's storage")
    bits = BY_NAME["input_bits"]
    p.add_argument("--input-bits", type=int, default=bits.default, metavar="BITS", help=f"the node's input_bits, "
                   f"{bits.minimum:g}-{bits.maximum:g}: {bits.description}",
                   choices=range(int(bits.minimum), int(bits.maximum) + 1))
    p.add_argument("--quiet", action="store_true", help="no progress bars, no report on the terminal")
    args = p.parse_args(argv)
    _check_arguments(p, args)
    keep_frame_buffers()  # frames at camera resolution, as in the node
    staged = StagedOutput(args.out)
    try:
        summaries = camera_topic_summaries(args.bag, args.topic)
        if args.live:
            input_compressed(summaries)  # refused before ground truth is decoded
        truth, truth_damage = ground_truth(args)
        cameras = replay_cameras(args.topic, args.camera, list(summaries.values()), truth,
                                 args.preview_format)
        frames = FrameStream(args.bag, [c.topic for c in cameras], sum(c.summary.count for c in cameras))
        with staged as out:
            result = (run_live if args.live else run_offline)(args, cameras, out, frames)
            reports, gt_errors = [], []
            for camera, camera_report in zip(cameras, result.cameras):
                camera_report, error = with_ground_truth_matches(camera_report, camera.ground_truth,
                                                                 camera.label if len(cameras) > 1 else "")
                reports.append(camera_report)
                gt_errors += [error] if error else []
            written = {"bag": str(args.out / OUTPUT_BAG)} if (out / OUTPUT_BAG).exists() else {}
            damage = _bag_error(frames) + truth_damage
            damaged = {"bag_error": "; ".join(damage)} if damage else {}
            report = combined_report({"bag": str(args.bag), **damaged, **result.common}, reports, result.recorders,
                                     written | {"report": str(args.out / REPORT_JSON)}, result.seconds,
                                     result.inference_seconds)
            write_report(out, report)
    except (BagError, ImageEncodingError, CheckpointError, RuntimeError, OSError, ValueError) as exc:
        print(f"panoptic-replay: {exc}{_kept(staged)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the node and the outputs are closed on the way out
        print(f"panoptic-replay: interrupted{_kept(staged)}", file=sys.stderr)
        return CTRL_C_STATUS
    if not args.quiet:
        print(markdown(report))
    print(json.dumps({k: report[k] for k in ("frames", "processed", "fps")}))
    errors = [*result.unusable, *_bag_error(frames), *truth_damage, *gt_errors]
    if errors:  # the outputs are whole for what could be read, and the status says what was not
        print(f"panoptic-replay: {'; '.join(errors)}; the outputs are in {args.out}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
