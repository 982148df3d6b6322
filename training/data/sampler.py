"""Resumable, seeded, rank-sharded batch order."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of window indices: a permutation seeded by (seed, epoch), sharded by rank
    (rank r takes positions r, r + W, ...; the permutation is padded by wrap-around so every
    rank has the same number of batches), optionally starting part-way into the epoch.

    Args:
        size: number of windows.
        batch_size: per process.
        seed: base seed.
        shuffle: permute (training) or keep order (evaluation).
        rank, world_size: distributed sharding.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.size, self.batch_size = size, batch_size
        self.seed, self.shuffle = seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _indices(self) -> list[int]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        per_rank = -(-self.size // self.world_size)
        total = per_rank * self.world_size
        if total > self.size and self.size:
            order = np.concatenate([order, order[: total - self.size]])
        return [int(i) for i in order[self.rank : total : self.world_size]]

    def batches_per_epoch(self) -> int:
        return -(-len(self._indices()) // self.batch_size)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch() - self.start_batch)

    def __iter__(self) -> Iterator[list[int]]:
        idx = self._indices()
        for b in range(self.start_batch, self.batches_per_epoch()):
            yield idx[b * self.batch_size : (b + 1) * self.batch_size]
