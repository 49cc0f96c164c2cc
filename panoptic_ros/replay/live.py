"""Live replay: the bag's images go over DDS at their recorded rate to the real ``panoptic_node``,
whose outputs are recorded, so the node itself is measured: end-to-end latency from publishing a
frame to its output arriving, and how many frames it dropped. Several cameras are played together,
interleaved as they were recorded, to a node with as many ``cameras``, as on the robot.

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

from panoptic_ros.categories import CategoryTable
from panoptic_ros.inference.video import MAX_HOLD_SECONDS, GapCutClock
from panoptic_ros.latency import latency_percentiles
from panoptic_ros.replay.bag_io import (
    DEFAULT_STORAGE, BagWriter, Frame, label_image, recorded_qos, rgb_image, stamp_ns,
)
from panoptic_ros.replay.cameras import CameraRun, ReplayCamera, camera_runs
from panoptic_ros.replay.ground_truth import PackedLabels
from panoptic_ros.replay.output import OUTPUT_BAG
from panoptic_ros.ros.conversions import categories_from_message
from panoptic_ros.ros.diagnostics import camera_status_name, status_name
from panoptic_ros.ros.log_lines import BAD_FRAME, FAILED_FRAME, logged_reasons
from panoptic_ros.ros.qos import camera_publisher_qos, diagnostics_qos, latched_qos, output_qos
from panoptic_ros.ros.spinning_node import SpinningNode
from panoptic_ros.ros.topics import (
    CATEGORIES, DIAGNOSTICS, NODE_NAME, OUTPUTS, OVERLAY, PANOPTIC, SEGMENTS, camera_output_topic, node_name,
    node_topic,
)

# the node's counters of frames it took in but did not answer (``ros/diagnostics.py``)
UNANSWERED = ("bad_frames", "errors", "frames_dropped", "frames_lost")
ANSWER_GRACE = 2.0  # seconds an answer the node has counted may take to arrive


@dataclasses.dataclass
class _CameraLink:
    """One camera's side of the session: the publisher of its frames, the node's output topics and
    its status name in ``/diagnostics`` for it, and the counters that status last showed."""

    pub: Any
    output_topics: dict[str, str]
    counter_status: str
    counters: dict[str, str] = dataclasses.field(default_factory=dict)


class LiveSession:
    """Publishes camera frames and queues the node's outputs with their arrival times.

    ``cameras``: the replay's cameras, each published on its topic (as a driver on the sensor-data
    profile does where its topic is in ``best_effort``); ``namespace`` and ``name``: the node's. A named camera's
    outputs are the node's ``~/<camera>/...``, and its frame counters that camera's status; the
    unnamed one's are the node's own.
    """

    def __init__(self, cameras: list[ReplayCamera], compressed: bool, ros_env: dict[str, str], namespace: str = "",
                 best_effort: frozenset[str] = frozenset(), name: str = NODE_NAME) -> None:
        self.spinning = SpinningNode("panoptic_replay", ros_env)
        self.node = self.spinning.node
        node = node_name(namespace, name)
        self.status_name = status_name(node)  # the node's entry in /diagnostics
        self.camera_status_prefix = camera_status_name(node, "")  # its cameras' entries, but for their names
        self.links: dict[str, _CameraLink] = {}
        for camera in cameras:
            pub = self.node.create_publisher(CompressedImage if compressed else Image, camera.topic,
                                             camera_publisher_qos(camera.topic in best_effort))
            self.links[camera.topic] = _CameraLink(
                pub, {output: camera_output_topic(output, camera.name, namespace, name) for output in OUTPUTS},
                camera_status_name(node, camera.name) if camera.name else self.status_name)
        self.categories_topic = node_topic(CATEGORIES, namespace, name)
        # (camera topic, output name, arrival, message)
        self.outputs: queue.SimpleQueue[tuple[str, str, float, Any]] = queue.SimpleQueue()
        self.info: PanopticInfo | None = None
        self.diagnostics: tuple[float, dict[str, str]] | None = None  # (arrival, the node's key-values)
        self.statuses_seen: set[str] = set()  # the status names /diagnostics has shown
        for topic, link in self.links.items():
            for name, cls in OUTPUTS.items():
                self.node.create_subscription(cls, link.output_topics[name], self._record(topic, name),
                                              output_qos(depth=100))
        self.node.create_subscription(PanopticInfo, self.categories_topic, self._on_info, latched_qos())
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diagnostics, diagnostics_qos())
        self.spinning.start()

    def _record(self, topic: str, name: str) -> Callable[[Any], None]:
        def callback(msg: Any) -> None:
            self.outputs.put((topic, name, time.monotonic(), msg))
        return callback

    def _on_info(self, msg: PanopticInfo) -> None:
        self.info = msg

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        statuses = {status.name: {kv.key: kv.value for kv in status.values} for status in msg.status}
        self.statuses_seen |= statuses.keys()
        if self.status_name in statuses and all(link.counter_status in statuses for link in self.links.values()):
            for link in self.links.values():
                link.counters = statuses[link.counter_status]
            self.diagnostics = (time.monotonic(), statuses[self.status_name])

    def counters(self, topic: str) -> dict[str, int]:
        """The frame counters of the camera on ``topic`` (the node's, for its unnamed camera) in the
        node's newest diagnostics (none yet: {})."""
        return {k: int(v) for k, v in self.links[topic].counters.items() if v.isdigit()}

    def wait_ready(self, timeout: float, alive: Callable[[], bool], counters: bool = False) -> None:
        """Until the node subscribes to every camera and has sent its categories (and with
        ``counters``, its first diagnostics: a node that ran before the replay has counted frames
        that are not the replay's).

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
        missing = [f"nothing subscribes to {link.pub.topic_name}" for link in self.links.values()
                   if link.pub.get_subscription_count() == 0]
        if self.info is None:
            missing.append(f"no categories on {self.categories_topic} (a node of another namespace or name: "
                           "--namespace, --node-name)")
        if counters and self.diagnostics is None:
            absent = [repr(s) for s in [self.status_name, *(link.counter_status for link in self.links.values())]
                      if s not in self.statuses_seen]
            reported = sorted(s.removeprefix(self.camera_status_prefix) for s in self.statuses_seen
                              if s.startswith(self.camera_status_prefix))
            missing.append(f"no status {', '.join(dict.fromkeys(absent))} on {DIAGNOSTICS} (another camera name: "
                           f"--camera; the node reports cameras: {', '.join(reported) or 'none named'})")
        return missing

    def categories(self) -> CategoryTable:
        """The node's category table, from the ``~/categories`` message it latched (colours 0-255)."""
        assert self.info is not None
        return categories_from_message(self.info)

    def close(self) -> None:
        self.spinning.close()


@dataclasses.dataclass
class _Sent:
    timestamp: int   # bag receive time: the outputs' time in the output bag
    stamp: int       # the frame's own header stamp, given back to its outputs
    published: float
    answered: set[str] = dataclasses.field(default_factory=set)


class Pacing:
    """When each frame is due: ``rate`` times the bag's pace from the first frame on, on the preview
    video's clock (``GapCutClock``: a pause of an hour in the recording would otherwise be an hour of
    waiting)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start: float | None = None  # monotonic seconds when the first frame was due
        self.clock = GapCutClock()
        self.gaps_cut = 0

    def due(self, timestamp: int) -> tuple[float, bool]:
        """(monotonic seconds at which the frame of bag time ``timestamp`` is due (the first: now),
        whether a gap before it was cut)."""
        if self.start is None:
            self.start = time.monotonic()
        cut = self.clock.advance(timestamp)
        self.gaps_cut += cut
        return self.start + self.clock.elapsed_ns / 1e9 / self.rate, cut


STAMP_WINDOW = 10_000  # frames of a camera whose stamps stay taken: minutes, long after their outputs came


class UniqueStamps:
    """The stamps a camera's frames are published with: a frame's own, or the next nanosecond after it
    that none of the last ``window`` frames had, found without stepping through all of them (a driver
    without a clock stamps every frame 0: frame k would otherwise look at k stamps, 8 ms a frame after an
    hour at 30 Hz). Only the last ``window`` are remembered, so a long bag does not grow them: a stamp
    comes back free once its frame's outputs are long in (or the frame long dropped)."""

    def __init__(self, window: int = STAMP_WINDOW) -> None:
        self.window = window
        self.used: dict[int, None] = {}  # keys taken, oldest first
        self.next_free: dict[int, int] = {}  # per stamp shared, where its next search starts; oldest first

    def key(self, stamp: int) -> int:
        """``stamp``, or the next free nanosecond after it; taken from now on."""
        key = self.next_free.get(stamp, stamp)
        while key in self.used:
            key += 1
        _remember(self.used, key, None, self.window)
        if key != stamp:  # a stamp shared: where the next frame with it starts looking
            _remember(self.next_free, stamp, key + 1, self.window)
        return key


def _remember(recent: dict[int, Any], key: int, value: Any, window: int) -> None:
    """Set ``recent[key]`` as its newest entry, forgetting the oldest beyond ``window``."""
    recent.pop(key, None)
    recent[key] = value
    if len(recent) > window:
        del recent[next(iter(recent))]


class _CameraOutputs:
    """One camera's side of a live replay: the frames published for it, and its outputs, each written
    to the bag as it arrives, restamped as its frame, and recorded in the camera's run.

    Frames are keyed by stamp per camera (synchronised cameras share stamps). A frame's entry in
    ``sent`` goes once its four outputs are in, or, with none in, once a frame published after it is
    answered on ``~/segments`` (the node answers a camera's frames in order, and each topic delivers in
    order: it dropped that frame for a newer one), so the entries do not grow with the bag; panoptic
    images of frames with ground truth are kept, packed, to be scored after the run (scoring a
    camera-sized frame takes a good part of a frame period, which between publishes would delay
    them; packing takes about 1 ms at 480x360, 13 ms at 1920x1080).
    """

    def __init__(self, bag: BagWriter, run: CameraRun, link: _CameraLink, baseline: dict[str, int]) -> None:
        self.bag, self.run, self.link, self.baseline = bag, run, link, baseline
        self.sent: dict[int, _Sent] = {}
        self.stamps = UniqueStamps()
        self.to_score: list[tuple[int, PackedLabels]] = []  # (stamp, panoptic image) of frames with ground truth
        self.first_publish: float | None = None  # monotonic seconds
        self.last_arrival = 0.0
        self.strays = 0  # outputs of no frame of this replay, or a second one of a frame
        self.published = self.restamped = 0

    def publish(self, frame: Frame) -> None:
        """Publish ``frame`` with a stamp no earlier frame of this camera had (its own, else 1 ns on)."""
        stamp = frame.stamp_ns
        key = self.stamps.key(stamp)
        if key != stamp:
            if not self.restamped:
                print(f"panoptic-replay: {self.run.camera.label}: frames share header stamp {stamp}; each is "
                      "published with a unique stamp (1 ns apart) and the output bag keeps the originals",
                      file=sys.stderr)
            self.restamped += 1
            frame.msg.header.stamp.sec, frame.msg.header.stamp.nanosec = divmod(key, 1_000_000_000)
        now = time.monotonic()
        self.first_publish = self.first_publish or now
        self.sent[key] = _Sent(frame.timestamp, stamp, now)
        self.link.pub.publish(frame.msg)
        self.published += 1

    def take(self, name: str, arrival: float, msg: Any) -> None:
        key = stamp_ns(msg)
        sent = self.sent.get(key)
        if sent is None or name in sent.answered:
            self.strays += 1
            return
        sent.answered.add(name)
        if name == SEGMENTS:
            self._forget_dropped_before(key)  # while ``key`` is still there to stop at
        if len(sent.answered) == len(OUTPUTS):
            del self.sent[key]
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(sent.stamp, 1_000_000_000)
        self.bag.write(self.link.output_topics[name], msg, sent.timestamp)
        recorder = self.run.recorder
        if name == SEGMENTS:
            recorder.add_result([s.category_id for s in msg.segments], [s.area for s in msg.segments],
                                arrival - sent.published)
            self.last_arrival = arrival
        elif name == OVERLAY:
            self.run.preview.add(rgb_image(msg), sent.timestamp)
        elif name == PANOPTIC and sent.stamp in self.run.camera.ground_truth:
            self.to_score.append((sent.stamp, PackedLabels.pack(label_image(msg))))

    def _forget_dropped_before(self, key: int) -> None:
        """Drop the entries of frames published before frame ``key`` that have no output: the node
        skipped them for a newer one (they count as dropped, by the published count)."""
        dropped = []
        for earlier, sent in self.sent.items():  # in publish order
            if earlier == key:
                break
            if not sent.answered:
                dropped.append(earlier)
        for earlier in dropped:
            del self.sent[earlier]

    def waiting_for_overlay(self) -> bool:
        """Whether a frame answered on ``~/segments`` still lacks its overlay."""
        return any(SEGMENTS in s.answered and OVERLAY not in s.answered for s in self.sent.values())

    def counted(self, counters: dict[str, int]) -> tuple[int, int]:
        """(frames the node answered, frames it took in and did not answer) since the replay began,
        by its counters for this camera."""
        answered = counters.get("frames_processed", 0) - self.baseline.get("frames_processed", 0)
        return answered, sum(counters.get(k, 0) - self.baseline.get(k, 0) for k in UNANSWERED)

    def finish(self, counters: dict[str, int], node_log: str | None) -> dict[str, Any]:
        """Score the frames with ground truth, add the frames the node counted bad or failed (why, from
        ``node_log``, the log of a node this replay started; None: a running node's, not at hand), set
        the time its throughput is over (its first frame published to its last answer), and return the
        camera's live-only report fields (dropped, restamped, stray outputs)."""
        recorder = self.run.recorder
        if self.first_publish is not None and self.last_arrival > self.first_publish:
            recorder.seconds = self.last_arrival - self.first_publish
        for stamp, panoptic in self.to_score:
            recorder.add_ground_truth(stamp, self.run.camera.ground_truth[stamp], panoptic.unpack())
        node_bad = counters.get("bad_frames", 0) - self.baseline.get("bad_frames", 0)
        node_failed = counters.get("errors", 0) - self.baseline.get("errors", 0)
        recorder.bad_frames += node_bad  # besides the messages that could not be read from the bag
        recorder.failed_frames += node_failed
        for count, what, notes in ((node_bad, BAD_FRAME, recorder.notes),
                                   (node_failed, FAILED_FRAME, recorder.failure_notes)):
            if count:
                logged = logged_reasons(node_log, self.run.camera.name, what) if node_log is not None else []
                notes.extend([f"the node's log: {reason}" for reason in logged]
                             or ["the node's log says why (node.log when the replay started it)"])
        dropped = self.published - recorder.processed - node_bad - node_failed  # below 0: the counters disagree
        return {"dropped": dropped, "restamped_frames": self.restamped, "stray_outputs": self.strays}


def _drain(session: LiveSession, cameras: dict[str, _CameraOutputs], until: float,
           alive: Callable[[], bool]) -> None:
    """Take the outputs that arrive until ``until`` (monotonic seconds); at least those queued now.

    Raises:
        RuntimeError: the node exited (checked every 50 ms, so a long gap in the bag is no hang).
    """
    while True:
        try:
            topic, name, arrival, msg = session.outputs.get(timeout=max(0.0, min(0.05, until - time.monotonic())))
        except queue.Empty:
            if time.monotonic() >= until:
                return
            if not alive():
                raise RuntimeError("panoptic_node exited during the replay") from None
            continue
        cameras[topic].take(name, arrival, msg)


def _all_answers_in(session: LiveSession, cameras: dict[str, _CameraOutputs]) -> tuple[bool, bool]:
    """(whether the node's counters account for every frame published, whether every answer they
    count has arrived as well), over all cameras."""
    accounted = arrived = True
    for topic, camera in cameras.items():
        answered, unanswered = camera.counted(session.counters(topic))
        accounted &= answered + unanswered >= camera.published
        arrived &= answered <= camera.run.recorder.processed and not camera.waiting_for_overlay()
    return accounted, arrived


def replay_live(frames: Iterable[Frame], total: int | None, session: LiveSession, out_dir: Path,
                cameras: list[ReplayCamera], rate: float, settle: float, alive: Callable[[], bool],
                storage: str = DEFAULT_STORAGE, progress: bool = True, node_log_path: Path | None = None
                ) -> tuple[list[CameraRun], list[dict[str, Any]], dict[str, str], float, dict[str, float]]:
    """Publish ``frames`` of ``cameras`` at ``rate`` times their recorded pace and record the node's answers.

    The wait after the last frame ends once the node's counters account for every frame (answered,
    or bad, failed, dropped, lost) and every answer they count has arrived (or ``ANSWER_GRACE`` later,
    for answers sent where this replay does not listen), when the node exits, or after ``settle``
    seconds; the report's node counters are then at least as new as the last answer.

    Returns:
        The cameras' runs (previews still open), each camera's live-only report fields (frames
        dropped, frames restamped, stray outputs), the node's own diagnostics at the end, the
        replay's time from its first frame published to the last answer (seconds; 0: none came), and
        how late the frames went out against the bag's pace (``latency_percentiles``, ms): the outputs
        are written to the bag and the preview between frames, so on a slow machine the replay, not the
        node, can set the pace, which this says.
    """
    with camera_runs(cameras, session.categories(), out_dir, rate, "e2e_latency_ms") as runs, \
            BagWriter(out_dir / OUTPUT_BAG, storage) as bag:
        outputs = {run.camera.topic: _CameraOutputs(bag, run, session.links[run.camera.topic],
                                                    session.counters(run.camera.topic)) for run in runs}
        pacing = Pacing(rate)
        late: list[float] = []  # seconds each frame went out after it was due
        for frame in tqdm(frames, total=total, unit="frame", disable=not progress, desc="publish"):
            camera = outputs[frame.topic]
            camera.run.recorder.frames_in += 1
            if frame.msg is None:
                camera.run.recorder.bad(frame.error, frame.timestamp)
                continue
            if pacing.start is None:
                bag.write(session.categories_topic, session.info, frame.timestamp, qos=recorded_qos(latched_qos()))
            due, cut = pacing.due(frame.timestamp)
            if cut and pacing.gaps_cut == 1:  # the first gap cut: said now, the others counted at the end
                print(f"panoptic-replay: the bag pauses for more than {MAX_HOLD_SECONDS:g} s before bag time "
                      f"{frame.timestamp}; such gaps are played as {MAX_HOLD_SECONDS:g} s", file=sys.stderr)
            _drain(session, outputs, due, alive)
            late.append(max(0.0, time.monotonic() - due))  # the outputs taken in between can delay it
            camera.publish(frame)
        last_publish = time.monotonic()
        deadline = last_publish + settle
        accounted_since = None  # when the node's counters first accounted for every frame
        while time.monotonic() < deadline and alive():
            _drain(session, outputs, time.monotonic() + 0.1, lambda: True)
            if session.diagnostics is None or session.diagnostics[0] <= last_publish:
                continue  # no counters yet that can have seen the last frame
            accounted, arrived = _all_answers_in(session, outputs)
            if not accounted:
                continue
            if arrived:
                break  # every answer the node counted has arrived, and the counters have seen them all
            accounted_since = accounted_since or time.monotonic()
            if time.monotonic() - accounted_since > ANSWER_GRACE:
                break  # answers the node sent but this replay does not hear (other topics: --camera?)
        _drain(session, outputs, time.monotonic() + 0.5, lambda: True)  # let in-flight messages of other topics land
    if pacing.gaps_cut > 1:
        print(f"panoptic-replay: {pacing.gaps_cut} gaps over {MAX_HOLD_SECONDS:g} s were played as "
              f"{MAX_HOLD_SECONDS:g} s", file=sys.stderr)
    node_log = node_log_path.read_text(errors="replace") if node_log_path is not None else None
    live_fields = [camera.finish(session.counters(topic), node_log) for topic, camera in outputs.items()]
    last_arrival = max(camera.last_arrival for camera in outputs.values())
    start = pacing.start
    seconds = last_arrival - start if start is not None and last_arrival > start else 0.0
    node_diag = session.diagnostics[1] if session.diagnostics else {}
    return runs, live_fields, node_diag, seconds, latency_percentiles(late)
