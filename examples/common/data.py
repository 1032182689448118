"""A training set in the order of an ``EpochSampler``: one loader per epoch, from any batch.

The sampler is seeded and sharded across processes and the dataset's randomness is a
function of ``(seed, epoch, index)``, so a run resumed in the middle of an epoch skips
exactly the batches it had done and sees the same images in the same order.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from attnguide.data import EpochSampler

__all__ = ["EpochBatches"]


class EpochBatches:
    """``dataset`` (with ``set_epoch``) in batches, this process's share.

    Args:
        dataset: The training images.
        cfg: A configuration with ``batch_size`` (per process), ``seed`` (of the order)
            and ``workers`` (DataLoader worker processes).
        rank, world: This process and how many there are.
    """

    def __init__(self, dataset: Any, cfg: Any, *, rank: int, world: int) -> None:
        self.dataset = dataset
        self.sampler = EpochSampler(
            len(dataset), batch_size=cfg.batch_size, seed=cfg.seed, rank=rank, world=world
        )
        self.workers = cfg.workers

    def __len__(self) -> int:
        """Batches per epoch on this process."""
        return self.sampler.batches_per_epoch

    def loader(self, epoch: int, start: int) -> DataLoader:
        """The batches of ``epoch`` from batch ``start`` on."""
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch, start)
        # A private generator: creating the loader must not draw from the global RNG,
        # or a resumed epoch would differ from an uninterrupted one.
        return DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            num_workers=self.workers,
            generator=torch.Generator(),
        )
