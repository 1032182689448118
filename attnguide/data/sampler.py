"""A batch sampler whose order is a pure function of (seed, epoch): shardable, resumable."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from attnguide._validation import check_bool, check_int

__all__ = ["EpochSampler"]


class EpochSampler(Sampler[list[int]]):
    """Batches of indices in a seeded order per epoch, sharded across processes.

    Epoch ``e`` visits ``range(length)`` in the order of
    ``torch.randperm(length, generator=torch.Generator().manual_seed(seed + e))``
    (or in order with ``shuffle=False``); process ``rank`` takes every ``world``-th
    index from position ``rank`` and groups them into batches of ``batch_size``.
    Without ``drop_last`` the order is padded by wrapping around to a multiple of
    ``world``, as ``DistributedSampler`` pads, and the last batch may be smaller. With
    ``drop_last`` nothing is padded and nothing repeats: every process gets the same
    number of full batches, and the indices that do not fill one on every process are
    left out of that epoch. Nothing depends on global random state,
    so every process, and a run resumed in the middle of an epoch with
    ``set_epoch(e, start=k)``, sees exactly the batches an uninterrupted run sees.

    Use it as a DataLoader's ``batch_sampler``.

    Args:
        length: Items in the dataset.
        batch_size: Indices per batch.
        seed: Seed of the order.
        rank: This process's index in ``[0, world)``.
        world: Number of processes.
        shuffle: Shuffle each epoch (else the natural order).
        drop_last: Give every process only full batches, never an index twice.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: ``length`` or ``batch_size`` is below 1, ``rank`` is outside
            ``[0, world)``, or with ``drop_last`` the data fill no batch on every process.

    Example:
        >>> sampler = EpochSampler(5, batch_size=2, seed=0)
        >>> sampler.set_epoch(1)
        >>> batches = list(sampler)
        >>> sorted(i for b in batches for i in b), [len(b) for b in batches]
        ([0, 1, 2, 3, 4], [2, 2, 1])
        >>> sampler.set_epoch(1, start=2)  # resume after the first two batches
        >>> list(sampler) == batches[2:]
        True
    """

    def __init__(
        self,
        length: int,
        *,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        fn = "EpochSampler"
        self.length = check_int(fn, "length", length, minimum=1)
        self.batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
        self.seed = check_int(fn, "seed", seed)
        self.world = check_int(fn, "world", world, minimum=1)
        self.rank = check_int(fn, "rank", rank, minimum=0, maximum=world - 1)
        self.shuffle = check_bool(fn, "shuffle", shuffle)
        self.drop_last = check_bool(fn, "drop_last", drop_last)
        if self.drop_last and self.batches_per_epoch == 0:
            raise ValueError(
                f"{fn}(): with drop_last, 'length' {length} fills no batch of 'batch_size' "
                f"{batch_size} on each of 'world' {world} processes; it needs at least "
                f"{batch_size * world} items"
            )
        self._epoch = 0
        self._start = 0

    @property
    def epoch(self) -> int:
        """The epoch iterated (set it with :meth:`set_epoch`)."""
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._epoch = check_int("EpochSampler", "epoch", value, minimum=0)

    @property
    def start(self) -> int:
        """The batch of the epoch iteration starts from, in ``[0, batches_per_epoch]``."""
        return self._start

    @start.setter
    def start(self, value: int) -> None:
        self._start = check_int(
            "EpochSampler", "start", value, minimum=0, maximum=self.batches_per_epoch
        )

    @property
    def samples_per_rank(self) -> int:
        """Indices this process visits in one epoch."""
        if self.drop_last:
            return self.length // self.world // self.batch_size * self.batch_size
        return -(-self.length // self.world)

    @property
    def batches_per_epoch(self) -> int:
        """Batches this process gets in a whole epoch."""
        return -(-self.samples_per_rank // self.batch_size)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Chooses the epoch to iterate and the batch to start from (to resume)."""
        fn = "EpochSampler.set_epoch"
        self._epoch = check_int(fn, "epoch", epoch, minimum=0)
        self._start = check_int(fn, "start", start, minimum=0, maximum=self.batches_per_epoch)

    def order(self, epoch: int) -> list[int]:
        """This process's indices for ``epoch``, in visiting order."""
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            full = torch.randperm(self.length, generator=g).tolist()
        else:
            full = list(range(self.length))
        total = self.samples_per_rank * self.world
        if total > self.length:
            full += (full * (total // self.length + 1))[: total - self.length]
        return full[self.rank : total : self.world]

    def __len__(self) -> int:
        """Batches left in the chosen epoch from the chosen start."""
        return self.batches_per_epoch - self.start

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order(self.epoch)
        size = self.batch_size
        for k in range(self.start, self.batches_per_epoch):
            yield order[k * size : (k + 1) * size]

    def __repr__(self) -> str:
        return (
            f"EpochSampler(length={self.length}, batch_size={self.batch_size}, "
            f"seed={self.seed}, rank={self.rank}, world={self.world}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )
