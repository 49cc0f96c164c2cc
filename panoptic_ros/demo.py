"""``make demo``: replay the shipped sample bag through the shipped model with the live node.

The bag (``samples/street_demo``: 16 synthetic street frames at 5 Hz, 512x256, with panoptic ground
truth) is published over DDS to a freshly started ``panoptic_node``; its outputs are recorded and
scored. Uses the GPU when there is one. Prints PQ, throughput, latency and where the outputs are.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from panoptic_ros.replay.cli import main as replay
from panoptic_ros.replay.synthetic_bag import GT_TOPIC, IMAGE_TOPIC
from panoptic_ros.resources import package_file

OUT = Path("out/demo")


def main() -> int:
    bag = package_file("panoptic_ros", "samples", "street_demo")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # the demo talks to itself only
    code = replay([str(bag), "--topic", IMAGE_TOPIC, "--gt-topic", GT_TOPIC, "--live", "--out", str(OUT), "--quiet"])
    if code != 0:
        return code
    r = json.loads((OUT / "report.json").read_text())
    pq = r["pq"]
    lat = r["e2e_latency_ms"]
    diag = r["node_diagnostics"]
    print(f"""
panoptic_ros demo: {r['processed']}/{r['frames']} frames of {bag.name} through panoptic_node
  model {r['model']} on {r['device']} (mask cues {'on' if r['mask_cues'] else 'off'})
  PQ {100 * pq['All']['pq']:.1f}  (things {100 * pq['Things']['pq']:.1f}, stuff {100 * pq['Stuff']['pq']:.1f}; \
SQ {100 * pq['All']['sq']:.1f}, RQ {100 * pq['All']['rq']:.1f}) on {pq['frames']} frames with ground truth
  node: {float(diag.get('latency_p50_ms', 'nan')):.0f} ms p50 inference latency, \
end to end p50 {lat['p50']:.0f} ms / p90 {lat['p90']:.0f} ms, {r['dropped']} frames dropped
  preview:    {OUT / 'preview.mp4'}  and  {OUT / 'preview.png'}
  output bag: {OUT / 'output_bag'}
  report:     {OUT / 'report.md'}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
