import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from panoptic_ros.config import ModelConfig
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.eval.cli import main, with_inference_overrides
from panoptic_ros.model.checkpoint import save_checkpoint
from panoptic_ros.model.network import PanopticNet


def test_post_processing_steps_can_be_switched_off_for_an_evaluation():
    cfg = with_inference_overrides(ModelConfig(), ["panoptic.min_visible=0", "panoptic.overlap_nms=1",
                                                   "panoptic.min_stuff_area=0", "panoptic.mask_removal=1"])
    assert (cfg.panoptic.min_visible, cfg.panoptic.overlap_nms, cfg.panoptic.min_stuff_area,
            cfg.panoptic.mask_removal) == (0, 1, 0, 1)
    assert cfg.backbone == ModelConfig().backbone


@pytest.mark.parametrize("item", ["backbone.name=resnet50", "instance.detections_per_image=5", "panoptic.min_visible",
                                  "panoptic.embed_dim=7", "panoptic.affinity_pairs=-1"])
def test_only_inference_time_settings_can_be_overridden(item):
    with pytest.raises(ValueError, match="only panoptic"):
        with_inference_overrides(ModelConfig(), [item])


@pytest.mark.parametrize("item, message", [("panoptic.min_visible=half", "expected float, got 'half'"),
                                           ("panoptic.overlap_nms=5", "overlap_nms must be a fraction"),
                                           ("panoptic.min_stuff_area=-1", "min_stuff_area must be a fraction"),
                                           ("panoptic.kind=best", "'best' is not one of")])
def test_a_bad_inference_time_value_is_one_clear_line(item, message, capsys):
    assert main(["--checkpoint", "missing.pt", "--set", item]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("size", [["-1", "5"], ["0", "16"]])
def test_an_inference_size_out_of_range_is_a_clear_error(size, capsys):
    assert main(["--checkpoint", "missing.pt", "--inference-size", *size]) == 2
    assert "--inference-size" in capsys.readouterr().err


def test_without_head_the_checkpoint_s_own_head_is_evaluated_and_a_preview_written(tmp_path, model_config, capsys):
    cfg = dataclasses.replace(model_config, panoptic=dataclasses.replace(model_config.panoptic, kind="heuristic"))
    path = save_checkpoint(tmp_path / "m.pt", PanopticNet(cfg, STREET_CATEGORIES).eval(), "m")
    out, preview = tmp_path / "report.json", tmp_path / "preview.png"
    assert main(["--checkpoint", str(path), "--images", "2", "--height", "64", "--width", "128",
                 "--device", "cpu", "--out", str(out), "--preview", str(preview)]) == 0
    report = json.loads(out.read_text())
    assert list(report["runs"]) == ["heuristic/mask"]
    # what produced it: the data and every setting asked for
    assert report["data"]["kind"] == "synthetic" and report["data"]["split"] == "heldout"
    assert (report["data"]["height"], report["data"]["width"], report["images_limit"]) == (64, 128, 2)
    assert report["set"] == [] and report["batch"] == 1
    assert "its pixels taken for" in capsys.readouterr().out  # per class: IoU, recall, precision, mistakes
    assert torch.is_grad_enabled()  # no global switch left behind for whatever runs next in the process
    strip = cv2.imread(str(preview))  # one row per image: input | prediction | ground truth
    assert strip.shape == (2 * 64, 3 * 128, 3)
    first = strip[:64]
    assert not np.array_equal(first[:, :128], first[:, 256:])  # the ground truth is drawn over the input


def test_a_street_model_is_scored_on_cityscapes_read_onto_its_categories(tmp_path, model_config, capsys):
    labels, images = tmp_path / "gtFine" / "val" / "city", tmp_path / "leftImg8bit" / "val" / "city"
    labels.mkdir(parents=True)
    images.mkdir(parents=True)
    ids = np.full((64, 128), 7, np.uint16)  # road
    ids[:20] = 23                           # sky
    ids[30:50, 10:40] = 26001               # a car
    cv2.imwrite(str(labels / "city_000000_000001_gtFine_instanceIds.png"), ids)
    cv2.imwrite(str(images / "city_000000_000001_leftImg8bit.png"), np.full((64, 128, 3), 90, np.uint8))
    path = save_checkpoint(tmp_path / "m.pt", PanopticNet(model_config, STREET_CATEGORIES).eval(), "m")
    assert main(["--checkpoint", str(path), "--data", "cityscapes_street", "--root", str(tmp_path),
                 "--device", "cpu"]) == 0
    assert "/mask: 1 images" in capsys.readouterr().out  # the val split by default


def test_a_model_whose_categories_differ_from_the_data_is_refused_with_both_named(tmp_path, model_config,
                                                                                  categories, capsys):
    path = save_checkpoint(tmp_path / "m.pt", PanopticNet(model_config, categories).eval(), "m")
    assert main(["--checkpoint", str(path), "--images", "1", "--height", "64", "--width", "128",
                 "--device", "cpu"]) == 2  # the test model's small table against the street scenes'
    assert "the model's categories differ from the data's" in capsys.readouterr().err


def test_a_dataset_without_its_folder_is_one_clear_line(capsys):
    assert main(["--checkpoint", "missing.pt", "--data", "coco_panoptic"]) == 2
    assert "--data coco_panoptic reads a dataset folder: name it with --root" in capsys.readouterr().err


def test_split_does_not_apply_to_a_coco_panoptic_folder(capsys):
    assert main(["--checkpoint", "missing.pt", "--data", "coco_panoptic", "--root", "x", "--split", "val"]) == 2
    assert "--split does not apply to coco_panoptic" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--images", "--batch"])
def test_a_count_below_one_is_refused_before_any_work(flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--checkpoint", "missing.pt", flag, "0"])
    assert exit_.value.code == 2 and "must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("flag, name, message", [
    ("--out", "folder", "is a folder"),
    ("--preview", "preview.jpgx", "names an image file"),
    ("--preview", "folder", "names an image file"),
])
def test_unwritable_output_paths_are_refused_before_the_evaluation(tmp_path, capsys, flag, name, message):
    (tmp_path / "folder").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", "missing.pt", flag, str(tmp_path / name)])  # refused before the checkpoint is read
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_ctrl_c_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("panoptic_ros.model.checkpoint.load_checkpoint", interrupted)
    (tmp_path / "m.pt").write_bytes(b"")
    assert main(["--checkpoint", str(tmp_path / "m.pt"), "--device", "cpu"]) == 130
    assert capsys.readouterr().err == "panoptic-eval: interrupted\n"


@pytest.mark.parametrize("argv, message", [
    (["--checkpoint", "m.pt", "--gt-json", "gt.json", "--gt-dir", "gt"], "--gt-json, --gt-dir score prediction files"),
    (["--gt-json", "g", "--gt-dir", "g", "--pred-json", "p", "--pred-dir", "p", "--data", "camvid", "--head", "all"],
     "--data, --head: for a checkpoint (--checkpoint) only"),
    (["--checkpoint", "m.pt", "--data", "camvid", "--root", "r", "--height", "64", "--seed", "7"],
     "--seed, --height: for --data synthetic only"),
    (["--checkpoint", "m.pt", "--root", "r"], "--root does not apply to --data synthetic"),
    (["--gt-json", "g"], "give --gt-json/--gt-dir/--pred-json/--pred-dir, or --checkpoint"),
])
def test_options_the_mode_would_ignore_are_refused_before_any_work(argv, message, capsys):
    """Files with a checkpoint once scored the model on generated scenes instead, with exit status 0."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
