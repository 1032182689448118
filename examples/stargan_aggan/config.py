"""The training configuration of the attention-guided StarGAN: one dataclass, saved as
JSON, turned into a command line (see ``common.config``).

The defaults are the CPU job on the built-in expression faces; everything StarGAN's
reference code fixes (WGAN-GP, λ_cls = 1, λ_rec = 10, λ_gp = 10, five critic steps per
generator step, Adam 1e-4 with β = (0.5, 0.999), a linear decay to zero over the second
half) keeps its value. ``--baseline stargan`` trains plain StarGAN under the same budget.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from common import config as common
from common.config import ConfigError
from common.config import option as _opt

__all__ = [
    "BASELINES",
    "RENAMED",
    "ConfigError",
    "TrainConfig",
    "load_config",
    "validate_config",
]


@dataclass
class TrainConfig:
    """Every knob of a training run (see ``train.py --help``)."""

    # `--help` shows the options under these headings (first field -> title).
    OPTION_GROUPS: ClassVar[dict[str, str]] = {
        "data_root": "data",
        "ngf": "model",
        "cls_weight": "objective",
        "lr": "optimisation",
        "device": "speed and devices",
        "out": "run folder and outputs",
    }

    # data
    data_root: str | None = _opt(
        None,
        "RaFD-style data set: train/<domain>/, test/<domain>/, optionally gt/mask/<a>-<b>/ "
        "(default: the built-in expression faces, rendered on first use into "
        "datasets/expressions-SIZE)",
        resumable=True,
    )
    domains: str | None = _opt(
        None,
        "comma-separated domain folders in label order (default: the built-in faces' "
        "neutral,smiling,surprised,sad; for --data-root every folder of train/, sorted)",
    )
    size: int = _opt(64, "image size the networks see (StarGAN on RaFD: 128)", maximum=4096)
    train_limit: int = _opt(
        0, "use only the first N training images of each domain (0: all of them)", minimum=0
    )
    flip: bool = _opt(True, "random left-right flips of the training images (StarGAN: on)")
    workers: int = _opt(0, "DataLoader worker processes", minimum=0, maximum=64, resumable=True)
    threads: int = _opt(
        0, "intra-op CPU threads (0: torch's default, one per core)", minimum=0, resumable=True
    )

    # model
    ngf: int = _opt(16, "generator width (StarGAN's g_conv_dim: 64)", minimum=1, maximum=1024)
    n_blocks: int = _opt(
        3, "generator residual blocks (StarGAN's g_repeat_num: 6)", minimum=0, maximum=64
    )
    ndf: int = _opt(16, "discriminator width (StarGAN's d_conv_dim: 64)", minimum=1, maximum=1024)
    d_layers: int = _opt(
        5,
        "discriminator stride-2 layers (StarGAN's d_repeat_num: 6 at 128 px)",
        minimum=1,
        maximum=16,
    )
    attention: bool = _opt(
        True,
        "attention-guided: AttentionHead around the generator, a mask-conditioned "
        "discriminator on [mask, image] (off: plain StarGAN)",
    )
    mask_bias: float = _opt(
        -3.0, "initial mask logit: the mask starts at sigmoid(mask_bias) everywhere"
    )

    # objective
    cls_weight: float = _opt(1.0, "lambda_cls, domain classification (StarGAN: 1)", minimum=0)
    rec_weight: float = _opt(10.0, "lambda_rec, reconstruction (StarGAN: 10)", minimum=0)
    gp_weight: float = _opt(10.0, "lambda_gp, gradient penalty (StarGAN: 10)", minimum=0)
    tv_weight: float = _opt(1e-6, "lambda_tv, total variation of the mask (AGGAN: 1e-6)", minimum=0)
    mask_weight: float = _opt(
        0.1, "weight of the mask saturation loss, the mean mask (GANimation: 0.1)", minimum=0
    )
    n_critic: int = _opt(5, "discriminator steps per generator step (StarGAN: 5)", minimum=1)

    # optimisation
    lr: float = _opt(
        1e-4, "Adam learning rate of the generator (StarGAN's g_lr: 1e-4)", positive=True
    )
    d_lr: float = _opt(
        1e-4, "Adam learning rate of the discriminator (StarGAN: 1e-4)", positive=True
    )
    beta1: float = _opt(0.5, "Adam beta1 (StarGAN: 0.5)", minimum=0, below=1)
    beta2: float = _opt(0.999, "Adam beta2 (StarGAN: 0.999)", minimum=0, below=1)
    batch_size: int = _opt(16, "images per iteration and process (StarGAN: 16)", minimum=1)
    epochs: int = _opt(12, "epochs; an iteration is one critic step on one batch", minimum=1)
    decay_epochs: int = _opt(
        6,
        "the last N epochs decay both learning rates linearly to zero (StarGAN: the second "
        "half of its iterations)",
        minimum=0,
    )
    max_steps: int = _opt(
        0, "stop after this many iterations in total (0: every epoch)", minimum=0, resumable=True
    )
    seed: int = _opt(
        0, "seed of weights, data order, flips and targets", minimum=0, maximum=2**32 - 1
    )

    # devices
    device: str = _opt("auto", "'auto' (CUDA when available), 'cpu', 'cuda', ...", resumable=True)
    amp: str = _opt(
        "none",
        "mixed precision: 'bf16' autocast of the losses' forward passes (CUDA, or CPUs with "
        "AVX-512 BF16 or AMX)",
        choices=("none", "bf16"),
    )

    # output
    out: str | None = _opt(None, "run folder (default: runs/stargan-DATE-TIME)", resumable=True)
    save_every: int = _opt(
        250,
        "also checkpoint every N iterations (0: only at each epoch's end)",
        minimum=0,
        resumable=True,
    )
    sample_every: int = _opt(
        500,
        "write a sample grid every N iterations (0: only at the end)",
        minimum=0,
        resumable=True,
    )
    log_every: int = _opt(25, "record the losses every N iterations", minimum=1, resumable=True)
    n_samples: int = _opt(
        4, "test images in the sample grids", minimum=0, maximum=64, resumable=True
    )
    evaluate: bool = _opt(True, "evaluate on the test split at the end", resumable=True)


#: Baselines trained as their authors train them: ``--baseline NAME``.
BASELINES: dict[str, dict[str, Any]] = {
    # StarGAN (Choi et al.): the same networks and objective without the attention head,
    # the mask-conditioned discriminator and the mask losses.
    "stargan": {"attention": False, "tv_weight": 0.0, "mask_weight": 0.0},
}


#: Options renamed to the AGGAN example's names (earlier versions used StarGAN's own).
RENAMED = {
    "g_conv_dim": "ngf",
    "g_repeat_num": "n_blocks",
    "d_conv_dim": "ndf",
    "d_repeat_num": "d_layers",
    "g_lr": "lr",
}


def load_config(path: str | Path) -> TrainConfig:
    """Reads a ``config.json`` (see :func:`common.config.load_config`), earlier
    versions' option names included."""
    return common.load_config(TrainConfig, path, renamed=RENAMED)


def domain_list(cfg: TrainConfig) -> list[str] | None:
    """The ``--domains`` option as a list (None: the default)."""
    if cfg.domains is None:
        return None
    return [d.strip() for d in cfg.domains.split(",")]


def validate_config(cfg: TrainConfig) -> TrainConfig:
    """Checks a configuration before anything is built or written.

    Raises:
        ConfigError: naming the option, the value received and what would work.
    """
    common.check_fields(cfg)
    if cfg.size % 4:
        raise ConfigError(
            f"--size {cfg.size}: the generator downsamples twice and upsamples twice, so the "
            "size must be a multiple of 4"
        )
    if cfg.size % 2**cfg.d_layers:
        raise ConfigError(
            f"--size {cfg.size}: a discriminator with --d-layers {cfg.d_layers} "
            f"halves the image {cfg.d_layers} times, so the size must be a multiple of "
            f"{2**cfg.d_layers}"
        )
    names = domain_list(cfg)
    if names is not None and (len(names) < 2 or any(not n for n in names)):
        raise ConfigError(
            f"--domains {cfg.domains!r}: expected at least two comma-separated folder names"
        )
    if names is not None and len(set(names)) != len(names):
        raise ConfigError(f"--domains {cfg.domains!r} names a domain twice")
    cores = os.cpu_count() or 1
    if cfg.threads > cores:
        raise ConfigError(f"--threads {cfg.threads}: this machine has {cores} cores")
    if cfg.decay_epochs > cfg.epochs:
        raise ConfigError(f"--decay-epochs {cfg.decay_epochs} is more than --epochs {cfg.epochs}")
    return cfg
