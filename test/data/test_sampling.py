"""The training order: a fresh permutation and fresh augmentations every epoch, shared among ranks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from panoptic_ros.data.augment import Augmentation
from panoptic_ros.data.dataset import SyntheticStreetScenes, TrainingDataset, collate
from panoptic_ros.data.sampling import EpochSampler


def _epoch(sampler: EpochSampler, epoch: int, skip: int = 0) -> list[tuple[int, int]]:
    sampler.set_epoch(epoch, skip)
    return list(sampler)


def test_each_epoch_is_a_permutation_of_its_own_and_a_resume_gets_the_same_order():
    sampler = EpochSampler(10, seed=3)
    first, second = _epoch(sampler, 0), _epoch(sampler, 1)
    assert sorted(i for _, i in first) == list(range(10)) == sorted(i for _, i in second)
    assert {e for e, _ in first} == {0} and {e for e, _ in second} == {1}
    assert first != [(0, i) for _, i in second]
    assert _epoch(EpochSampler(10, seed=3), 1) == second  # another process, same order
    assert _epoch(sampler, 1, skip=4) == second[4:] and len(sampler) == 6


def test_ranks_take_equal_disjoint_shares():
    shares = [_epoch(EpochSampler(11, seed=0, rank=r, world=3), 2) for r in range(3)]
    assert [len(s) for s in shares] == [3, 3, 3]
    assert len({i for s in shares for _, i in s}) == 9  # disjoint; two of the 11 are left out this epoch
    with pytest.raises(ValueError, match="shared among 4 ranks"):
        EpochSampler(3, seed=0, world=4)


def test_persistent_workers_augment_every_epoch_afresh():
    """The epoch reaches the worker's copy of the dataset with each index (it did not when it was an
    attribute of the main process's copy: every epoch repeated the first one's crops)."""
    dataset = TrainingDataset(SyntheticStreetScenes(4, seed=1, height=64, width=128),
                              Augmentation((0.5, 1.5), (32, 64), True, 0.2), seed=0)
    sampler = EpochSampler(len(dataset), seed=0)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=1, collate_fn=collate,
                        persistent_workers=True)
    images = {}
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        (batch,) = list(loader)
        order = [i for _, i in _epoch(EpochSampler(len(dataset), seed=0), epoch)]
        images[epoch] = batch[0][np.argsort(order)]  # by item, whatever the epoch's order
    assert all(not torch.equal(images[0][k], images[1][k]) for k in range(4))
    assert torch.equal(collate([dataset[1, i] for i in range(4)])[0], images[1])  # seeded by (epoch, item)
