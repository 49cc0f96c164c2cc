"""``panoptic-train``: train PanopticNet end to end (single process, or DDP under ``torchrun``).

    panoptic-train --config config/train_camvid.yaml iterations=2000 output_dir=runs/mine
    panoptic-train --config config/train_camvid.yaml init_from=models/street_lite0.pt lr=0.0002 output_dir=runs/ft
    torchrun --nproc-per-node 2 -m panoptic_ros.train --config ...

Each step runs with mask cues, or without them with probability ``mask_cue_dropout``, so one
checkpoint serves both inference modes; its panoptic heads see the network's own detections with
probability ``own_detections``, else ground-truth boxes with some hidden (the same choices on every
rank). Logs go to ``<output_dir>/log.csv`` (per step: base and body learning rates, losses averaged over
the ranks, seconds);
``last.pt`` is written every ``checkpoint_every`` steps, ``best.pt`` whenever the PQ on ``held_out``
(with the model's own head) improves, and with ``average_from`` set ``average.pt``, the mean of the
weights at every checkpoint from that step on (``WeightAverage``). ``--resume`` continues from
``last.pt`` where the run would have been: the same epoch, order and augmentations, without the batches
already trained on; a run without it refuses an ``output_dir`` that holds one, so nothing is
overwritten.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import math
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator, TextIO, cast

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from panoptic_ros.arguments import CTRL_C_STATUS
from panoptic_ros.categories import CategoryTable, OtherClasses, check_same_classes
from panoptic_ros.config import LossWeights, TrainConfig, load_config, to_dict
from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.dataset import (
    HELD_OUT_SPLITS, SampleSource, TrainingDataset, balanced_class_weights, build_source, build_training_source,
    class_frequencies, collate, resolved_folder, same_data,
)
from panoptic_ros.data.sampling import EpochSampler
from panoptic_ros.defaults import DEFAULT_DEVICE, DEVICE_CHOICES
from panoptic_ros.device import autocast, resolve_device
from panoptic_ros.eval.model_eval import evaluate_model
from panoptic_ros.image_size import inference_size_or_none
from panoptic_ros.model.backbone import load_pretrained
from panoptic_ros.model.checkpoint import (
    CheckpointError, check_finite, load_checkpoint, read_checkpoint, save_checkpoint,
)
from panoptic_ros.model.network import CLASS_LAYERS, PanopticNet

MAX_BAD_STEPS = 20  # non-finite steps in a row before the training stops: it is diverging, not unlucky


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_states() -> dict[str, Any]:
    """This process's random states (Python, NumPy, torch, CUDA) in types a ``weights_only`` load reads:
    what the proposal sampling, instance dropping and affinity sampling draw from."""
    _, key, pos, *_ = np.random.get_state()
    states: dict[str, Any] = {"python": random.getstate(), "numpy": (torch.from_numpy(key.astype(np.int64)), int(pos)),
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    """Put back what ``_rng_states`` took."""
    random.setstate(tuple(v if not isinstance(v, list) else tuple(v) for v in states["python"]))
    key, pos = states["numpy"]
    np.random.set_state(("MT19937", key.numpy().astype(np.uint32), pos, 0, 0.0))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def _all_rng_states(distributed: bool) -> list[dict[str, Any]]:
    """Every rank's random states, by rank (a collective: every rank calls it)."""
    if not distributed:
        return [_rng_states()]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, _rng_states())
    return gathered


def sync_batch_norms(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every batch norm synchronised across the processes (``norm: bn`` under DDP on
    GPUs): each GPU's few images alone give noisy statistics, and DDP would then broadcast rank 0's
    running statistics over the others' at every step. timm's converter keeps its fused BN + activation
    layers whole (torch's own would drop their activation)."""
    from timm.layers import convert_sync_batchnorm
    return convert_sync_batchnorm(model)


# What a resume may change: how long the run goes on (which re-times the cosine decay, as a lower body
# learning rate changes the steps after it: the run no longer ends where the unbroken one would), how often
# it is saved and scored (a changed held-out set restarts best.pt), and the machine's share of it. Anything
# else (data, model, schedule, seed, batch) would make it another run, silently.
HELD_OUT_SETTINGS = ("held_out", "held_out_inference_size")  # what best.pt's PQ is measured on
RESUMABLE_CHANGES = ("iterations", "checkpoint_every", *HELD_OUT_SETTINGS, "workers", "backbone_lr_scale")
# not the run's recipe: where it is kept (it may be moved), and the start a resume does not use
_NOT_COMPARED = ("output_dir", "init_from")


def _check_resumable(saved: dict[str, Any], cfg: TrainConfig, world: int, path: Path) -> None:
    """Refuse a resume whose configuration differs from the run's own beyond ``RESUMABLE_CHANGES``: a
    command line or config that has drifted (another YAML, overrides left out) would otherwise go on
    training another recipe from the checkpoint (say, the config's data instead of the overrides a
    fine-tune started with). The number of processes is the run's too: step N's place
    in the epoch is N batches of ``batch_size`` on each of them, shuffled by ``seed``."""
    changed = [f"{key} {_brief(was)} -> {_brief(now)}" for key, (was, now) in sorted(_differences(saved, cfg).items())
               if key.split(".")[0] not in (*RESUMABLE_CHANGES, *_NOT_COMPARED)]
    if saved.get("world_size", world) != world:
        changed.append(f"processes {saved['world_size']} -> {world}")
    if changed:
        raise ValueError(f"{path}: cannot resume with {'; '.join(changed)}: a resume goes on with the run's own "
                         f"settings, all but {', '.join(RESUMABLE_CHANGES)} (start another output_dir with "
                         "init_from= to fine-tune instead)")


def _differences(saved: dict[str, Any], cfg: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (the run's value, this command's)} of every setting that differs between the run's
    saved configuration and ``cfg``. Only settings both sides know are compared (one added to the code
    since the run began has no value of the run's), but a group set on one side only (``held_out``)
    differs as a whole; dataset folders are compared resolved, each side's relative ones from the
    directory it ran in (the run's is saved with it)."""
    run, this = saved.get("train_config", {}), to_dict(cfg)
    before, now = _flat(run, base=saved.get("cwd")), _flat(this, base=os.getcwd())
    differences = {key: (before[key], now[key]) for key in before.keys() & now.keys() if before[key] != now[key]}
    differences |= {key: (run[key], value) for key, value in this.items()
                    if key in run and (run[key] is None) != (value is None)}
    return differences


def _flat(tree: dict[str, Any] | list[Any], prefix: str = "", base: str | None = None) -> dict[str, Any]:
    """A nested config as {dotted key: value}, list elements by index as overrides name them
    (``data.sources.0.root``), each list's length as ``<key>.count``, dataset folders resolved from
    ``base`` (``resolved_folder``): so a difference is named by its own key, and a setting added to the
    code since a run began is missing from its side only, inside a list too."""
    flat: dict[str, Any] = {}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    if isinstance(tree, list):
        flat[f"{prefix}count"] = len(tree)
    for key, value in items:
        if isinstance(value, (dict, list)):
            flat.update(_flat(value, f"{prefix}{key}.", base))
        elif key == "root" and value:
            flat[f"{prefix}{key}"] = resolved_folder(value, base)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _brief(value: Any, limit: int = 60) -> str:
    """A config value for a one-line message (a long one cut short)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 1% of ``lr``, or ``lr`` to the end (``schedule: constant``:
    weights averaged over checkpoints want iterates spread around a minimum, not annealed into one)."""
    if step < cfg.warmup_iterations:
        return cfg.lr * (0.1 + 0.9 * step / cfg.warmup_iterations)
    if cfg.schedule == "constant":
        return cfg.lr
    t = (step - cfg.warmup_iterations) / max(1, cfg.iterations - cfg.warmup_iterations)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


class WeightAverage:
    """Stochastic weight averaging over checkpoints (Izmailov et al. 2018): the running mean of the
    weights at each checkpoint from step ``average_from`` on. Trained at a constant learning rate, the
    checkpoints circle a minimum and their mean lies nearer its flat middle than any one of them, which
    is what a camera the training never saw needs. Batch-norm statistics are averaged with the rest
    (exact for frozen batch norms, an approximation for trained ones).
    """

    def __init__(self, mean: dict[str, torch.Tensor] | None = None, count: int = 0) -> None:
        self.mean, self.count = mean, count

    def add(self, state: dict[str, torch.Tensor]) -> None:
        """Fold one checkpoint's weights into the mean (float32 on the host; integers: the latest)."""
        self.count += 1
        state = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        if self.mean is None:
            self.mean = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
            return
        for k, v in state.items():
            if v.is_floating_point():
                self.mean[k] += (v.float() - self.mean[k]) / self.count
            else:
                self.mean[k] = v

    def model(self, like: PanopticNet) -> PanopticNet:
        """A copy of ``like`` holding the mean weights."""
        assert self.mean is not None
        averaged = copy.deepcopy(like)
        own = averaged.state_dict()
        averaged.load_state_dict({k: v.to(own[k].dtype) for k, v in self.mean.items()})
        return averaged


def _score_held_out(model: PanopticNet, held_out: SampleSource, cfg: TrainConfig, bar: tqdm, label: str) -> float:
    """The held-out PQ of ``model`` (in eval mode; with mask cues, its own head, at
    ``held_out_inference_size``), logged after ``label`` with its mIoU."""
    summary = evaluate_model(model, held_out, cfg.model.panoptic.kind, True,
                             inference_size=inference_size_or_none(cfg.held_out_inference_size))
    pq = summary["All"]["pq"]
    bar.write(f"{label} {100 * pq:.2f}, mIoU {100 * summary['miou']:.2f}")
    return pq


def _open_log(path: Path, start: int) -> TextIO:
    """``log.csv`` for appending from step ``start`` on: a fresh run's is new, a resumed run's keeps
    the rows up to its checkpoint (those logged after it are trained again, so they would repeat)."""
    if start == 0 or not path.is_file():
        return open(path, "w", newline="")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    step = rows[0].index("step") if rows else 0
    complete = [r for r in rows[1:] if len(r) == len(rows[0])]  # a line cut short by a crash goes too
    kept = rows[:1] + [r for r in complete if int(r[step]) <= start]
    log_file = open(path, "w", newline="")
    csv.writer(log_file).writerows(kept)
    log_file.flush()  # _log_writer reads the header back from the file
    return log_file


def _log_writer(log_file: TextIO, columns: list[str]) -> csv.DictWriter:
    """A CSV writer for ``log.csv`` that keeps the columns of a log a resumed run appends to.

    A run started by an older version may lack a column this one logs (``lr_body``): its rows keep
    their header's columns rather than shifting every value after the new one.
    """
    if log_file.tell() > 0:
        with open(log_file.name, newline="") as f:
            columns = next(csv.reader(f))
        return csv.DictWriter(log_file, fieldnames=columns, extrasaction="ignore")
    writer = csv.DictWriter(log_file, fieldnames=columns)
    writer.writeheader()
    return writer


def parameter_groups(model: PanopticNet, backbone_lr_scale: float) -> list[dict[str, Any]]:
    """The trainable parameters as optimizer groups, the backbone's body apart when it learns slower.

    Fine-tuning an ImageNet body at the heads' learning rate on a few hundred frames might wash out
    the general features a new drive needs; ``backbone_lr_scale`` below 1 keeps the body closer to
    them (on CamVid it did not help: models/README.md). AdamW's decoupled weight decay scales with it.

    Args:
        model: the network; frozen parameters (``requires_grad`` False) are left out.
        backbone_lr_scale: the body's learning rate as a share of the base learning rate.
    Returns:
        ``{"params": [...], "lr_scale": float}`` groups: one group (scale 1, the layout of runs made
        before the option existed, so they still resume) when the scale is 1, else the other
        parameters and the body's.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    if backbone_lr_scale == 1.0:
        return [{"params": trainable, "lr_scale": 1.0}]
    body = {id(p) for p in model.backbone.body.parameters()}
    groups = [{"params": [p for p in trainable if id(p) not in body], "lr_scale": 1.0},
              {"params": [p for p in trainable if id(p) in body], "lr_scale": backbone_lr_scale}]
    return [g for g in groups if g["params"]]


def mean_over_ranks(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """The losses averaged over every DDP rank (as given outside DDP), for the log.

    Each rank trains on its own share of the batch, so rank 0's losses alone are one sample of the
    step's; the mean is what the gradients follow. Every rank must call this (it is a collective).

    Args:
        losses: scalar loss tensors by name, the same names on every rank.
    Returns:
        The means as floats, by name.
    """
    values = torch.stack([v.detach().float() for v in losses.values()])
    if dist.is_initialized():
        dist.all_reduce(values)
        values /= dist.get_world_size()
    return dict(zip(losses, values.tolist()))


def _batches(loader: DataLoader, sampler: EpochSampler, start: int) -> Iterator[tuple[torch.Tensor, Any]]:
    """The batches from step ``start`` on: epoch after epoch, a resumed run going on in the epoch it
    stopped in, without the batches it had trained on."""
    per_epoch = sampler.per_rank // cast(int, loader.batch_size)
    if per_epoch == 0:
        raise ValueError(f"{sampler.per_rank} training items per rank make no batch of {loader.batch_size}")
    epoch, done = divmod(start, per_epoch)
    while True:
        sampler.set_epoch(epoch, skip=done * cast(int, loader.batch_size))
        yield from loader
        epoch, done = epoch + 1, 0


def _start_processes(device: torch.device) -> tuple[torch.device, bool, int, int]:
    """(this process's device, distributed, rank, world size): one process, or a DDP rank under ``torchrun``."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if not distributed:
        return device, False, 0, 1
    # rank 0 evaluates the held-out set (and, with average_from, the average too) while the others wait
    # in the checkpoint's gather of random states: an hour, not the default ten minutes, before a large
    # held-out set of one's own kills the run
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=1))
    if device.type == "cuda":
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise ValueError(f"process {local} of this machine has no GPU of its own ({torch.cuda.device_count()} "
                             "visible): start at most one process per GPU (torchrun --nproc-per-node)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    return device, True, dist.get_rank(), dist.get_world_size()


def _starting_point(cfg: TrainConfig, out: Path, resume: bool, announce: bool
                    ) -> tuple[dict[str, Any] | None, PanopticNet | None]:
    """(the checkpoint a resume goes on from, the model ``init_from`` names), at most one of them; an
    ``out`` that already holds a run is refused without ``resume``, so nothing is overwritten."""
    if not resume and any((out / name).exists() for name in ("last.pt", "best.pt")):
        raise ValueError(f"{out} already holds a training run: --resume continues it; another output_dir "
                         "starts afresh")
    out.mkdir(parents=True, exist_ok=True)
    state = read_checkpoint(out / "last.pt") if resume and (out / "last.pt").is_file() else None
    if resume and state is None and announce:
        print(f"nothing to resume in {out} (no last.pt): starting at step 0")
    initial = load_checkpoint(cfg.init_from)[0] if cfg.init_from and state is None else None
    return state, initial


def _training_source(cfg: TrainConfig, out: Path, state: dict[str, Any] | None, initial: PanopticNet | None
                     ) -> SampleSource:
    """The training data, on the channels of the weights this run goes on from where the data lists the
    same classes in another order or colours (a labelling tool's export, a reordered JSON)."""
    if state is not None:
        return build_training_source(cfg.data, cfg.seed, CategoryTable.from_list(state["categories"]),
                                     str(out / "last.pt"))
    try:
        return build_training_source(cfg.data, cfg.seed, initial.categories if initial else None,
                                     f"init_from {cfg.init_from}")
    except OtherClasses:
        if initial is None:  # the data sources disagree among themselves
            raise
        return build_training_source(cfg.data, cfg.seed)  # other classes: only its class layers start afresh


def _data_loader(cfg: TrainConfig, source: SampleSource, rank: int, world: int) -> tuple[DataLoader, EpochSampler]:
    """The augmented batches of ``source`` for this rank, and the sampler that orders them by epoch."""
    d = cfg.data
    augmentation = Augmentation(scale=d.scale_jitter, crop=d.crop, hflip=d.hflip, color=d.color_jitter,
                                saturation=d.saturation_jitter, gamma=d.gamma_jitter, blur=d.blur)
    dataset = TrainingDataset(source, augmentation, cfg.seed, d.copy_paste)
    sampler = EpochSampler(len(dataset), cfg.seed, rank, world)
    # its own generator: the iterator's worker seed would otherwise come from the global one, which a
    # resumed run's new iterator would then draw from where the unbroken run did not (the items are
    # seeded by themselves, so the workers' seeds change nothing)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                        collate_fn=collate, drop_last=True, persistent_workers=cfg.workers > 0,
                        generator=torch.Generator().manual_seed(cfg.seed))
    return loader, sampler


def _network(cfg: TrainConfig, categories: CategoryTable, initial: PanopticNet | None, resuming: bool,
             announce: bool) -> tuple[PanopticNet, int]:
    """(the network to train, how many ImageNet tensors its backbone took): fine-tuned from ``initial``'s
    weights, else from ImageNet's (not for a resume, which loads its own weights over them)."""
    model = PanopticNet(cfg.model, categories)
    if initial is None:
        return model, load_pretrained(model.backbone, cfg.model.backbone) if not resuming else 0
    # Same parameters (a strict load) suffice: settings that only steer training or inference (mask-head
    # proposals per image, score threshold, ...) may differ. Of a model of other classes all but the
    # class layers are taken, as detectron2 and mmdetection fine-tune.
    try:
        if initial.categories == model.categories:
            model.load_state_dict(initial.state_dict())
        else:
            fresh = model.load_all_but_class_layers(initial.state_dict())
            if announce:
                print(f"init_from {cfg.init_from}: its classes are not the data's "
                      f"({', '.join(c.name for c in initial.categories)} -> "
                      f"{', '.join(c.name for c in model.categories)}): all its weights but the class "
                      f"layers' ({len(fresh)} tensors of {', '.join(CLASS_LAYERS)}) are loaded; those "
                      "start afresh", flush=True)
    except RuntimeError as error:
        raise ValueError(f"init_from {cfg.init_from}: its parameters differ from this run's model "
                         f"({str(error).splitlines()[0]})") from error
    return model, 0


def _optimizer(cfg: TrainConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """``cfg.optimizer`` over the parameter groups (``parameter_groups``)."""
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


@dataclasses.dataclass
class _Progress:
    """Where a run stands: the next step, the best held-out PQ so far, the weight average (rank 0's),
    and the random states a resumed rank goes on with (None: a fresh run)."""

    start: int = 0
    best_pq: float = -1.0
    average: WeightAverage = dataclasses.field(default_factory=WeightAverage)
    rng: dict[str, Any] | None = None


def _resume(state: dict[str, Any], path: Path, cfg: TrainConfig, world: int, rank: int, model: PanopticNet,
            optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, use_amp: bool, announce: bool
            ) -> _Progress:
    """Load ``state`` (``path``'s) into the model, the optimizer and the scaler; where the run stood (a
    best held-out PQ measured on another held-out set or size than this resume's is forgotten: best.pt
    follows the new one from its first score)."""
    check_finite(path, state["state_dict"])
    model.load_state_dict(state["state_dict"])
    saved = state["extra"]["optimizer"]
    if len(saved["param_groups"]) != len(optimizer.param_groups):
        raise ValueError(f"{path}: its optimizer has {len(saved['param_groups'])} parameter groups, this run "
                         f"{len(optimizer.param_groups)}: backbone_lr_scale can change on resume, but not "
                         "between 1 and another value")
    optimizer.load_state_dict(saved)
    extra = state["extra"]
    if use_amp and extra.get("scaler"):  # empty where the run had AMP off (a CPU)
        scaler.load_state_dict(extra["scaler"])
    average = WeightAverage(extra.get("average"), extra.get("averaged", 0)) if rank == 0 else WeightAverage()
    best_pq = extra["best_pq"]
    held = sorted({key.split(".")[0] for key in _differences(extra, cfg)} & set(HELD_OUT_SETTINGS))
    if held and cfg.held_out is not None:
        best_pq = -1.0
        if announce:
            print(f"{' and '.join(held)} changed: best.pt follows the new held-out PQ from its first score")
    return _Progress(extra["step"], best_pq, average, extra.get("rng", [None] * world)[rank])


def _loss_weights(w: LossWeights) -> dict[str, float]:
    """The weight of each loss the network returns, by its name."""
    return {"loss_objectness": w.rpn, "loss_rpn_box_reg": w.rpn, "loss_classifier": w.box, "loss_box_reg": w.box,
            "loss_mask": w.mask, "loss_semantic": w.semantic, "loss_panoptic": w.panoptic,
            "loss_panoptic_upsnet": w.panoptic, "loss_affinity": w.affinity, "loss_lovasz": w.semantic_lovasz}


def _checkpoint(step: int, cfg: TrainConfig, out: Path, model: PanopticNet, extra: dict[str, Any],
                progress: _Progress, held_out: SampleSource | None, bar: tqdm) -> None:
    """Rank 0's part of a checkpoint at ``step`` (done): the held-out score and ``best.pt``, the weight
    average and ``average.pt`` (on the checkpoint grid from ``average_from`` on), the average into
    ``extra``, which ``last.pt`` keeps."""
    if held_out is not None:
        model.eval()
        pq = _score_held_out(model, held_out, cfg, bar,
                             f"step {step}: held-out PQ ({cfg.model.panoptic.kind}, mask cues)")
        model.train()
        if pq > progress.best_pq:
            progress.best_pq = extra["best_pq"] = pq
            save_checkpoint(out / "best.pt", model, out.name, extra={"step": step, "pq": pq})
    # on the checkpoint grid only, so a resume with other iterations averages what an unbroken run does
    average = progress.average
    if cfg.average_from and step >= cfg.average_from and step % cfg.checkpoint_every == 0:
        latest = model.state_dict()
        check_finite(out / "average.pt", latest)  # NaN must not reach a good average
        average.add(latest)
        averaged = average.model(model)
        save_checkpoint(out / "average.pt", averaged, out.name, extra={"step": step, "averaged": average.count})
        if held_out is not None:
            _score_held_out(averaged.eval(), held_out, cfg, bar,
                            f"step {step}: held-out PQ of the average of {average.count} checkpoints")
        del averaged, latest  # rank 0 trains on with no more memory than the others
    if average.count:  # in every checkpoint, on the grid or not: a resume from any goes on with it
        extra |= {"average": average.mean, "averaged": average.count}


def _check_held_out(cfg: TrainConfig) -> None:
    """Refuse a ``held_out`` that reads training data (a split left at its default, ``train``, names the
    very frames a CamVid or Cityscapes run trains on): ``best.pt`` would follow PQ on them."""
    if cfg.held_out is None:
        return
    trained = [k for k, s in enumerate(cfg.data.sources) if same_data(s, cfg.held_out)]
    if trained:
        raise ValueError(f"held_out reads the data of training source {trained[0]} (counted from 0): best.pt would "
                         f"follow PQ on samples the run trains on; give it a held-out split ({HELD_OUT_SPLITS}) "
                         "or other data")


def train(cfg: TrainConfig, device: torch.device, resume: bool = False, quiet: bool = False) -> Path:
    """Run training; returns the output directory."""
    _check_held_out(cfg)
    device, distributed, rank, world = _start_processes(device)
    _seed_everything(cfg.seed + rank)
    out = Path(cfg.output_dir)
    state, initial = _starting_point(cfg, out, resume, rank == 0 and not quiet)
    if state is not None:  # before any data is read: a drifted command line is the likelier error
        _check_resumable(state["extra"], cfg, world, out / "last.pt")
    source = _training_source(cfg, out, state, initial)
    loader, sampler = _data_loader(cfg, source, rank, world)
    model, loaded = _network(cfg, source.categories, initial, state is not None, rank == 0)
    del initial
    model.to(device)
    semantic_weight = None
    if cfg.losses.semantic_class_balance > 0:
        weights = balanced_class_weights(class_frequencies(source, seed=cfg.seed), cfg.losses.semantic_class_balance)
        semantic_weight = torch.tensor(weights, dtype=torch.float32, device=device)
    groups = parameter_groups(model, cfg.backbone_lr_scale)
    params = [p for g in groups for p in g["params"]]
    scales = [g["lr_scale"] for g in groups]
    optimizer = _optimizer(cfg, groups)
    use_amp = cfg.amp and device.type == "cuda"
    precision = "fp16" if use_amp else "fp32"
    scaler = torch.amp.GradScaler(enabled=use_amp)
    progress = _Progress()
    if state is not None:
        progress = _resume(state, out / "last.pt", cfg, world, rank, model, optimizer, scaler, use_amp,
                           rank == 0 and not quiet)
        del state  # the optimizer and the average hold their own copies
    if distributed and cfg.model.backbone.norm == "bn" and device.type == "cuda":
        model = sync_batch_norms(model)
    net = DistributedDataParallel(model, find_unused_parameters=True) if distributed else model
    held_out = build_source(cfg.held_out) if cfg.held_out is not None else None
    if held_out is not None:  # scored by category id at every checkpoint: refused now, not after an hour
        check_same_classes(model.categories, held_out.categories, "the model", "held_out")
    if rank == 0 and not quiet:
        print(f"{len(source)} training samples; backbone {cfg.model.backbone.name}: {loaded} pretrained tensors; "
              f"semantic class weights {None if semantic_weight is None else semantic_weight.tolist()}")

    start = progress.start
    log_file = _open_log(out / "log.csv", start) if rank == 0 else None
    writer: csv.DictWriter | None = None
    mask_rng = random.Random(cfg.seed)  # same draws on every rank
    for _ in range(2 * start):  # two draws per step
        mask_rng.random()
    bar = tqdm(total=cfg.iterations, initial=start, disable=rank != 0 or quiet, dynamic_ncols=True)
    batches = _batches(loader, sampler, start)
    loss_weights = _loss_weights(cfg.losses)
    model.train()
    t_last = time.perf_counter()
    bad_steps = 0  # in a row
    if progress.rng is not None:  # the draws the unbroken run would make next; nothing draws before the loop
        _set_rng_states(progress.rng)
    for step in range(start, cfg.iterations):
        images, targets = next(batches)
        images, targets = images.to(device, non_blocking=True), targets.to(device)
        mask_cues = mask_rng.random() >= cfg.mask_cue_dropout
        own_detections = mask_rng.random() < cfg.own_detections
        lr = learning_rate(cfg, step)
        for g, scale in zip(optimizer.param_groups, scales):  # this run's scales, not a resumed state's
            g["lr"] = lr * scale
        with autocast(device, precision):
            losses = net(images, targets, mask_cues=mask_cues, own_detections=own_detections,
                         box_keep=cfg.gt_box_keep, semantic_weight=semantic_weight,
                         lovasz=cfg.losses.semantic_lovasz > 0)
        loss = sum(loss_weights[k] * v for k, v in losses.items())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
        finite = bool(torch.isfinite(norm))
        bad_steps = 0 if finite else bad_steps + 1
        if use_amp or finite:  # GradScaler skips a non-finite step itself (and lowers its scale)
            scaler.step(optimizer)
        elif rank == 0:  # one NaN step would spread NaN through every weight, and then into last.pt
            bar.write(f"step {step + 1}: non-finite loss or gradients, step skipped")
        if bad_steps >= MAX_BAD_STEPS:
            raise FloatingPointError(f"{bad_steps} steps in a row with non-finite loss or gradients (last: "
                                     f"step {step + 1}): lower lr, or look at the data of these steps")
        scaler.update()

        logged = mean_over_ranks({"loss": loss} | losses)
        if rank == 0:
            row = {"step": step + 1, "lr": lr, "lr_body": lr * cfg.backbone_lr_scale, "loss": logged.pop("loss"),
                   "mask_cues": int(mask_cues), "own_detections": int(own_detections),
                   "sec_per_step": time.perf_counter() - t_last}
            row |= {k: round(v, 5) for k, v in logged.items()}
            t_last = time.perf_counter()
            if writer is None:
                writer = _log_writer(log_file, list(row))
            writer.writerow(row)
            if (step + 1) % 20 == 0:
                log_file.flush()
            bar.set_postfix(loss=f"{row['loss']:.3f}", pan=f"{row['loss_panoptic']:.3f}",
                            sem=f"{row['loss_semantic']:.3f}", refresh=False)
            bar.update(1)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.iterations:
            extra = {"step": step + 1, "best_pq": progress.best_pq, "optimizer": optimizer.state_dict(),
                     "scaler": scaler.state_dict(), "train_config": to_dict(cfg), "world_size": world,
                     "cwd": os.getcwd()}
            if rank == 0:
                log_file.flush()
                _checkpoint(step + 1, cfg, out, model, extra, progress, held_out, bar)
            extra["rng"] = _all_rng_states(distributed)  # after the evaluation: where the unbroken run goes on
            if rank == 0:  # batch-norm statistics can take NaN from a skipped step's forward pass
                check_finite(out / "last.pt", model.state_dict())
                save_checkpoint(out / "last.pt", model, out.name, extra=extra)
    bar.close()
    if log_file is not None:
        log_file.close()
    if distributed:
        dist.destroy_process_group()
    return out


def error_line(exc: BaseException) -> str:
    """The message of an error that stops a run, as one line. A sample that cannot be read in a
    DataLoader worker (a label of another size, hours into a run on one's own data) comes back as the
    same error type whose message is the worker's whole traceback; its last line is the error itself."""
    text = str(exc)
    if "\nOriginal Traceback" not in text:
        return text
    last = text.rstrip().splitlines()[-1]  # "ValueError: <the message>"
    return last.partition(": ")[2] or last


def main(argv: list[str] | None = None) -> int:
    """``panoptic-train``'s entry (also each ``torchrun`` worker's): what the user named (a config, data,
    a checkpoint, a resume) that cannot be used is one line and exit status 2, not a traceback."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file with a TrainConfig")
    parser.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    parser.add_argument("--resume", action="store_true", help="continue from <output_dir>/last.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. iterations=500")
    args = parser.parse_intermixed_args(argv)  # overrides may follow --resume
    cfg: TrainConfig | None = None
    try:
        cfg = load_config(TrainConfig, args.config, args.overrides)
        out = train(cfg, resolve_device(args.device), args.resume, args.quiet)
    except (ValueError, OSError, CheckpointError, FloatingPointError, yaml.YAMLError) as exc:
        print(f"panoptic-train: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # one line, and where the run can go on from
        last = Path(cfg.output_dir) / "last.pt" if cfg is not None else None
        kept = f"; {last} holds its last checkpoint, which --resume goes on from" if last and last.is_file() else ""
        print(f"panoptic-train: interrupted{kept}", file=sys.stderr)
        return CTRL_C_STATUS
    finally:  # a rank that raised leaves its process group cleanly
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun's ranks: one line, not one each
        print(f"checkpoints and log in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
