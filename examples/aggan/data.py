"""Data of the AGGAN example: the built-in faces, the training loader, the test split.

Training reads ``UnpairedImageFolder`` (one A image and one random B partner per item,
flips drawn from ``(seed, epoch, index)``) in the order of an ``EpochSampler`` (seeded,
sharded across processes). A run resumed in the middle of an epoch therefore skips
exactly the batches it had done and sees the same images in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from common.config import ConfigError
from common.data import EpochBatches
from torch import Tensor

from attnguide.data import (
    IMG_EXTENSIONS,
    UnpairedImageFolder,
    list_images,
    make_synthetic_faces,
    read_image,
    read_mask,
)

from .config import TrainConfig

__all__ = [
    "DIRECTIONS",
    "TestSet",
    "TrainData",
    "check_layout",
    "default_data_root",
    "load_test_set",
    "prepare_data_root",
]

#: direction -> (source folder, ground-truth folder, what the translation should show)
DIRECTIONS = {
    "AtoB": ("testA", "gt/testA", "A->B (neutral -> smiling)"),
    "BtoA": ("testB", "gt/testB", "B->A (smiling -> neutral)"),
}


def default_data_root(size: int) -> Path:
    """Where the built-in synthetic faces live: ``datasets/faces-SIZE`` here."""
    return Path("datasets") / f"faces-{size}"


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
    for folder in (root / f"{phase}{domain}" for phase in phases for domain in "AB"):
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


def prepare_data_root(cfg: TrainConfig, *, build: bool) -> Path:
    """The data root of ``cfg``: the given one after a layout check, or the built-in
    faces, rendered first when absent (only where ``build``; other processes wait).
    """
    if cfg.data_root is not None:
        root = Path(cfg.data_root)
        check_layout(root)
        return root
    root = default_data_root(cfg.size)
    if build:
        try:
            # Renders once; a later call with the same arguments returns at once, and an
            # interrupted render is redone (the data set's manifest records completion).
            make_synthetic_faces(root, size=cfg.size)
        except FileExistsError as err:
            raise ConfigError(str(err)) from None
    return root


class TrainData(EpochBatches):
    """The training images of one process, in the order of an ``EpochSampler``."""

    def __init__(self, cfg: TrainConfig, root: Path, *, rank: int, world: int) -> None:
        dataset = UnpairedImageFolder(
            root,
            "train",
            load_size=cfg.size,
            crop_size=cfg.size,
            flip=cfg.flip,
            seed=cfg.seed,
            limit=cfg.train_limit or None,
        )
        super().__init__(dataset, cfg, rank=rank, world=world)


@dataclass
class TestSet:
    """The test images of one direction, with ground truth when available."""

    names: list[str]
    source: Tensor  # (n 3 h w) in [-1, 1]
    target: Tensor | None  # true counterparts, (n 3 h w)
    change: Tensor | None  # true change masks, (n 1 h w) bool


def load_test_set(root: Path, direction: str, size: int, limit: int = 0) -> TestSet:
    """Loads ``root/testA`` (or ``testB``) and, when present for every image, the true
    counterparts in ``root/gt/testA`` and the change masks in ``root/gt/mask``.

    Raises:
        ConfigError: the test folder is missing or empty.
    """
    src_dir, gt_dir, _ = DIRECTIONS[direction]
    folder = root / src_dir
    files = list_images(folder) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"{folder} is missing or holds no images; the test split is needed")
    if limit:
        files = files[:limit]
    names = [p.relative_to(folder).as_posix() for p in files]
    source = torch.stack([read_image(p, size=size) for p in files])
    gts = [root / gt_dir / n for n in names]
    masks = [(root / "gt" / "mask" / n).with_suffix(".png") for n in names]
    target = change = None
    if all(p.is_file() for p in gts):
        target = torch.stack([read_image(p, size=size) for p in gts])
    if all(p.is_file() for p in masks):
        change = torch.stack([read_mask(p, size=size) for p in masks])
    return TestSet(names, source, target, change)
