"""``panoptic-soak``: run ``panoptic_node`` under a steady camera stream mixed with hostile frames, for
a bounded time, and report what a user of the node sees: rates, end-to-end latency, frames dropped
and lost, bad frames counted, errors, the node's memory over time, and whether it stopped cleanly.

    panoptic-soak --duration 120 --rate 15 --size 720 1280 --hostile-every 10 --out soak.json

The node runs as its own process on a private DDS domain (loopback only), as in deployment; the
figures in the README's fault report come from this tool, never from a timed test. Exit status 1
when the node died, stalled, failed on a frame, or did not stop cleanly.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from panoptic_msgs.msg import PanopticSegmentation
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from panoptic_ros.arguments import quiet_ctrl_c
from panoptic_ros.latency import latency_percentiles
from panoptic_ros.ros.conversions import image_message
from panoptic_ros.ros.diagnostics import status_name
from panoptic_ros.ros.child_node import ChildNode
from panoptic_ros.ros.private_ros import private_ros_env
from panoptic_ros.ros.qos import camera_publisher_qos, diagnostics_qos, output_qos
from panoptic_ros.ros.spinning_node import SpinningNode
from panoptic_ros.ros.topics import (
    COMPRESSED, DIAGNOSTICS, LABEL_IMAGES, RAW, SEGMENTS, TRANSPORTS, input_topic, node_name, node_topic,
)
from panoptic_ros.tools import hostile_frames

STALL_SECONDS = 15.0  # no output for this long while good frames keep coming counts as a stall


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Probe:
    """The camera and the observer: publishes frames, records when each frame's ~/segments arrives, and
    listens to the label images, so the node makes them as it would for their consumers."""

    def __init__(self, ros_env: dict[str, str], compressed: bool) -> None:
        self.spinning = SpinningNode("panoptic_soak", ros_env)
        self.node = self.spinning.node
        msg_type, topic = (CompressedImage if compressed else Image), "/" + input_topic(compressed)
        self.pub = self.node.create_publisher(msg_type, topic, camera_publisher_qos())
        self.lock = threading.Lock()
        self.arrivals: dict[int, float] = {}
        self.diagnostics: dict[str, str] = {}
        self.node.create_subscription(PanopticSegmentation, node_topic(SEGMENTS), self._on_segments,
                                      output_qos(depth=50))
        for name in LABEL_IMAGES:  # as a consumer of them would: the node makes them only for listeners
            self.node.create_subscription(Image, node_topic(name), lambda msg: None, output_qos(depth=1))
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS, self._on_diagnostics, diagnostics_qos())
        self.spinning.start()

    def _on_segments(self, msg: PanopticSegmentation) -> None:
        with self.lock:
            self.arrivals[msg.header.stamp.sec] = time.monotonic()

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        status = next((s for s in msg.status if s.name == status_name(node_name())), None)
        if status is not None:
            with self.lock:
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def close(self) -> None:
        self.spinning.close()


def _header(stamp: int) -> Header:
    """Frames are told apart by their stamp's seconds: the soak's frame counter."""
    return Header(stamp=Time(sec=stamp), frame_id="camera")


def _good_frame(args: argparse.Namespace) -> Image | CompressedImage:
    """One camera frame (noise: the worst case for JPEG), reused with a new stamp each time."""
    rgb = np.random.default_rng(0).integers(0, 256, (*args.size, 3), dtype=np.uint8)
    if args.transport == COMPRESSED:
        return CompressedImage(format="jpeg", data=cv2.imencode(".jpg", rgb[..., ::-1])[1].tobytes())
    return image_message(rgb, "rgb8", _header(0))


def _percentiles(values: list[float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in latency_percentiles(values).items()}


def _send(args: argparse.Namespace, node: ChildNode, probe: Probe) -> dict[str, Any]:
    """Waits for the node to subscribe, then sends for ``args.duration`` s at ``args.rate``."""
    if args.transport == COMPRESSED:
        hostile = [(name, lambda stamp, data=data: CompressedImage(header=_header(stamp), format="jpeg", data=data))
                   for name, data in hostile_frames.COMPRESSED.items()]
    else:
        hostile = [(name, lambda stamp, fields=fields: Image(header=_header(stamp), **fields))
                   for name, fields in hostile_frames.RAW.items()]
    good = _good_frame(args)
    published: dict[int, float] = {}
    hostile_sent: dict[str, int] = {}
    rss: list[tuple[float, float]] = []
    longest_gap = 0.0
    deadline = time.monotonic() + args.startup_timeout
    while probe.pub.get_subscription_count() == 0:
        if not node.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"panoptic_node did not come up; see {node.log}")
        time.sleep(0.1)
    start = time.monotonic()
    next_rss = start
    stamp = 0
    while (now := time.monotonic()) < start + args.duration and node.alive():
        stamp += 1
        if args.hostile_every and stamp % args.hostile_every == 0:
            name, make = hostile[(stamp // args.hostile_every) % len(hostile)]
            probe.pub.publish(make(stamp))
            hostile_sent[name] = hostile_sent.get(name, 0) + 1
        else:
            good.header = _header(stamp)
            published[stamp] = time.monotonic()
            probe.pub.publish(good)
        if now >= next_rss:
            rss.append((now - start, _rss_mb(node.pid) or 0.0))
            next_rss += 1.0
        with probe.lock:
            last_output = max(probe.arrivals.values(), default=start)
        longest_gap = max(longest_gap, now - last_output)
        time.sleep(max(0.0, start + stamp / args.rate - time.monotonic()))
    sending = time.monotonic() - start
    time.sleep(args.settle)  # outputs of the last frames, and one more diagnostics message
    alive = node.alive()
    return {"published": published, "hostile_sent": hostile_sent, "rss": rss, "longest_gap": longest_gap,
            "sending": sending, "alive": alive, "stamp": stamp}


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Start the real node on a private domain, feed it frames at ``args.rate`` with a hostile one every
    ``args.hostile_every`` for ``args.duration`` s, and return rates, latencies, memory and its exit."""
    ros_env = private_ros_env()
    params = {"input_transport": args.transport} | dict(p.split(":=", 1) for p in args.param)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with ChildNode(params, args.out.with_suffix(".node.log"), env=ros_env) as node:  # stopped also when the run fails
        probe = Probe(ros_env, args.transport == COMPRESSED)
        try:
            run = _send(args, node, probe)
        finally:
            probe.close()
    exit_code = node.exit_code
    log = node.log.read_text()
    with probe.lock:
        arrivals, diag = dict(probe.arrivals), dict(probe.diagnostics)
    published, rss, sending, longest_gap = run["published"], run["rss"], run["sending"], run["longest_gap"]
    latencies = [arrivals[s] - t for s, t in published.items() if s in arrivals]
    steady = [mb for t, mb in rss if t >= min(10.0, args.duration / 4)] or [mb for _, mb in rss]
    report = {
        "command": " ".join(sys.argv),
        "node_parameters": params,
        "frame": {"size": args.size, "transport": args.transport},
        "duration_s": round(sending, 1),
        "rate_hz": {"sent": round(run["stamp"] / sending, 2), "good_sent": round(len(published) / sending, 2),
                    "answered": round(len(latencies) / sending, 2)},
        "good_frames": {"sent": len(published), "answered": len(latencies)},
        "hostile_frames_sent": run["hostile_sent"],
        "end_to_end_latency_ms": _percentiles(latencies),
        "node_diagnostics": diag,
        "node_rss_mb": {"after_warm_up": round(steady[0], 1), "end": round(steady[-1], 1),
                        "max": round(max(steady), 1)} if steady else {},
        "longest_output_gap_s": round(longest_gap, 1),
        "node_alive_at_end": run["alive"],
        "node_exit_code": exit_code,
        "log_lines": len(log.splitlines()),
        "longest_log_line": max((len(line) for line in log.splitlines()), default=0),
    }
    problems = []
    if not run["alive"]:
        problems.append("the node died")
    if longest_gap > STALL_SECONDS:
        problems.append(f"no output for {longest_gap:.0f} s")
    if diag.get("errors", "0") != "0":
        problems.append(f"{diag['errors']} frames failed")
    if exit_code != 0:
        problems.append(f"stop ended with exit code {exit_code}")
    if any(s in log for s in ("Traceback", "terminate called")):
        problems.append("a traceback or abort in the node log")
    report["problems"] = problems
    return report


@quiet_ctrl_c("panoptic-soak")
def main(argv: list[str] | None = None) -> int:
    """``panoptic-soak``'s entry: runs the soak and writes its report."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of sending (bounded: at most 1800)")
    p.add_argument("--rate", type=float, default=15.0, help="frames per second sent")
    p.add_argument("--size", type=int, nargs=2, default=[720, 1280], metavar=("HEIGHT", "WIDTH"))
    p.add_argument("--transport", choices=TRANSPORTS, default=RAW)
    p.add_argument("--hostile-every", type=int, default=10, help="every Nth frame is a hostile one (0: none)")
    p.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE", help="a node parameter")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait for the last outputs")
    p.add_argument("--startup-timeout", type=float, default=120.0)
    p.add_argument("--out", type=Path, default=Path("out/soak/soak.json"))
    args = p.parse_args(argv)
    if not 0 < args.duration <= 1800 or args.rate <= 0:
        p.error("--duration must be in (0, 1800] and --rate positive")
    try:
        report = soak(args)
    except RuntimeError as exc:  # the node never came up: its log says why
        print(f"panoptic-soak: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
