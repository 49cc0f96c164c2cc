"""Live replay: the bag's images go over DDS at their recorded rate to the real ``panoptic_node``,
whose outputs are recorded, so the node itself is measured: end-to-end latency from publishing a
frame to its output arriving, and how many frames it dropped.

Frames stream from the bag and each output is written to the output bag as it arrives, so memory
does not grow with the bag's length (but for the stamps published, a few bytes a frame). Outputs are
paired with their frame by header stamp; frames that share a stamp (a driver without a clock stamps
zeros) are published with unique stamps, one nanosecond apart, and the output bag gets the original
stamps back.
"""
from __future__ import annotations

import dataclasses
import queue
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from diagnostic_msgs.msg import DiagnosticArray
from panoptic_msgs.msg import PanopticInfo
from sensor_msgs.msg import CompressedImage, Image
from tqdm import tqdm

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.replay.bag_io import (
    DEFAULT_STORAGE, BagWriter, Frame, label_image, recorded_qos, rgb_image, stamp_ns,
)
from panoptic_ros.replay.ground_truth import GroundTruthFrame, PackedLabels
from panoptic_ros.replay.output import OUTPUT_BAG
from panoptic_ros.replay.preview import PreviewWriter
from panoptic_ros.replay.report import ReplayRecorder
from panoptic_ros.ros.diagnostics import camera_status_name, status_name
from panoptic_ros.ros.qos import camera_publisher_qos, diagnostics_qos, latched_qos, output_qos
from panoptic_ros.ros.spinning_node import SpinningNode
from panoptic_ros.ros.topics import (
    CATEGORIES, DIAGNOSTICS, OUTPUTS, OVERLAY, PANOPTIC, SEGMENTS, camera_output_topic, node_name, node_topic,
)

# the node's counters of frames it took in but did not answer (``ros/diagnostics.py``)
UNANSWERED = ("bad_frames", "errors", "frames_dropped", "frames_lost")
ANSWER_GRACE = 2.0  # seconds an answer the node has counted may take to arrive


class LiveSession:
    """Publishes camera frames and queues the node's outputs with their arrival times. ``namespace``
    and ``camera``: the node's namespace and which of its ``cameras`` the frames are for (its outputs
    are then ``~/<camera>/...``, and its frame counters that camera's); ``best_effort``: publish as a
    driver on the sensor-data profile does."""

    def __init__(self, topic: str, compressed: bool, ros_env: dict[str, str], namespace: str = "",
                 camera: str = "", best_effort: bool = False) -> None:
        self.spinning = SpinningNode("panoptic_replay", ros_env)
        self.node = self.spinning.node
        self.pub = self.node.create_publisher(CompressedImage if compressed else Image, topic,
                                              camera_publisher_qos(best_effort))
        node = node_name(namespace)
        self.status_name = status_name(node)  # the node's entry in /diagnostics
        self.counter_status = camera_status_name(node, camera) if camera else self.status_name
        self.output_topics = {name: camera_output_topic(name, camera, namespace) for name in OUTPUTS}
        self.categories_topic = node_topic(CATEGORIES, namespace)
        self.outputs: queue.SimpleQueue[tuple[str, float, Any]] = queue.SimpleQueue()  # (topic, arrival, msg)
        self.info: PanopticInfo | None = None
        self.diagnostics: tuple[float, dict[str, str]] | None = None  # (arrival, the node's key-values)
        self.camera_counters: dict[str, str] = {}  # the named camera's key-values, in the same message
        for name, cls in OUTPUTS.items():
            self.node.create_subscription(cls, self.output_topics[name], self._record(name), output_qos(depth=100))
        self.node.create_subscription(PanopticInfo, self.categories_topic, self._on_info, latched_qos())
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diagnostics, diagnostics_qos())
        self.spinning.start()

    def _record(self, name: str) -> Callable[[Any], None]:
        def callback(msg: Any) -> None:
            self.outputs.put((name, time.monotonic(), msg))
        return callback

    def _on_info(self, msg: PanopticInfo) -> None:
        self.info = msg

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        statuses = {status.name: {kv.key: kv.value for kv in status.values} for status in msg.status}
        if self.status_name in statuses and self.counter_status in statuses:
            self.camera_counters = statuses[self.counter_status]
            self.diagnostics = (time.monotonic(), statuses[self.status_name])

    def counters(self) -> dict[str, int]:
        """The frame counters (the named camera's, else the node's) in its newest diagnostics (none yet: {})."""
        return {k: int(v) for k, v in self.camera_counters.items() if v.isdigit()}

    def wait_ready(self, timeout: float, alive: Callable[[], bool], counters: bool = False) -> None:
        """Until the node subscribes and has sent its categories (and with ``counters``, its first
        diagnostics: a node that ran before the replay has counted frames that are not the replay's).

        Raises:
            RuntimeError: the node exited, or ``timeout`` passed; it names what never came.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._missing(counters):
                return
            if not alive():
                raise RuntimeError("panoptic_node exited before it was ready")
            time.sleep(0.1)
        raise RuntimeError(f"panoptic_node was not ready within {timeout:.0f} s: {'; '.join(self._missing(counters))}")

    def _missing(self, counters: bool) -> list[str]:
        """What the node has not shown yet, each with where it was looked for."""
        missing = []
        if self.pub.get_subscription_count() == 0:
            missing.append(f"nothing subscribes to {self.pub.topic_name}")
        if self.info is None:
            missing.append(f"no categories on {self.categories_topic} (a node in another namespace: --namespace)")
        if counters and self.diagnostics is None:
            missing.append(f"no status {self.counter_status!r} on {DIAGNOSTICS} (another camera name: --camera)")
        return missing

    def categories(self) -> CategoryTable:
        """The node's category table, from the ``~/categories`` message it latched (colours 0-255)."""
        assert self.info is not None
        return CategoryTable(tuple(Category(c.id, c.name, c.is_thing,
                                            (round(c.color.r * 255), round(c.color.g * 255), round(c.color.b * 255)))
                                   for c in self.info.categories))

    def close(self) -> None:
        self.spinning.close()


@dataclasses.dataclass
class _Sent:
    timestamp: int   # bag receive time: the outputs' time in the output bag
    stamp: int       # the frame's own header stamp, given back to its outputs
    published: float
    answered: set[str] = dataclasses.field(default_factory=set)


def unique_key(stamp: int, used: set[int]) -> int:
    """``stamp``, or the next nanosecond no frame of this replay has been published with."""
    while stamp in used:
        stamp += 1
    used.add(stamp)
    return stamp


class _OutputRecorder:
    """Writes each output to the bag as it arrives, restamped as its frame, and records what it says.

    A frame's entry in ``sent`` goes once its four outputs are in, so what is held does not grow with
    the bag; panoptic images of frames with ground truth are kept, packed, to be scored after the run
    (scoring a camera-sized frame takes a good part of a frame period, which between publishes would
    delay them; packing takes about 1 ms at 480x360, 13 ms at 1920x1080).
    """

    def __init__(self, bag: BagWriter, topics: dict[str, str], recorder: ReplayRecorder, preview: PreviewWriter,
                 ground_truth: dict[int, GroundTruthFrame]) -> None:
        self.bag, self.topics, self.recorder, self.preview = bag, topics, recorder, preview
        self.ground_truth = ground_truth
        self.sent: dict[int, _Sent] = {}
        self.to_score: list[tuple[int, PackedLabels]] = []  # (stamp, panoptic image) of frames with ground truth
        self.last_arrival = 0.0
        self.strays = 0  # outputs of no frame of this replay, or a second one of a frame

    def take(self, name: str, arrival: float, msg: Any) -> None:
        key = stamp_ns(msg)
        sent = self.sent.get(key)
        if sent is None or name in sent.answered:
            self.strays += 1
            return
        sent.answered.add(name)
        if len(sent.answered) == len(OUTPUTS):
            del self.sent[key]
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(sent.stamp, 1_000_000_000)
        self.bag.write(self.topics[name], msg, sent.timestamp)
        if name == SEGMENTS:
            self.recorder.add_result([s.category_id for s in msg.segments], [s.area for s in msg.segments],
                                     arrival - sent.published)
            self.last_arrival = arrival
        elif name == OVERLAY:
            self.preview.add(rgb_image(msg), sent.timestamp)
        elif name == PANOPTIC and sent.stamp in self.ground_truth:
            self.to_score.append((sent.stamp, PackedLabels.pack(label_image(msg))))

    def waiting_for_overlay(self) -> bool:
        """Whether a frame answered on ``~/segments`` still lacks its overlay."""
        return any(SEGMENTS in s.answered and OVERLAY not in s.answered for s in self.sent.values())

    def drain(self, session: LiveSession, until: float, alive: Callable[[], bool]) -> None:
        """Take the outputs that arrive until ``until`` (monotonic seconds); at least those queued now.

        Raises:
            RuntimeError: the node exited (checked every 50 ms, so a long gap in the bag is no hang).
        """
        while True:
            try:
                self.take(*session.outputs.get(timeout=max(0.0, min(0.05, until - time.monotonic()))))
            except queue.Empty:
                if time.monotonic() >= until:
                    return
                if not alive():
                    raise RuntimeError("panoptic_node exited during the replay") from None

    def score(self) -> None:
        for stamp, panoptic in self.to_score:
            self.recorder.add_ground_truth(stamp, self.ground_truth[stamp], panoptic.unpack())


def _unanswered(counters: dict[str, int], baseline: dict[str, int]) -> int:
    return sum(counters.get(k, 0) - baseline.get(k, 0) for k in UNANSWERED)


def replay_live(frames: Iterable[Frame], total: int | None, session: LiveSession, out_dir: Path,
                ground_truth: dict[int, GroundTruthFrame], rate: float, settle: float, alive: Callable[[], bool],
                storage: str = DEFAULT_STORAGE, progress: bool = True, preview_fps: float | None = None
                ) -> tuple[ReplayRecorder, dict[str, Any]]:
    """Publish ``frames`` at ``rate`` times their recorded pace and record the node's answers.

    The wait after the last frame ends once the node's counters account for every frame (answered,
    or bad, failed, dropped, lost) and every answer they count has arrived (or ``ANSWER_GRACE`` later,
    for answers sent where this replay does not listen), when the node exits, or after ``settle``
    seconds; the report's node counters are then at least as new as the last answer.

    Returns:
        The recorder, and the report's live-only fields: frames dropped, frames restamped, and the
        node's own diagnostics at the end.
    """
    recorder = ReplayRecorder(session.categories(), latency_name="e2e_latency_ms")
    preview = PreviewWriter(out_dir, fps=preview_fps, speed=rate)
    baseline = session.counters()
    used: set[int] = set()
    restamped = published = 0
    with BagWriter(out_dir / OUTPUT_BAG, storage) as bag:
        out = _OutputRecorder(bag, session.output_topics, recorder, preview, ground_truth)
        start = t0_bag = None
        for frame in tqdm(frames, total=total, unit="frame", disable=not progress, desc="publish"):
            recorder.frames_in += 1
            if frame.msg is None:
                recorder.bad(frame.error, frame.timestamp)
                continue
            if start is None:
                start, t0_bag = time.monotonic(), frame.timestamp
                bag.write(session.categories_topic, session.info, frame.timestamp, qos=recorded_qos(latched_qos()))
            out.drain(session, start + (frame.timestamp - t0_bag) / 1e9 / rate, alive)
            stamp = frame.stamp_ns
            key = unique_key(stamp, used)
            if key != stamp:
                if not restamped:
                    print(f"panoptic-replay: frames share header stamp {stamp}; each is published with a unique "
                          "stamp (1 ns apart) and the output bag keeps the originals", file=sys.stderr)
                restamped += 1
                frame.msg.header.stamp.sec, frame.msg.header.stamp.nanosec = divmod(key, 1_000_000_000)
            out.sent[key] = _Sent(frame.timestamp, stamp, time.monotonic())
            session.pub.publish(frame.msg)
            published += 1
        last_publish = time.monotonic()
        deadline = last_publish + settle
        accounted_since = None  # when the node's counters first accounted for every frame
        while time.monotonic() < deadline and alive():
            out.drain(session, time.monotonic() + 0.1, lambda: True)
            if session.diagnostics is None or session.diagnostics[0] <= last_publish:
                continue  # no counters yet that can have seen the last frame
            counters = session.counters()
            answered = counters.get("frames_processed", 0) - baseline.get("frames_processed", 0)
            if answered + _unanswered(counters, baseline) < published:
                continue
            if answered <= recorder.processed and not out.waiting_for_overlay():
                break  # every answer the node counted has arrived, and the counters have seen them all
            accounted_since = accounted_since or time.monotonic()
            if time.monotonic() - accounted_since > ANSWER_GRACE:
                break  # answers the node sent but this replay does not hear (other topics: --camera?)
        out.drain(session, time.monotonic() + 0.5, lambda: True)  # let in-flight messages of other topics land
    out.score()
    preview.close()
    if start is not None and out.last_arrival > start:
        recorder.seconds = out.last_arrival - start
    counters = session.counters()
    node_bad = counters.get("bad_frames", 0) - baseline.get("bad_frames", 0)
    node_failed = counters.get("errors", 0) - baseline.get("errors", 0)
    recorder.bad_frames += node_bad  # besides the messages that could not be read from the bag
    recorder.failed_frames += node_failed
    if node_bad or node_failed:
        recorder.errors.append("the node's log (node.log when the replay started it) says why")
    dropped = published - recorder.processed - node_bad - node_failed  # below 0: the counters disagree
    node_diag = session.diagnostics[1] if session.diagnostics else {}
    return recorder, {"dropped": dropped, "restamped_frames": restamped, "stray_outputs": out.strays,
                      "node_diagnostics": node_diag}
