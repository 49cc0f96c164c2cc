"""What the node counts about its frames, and the ``/diagnostics`` status it publishes from that.

Counters are touched by the subscription callback and the inference thread, hence the lock.
Frames lost before the callback ever saw them (overwritten in the subscription's queue, or never
delivered by DDS) are counted from gaps in each publisher's sequence numbers, which the middleware
attaches to every sample: the node cannot otherwise know they existed.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

LATENCY_WINDOW = 500


class FrameStats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received = self.processed = self.dropped = self.bad = self.errors = self.lost = 0
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._last_sequence: dict[bytes, int] = {}
        self._last_received = self._last_processed = 0
        self._last_time = time.monotonic()

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

    def count(self, kind: str, latency: float | None = None) -> None:
        """``kind``: processed, bad or errors; a processed frame brings its latency (s)."""
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if latency is not None:
                self.latencies.append(latency)

    def snapshot(self) -> dict[str, Any]:
        """Counters, rates since the previous snapshot and latency percentiles (ms)."""
        with self.lock:
            now = time.monotonic()
            dt = max(now - self._last_time, 1e-9)
            lat = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
            snap = {"frames_received": self.received, "frames_processed": self.processed,
                    "frames_dropped": self.dropped, "frames_lost": self.lost, "bad_frames": self.bad,
                    "errors": self.errors,
                    "input_rate_hz": (self.received - self._last_received) / dt,
                    "output_rate_hz": (self.processed - self._last_processed) / dt,
                    "latency_p50_ms": float(np.percentile(lat, 50)), "latency_p90_ms": float(np.percentile(lat, 90)),
                    "latency_p99_ms": float(np.percentile(lat, 99)), "latency_max_ms": float(lat.max())}
            self._last_received, self._last_processed, self._last_time = self.received, self.processed, now
            return snap


def diagnostic_status(node_name: str, device: str, snapshot: dict[str, Any],
                      extra: dict[str, str]) -> DiagnosticStatus:
    """The node's status; ``node_name`` is fully qualified, so nodes in other namespaces never merge
    in an aggregator (the default node keeps the name ``panoptic: panoptic segmentation``)."""
    level, message = DiagnosticStatus.OK, "running"
    problems = [f"{snapshot[k]} {k.replace('_', ' ')}" for k in ("bad_frames", "errors", "frames_lost") if snapshot[k]]
    if problems:
        level, message = DiagnosticStatus.WARN, ", ".join(problems)
    values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in snapshot.items()]
    values += [KeyValue(key="device", value=device)] + [KeyValue(key=k, value=v) for k, v in extra.items()]
    return DiagnosticStatus(level=level, name=f"{node_name.lstrip('/')}: panoptic segmentation", message=message,
                            hardware_id=f"{device} {node_name}", values=values)
