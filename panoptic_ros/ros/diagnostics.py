"""What the node counts about its frames, per camera and per batch, and the ``/diagnostics``
statuses it publishes from that.

Counters are touched by the subscription callback and the inference thread, hence the lock.
Frames lost before the callback ever saw them (overwritten in the subscription's queue, or never
delivered by DDS) are counted from gaps in each publisher's sequence numbers, which the middleware
attaches to every sample: the node cannot otherwise know they existed. The counters are totals; a
status is WARN only while its problems grow (``new_*``: since the previous report), so one bad frame
does not leave a camera flagged for the rest of the run. An active node that received no frame in
the last ``QUIET_REPORTS`` reports is WARN too ("no input"): a camera that stopped, a topic mistyped,
or a QoS that matches no publisher look the same from here, and an aggregator should show them (one
quiet report is not enough: a 1 Hz camera, or the first report after the warm-up); an inactive node
(lifecycle) is OK, "inactive".
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

from panoptic_ros.latency import latency_percentiles

LATENCY_WINDOW = 500
PROBLEMS = ("bad_frames", "errors", "frames_lost")  # counters that make a status WARN while they grow
QUIET_REPORTS = 2  # reports in a row without a frame before an active node says "no input"


class FrameStats:
    """One camera's counters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = self.processed = self.dropped = self.bad = self.errors = self.lost = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._last_sequence: dict[bytes, int] = {}
        self._last_received = self._last_processed = 0
        self._last_problems = dict.fromkeys(PROBLEMS, 0)
        self._last_time = time.monotonic()
        self._quiet = 0  # reports in a row without a received frame

    def count_received(self, publisher: bytes | None, sequence: int | None, dropped: bool) -> None:
        """One frame reached the callback; ``dropped``: it replaced one still waiting."""
        with self.lock:
            self.received += 1
            self.dropped += dropped
            if publisher is None or sequence is None:  # a middleware that does not number samples
                return
            last = self._last_sequence.get(publisher)
            if last is not None and sequence > last + 1:
                self.lost += sequence - last - 1
            self._last_sequence[publisher] = max(sequence, last or 0)

    def forget_publishers(self) -> None:
        """Start the sequence numbers afresh (on activation): what publishers sent while the node
        was not subscribed was never meant for it, so it is not lost; nor is the quiet while inactive."""
        with self.lock:
            self._last_sequence.clear()
            self._quiet = 0

    def count(self, kind: str, latency: float | None = None) -> None:
        """``kind``: processed, bad or errors; a processed frame brings its latency (s)."""
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if latency is not None:
                self.latencies.append(latency)

    def snapshot(self) -> dict[str, Any]:
        """Counters, rates and ``new_*`` problems since the previous snapshot, latency percentiles (ms)."""
        return _summary([self._take()])

    def _take(self) -> tuple[dict[str, int], dict[str, float], list[float]]:
        """(counters, rates and new problems since the previous take, latencies in s)."""
        with self.lock:
            now = time.monotonic()
            dt = max(now - self._last_time, 1e-9)
            counters = {"frames_received": self.received, "frames_processed": self.processed,
                        "frames_dropped": self.dropped, "frames_lost": self.lost, "bad_frames": self.bad,
                        "errors": self.errors}
            self._quiet = 0 if self.received > self._last_received else self._quiet + 1
            since = {"input_rate_hz": (self.received - self._last_received) / dt,
                     "output_rate_hz": (self.processed - self._last_processed) / dt,
                     **{f"new_{k}": counters[k] - self._last_problems[k] for k in PROBLEMS}}
            self._last_received, self._last_processed, self._last_time = self.received, self.processed, now
            self._last_problems = {k: counters[k] for k in PROBLEMS}
            return counters, since | {"quiet_reports": self._quiet}, list(self.latencies)


def _summary(takes: list[tuple[dict[str, int], dict[str, float], list[float]]]) -> dict[str, Any]:
    """Counters, rates and new problems summed over ``takes``, latency percentiles (ms) over all their latencies."""
    snap: dict[str, Any] = {}
    for counters, since, _ in takes:
        for key, value in (*counters.items(), *since.items()):
            snap[key] = snap.get(key, 0) + value
    snap["quiet_reports"] = min(since["quiet_reports"] for _, since, _ in takes)  # quiet: every camera quiet
    latencies = [v for _, _, lat in takes for v in lat]
    lat = latency_percentiles(latencies)
    snap.update({f"latency_{q}_ms": lat.get(q, 0.0) for q in ("p50", "p90", "p99", "max")})
    return snap


class NodeStats:
    """Every camera's ``FrameStats`` and the batches they went through the network in."""

    def __init__(self, cameras: list[str]) -> None:
        self.cameras = {camera: FrameStats() for camera in cameras}
        self._lock = threading.Lock()
        self._batches = self._batched_frames = self._largest_batch = 0

    def forget_publishers(self) -> None:
        """Every camera's ``FrameStats.forget_publishers``."""
        for stats in self.cameras.values():
            stats.forget_publishers()

    def count_batch(self, size: int) -> None:
        """One predictor call on ``size`` frames (one per camera at most)."""
        with self._lock:
            self._batches += 1
            self._batched_frames += size
            self._largest_batch = max(self._largest_batch, size)

    def snapshot(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """(the node's totals with its batch sizes, each camera's own snapshot)."""
        takes = {camera: stats._take() for camera, stats in self.cameras.items()}
        total = _summary(list(takes.values()))
        with self._lock:
            total.update(batches=self._batches, batch_size_max=self._largest_batch,
                         batch_size_mean=self._batched_frames / max(self._batches, 1))
        return total, {camera: _summary([take]) for camera, take in takes.items()}


def status_name(node_name: str) -> str:
    """The name of a node's status in /diagnostics, from its fully qualified name (``/panoptic`` ->
    ``panoptic: panoptic segmentation``): how the replay and soak tools pick it out."""
    return f"{node_name.lstrip('/')}: panoptic segmentation"


def diagnostic_status(node_name: str, device: str, snapshot: dict[str, Any], extra: dict[str, str],
                      active: bool = True) -> DiagnosticStatus:
    """The node's status; ``node_name`` is fully qualified, so nodes in other namespaces never merge
    in an aggregator (the default node keeps the name ``panoptic: panoptic segmentation``)."""
    return _status(status_name(node_name), f"{device} {node_name}", snapshot,
                   {"device": device, **extra}, active)


def camera_status(node_name: str, device: str, camera: str, snapshot: dict[str, Any],
                  active: bool = True) -> DiagnosticStatus:
    """One camera's own status beside the node's (same hardware id), so a camera that drops, loses or
    sends bad frames, or sends none, is named."""
    return _status(camera_status_name(node_name, camera), f"{device} {node_name}", snapshot, {}, active)


def camera_status_name(node_name: str, camera: str) -> str:
    """The name of camera ``camera``'s status in /diagnostics (``panoptic: camera front``)."""
    return f"{node_name.lstrip('/')}: camera {camera}"


def _status(name: str, hardware_id: str, snapshot: dict[str, Any], extra: dict[str, str],
            active: bool) -> DiagnosticStatus:
    level, message = DiagnosticStatus.OK, "running" if active else "inactive"
    problems = [f"{snapshot['new_' + k]} {k.replace('_', ' ')}" for k in PROBLEMS if snapshot["new_" + k]]
    if active and snapshot["quiet_reports"] >= QUIET_REPORTS:
        problems.append("no input")
    if problems:
        level, message = DiagnosticStatus.WARN, ", ".join(problems)
    values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in snapshot.items()]
    values += [KeyValue(key=k, value=v) for k, v in extra.items()]
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id, values=values)
