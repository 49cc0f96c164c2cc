"""panoptic-train: a few steps, checkpoints, resume, and DDP with two gloo processes under torchrun."""
from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from helpers import small_categories, small_model_config, write_coco_panoptic
from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import DataConfig, SourceConfig, TrainConfig, load_config, to_dict
from panoptic_ros.model.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from panoptic_ros.model.network import CLASS_LAYERS, PanopticNet
from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.dataset import SyntheticStreetScenes, TrainingDataset, collate
from panoptic_ros.data.sampling import EpochSampler
from panoptic_ros.train import _batches, error_line, learning_rate, main, mean_over_ranks, parameter_groups


def _config(tmp_path: Path, iterations: int) -> Path:
    cfg = TrainConfig(model=small_model_config(),
                      data=DataConfig((SourceConfig(images=8, height=64, width=128),), crop=(64, 128)),
                      iterations=iterations, batch_size=2, workers=0, warmup_iterations=1, checkpoint_every=2,
                      held_out=SourceConfig(split="heldout", images=2, height=64, width=128),
                      optimizer="adamw", lr=1e-3, output_dir=str(tmp_path / "run"))
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    return path


def _trained(args: list[str]) -> None:
    """``panoptic-train args``, which must succeed (exit status 0: a refusal is a line, not an exception)."""
    assert main(args) == 0


def _refused(capsys, args: list[str]) -> str:
    """What ``panoptic-train args`` said, having exited 2 with one line and no traceback."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("panoptic-train: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def _log(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv") as f:
        return list(csv.DictReader(f))


def test_trains_checkpoints_and_resumes(tmp_path):
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu"])
    run = tmp_path / "run"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    assert read_checkpoint(run / "last.pt")["extra"]["step"] == 2
    model, meta = load_checkpoint(run / "best.pt")
    assert "pq" in meta["extra"]
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", "iterations=4"])
    rows = _log(run)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["loss"]) > 0 for r in rows) and {"loss_panoptic", "loss_affinity"} <= set(rows[0])


def test_a_fresh_run_refuses_a_folder_holding_a_run_and_a_resume_logs_each_step_once(tmp_path, capsys):
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu"])
    best = (tmp_path / "run" / "best.pt").read_bytes()
    assert "already holds a training run" in _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu"])
    assert (tmp_path / "run" / "best.pt").read_bytes() == best
    with open(tmp_path / "run" / "log.csv", "a") as f:  # a step logged after the last checkpoint, then a crash
        f.write("3" + "," * (len(_log(tmp_path / "run")[0]) - 1) + "\n" + "1")  # ... in the middle of a line
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", "iterations=4"])
    assert [int(r["step"]) for r in _log(tmp_path / "run")] == [1, 2, 3, 4]
    assert all(float(r["loss"]) > 0 for r in _log(tmp_path / "run"))


def test_a_resumed_run_goes_on_with_the_batches_an_unbroken_run_would_have_had(tmp_path):
    dataset = TrainingDataset(SyntheticStreetScenes(6, seed=1, height=64, width=128),
                              Augmentation((0.5, 1.5), (32, 64), True, 0.2))
    def images(start: int, count: int) -> list[torch.Tensor]:
        sampler = EpochSampler(len(dataset), seed=0)
        loader = DataLoader(dataset, batch_size=2, sampler=sampler, collate_fn=collate, drop_last=True)
        batches = _batches(loader, sampler, start)
        return [next(batches)[0] for _ in range(count)]
    unbroken = images(0, 7)  # three batches an epoch: steps 0-2, 3-5, 6
    resumed = images(4, 3)  # the middle of the second epoch
    assert all(torch.equal(a, b) for a, b in zip(unbroken[4:], resumed))
    assert not torch.equal(unbroken[0], unbroken[3])  # another epoch, another order and augmentation


def test_the_average_is_the_mean_of_the_checkpoints_from_its_step_on_across_resumes(tmp_path):
    config = _config(tmp_path, 1)
    run = tmp_path / "run"
    settings = ["average_from=2", "schedule=constant", "checkpoint_every=1"]
    _trained(["--config", str(config), "--quiet", "--device", "cpu", *settings])
    checkpoints = []
    for iterations in (2, 3, 4, 5):  # resumed at every step, so each checkpoint can be kept
        _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", *settings,
                  f"iterations={iterations}"])
        checkpoints.append(load_checkpoint(run / "last.pt")[0].state_dict())
    average, meta = load_checkpoint(run / "average.pt")
    assert meta["extra"] == {"step": 5, "averaged": 4}  # steps 2, 3, 4 and 5; not step 1
    for name, value in average.state_dict().items():
        expected = sum(c[name] for c in checkpoints) / 4 if value.is_floating_point() else checkpoints[-1][name]
        assert torch.allclose(value, expected, atol=1e-6) if value.is_floating_point() else torch.equal(value, expected)
    moved = [n for n, v in checkpoints[0].items() if v.is_floating_point() and not torch.equal(v, checkpoints[-1][n])]
    assert moved  # the checkpoints differ, so a wrong weighting could not pass


def test_an_unbroken_run_averages_as_one_resumed_from_a_checkpoint_off_the_grid(tmp_path):
    config = _config(tmp_path, 4)
    settings = ["average_from=2", "schedule=constant", "held_out=null"]
    averages = []
    for name, stops in (("unbroken", (4,)), ("resumed", (2, 3, 4))):  # step 3: a last.pt off the grid
        for i, iterations in enumerate(stops):
            _trained(["--config", str(config), "--quiet", "--device", "cpu", *(["--resume"] if i else []), *settings,
                      f"output_dir={tmp_path / name}", f"iterations={iterations}"])
        average, meta = load_checkpoint(tmp_path / name / "average.pt")
        assert meta["extra"] == {"step": 4, "averaged": 2}, name  # steps 2 and 4
        averages.append(average.state_dict())
    unbroken, resumed = averages
    assert all(torch.equal(unbroken[n], resumed[n]) for n in unbroken)


def test_learning_rate_warms_up_then_decays():
    cfg = TrainConfig(iterations=100, warmup_iterations=10, lr=1.0)
    lrs = [learning_rate(cfg, s) for s in range(100)]
    assert lrs[0] < lrs[9] < lrs[10] and lrs[10] > lrs[50] > lrs[99] >= 0.01


def test_a_constant_schedule_warms_up_then_holds():
    cfg = TrainConfig(iterations=100, warmup_iterations=10, lr=1.0, schedule="constant")
    lrs = [learning_rate(cfg, s) for s in range(100)]
    assert lrs[0] < lrs[9] < 1.0 and set(lrs[10:]) == {1.0}


@pytest.mark.parametrize("trainable_layers", [5, 3])
def test_parameter_groups_put_the_body_apart_and_cover_every_trainable_parameter(trainable_layers):
    cfg = small_model_config()
    cfg.backbone.trainable_layers = trainable_layers
    model = PanopticNet(cfg, small_categories())
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert (len(trainable) == len(list(model.parameters()))) == (trainable_layers == 5)
    head, body = parameter_groups(model, 0.1)
    assert (head["lr_scale"], body["lr_scale"]) == (1.0, 0.1)
    ids = [id(p) for g in (head, body) for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in trainable}
    assert {id(p) for p in body["params"]} == {id(p) for p in model.backbone.body.parameters() if p.requires_grad}
    (single,) = parameter_groups(model, 1.0)  # the layout runs had before the option: they still resume
    assert single["lr_scale"] == 1.0 and [id(p) for p in single["params"]] == [id(p) for p in trainable]


def _group_lrs(run: Path) -> list[float]:
    return [g["lr"] for g in read_checkpoint(run / "last.pt")["extra"]["optimizer"]["param_groups"]]


def test_the_body_learns_at_its_share_of_the_learning_rate_which_a_resume_may_change(tmp_path, capsys):
    config = _config(tmp_path, 1)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "backbone_lr_scale=0.25"])
    head, body = _group_lrs(tmp_path / "run")
    assert head > 0 and body == pytest.approx(0.25 * head)
    (row,) = _log(tmp_path / "run")
    assert float(row["lr_body"]) == pytest.approx(0.25 * float(row["lr"]))
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", "iterations=2",
              "backbone_lr_scale=0.5"])
    head, body = _group_lrs(tmp_path / "run")
    assert head > 0 and body == pytest.approx(0.5 * head)
    # one group at scale 1: not the same optimizer
    assert "parameter groups" in _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu", "--resume",
                                                   "iterations=3"])


def test_a_resumed_run_keeps_the_columns_of_an_older_log(tmp_path):
    config = _config(tmp_path, 1)
    _trained(["--config", str(config), "--quiet", "--device", "cpu"])
    log = tmp_path / "run" / "log.csv"
    header, first = log.read_text().splitlines()
    old_columns = [c for c in header.split(",") if c != "lr_body"]  # a log written before lr_body
    with open(log, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=old_columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerow(dict(zip(header.split(","), first.split(","))))
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", "iterations=2"])
    rows = _log(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2] and all(None not in r for r in rows)
    assert float(rows[1]["loss"]) > 0 and "lr_body" not in rows[1]


def test_a_negative_backbone_lr_scale_is_refused():
    with pytest.raises(ValueError, match="backbone_lr_scale"):
        TrainConfig(backbone_lr_scale=-1.0)


def test_ddp_with_two_gloo_processes(tmp_path):
    config = _config(tmp_path, 2)
    torchrun = Path(sys.executable).parent / "torchrun"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "panoptic_ros.train",
                           "--config", str(config), "--quiet", "--device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _log(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2]  # rank 0 logs each step once
    assert read_checkpoint(tmp_path / "run" / "last.pt")["extra"]["step"] == 2


def _log_rank_means(rank: int, store: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        means = mean_over_ranks({"loss": torch.tensor(1.0 + rank), "loss_mask": torch.tensor(4.0 * rank)})
        Path(out, f"rank{rank}.yaml").write_text(yaml.safe_dump(means))
    finally:
        torch.distributed.destroy_process_group()


def test_the_log_averages_the_losses_over_the_ranks_not_rank_0s_share(tmp_path):
    torch.multiprocessing.start_processes(_log_rank_means, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2,
                                          start_method="fork")  # spawn cannot import a test module by name
    for rank in (0, 1):
        assert yaml.safe_load((tmp_path / f"rank{rank}.yaml").read_text()) == {"loss": 1.5, "loss_mask": 2.0}
    assert mean_over_ranks({"loss": torch.tensor(3.0)}) == {"loss": 3.0}  # one process: as given


def test_a_run_can_start_from_a_trained_checkpoint_and_refuses_a_different_model(tmp_path, capsys):
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu"])
    first = tmp_path / "run" / "last.pt"
    # a setting that only steers training may differ (the ablations of the training recipe need this)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", f"init_from={first}", "iterations=1",
              f"output_dir={tmp_path / 'tuned'}", "lr=0.0", "model.instance.mask_positive_per_image=0"])
    before, _ = load_checkpoint(first)
    after, _ = load_checkpoint(tmp_path / "tuned" / "last.pt")
    weights = dict(after.named_parameters())  # lr 0: every weight unchanged (buffers: batch-norm statistics)
    assert all(torch.equal(p, weights[name]) for name, p in before.named_parameters())
    assert "differ from this run" in _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu",
                                                       f"init_from={first}", "model.backbone.fpn_channels=16",
                                                       f"output_dir={tmp_path / 'other'}"])


def _street_scenes_as_coco(folder: Path, categories: CategoryTable) -> SourceConfig:
    """Four synthetic street scenes written as a COCO panoptic folder listing ``categories``."""
    write_coco_panoptic(folder, (SyntheticStreetScenes(4, height=64, width=128)[i] for i in range(4)), categories)
    return SourceConfig(kind="coco_panoptic", root=str(folder))


def test_data_listing_the_same_classes_in_another_order_trains_on_the_checkpoint_s_channels(tmp_path, capsys):
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "held_out=null"])
    first = tmp_path / "run" / "last.pt"
    street = SyntheticStreetScenes.categories
    exported = CategoryTable(tuple(dataclasses.replace(c, color=(9, 9, 9)) for c in reversed(street.categories)))
    cfg = TrainConfig(model=small_model_config(),
                      data=DataConfig((_street_scenes_as_coco(tmp_path / "exported", exported),), crop=(64, 128)),
                      iterations=1, batch_size=2, workers=0, lr=0.0, output_dir=str(tmp_path / "tuned"),
                      init_from=str(first), held_out=SourceConfig(split="heldout", images=2, height=64, width=128))
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text(yaml.safe_dump(to_dict(cfg)))
    assert main(["--config", str(tuned), "--quiet", "--device", "cpu"]) == 0
    before, after = load_checkpoint(first)[0], load_checkpoint(tmp_path / "tuned" / "last.pt")[0]
    assert after.categories == before.categories == street  # the weights' channels, not the export's order
    weights = dict(after.named_parameters())
    assert all(torch.equal(p, weights[name]) for name, p in before.named_parameters())
    assert main(["--config", str(tuned), "--quiet", "--device", "cpu", "--resume", "iterations=2"]) == 0
    assert load_checkpoint(tmp_path / "tuned" / "last.pt")[0].categories == street
    # other classes: refused at the start, naming the checkpoint, the data and the classes (the same folder,
    # exported again with a class renamed: another folder would be refused as a changed setting)
    renamed = CategoryTable(tuple(dataclasses.replace(c, name="automobile") if c.name == "car" else c
                                  for c in street.categories))
    shutil.rmtree(tmp_path / "exported")
    _street_scenes_as_coco(tmp_path / "exported", renamed)
    err = _refused(capsys, ["--config", str(tuned), "--quiet", "--device", "cpu", "--resume", "iterations=3"])
    assert f"{tmp_path / 'tuned' / 'last.pt'}'s categories differ from data source 0's" in err and "automobile" in err
    shutil.rmtree(tmp_path / "exported")
    _street_scenes_as_coco(tmp_path / "exported", exported)
    other = _street_scenes_as_coco(tmp_path / "other", renamed)
    err = _refused(capsys, ["--config", str(tuned), "--quiet", "--device", "cpu", f"output_dir={tmp_path / 'other'}",
                            f"held_out={{kind: coco_panoptic, root: {other.root}}}"])
    assert "the model's categories differ from held_out's" in err and not (tmp_path / "other" / "log.csv").exists()


def test_a_model_of_other_classes_fine_tunes_all_but_its_class_layers(tmp_path, capsys):
    torch.manual_seed(0)
    other = save_checkpoint(tmp_path / "other.pt", PanopticNet(small_model_config(), small_categories()), "other")
    _trained(["--config", str(_config(tmp_path, 1)), "--quiet", "--device", "cpu", f"init_from={other}", "lr=0.0",
              "held_out=null"])
    said = capsys.readouterr().out
    assert "its classes are not the data's (road, sky, car, person -> road, sidewalk, " in said
    assert "all its weights but the class layers' (8 tensors of semantic_head.classifier., " in said
    before, after = load_checkpoint(other)[0], load_checkpoint(tmp_path / "run" / "last.pt")[0]
    assert after.categories == SyntheticStreetScenes.categories
    weights = dict(after.named_parameters())  # lr 0: every shared weight as the checkpoint had it
    shared = [name for name, _ in before.named_parameters() if not name.startswith(CLASS_LAYERS)]
    assert len(shared) > 50 and all(torch.equal(p, weights[name]) for name, p in before.named_parameters()
                                    if name in shared)
    other_width = dataclasses.replace(small_model_config(), backbone=dataclasses.replace(
        small_model_config().backbone, fpn_channels=16))  # not only the classes: refused as before
    wider = save_checkpoint(tmp_path / "wider.pt", PanopticNet(other_width, small_categories()), "wider")
    assert "its parameters differ from this run's model" in _refused(capsys, [
        "--config", str(_config(tmp_path, 1)), "--quiet", "--device", "cpu", f"init_from={wider}",
        f"output_dir={tmp_path / 'wider'}"])


def _poison_losses(monkeypatch, steps: set[int]) -> None:
    """The network's losses are NaN on the given (0-based) training steps."""
    losses, calls = PanopticNet.losses, []

    def poisoned(self, *args, **kwargs):
        out = losses(self, *args, **kwargs)
        calls.append(len(calls))
        if calls[-1] in steps:
            out["loss_semantic"] = out["loss_semantic"] * float("nan")
        return out

    monkeypatch.setattr(PanopticNet, "losses", poisoned)


def test_a_non_finite_step_is_skipped_and_never_reaches_a_checkpoint(tmp_path, monkeypatch, capsys):
    """Without a GradScaler (CPU, or amp off) nothing else stops one NaN step spreading to every weight."""
    _poison_losses(monkeypatch, {0})
    _trained(["--config", str(_config(tmp_path, 2)), "--quiet", "--device", "cpu"])
    state = read_checkpoint(tmp_path / "run" / "last.pt")["state_dict"]
    assert all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())
    assert [int(r["step"]) for r in _log(tmp_path / "run")] == [1, 2]


def test_a_diverging_training_stops_with_a_clear_error(tmp_path, monkeypatch, capsys):
    _poison_losses(monkeypatch, set(range(100)))
    monkeypatch.setattr("panoptic_ros.train.MAX_BAD_STEPS", 2)
    assert "2 steps in a row with non-finite" in _refused(capsys, ["--config", str(_config(tmp_path, 4)), "--quiet",
                                                                   "--device", "cpu"])


def test_a_resumed_run_ends_where_the_unbroken_run_does(tmp_path, monkeypatch, capsys):
    """Same weights after 2 steps + resume + 2 as after 4: the data position and every random draw
    (proposal sampling, instance dropping, affinity pixels) go on where the checkpoint left them."""
    config = _config(tmp_path, 4)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", f"output_dir={tmp_path / 'unbroken'}"])
    schedule = learning_rate

    def stop_at_step_two(cfg, step):
        if step == 2:
            raise KeyboardInterrupt  # the run dies after its step-2 checkpoint
        return schedule(cfg, step)

    monkeypatch.setattr("panoptic_ros.train.learning_rate", stop_at_step_two)
    assert main(["--config", str(config), "--quiet", "--device", "cpu", f"output_dir={tmp_path / 'broken'}"]) == 130
    last = tmp_path / "broken" / "last.pt"  # Ctrl-C: one line, saying where the run goes on from
    assert capsys.readouterr().err == f"panoptic-train: interrupted; {last} holds its last checkpoint, which " \
                                      "--resume goes on from\n"
    monkeypatch.setattr("panoptic_ros.train.learning_rate", schedule)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "--resume", f"output_dir={tmp_path / 'broken'}"])
    unbroken, resumed = (read_checkpoint(tmp_path / run / "last.pt")["state_dict"] for run in ("unbroken", "broken"))
    assert all(torch.equal(unbroken[k], resumed[k]) for k in unbroken)


@pytest.mark.parametrize("override, message", [
    ("itertions=2", "config: unknown key(s) ['itertions']"),
    ("iterations=abc", "config.iterations: expected int, got 'abc'"),
    ("lr.x=1", "override 'lr.x=1': 'lr' is a single value"),
])
def test_a_misspelt_or_mistyped_override_is_one_line(tmp_path, capsys, override, message):
    err = _refused(capsys, ["--config", str(_config(tmp_path, 2)), "--quiet", "--device", "cpu", override])
    assert message in err


def test_a_held_out_that_reads_training_data_is_refused_before_any_work(tmp_path, capsys):
    """A Cityscapes or CamVid ``held_out`` without a split would score the training split."""
    err = _refused(capsys, ["--config", str(_config(tmp_path, 2)), "--quiet", "--device", "cpu",
                            "held_out.split=train", "held_out.images=2"])
    assert "held_out reads the data of training source 0 (counted from 0): best.pt would follow PQ" in err
    assert not (tmp_path / "run").exists()


def test_a_resume_with_another_batch_size_is_refused(tmp_path, capsys):
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu"])
    # overrides on both sides of --resume
    assert "cannot resume with batch_size 2 -> 1" in _refused(capsys, ["--config", str(config), "--quiet", "--device",
                                                                       "cpu", "iterations=4", "--resume",
                                                                       "batch_size=1"])


def test_a_resume_refuses_a_recipe_that_drifted_and_takes_a_longer_run(tmp_path, capsys):
    """A fine-tune begun with overrides and resumed without them would go on with the config's own
    learning rate and data, silently; how long it runs and how often it is saved may change."""
    config = _config(tmp_path, 2)
    _trained(["--config", str(config), "--quiet", "--device", "cpu", "lr=0.002"])
    err = _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu", "--resume", "seed=3"])
    assert "cannot resume with lr 0.002 -> " in err and "; seed 0 -> 3:" in err
    err = _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu", "--resume", "lr=0.002",
                            "data.sources.0.height=32"])
    assert "cannot resume with data.sources.0.height 64 -> 32:" in err  # named by its own key
    err = _refused(capsys, ["--config", str(config), "--quiet", "--device", "cpu", "--resume", "lr=0.002",
                            "data.sources=[{images: 8, height: 64, width: 128}, {images: 8, height: 64, width: 128}]"])
    assert "cannot resume with data.sources.count 1 -> 2:" in err  # a source added
    moved = tmp_path / "moved"
    (tmp_path / "run").rename(moved)  # a run moved to another folder (or machine) goes on there
    capsys.readouterr()
    _trained(["--config", str(config), "--device", "cpu", "--resume", "lr=0.002", "iterations=3",
              "checkpoint_every=3", f"output_dir={moved}", "held_out.seed=5"])
    assert "held_out changed: best.pt follows the new held-out PQ from its first score" in capsys.readouterr().out
    best = read_checkpoint(moved / "best.pt")["extra"]
    assert best["step"] == 3 and read_checkpoint(moved / "last.pt")["extra"]["best_pq"] == best["pq"]


def test_batch_norms_become_synchronised_ones_with_their_activations_kept():
    from timm.layers import BatchNormAct2d

    from panoptic_ros.config import BackboneConfig
    from panoptic_ros.train import sync_batch_norms
    cfg = small_model_config()
    for name in ("efficientnet_lite0", "resnet18"):
        model = PanopticNet(dataclasses.replace(cfg, backbone=BackboneConfig(name=name, norm="bn", pretrained="")),
                            small_categories())
        acts = [type(m.act) for m in model.modules() if isinstance(m, BatchNormAct2d)]
        synced = sync_batch_norms(model)
        norms = [m for m in synced.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert norms and all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms), name
        assert [type(m.act) for m in synced.modules() if hasattr(m, "act") and isinstance(
            m, torch.nn.SyncBatchNorm)] == acts, name


def test_more_processes_than_gpus_is_one_clear_error(monkeypatch):
    """torchrun --nproc-per-node above the machine's GPU count: a line naming it, not CUDA's traceback."""
    from panoptic_ros.train import _start_processes
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr("panoptic_ros.train.dist.init_process_group", lambda *args, **kwargs: None)
    monkeypatch.setattr("panoptic_ros.train.torch.cuda.device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"process 1 of this machine has no GPU of its own \(1 visible\)"):
        _start_processes(torch.device("cuda"))


def test_a_sample_a_data_worker_cannot_read_is_one_line():
    """torch re-raises a worker's error with the worker's traceback as its message."""
    from torch.utils.data import DataLoader

    class Unreadable(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> None:
            raise ValueError("000002: image (256, 128) and its labels (128, 256) differ in size")

    with pytest.raises(ValueError) as caught:
        next(iter(DataLoader(Unreadable(), num_workers=1)))
    assert error_line(caught.value) == "000002: image (256, 128) and its labels (128, 256) differ in size"
    assert error_line(ValueError("a: b")) == "a: b"


def test_held_out_is_scored_at_the_inference_size_named(tmp_path, monkeypatch):
    """Frames larger than the node runs at: best.pt chosen at the scale the node will see them."""
    from panoptic_ros.eval import model_eval
    sizes = []
    evaluate = model_eval.evaluate_model

    def recording(*args, inference_size=None, **kwargs):
        sizes.append(inference_size)
        return evaluate(*args, inference_size=inference_size, **kwargs)
    monkeypatch.setattr("panoptic_ros.train.evaluate_model", recording)
    _trained(["--config", str(_config(tmp_path, 2)), "--quiet", "--device", "cpu", "held_out_inference_size=[48, 0]"])
    assert sizes == [(48, 0)]
    with pytest.raises(ValueError, match="held_out_inference_size must be"):
        load_config(TrainConfig, None, ["held_out_inference_size=[-1, 0]"])
    # an unset optional group (held_out: null by default) is made by an override of one of its settings
    assert load_config(TrainConfig, None, ["held_out.split=heldout"]).held_out.split == "heldout"
    with pytest.raises(ValueError, match="'held_out_inference_size' is a single value"):  # a list, not a group
        load_config(TrainConfig, None, ["held_out_inference_size.0=360"])
