"""``torch.utils.data`` plumbing: sources of ``PanopticSample``s, augmentation, batching."""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import DataConfig
from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.sample import PanopticSample, TrainingArrays, to_training_arrays
from panoptic_ros.data.synthetic import STREET_CATEGORIES, StreetSceneGenerator
from panoptic_ros.model.network import PanopticTargets


HELD_OUT_SEED = 1_000_003  # seed offset of the held-out synthetic split: training scenes never use it


class SampleSource(Protocol):
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


def build_source(cfg: DataConfig) -> SampleSource:
    """The sample source a data config names."""
    if cfg.kind == "synthetic":
        return SyntheticStreetScenes(cfg.synthetic_images, cfg.synthetic_seed, cfg.height, cfg.width)
    if cfg.kind == "coco_panoptic":
        from panoptic_ros.data.coco_panoptic import CocoPanopticDataset
        return CocoPanopticDataset(f"{cfg.root}/panoptic.json", f"{cfg.root}/panoptic", f"{cfg.root}/images")
    from panoptic_ros.data.cityscapes import CityscapesDataset
    return CityscapesDataset(cfg.root, cfg.split)


class TrainingDataset(Dataset):
    """Augmented training arrays; the random stream of item ``i`` in epoch ``e`` is seeded by both."""

    def __init__(self, source: SampleSource, augmentation: Augmentation | None, seed: int = 0) -> None:
        self.source, self.augmentation, self.seed = source, augmentation, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> TrainingArrays:
        sample = self.source[i]
        if self.augmentation is not None:
            sample = self.augmentation(sample, np.random.default_rng([self.seed, self.epoch, i]))
        return to_training_arrays(sample, self.source.categories)


def collate(items: Sequence[TrainingArrays]) -> tuple[torch.Tensor, PanopticTargets]:
    """Stack equally sized items into images [B, 3, H, W] uint8 and ``PanopticTargets``."""
    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(it, name) for it in items]))
    return stack("image"), PanopticTargets(
        stack("semantic"), stack("segments"), stack("instances"),
        [torch.from_numpy(it.boxes) for it in items], [torch.from_numpy(it.labels) for it in items])
