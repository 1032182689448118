"""Data for the AGGAN example: the built-in faces, layout checks and a resumable order.

The order of one epoch (which A image, which B partner, which flips) is a pure function
of the seed and the epoch, sharded across processes by a ``DistributedSampler``. A run
resumed in the middle of an epoch therefore skips exactly the batches it had done and
sees the same images in the same order as a run that was never interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler

from attnguide.data import IMG_EXTENSIONS, UnpairedImageFolder, make_synthetic_faces

from .config import ConfigError, TrainConfig

__all__ = [
    "EpochPlan",
    "Key",
    "KeyedPairs",
    "check_layout",
    "default_data_root",
    "list_images",
    "prepare_data_root",
]

Key = tuple[int, int, bool, bool]  # (A index, B index, flip A, flip B)


def default_data_root(size: int) -> Path:
    """Where the built-in synthetic faces live: ``datasets/faces-SIZE`` under the
    current folder."""
    return Path("datasets") / f"faces-{size}"


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by path."""
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS and p.is_file()
    )


def check_layout(root: Path, *, phases: Sequence[str] = ("train", "test")) -> None:
    """Fails with a message naming what is missing when ``root`` is not a CycleGAN-layout
    data set (``trainA``, ``trainB``, ``testA``, ``testB``, each holding images).

    Raises:
        ConfigError: ``root`` is missing or a folder is absent or holds no images.
    """
    if not root.exists():
        raise ConfigError(
            f"--data-root {root} does not exist; give a folder in the CycleGAN layout "
            "(trainA, trainB, testA, testB) or leave --data-root out to use the built-in "
            "synthetic faces"
        )
    if not root.is_dir():
        raise ConfigError(f"--data-root {root} is a file, not a folder")
    problems = []
    for phase in phases:
        for domain in "AB":
            folder = root / f"{phase}{domain}"
            if not folder.is_dir():
                problems.append(f"{folder} is missing")
            elif not list_images(folder):
                problems.append(f"{folder} holds no images ({', '.join(IMG_EXTENSIONS)})")
    if problems:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
        raise ConfigError(
            f"--data-root {root} is not in the CycleGAN layout: "
            + "; ".join(problems)
            + ". Expected root/trainA, root/trainB, root/testA, root/testB with images; "
            f"found: {', '.join(found[:12]) or 'nothing'}" + (" ..." if len(found) > 12 else "")
        )


def prepare_data_root(cfg: TrainConfig, *, build: bool = True) -> Path:
    """The data root of ``cfg``: the given one after a layout check, or the built-in
    faces, rendered first when absent (only where ``build``; other processes wait).
    """
    if cfg.data_root is not None:
        root = Path(cfg.data_root)
        check_layout(root)
        return root
    root = default_data_root(cfg.size)
    if build:
        # Renders once; a later call with the same arguments returns at once, and an
        # interrupted render is redone (the data set's manifest records completion).
        make_synthetic_faces(root, size=cfg.size)
    return root


class KeyedPairs(Dataset):
    """Loads the (A, B) pair that a :data:`Key` names, flipped as the key says.

    Args:
        folder: A ``UnpairedImageFolder`` opened with ``serial=True, flip=False``: its
            item ``i`` holds A image ``i`` and B image ``i`` (modulo their counts).
    """

    def __init__(self, folder: UnpairedImageFolder) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, key: Key) -> tuple[Tensor, Tensor]:
        ia, ib, flip_a, flip_b = key
        a = self.folder[ia]["A"]
        b = self.folder[ib]["B"]
        if flip_a:
            a = a.flip(-1)
        if flip_b:
            b = b.flip(-1)
        return a, b


class EpochPlan:
    """The batches of every epoch, as keys for :class:`KeyedPairs`.

    An epoch visits ``max(n_a, n_b)`` A indices in the order of a ``DistributedSampler``
    (seeded, sharded across ``world`` processes) and pairs each with a random B image
    and random flips drawn from a generator seeded by ``(seed, epoch)``: unpaired
    training as in CycleGAN, reproducible batch by batch.

    Args:
        n_a, n_b: Images in each training domain.
        batch_size: Images per batch and process.
        seed: The run's seed.
        rank, world: This process and the number of processes.
        flip: Draw left-right flips.
    """

    def __init__(
        self,
        n_a: int,
        n_b: int,
        *,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        flip: bool = True,
    ) -> None:
        self.n_a, self.n_b = n_a, n_b
        self.length = max(n_a, n_b)
        self.batch_size = batch_size
        self.seed = seed
        self.flip = flip
        self.sampler = DistributedSampler(
            range(self.length), num_replicas=world, rank=rank, shuffle=True, seed=seed
        )

    def __len__(self) -> int:
        """Batches per epoch on this process."""
        return -(-self.sampler.num_samples // self.batch_size)

    def batches(self, epoch: int, start: int = 0) -> list[list[Key]]:
        """The batches of ``epoch`` from batch ``start`` on."""
        self.sampler.set_epoch(epoch)
        order = list(self.sampler)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        partners = torch.randint(self.n_b, (self.length,), generator=g).tolist()
        flips = (torch.rand(self.length, 2, generator=g) < 0.5).tolist()
        keys = [
            (i % self.n_a, partners[i], self.flip and flips[i][0], self.flip and flips[i][1])
            for i in order
        ]
        size = self.batch_size
        return [keys[k : k + size] for k in range(0, len(keys), size)][start:]


class Batches:
    """Iterates the loader of one epoch; a thin shim so the trainer can ``len()`` it."""

    def __init__(self, loader: Iterator[tuple[Tensor, Tensor]], n: int) -> None:
        self.loader, self.n = loader, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return iter(self.loader)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
