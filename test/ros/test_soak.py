"""The soak tool runs the node for a bounded time and reports what it saw (a short run, not a timed test)."""
import json

import torch

from helpers import small_categories, small_model_config
from panoptic_ros.model.checkpoint import save_checkpoint
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.tools import hostile_frames, soak


def test_a_short_soak_with_hostile_frames_reports_a_healthy_node(tmp_path):
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "small.pt", PanopticNet(small_model_config(), small_categories()), "small")
    out = tmp_path / "soak.json"
    code = soak.main(["--duration", "6", "--rate", "4", "--size", "48", "80", "--hostile-every", "3",
                      "--param", f"model:={model}", "--param", "inference_size:=[48,80]",
                      "--param", "diagnostics_period:=0.2", "--out", str(out)])
    report = json.loads(out.read_text())
    assert code == 0 and report["problems"] == [], report
    hostile = sum(report["hostile_frames_sent"].values())
    assert hostile >= len(hostile_frames.RAW) - 1 and report["good_frames"]["answered"] > 0
    diag = report["node_diagnostics"]
    counted = int(diag["bad_frames"]) + int(diag["frames_dropped"])  # a bad frame replaced before its turn
    assert int(diag["bad_frames"]) > 0 and counted >= hostile and diag["errors"] == "0"
    assert report["end_to_end_latency_ms"]["p50"] > 0 and report["node_rss_mb"]["max"] > 0
    assert report["node_exit_code"] == 0 and report["longest_log_line"] < 1000
