"""The order in which training visits its items, epoch by epoch, on one rank or several."""
from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[tuple[int, int]]):
    """``(epoch, index)`` pairs: each epoch a fresh permutation of ``size`` items, seeded by ``seed`` and
    the epoch, of which rank ``rank`` of ``world`` takes every ``world``-th (an equal, disjoint share).

    The epoch travels with each index because a ``DataLoader``'s persistent workers hold their own copy
    of the dataset: an epoch set on the main process's copy never reached them, and every epoch
    repeated the first one's crops, flips and colours. Seeding by epoch also lets a resumed run
    replay the order of the epoch it stopped in and leave out what it had already trained on.
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if size // world == 0:
            raise ValueError(f"{size} training items cannot be shared among {world} ranks")
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.epoch = self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Visit epoch ``epoch`` next, leaving out this rank's first ``skip`` items of it."""
        self.epoch, self.skip = epoch, skip

    @property
    def per_rank(self) -> int:
        """Items each rank visits in a whole epoch (the remainder of ``size`` is left out)."""
        return self.size // self.world

    def __len__(self) -> int:
        return max(self.per_rank - self.skip, 0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        mine = order[: self.per_rank * self.world][self.rank::self.world][self.skip:]
        return ((self.epoch, i) for i in mine.tolist())
