"""``torch.utils.data`` plumbing: sources of ``PanopticSample``s, augmentation, batching."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from panoptic_ros.categories import CategoryTable, check_same_classes
from panoptic_ros.config import DataConfig, SourceConfig
from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.copy_paste import paste_things
from panoptic_ros.data.sample import PanopticSample, TrainingArrays, to_training_arrays
from panoptic_ros.data.street_categories import STREET_CATEGORIES
from panoptic_ros.data.synthetic import StreetSceneGenerator
from panoptic_ros.structures import PanopticTargets


HELD_OUT_SEED = 1_000_003  # seed offset of the held-out synthetic split: training scenes never use it
# the split a model is judged on when none is named: data no training run has seen (a COCO panoptic
# folder is one split already: its root names it)
HELD_OUT_SPLITS = {"synthetic": "heldout", "camvid": "heldout", "cityscapes": "val", "cityscapes_street": "val"}
COCO_PANOPTIC_LAYOUT = "panoptic.json, panoptic/, images/"  # a coco_panoptic root's contents


class SampleSource(Protocol):
    """What training, evaluation and the sample bag read: indexed ``PanopticSample``s and their
    category table (synthetic scenes, CamVid, COCO panoptic, Cityscapes alike)."""

    categories: CategoryTable

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> PanopticSample: ...


class SyntheticStreetScenes:
    """``count`` generated street scenes; scene ``i`` depends only on (seed, i, size)."""

    categories = STREET_CATEGORIES

    def __init__(self, count: int, seed: int = 0, height: int = 256, width: int = 512) -> None:
        self.count = count
        self.generator = StreetSceneGenerator(height, width, seed)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> PanopticSample:
        if not 0 <= i < self.count:
            raise IndexError(i)
        g = self.generator.generate(i)
        return PanopticSample(g.image, g.segments, g.categories, frozenset(), f"synthetic_{i:06d}")


def build_source(cfg: SourceConfig) -> SampleSource:
    """The sample source a source config names."""
    if cfg.kind == "synthetic":
        if cfg.split not in ("train", "heldout"):
            raise ValueError(f"synthetic split must be train or heldout, got {cfg.split!r}")
        seed = cfg.seed + (HELD_OUT_SEED if cfg.split == "heldout" else 0)
        return SyntheticStreetScenes(cfg.images, seed, cfg.height, cfg.width)
    if cfg.kind == "camvid":
        from panoptic_ros.data.camvid import CamVidDataset
        return CamVidDataset(cfg.root, cfg.split)
    if cfg.kind == "coco_panoptic":
        from panoptic_ros.data.coco_panoptic import CocoPanopticDataset
        if cfg.split != SourceConfig.split:  # it would read the same folder whatever the split said
            raise ValueError(f"coco_panoptic has no split ({cfg.split!r} given): its root names the split's folder "
                             f"({COCO_PANOPTIC_LAYOUT})")
        return CocoPanopticDataset(f"{cfg.root}/panoptic.json", f"{cfg.root}/panoptic", f"{cfg.root}/images")
    from panoptic_ros.data.cityscapes import CityscapesDataset
    return CityscapesDataset(cfg.root, cfg.split, street=cfg.kind == "cityscapes_street")


def resolved_folder(folder: str, base: str | None = None) -> str:
    """A dataset folder as an absolute path, ``~`` expanded and a relative one taken from ``base`` (else
    the working directory), so that two spellings of one folder compare equal."""
    path = Path(folder).expanduser()
    return str((Path(base) / path if base and not path.is_absolute() else path).resolve())


def same_data(a: SourceConfig, b: SourceConfig) -> bool:
    """Whether two source configs read any of the same samples (a ``held_out`` that would score
    training data): the same kind and folder and overlapping splits (CamVid's are sets of drives, which
    ``all`` and the one-drive splits share with ``train`` and ``heldout``), or for synthetic scenes the
    same split, seed and size."""
    if a.kind != b.kind:
        return False
    if a.kind == "synthetic":
        return (a.split, a.seed, a.height, a.width) == (b.split, b.seed, b.height, b.width)
    if resolved_folder(a.root) != resolved_folder(b.root):
        return False
    if a.kind == "camvid":
        from panoptic_ros.data.camvid import SPLITS
        return bool(set(SPLITS.get(a.split, (a.split,))) & set(SPLITS.get(b.split, (b.split,))))
    return a.split == b.split


class MixedSource:
    """Several sources with the same classes, drawn by weight: item ``i`` is a fixed slot of one source.

    Their tables may list the classes in other orders and colours (samples carry category ids); the
    mixture's ``categories`` is ``categories`` where given (a checkpoint's, for the channels it was
    trained with), else the first source's.

    ``len`` is the sum of the sources' lengths (one "epoch" sees as many samples as they hold); the
    source of each slot is drawn once from ``seed``. A source's slots walk through a permutation of it
    that goes on from epoch to epoch (``at``), so a small heavily weighted source is revisited and a
    large light one is sampled anew each epoch until all of it has been seen (a fixed slot-to-sample
    table used 1100 of 4000 synthetic scenes, the same ones every epoch).
    """

    def __init__(self, sources: Sequence[SampleSource], weights: Sequence[float], seed: int = 0,
                 categories: CategoryTable | None = None, categories_of: str = "the model") -> None:
        if len(weights) != len(sources) or not sources:
            raise ValueError(f"{len(sources)} data sources need as many weights, got {list(weights)}")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"source weights must be >= 0 with a positive sum, got {list(weights)}")
        empty = [k for k, (s, w) in enumerate(zip(sources, weights)) if len(s) == 0 and w > 0]
        if empty:
            raise ValueError(f"data source(s) {empty} (counted from 0) hold no samples: check their root and split")
        self.categories = categories or sources[0].categories
        for k, s in enumerate(sources):
            check_same_classes(self.categories, s.categories, categories_of if categories else "data source 0",
                               f"data source {k}")
        self.sources = list(sources)
        rng = np.random.default_rng(seed)
        length = sum(len(s) for s in sources)
        p = np.asarray(weights, dtype=float) / sum(weights)
        self.which = rng.choice(len(sources), size=length, p=p)
        self.slot = np.zeros(length, dtype=np.int64)  # the item's place among its source's slots
        self.slots = np.zeros(len(sources), dtype=np.int64)  # slots per source
        self.orders = []
        for k, source in enumerate(sources):
            mine = np.flatnonzero(self.which == k)
            self.slot[mine] = np.arange(len(mine))
            self.slots[k] = len(mine)
            self.orders.append(rng.permutation(len(source)))

    def __len__(self) -> int:
        return len(self.which)

    def at(self, epoch: int, i: int) -> PanopticSample:
        """Item ``i`` of epoch ``epoch``: its source's next sample in that source's order."""
        k = int(self.which[i])
        order = self.orders[k]
        return self.sources[k][int(order[(epoch * int(self.slots[k]) + int(self.slot[i])) % len(order)])]

    def __getitem__(self, i: int) -> PanopticSample:
        return self.at(0, i)

    def source_of(self, i: int) -> SampleSource:
        """The source item ``i`` is drawn from (copy-paste takes its donors there: real things into
        real frames, synthetic into synthetic)."""
        return self.sources[int(self.which[i])]


def build_training_source(cfg: DataConfig, seed: int = 0, categories: CategoryTable | None = None,
                          categories_of: str = "the model") -> SampleSource:
    """The data config's sources, mixed by weight when there are several. ``categories``: the table the
    training targets must follow (a checkpoint's, named ``categories_of`` where the classes differ:
    the same classes, maybe in another order), where it is not the sources' own."""
    sources = [build_source(s) for s in cfg.sources]
    if len(sources) == 1 and categories in (None, sources[0].categories):
        return sources[0]
    return MixedSource(sources, [s.weight for s in cfg.sources], seed, categories, categories_of)


def class_frequencies(source: SampleSource, limit: int = 200, seed: int = 0) -> np.ndarray:
    """Share of labelled pixels per semantic channel over up to ``limit`` samples drawn from ``source``."""
    table = source.categories
    channel = table.semantic_index()
    counts = np.zeros(table.num_stuff + table.num_things)
    picks = np.random.default_rng(seed).permutation(len(source))[:limit]
    for i in picks:
        sample = source[int(i)]
        ids, areas = np.unique(sample.segments, return_counts=True)
        for sid, area in zip(ids.tolist(), areas.tolist()):
            if sid in sample.categories and sample.categories[sid] in channel:
                counts[channel[sample.categories[sid]]] += area
    return counts / max(counts.sum(), 1)


def balanced_class_weights(frequencies: np.ndarray, power: float) -> np.ndarray:
    """Median-frequency balancing ``(median / f_c) ** power``; absent classes get weight 1."""
    present = frequencies > 0
    weights = np.ones_like(frequencies)
    if power > 0 and present.any():
        weights[present] = (np.median(frequencies[present]) / frequencies[present]) ** power
    return weights


class TrainingDataset(Dataset):
    """Augmented training arrays, indexed by ``(epoch, i)`` (``EpochSampler``'s pairs): the random
    stream of item ``i`` in epoch ``epoch`` is seeded by both, so each epoch augments afresh. With
    ``copy_paste`` > 0 that share of the items also gets the thing instances of another augmented
    sample of its own source pasted over it (``copy_paste.paste_things``)."""

    def __init__(self, source: SampleSource, augmentation: Augmentation | None, seed: int = 0,
                 copy_paste: float = 0.0) -> None:
        self.source, self.augmentation, self.seed, self.copy_paste = source, augmentation, seed, copy_paste
        self.things = {c.id for c in source.categories.things}

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: tuple[int, int]) -> TrainingArrays:
        epoch, i = key
        sample = self.source.at(epoch, i) if isinstance(self.source, MixedSource) else self.source[i]
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, epoch, i])
            sample = self.augmentation(sample, rng)
            if self.copy_paste and rng.random() < self.copy_paste:
                source = self.source.source_of(i) if isinstance(self.source, MixedSource) else self.source
                donor = self.augmentation(source[int(rng.integers(len(source)))], rng)
                sample = paste_things(sample, donor, self.things)
        return to_training_arrays(sample, self.source.categories)


def collate(items: Sequence[TrainingArrays]) -> tuple[torch.Tensor, PanopticTargets]:
    """Stack equally sized items into images [B, 3, H, W] uint8 and ``PanopticTargets``."""
    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(it, name) for it in items]))
    return stack("image"), PanopticTargets(
        stack("semantic"), stack("segments"), stack("instances"),
        [torch.from_numpy(it.boxes) for it in items], [torch.from_numpy(it.labels) for it in items])
