"""The training configuration: one dataclass, saved as JSON, turned into a command line.

Every option of ``train.py`` is a field of :class:`TrainConfig`. Its metadata holds the
help text and the bounds the value must respect, and says whether a resumed run may
change it (``resumable``: how a run runs, not what it computes). The command line is
built from the fields by type introspection, a run's ``config.json`` names every value
it used, and ``--config config.json`` repeats it.

The defaults are the CPU main job; everything the paper fixes keeps the paper's value.
``--paper`` sets the rest of the paper's configuration, ``--baseline cyclegan`` trains
CycleGAN as its authors do on the same backbone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from common import config as common
from common.config import ConfigError, config_diff, resume_config, save_config
from common.config import option as _opt

__all__ = [
    "BASELINES",
    "PAPER",
    "PRESETS",
    "ConfigError",
    "TrainConfig",
    "config_diff",
    "load_config",
    "resume_config",
    "save_config",
    "validate_config",
]


@dataclass
class TrainConfig:
    """Every knob of an AGGAN training run (see ``train.py --help``)."""

    # `--help` shows the options under these headings (first field -> title).
    OPTION_GROUPS: ClassVar[dict[str, str]] = {
        "data_root": "data",
        "ngf": "model",
        "objective": "objective",
        "lr": "optimisation",
        "device": "speed and devices",
        "out": "run folder and outputs",
    }

    # data
    data_root: str | None = _opt(
        None,
        "CycleGAN-layout data set: trainA, trainB, testA, testB (default: the built-in "
        "synthetic faces, rendered on first use into datasets/faces-SIZE)",
        resumable=True,
    )
    size: int = _opt(64, "image size the networks see (a multiple of 4; paper: 256)", maximum=4096)
    train_limit: int = _opt(
        0, "use only the first N training images of each domain (0: all of them)", minimum=0
    )
    flip: bool = _opt(True, "random left-right flips of the training images (paper: on)")
    workers: int = _opt(0, "DataLoader worker processes", minimum=0, maximum=64, resumable=True)
    threads: int = _opt(
        0,
        "intra-op CPU threads (0: torch's default, one per core; at most the cores here)",
        minimum=0,
        resumable=True,
    )

    # model
    ngf: int = _opt(16, "generator width (paper: 64)", minimum=1, maximum=1024)
    n_blocks: int = _opt(4, "residual blocks in each generator (paper: 9)", minimum=0, maximum=64)
    ndf: int = _opt(32, "discriminator width (paper: 64)", minimum=1, maximum=1024)
    d_layers: int = _opt(3, "stride-2 layers of each PatchGAN discriminator", minimum=1, maximum=8)
    d_head: str = _opt(
        "pool",
        "discriminator output: 'pool' (one score per image, the paper) or 'patch' (a map of "
        "70x70-patch scores, CycleGAN)",
        choices=("pool", "patch"),
    )
    norm: str = _opt("instance", "normalisation layers", choices=("instance", "batch"))
    upsample: str = _opt(
        "transpose",
        "how the generators upsample: 'transpose' (CycleGAN's transposed convolutions), "
        "'resize' (nearest resize + 3x3 conv) or 'subpixel' (3x3 conv + pixel shuffle)",
        choices=("transpose", "resize", "subpixel"),
    )
    masks: int = _opt(
        1, "attention masks per generator (k >= 2: AttentionGAN scheme II)", minimum=1, maximum=64
    )
    mask_bias: float = _opt(
        -3.0, "initial mask logit: the mask starts at sigmoid(mask_bias) everywhere (paper: 0)"
    )
    attention_generator: bool = _opt(
        True, "attention-guided generators (off: plain generators of the same backbone)"
    )
    attention_discriminator: bool = _opt(
        True, "attention-guided discriminators D_XA, D_YA on [mask, image] pairs"
    )
    init_from: str | None = _opt(
        None,
        "start from trained networks: a run folder of this example (e.g. a CycleGAN "
        "baseline), CycleGAN's checkpoints folder (EPOCH_net_G_A.pth, ...) or a folder of "
        "G_xy.safetensors and G_yx.safetensors, see pretrained.py (default: none, the "
        "networks start from random weights)",
    )
    init_epoch: str = _opt("latest", "which of CycleGAN's checkpoints: EPOCH_net_*.pth")

    # objective
    objective: str = _opt(
        "aggan",
        "'aggan' (Eq. 9 with its curriculum) or 'cyclegan' (CycleGAN's own objective)",
        choices=("aggan", "cyclegan"),
    )
    gan_weight: float = _opt(0.5, "lambda_gan", minimum=0)
    cycle_weight: float = _opt(10.0, "lambda_cycle", minimum=0)
    pixel_weight: float = _opt(1.0, "lambda_pixel", minimum=0)
    tv_weight: float = _opt(1e-6, "lambda_tv", minimum=0)
    identity_weight: float = _opt(
        0.0, "CycleGAN's identity loss, as a fraction of lambda_cycle (CycleGAN: 0.5)", minimum=0
    )
    pixel_loss: bool = _opt(True, "the pixel loss L1(G(x), x) (Eq. 5)")
    tv_loss: bool = _opt(True, "the attention (total variation) loss on the masks (Eq. 6)")
    gan_mode: str = _opt("lsgan", "adversarial loss", choices=("lsgan", "vanilla", "hinge", "wgan"))
    warmup_epochs: int = _opt(10, "curriculum epochs with r = warmup_rate (paper: 10)", minimum=0)
    warmup_rate: float = _opt(0.01, "r during the curriculum (paper: 0.01)", minimum=0, maximum=1)
    rate: float = _opt(0.5, "r after the curriculum (paper: 0.5)", minimum=0, maximum=1)
    d_augment: str = _opt(
        "none",
        "differentiable augmentation of everything the discriminators see, the same "
        "transform on an image and its mask: 'none', 'geometric' (translation, cutout) "
        "or 'all' (also colour)",
        choices=("none", "geometric", "all"),
    )
    pool_size: int = _opt(
        50, "image history pool per domain (0: no pool)", minimum=0, maximum=10000
    )

    # optimisation
    lr: float = _opt(2e-4, "Adam learning rate of the generators (paper: 1e-4)", positive=True)
    d_lr: float | None = _opt(
        5e-4,
        "Adam learning rate of the discriminators (paper: that of --lr, which --paper sets)",
        positive=True,
    )
    beta1: float = _opt(0.5, "Adam beta1", minimum=0, below=1)
    beta2: float = _opt(0.999, "Adam beta2", minimum=0, below=1)
    batch_size: int = _opt(4, "images per step and process (paper: 1)", minimum=1, maximum=4096)
    epochs: int = _opt(11, "training epochs (paper: 200)", minimum=1)
    decay_epochs: int = _opt(
        1, "the last N epochs decay the learning rate linearly to zero (paper: 100)", minimum=0
    )
    max_steps: int = _opt(
        0, "stop after this many steps in total (0: run every epoch)", minimum=0, resumable=True
    )
    ema: float = _opt(
        0.0,
        "decay of an exponential moving average of each generator's weights, used for "
        "samples and evaluation (0: none; e.g. 0.999)",
        minimum=0,
        below=1,
    )
    seed: int = _opt(
        0, "seed of weights, data order, flips and image pools", minimum=0, maximum=2**32 - 1
    )

    # devices
    device: str = _opt(
        "auto", "'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...", resumable=True
    )
    amp: str = _opt(
        "none",
        "mixed precision: 'bf16' autocast (CUDA, or CPUs with AVX-512 BF16 or AMX)",
        choices=("none", "bf16"),
    )
    channels_last: bool = _opt(False, "channels-last memory format for networks and images")
    compile: bool = _opt(
        False, "torch.compile both halves of the step (forward, loss and backward)", resumable=True
    )
    compile_backend: str = _opt(
        "inductor",
        "torch.compile backend: 'inductor' (generated kernels), 'aot_eager' (traced, no "
        "code generation: quick to check that a configuration compiles)",
        choices=("inductor", "aot_eager"),
        resumable=True,
    )
    fused_adam: bool = _opt(True, "Adam's fused kernel (the same update, one pass)", resumable=True)
    batch_passes: bool = _opt(
        True,
        "run a network's independent passes of a step as one batch (the same result with "
        "instance norm, which normalises every sample on its own)",
        resumable=True,
    )

    # output
    out: str | None = _opt(None, "run folder (default: runs/aggan-DATE-TIME)", resumable=True)
    save_every: int = _opt(
        200,
        "also checkpoint every N steps (0: only at each epoch's end)",
        minimum=0,
        resumable=True,
    )
    sample_every: int = _opt(
        500, "write a sample grid every N steps (0: only at the end)", minimum=0, resumable=True
    )
    log_every: int = _opt(25, "record the losses every N steps", minimum=1, resumable=True)
    n_samples: int = _opt(
        3, "test images per direction in the sample grids", minimum=0, maximum=64, resumable=True
    )
    evaluate: bool = _opt(True, "evaluate on the test split at the end", resumable=True)
    eval_every: int = _opt(
        0,
        "also evaluate every N steps on the first --eval-images test pairs, into "
        "eval.jsonl and curves.png (0: only at the end)",
        minimum=0,
        resumable=True,
    )
    eval_images: int = _opt(
        50, "test images per direction of the evaluations during training", minimum=1
    )
    classifier: bool = _opt(
        True,
        "train a domain classifier on the real training images (seed 0) and report the "
        "share of translations it assigns to their target domain",
    )
    tensorboard: bool = _opt(False, "also log to TensorBoard (needs tensorboard)", resumable=True)


#: The paper's configuration (section IV-A), one flag away: ``--paper``.
PAPER: dict[str, Any] = {
    "size": 256,
    "train_limit": 0,
    "batch_size": 1,
    "lr": 1e-4,
    "d_lr": None,
    "mask_bias": 0.0,
    "ngf": 64,
    "n_blocks": 9,
    "ndf": 64,
    "epochs": 200,
    "decay_epochs": 100,
    "warmup_epochs": 10,
    "threads": 0,
    "save_every": 0,
    "sample_every": 5000,
    "log_every": 100,
}

#: Longer recipes of the main job: ``--preset NAME``.
PRESETS: dict[str, dict[str, Any]] = {
    # 40 epochs after the paper's 10-epoch curriculum, evaluated along the way.
    "long": {
        "epochs": 40,
        "decay_epochs": 20,
        "warmup_epochs": 10,
        "eval_every": 250,
        "sample_every": 2000,
    },
}

#: Baselines trained as their authors train them: ``--baseline NAME``.
BASELINES: dict[str, dict[str, Any]] = {
    # CycleGAN (Zhu et al.): plain generators, LSGAN, lambda_cycle 10, identity 0.5, no
    # curriculum, no pixel loss, a PatchGAN, Adam 2e-4 (0.5, 0.999), pool of 50.
    "cyclegan": {
        "attention_generator": False,
        "attention_discriminator": False,
        "objective": "cyclegan",
        "gan_weight": 1.0,
        "cycle_weight": 10.0,
        "identity_weight": 0.5,
        "pixel_loss": False,
        "tv_loss": False,
        "warmup_epochs": 0,
        "gan_mode": "lsgan",
        "d_head": "patch",
        "lr": 2e-4,
        "d_lr": None,
        "batch_size": 1,
        "pool_size": 50,
    },
}


def load_config(path: str | Path) -> TrainConfig:
    """Reads a ``config.json`` (see :func:`common.config.load_config`)."""
    return common.load_config(TrainConfig, path)


def validate_config(cfg: TrainConfig) -> TrainConfig:
    """Checks a configuration before anything is built or written.

    Raises:
        ConfigError: naming the option, the value received and what would work.
    """
    common.check_fields(cfg)
    # The generator halves the size twice and doubles it twice; anything but a
    # multiple of 4 comes back a different size than it went in.
    if cfg.size % 4 != 0:
        lo, hi = cfg.size - cfg.size % 4, cfg.size - cfg.size % 4 + 4
        raise ConfigError(
            f"--size {cfg.size}: the ResNet generator downsamples twice and upsamples twice, "
            f"so the size must be a multiple of 4 (for example {lo or 4} or {hi})"
        )
    # Each PatchGAN layer of stride 2 halves the size, then two 4x4 convolutions of
    # stride 1 each remove one pixel: at least one output pixel must remain.
    smallest = 8
    while smallest // 2**cfg.d_layers - 2 < 1 or smallest % 2**cfg.d_layers:
        smallest += 4
    if cfg.size < smallest:
        raise ConfigError(
            f"--size {cfg.size}: a discriminator with --d-layers {cfg.d_layers} needs images "
            f"of at least {smallest}x{smallest}"
        )
    cores = os.cpu_count() or 1
    if cfg.threads > cores:
        raise ConfigError(
            f"--threads {cfg.threads}: this machine has {cores} cores; use 0 to {cores}"
        )
    if cfg.decay_epochs > cfg.epochs:
        raise ConfigError(f"--decay-epochs {cfg.decay_epochs} is more than --epochs {cfg.epochs}")
    if cfg.batch_passes and cfg.norm != "instance":
        raise ConfigError(
            f"--batch-passes needs --norm instance (with --norm {cfg.norm} the statistics of "
            "a batch would mix its passes); add --no-batch-passes"
        )
    if not cfg.attention_generator and cfg.masks != 1:
        raise ConfigError(
            f"--masks {cfg.masks} needs attention-guided generators; drop "
            "--no-attention-generator or --masks"
        )
    return cfg
