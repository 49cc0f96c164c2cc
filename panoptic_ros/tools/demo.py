"""``make demo``: replay real street frames through the shipped model with the live node, and score it.

The frames: the held-out CamVid drive (sequence 0006R0, never trained on) when CamVid is at hand
(``$PANOPTIC_CAMVID``, else ``../shared/data/camvid`` beside the repository), written once into a bag
``out/camvid_heldout_bag`` (never into the repository: CamVid's terms forbid committing it); otherwise the
shipped synthetic sample ``samples/street_demo``. Either bag carries panoptic ground truth. It is
published over DDS to a freshly started ``panoptic_node``, whose outputs are recorded and scored.
Uses the GPU when there is one. Prints PQ, mIoU, latency, dropped frames and where the outputs are.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from panoptic_ros.replay.cli import main as replay
from panoptic_ros.replay.output import OUTPUT_BAG, DEFAULT_PREVIEW_VIDEO, PREVIEW_PNG, REPORT_JSON, REPORT_MD
from panoptic_ros.replay.sample_bag import GT_TOPIC, IMAGE_TOPIC
from panoptic_ros.resources import SOURCE_ROOT, package_file

OUT = Path("out/demo")
CAMVID_FRAMES = 24   # spread over the held-out drive's 101 labelled frames
CAMVID_RATE_HZ = 2.0  # what a 2-core CPU keeps up with at 480x360


def camvid_root() -> Path | None:
    """Where CamVid is, if it is anywhere we look."""
    root = Path(os.environ.get("PANOPTIC_CAMVID", SOURCE_ROOT.parent / "shared" / "data" / "camvid"))
    return root if (root / "train.txt").is_file() else None


def demo_bag() -> tuple[Path, str]:
    """(bag, what it holds): the held-out CamVid drive if CamVid is here, else the shipped sample."""
    root = camvid_root()
    if root is None:
        return package_file("panoptic_ros", "samples", "street_demo"), "synthetic street scenes (shipped sample)"
    bag = OUT.parent / "camvid_heldout_bag"
    if not (bag / "metadata.yaml").is_file():  # built once; a half-written bag has no metadata yet
        from panoptic_ros.data.camvid import CamVidDataset
        from panoptic_ros.replay.sample_bag import write_sample_bag
        write_sample_bag(bag, CamVidDataset(root, "heldout"), CAMVID_FRAMES, CAMVID_RATE_HZ)
    return bag, f"real street frames (CamVid drive 0006R0, held out from training; from {root})"


def main() -> int:
    """``make demo``'s entry: replays the demo bag through the live node and prints its report."""
    bag, what = demo_bag()
    code = replay([str(bag), "--topic", IMAGE_TOPIC, "--gt-topic", GT_TOPIC, "--live", "--out", str(OUT), "--quiet"])
    if code != 0:
        return code
    r = json.loads((OUT / REPORT_JSON).read_text())
    pq = r["pq"]
    lat = r["e2e_latency_ms"]
    diag = r["node_diagnostics"]
    print(f"""
panoptic_ros demo: {r['processed']}/{r['frames']} frames of {what} through panoptic_node
  model {r['model']} on {r['device']} (mask cues {'on' if r['mask_cues'] else 'off'})
  PQ {100 * pq['All']['pq']:.1f}  (things {100 * pq['Things']['pq']:.1f}, stuff {100 * pq['Stuff']['pq']:.1f}; \
SQ {100 * pq['All']['sq']:.1f}, RQ {100 * pq['All']['rq']:.1f}), mIoU {100 * pq['miou']:.1f} on {pq['frames']} frames \
with ground truth
  node: {float(diag.get('latency_p50_ms', 'nan')):.0f} ms p50 inference latency, \
end to end p50 {lat['p50']:.0f} ms / p90 {lat['p90']:.0f} ms, {r['dropped']} frames dropped
  preview:    {OUT / DEFAULT_PREVIEW_VIDEO}  and  {OUT / PREVIEW_PNG}
  output bag: {OUT / OUTPUT_BAG}
  report:     {OUT / REPORT_MD}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
