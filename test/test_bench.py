"""The benchmark runs end to end on the CPU (its figures are reported from real runs, not checked here)."""
import json

import yaml

from helpers import small_model_config
from panoptic_ros.bench import STAGES, main
from panoptic_ros.config import to_dict


def test_bench_times_every_stage_and_the_reference(tmp_path, capsys):
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    assert main(["--model-config", str(cfg), "--size", "64", "96", "--warmup", "1", "--iters", "1",
                 "--head", "affinity", "heuristic", "--mask-cues", "on", "off", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [r["head"] for r in rows] == ["affinity", "heuristic", "affinity", "heuristic", "reference"]
    for r in rows[:-1]:
        assert set(STAGES) <= set(r["ms"]) and all(r["ms"][s] >= 0 for s in STAGES)
        assert r["ms"]["detections"] == 10  # score threshold 0: every slot filled, the worst case
    assert rows[-1]["ms"]["total"] > 0
    assert "torchvision maskrcnn_r50" in capsys.readouterr().out
