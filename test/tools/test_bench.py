"""The benchmark runs end to end on the CPU (its figures are reported from real runs, not checked here)."""
import json

import pytest
import torch
import yaml

from helpers import small_model_config
from panoptic_ros.tools.bench import STAGES, main
from panoptic_ros.tools.bench_node import NODE_STAGES
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


def test_node_path_times_each_stage_per_input_size_and_detection_count(tmp_path, capsys):
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    assert main(["--model-config", str(cfg), "--tables", "node", "--input-size", "120", "200",
                 "--input-size", "48", "64", "--inference-size", "64", "96", "--detections", "1", "5",
                 "--head", "upsnet", "--mask-cues", "on", "--warmup", "1", "--iters", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["node"]
    assert [(r["input_size"], r["max_detections"]) for r in rows] == [([120, 200], 1), ([120, 200], 5),
                                                                      ([48, 64], 1), ([48, 64], 5)]
    for r in rows:
        ms = r["ms"]
        assert set(NODE_STAGES) <= set(ms) and all(ms[s] >= 0 for s in NODE_STAGES)
        assert ms["own"] > 0 and ms["own_share"] == ms["own"] / ms["network"]
        assert ms["detections"] == r["max_detections"]
    assert "of the network's" in capsys.readouterr().out


@pytest.mark.parametrize("names", [[], ["semantic"], None])
def test_node_path_makes_the_label_images_named(names, tmp_path, monkeypatch):
    from panoptic_ros.ros import conversions

    made = []
    label_message = conversions.label_message
    monkeypatch.setattr(conversions, "label_message", lambda result, name, header: made.append(name) or
                        label_message(result, name, header))
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    flag = [] if names is None else ["--label-images", *names]
    assert main(["--model-config", str(cfg), "--tables", "node", "--input-size", "48", "64", "--head", "upsnet",
                 "--mask-cues", "on", "--warmup", "0", "--iters", "2", "--out", str(out), *flag]) == 0
    row, = json.loads(out.read_text())["node"]
    assert made == 2 * (["panoptic", "semantic"] if names is None else names) and row["label_images"] == names
    assert row["name"].endswith("" if names is None else f" labels={','.join(names) or 'none'}")


def test_node_path_converts_frames_in_each_encoding_named(tmp_path, monkeypatch):
    from panoptic_ros.ros import conversions

    seen = []
    rgb_from_message = conversions.rgb_from_message
    monkeypatch.setattr(conversions, "rgb_from_message", lambda msg, device: seen.append(msg.encoding) or
                        rgb_from_message(msg, device))
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    encodings = ["rgb8", "nv12", "bayer_rggb16", "nv24"]
    assert main(["--model-config", str(cfg), "--tables", "node", "--input-size", "48", "64", "--head", "upsnet",
                 "--mask-cues", "on", "--warmup", "0", "--iters", "1", "--out", str(out),
                 "--encoding", *encodings]) == 0
    rows = json.loads(out.read_text())["node"]
    assert seen == encodings and [r["encoding"] for r in rows] == encodings
    assert not rows[0]["name"].endswith("rgb8") and all(r["name"].endswith(e) for r, e in zip(rows[1:], encodings[1:]))


def test_attention_table_names_the_fused_kernel(tmp_path):
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    assert main(["--model-config", str(cfg), "--tables", "attention", "--device", "cpu",
                 "--size", "64", "96", "--size", "96", "128",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["attention"]
    assert [r["attention"]["positions"] for r in rows] == [8 * 12, 12 * 16]  # 1/8 of the input
    for r in rows:  # on the CPU: the flash kernel, never the L x L math fallback; memory is measured on CUDA only
        assert r["attention"]["kernel"] == "aten::_scaled_dot_product_flash_attention_for_cpu"
        assert r["attention"]["peak_mib"] is None


def test_cameras_table_compares_one_batched_network_with_one_network_per_camera(tmp_path, capsys):
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    assert main(["--model-config", str(cfg), "--tables", "cameras", "--cameras", "2", "--device", "cpu",
                 "--input-size", "48", "64", "--inference-size", "48", "64", "--head", "upsnet",
                 "--mask-cues", "on", "--warmup", "0", "--iters", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["cameras"]
    assert [(r["cameras"], r["mode"]) for r in rows] == [(2, "batched"), (2, "separate")]
    for r in rows:  # each measured in its own process
        assert r["fps"] == 2000 / r["step_ms"] and r["rss_mb"] > 100 and r["gpu_peak_mib"] is None
        assert r["cpu_ms_per_frame"] > 0
    assert "speed-up" in capsys.readouterr().out


def test_dispatch_table_counts_ops_and_host_waits_per_stage(tmp_path, capsys):
    cfg = tmp_path / "model.yaml"
    cfg.write_text(yaml.safe_dump(to_dict(small_model_config())))
    out = tmp_path / "bench.json"
    assert main(["--model-config", str(cfg), "--tables", "dispatch", "--size", "64", "96", "--head", "upsnet",
                 "--mask-cues", "on", "--device", "cpu", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["dispatch"]
    assert all(row["ops"][s] > 0 for s in STAGES) and row["ops"]["total"] == sum(row["ops"][s] for s in STAGES)
    assert row["waits"]["total"] == 0  # counted as a GPU runs the network: fixed-size proposals and detections
    assert "host waits" in capsys.readouterr().out


def test_what_cannot_be_benchmarked_is_one_clear_line_before_any_work(tmp_path, capsys):
    cases = [(["--checkpoint", str(tmp_path / "nope.pt")], "does not exist"),
             (["--model-config", str(tmp_path / "nope.yaml")], "nope.yaml")]
    if not torch.cuda.is_available():
        cases += [(["--device", "cuda"], "no such CUDA device"), (["--precision", "fp16", "--device", "cpu"], "fp16")]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("panoptic-bench: ") and message in err and "Traceback" not in err
    for flag in ("--iters", "--batch", "--threads"):
        with pytest.raises(SystemExit):
            main([flag, "0"])


@pytest.mark.parametrize("args, message", [
    (["--size", "0", "128"], "--size: must be at least 1"),
    (["--input-size", "64", "-1"], "--input-size: must be at least 1"),
    (["--tables", "node", "--inference-size", "-5", "0"], "--inference-size must be [height, width]"),
    (["--detections", "1000"], "--detections must be below 1000"),
    (["--tables", "node", "--label-images", "overlay"], "unknown overlay (choose from panoptic, semantic)"),
    (["--tables", "node", "--input-size", "48", "64", "--input-size", "47", "64", "--encoding", "rgb8", "nv12"],
     "--encoding nv12 at --input-size 47 64: nv12 needs an even width and height"),
    (["--warmup", "-1"], "--warmup: must be at least 0"),
])
def test_sizes_and_counts_out_of_range_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
