"""Data of the attention-guided StarGAN: the built-in expression faces, the training
loader, the test split with its ground truth.

Training reads ``DomainImageFolder`` (image, label) items, flips drawn from
``(seed, epoch, index)``, in the order of an ``EpochSampler`` (seeded, sharded across
processes), so a run resumed mid-epoch sees the same batches as an uninterrupted one.
The target label of each image is drawn from a generator seeded by ``(seed, step)``,
for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from common.config import ConfigError
from common.data import EpochBatches
from torch import Tensor

from attnguide.data import (
    DomainImageFolder,
    list_images,
    make_expression_faces,
    read_image,
    read_mask,
)
from attnguide.data.synthetic_faces import EXPRESSIONS

from .config import TrainConfig, domain_list

__all__ = [
    "TestImages",
    "TrainData",
    "check_layout",
    "default_data_root",
    "domains_of",
    "load_test_images",
    "prepare_data_root",
    "true_change",
]


def default_data_root(size: int) -> Path:
    """Where the built-in expression faces live: ``datasets/expressions-SIZE`` here."""
    return Path("datasets") / f"expressions-{size}"


def domains_of(cfg: TrainConfig, root: Path) -> list[str]:
    """The domains in label order: ``--domains``, the built-in faces' expressions, or
    every folder of ``root/train`` in sorted order."""
    names = domain_list(cfg)
    if names is not None:
        return names
    if cfg.data_root is None:
        return list(EXPRESSIONS)
    folder = root / "train"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def check_layout(root: Path, domains: list[str] | None, *, phases: tuple[str, ...]) -> None:
    """Fails with a message naming what is missing when ``root`` is not a RaFD-style
    data set (``train/<domain>/`` and ``test/<domain>/`` holding images).

    Raises:
        ConfigError: ``root`` is missing or a domain folder is absent or empty.
    """
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise ConfigError(
            f"--data-root {root} {what}; give a folder with train/<domain>/ and "
            "test/<domain>/ image folders, or leave --data-root out for the built-in faces"
        )
    if not domains:
        raise ConfigError(f"--data-root {root}: no domain folders in {root / 'train'}")
    if len(domains) < 2:
        raise ConfigError(f"--data-root {root}: only one domain ({domains[0]}); StarGAN needs two")
    problems = []
    for folder in (root / phase / d for phase in phases for d in domains):
        if not folder.is_dir():
            problems.append(f"{folder} is missing")
        elif not list_images(folder):
            problems.append(f"{folder} holds no images")
    if problems:
        raise ConfigError(
            f"--data-root {root} is not in the layout root/<phase>/<domain>/ for the domains "
            f"{', '.join(domains)}: " + "; ".join(problems)
        )


def prepare_data_root(cfg: TrainConfig, *, build: bool) -> tuple[Path, list[str]]:
    """The data root of ``cfg`` and its domains: the given root after a layout check, or
    the built-in faces, rendered first when absent (only where ``build``)."""
    if cfg.data_root is not None:
        root = Path(cfg.data_root)
        domains = domains_of(cfg, root) if root.is_dir() else None
        check_layout(root, domains, phases=("train", "test"))
        return root, domains
    root = default_data_root(cfg.size)
    if build:
        try:
            make_expression_faces(root, size=cfg.size)
        except FileExistsError as err:
            raise ConfigError(str(err)) from None
    domains = domains_of(cfg, root)
    unknown = [d for d in domains if d not in EXPRESSIONS]
    if unknown:
        raise ConfigError(
            f"--domains {cfg.domains!r}: the built-in faces have no {', '.join(unknown)}; "
            f"they have {', '.join(EXPRESSIONS)}"
        )
    return root, domains


class TrainData(EpochBatches):
    """The training images of one process, in the order of an ``EpochSampler``."""

    def __init__(
        self, cfg: TrainConfig, root: Path, domains: list[str], *, rank: int, world: int
    ) -> None:
        dataset = DomainImageFolder(
            root,
            "train",
            domains=domains,
            load_size=cfg.size,
            crop_size=cfg.size,
            flip=cfg.flip,
            seed=cfg.seed,
            limit=cfg.train_limit or None,
        )
        super().__init__(dataset, cfg, rank=rank, world=world)


@dataclass
class TestImages:
    """The test images of every domain, in the same order of names in each (the
    identities of the built-in faces: ``test/<d>/NNNNN.png`` is one face in domain d)."""

    domains: list[str]
    names: list[list[str]]  # per domain
    images: list[Tensor]  # per domain, (n 3 h w) in [-1, 1]
    paired: bool  # every domain holds the same names: the true counterparts are known


def load_test_images(root: Path, domains: list[str], size: int, limit: int = 0) -> TestImages:
    """Loads ``root/test/<domain>/`` for every domain (the first ``limit`` images of
    each, or all).

    Raises:
        ConfigError: a test folder is missing or empty.
    """
    names, images = [], []
    for d in domains:
        folder = root / "test" / d
        files = list_images(folder) if folder.is_dir() else []
        if not files:
            raise ConfigError(f"{folder} is missing or holds no images; the test split is needed")
        files = files[:limit] if limit else files
        names.append([p.relative_to(folder).as_posix() for p in files])
        images.append(torch.stack([read_image(p, size=size) for p in files]))
    paired = all(n == names[0] for n in names)
    return TestImages(domains, names, images, paired)


def true_change(root: Path, a: str, b: str, names: list[str], size: int) -> Tensor | None:
    """The true change masks between domains ``a`` and ``b`` (``gt/mask/<a>-<b>/`` or
    ``gt/mask/<b>-<a>/``), ``(n 1 h w)`` bool, or None when the data set has none."""
    for pair in (f"{a}-{b}", f"{b}-{a}"):
        paths = [(root / "gt" / "mask" / pair / n).with_suffix(".png") for n in names]
        if all(p.is_file() for p in paths):
            return torch.stack([read_mask(p, size=size) for p in paths])
    return None
