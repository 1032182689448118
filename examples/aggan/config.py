"""The training configuration: one dataclass, saved as JSON, turned into a command line.

Every option of ``train.py`` is a field of :class:`TrainConfig`; the command line is
built from the fields (their ``help`` metadata), so a run's ``config.json`` names every
value it used and ``--config config.json`` repeats it.

The defaults are the CPU main job: small networks at 64x64 trained for 2,000 steps, a
few minutes on two cores. Everything the paper fixes (loss weights, the curriculum of
r = 0.01 for 10 epochs then 0.5, LSGAN, pool of 50, Adam 1e-4 (0.5, 0.999), batch size
1, flips, a pooled discriminator head) keeps the paper's value, so the short main job
runs entirely inside the curriculum period; ``--paper`` sets the rest (256x256, ngf 64,
9 residual blocks, 200 epochs with the last 100 decaying, all threads).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "PAPER",
    "ConfigError",
    "TrainConfig",
    "add_config_arguments",
    "config_diff",
    "explicit_overrides",
    "load_config",
    "save_config",
    "validate_config",
]


class ConfigError(ValueError):
    """A configuration, data set or run folder that training cannot use as given."""


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    """Every knob of an AGGAN training run (see ``train.py --help``)."""

    # data
    data_root: str | None = _opt(
        None,
        "CycleGAN-layout data set (trainA, trainB, testA, testB). Default: the built-in "
        "synthetic faces, rendered on first use into datasets/faces-SIZE",
    )
    size: int = _opt(64, "image size the networks see (a multiple of 4; 256 in the paper)")
    train_limit: int = _opt(
        400, "use only the first N training images of each domain (0: all of them)"
    )
    flip: bool = _opt(True, "random left-right flips of the training images (paper: on)")
    workers: int = _opt(0, "DataLoader worker processes")
    threads: int = _opt(
        1,
        "intra-op CPU threads (0: torch's default, one per core). One by default: at 64x64 "
        "with batch 1 the convolutions are too small to split, and a second thread slows "
        "a step down",
    )

    # model
    ngf: int = _opt(16, "generator width (paper: 64)")
    n_blocks: int = _opt(4, "residual blocks in each generator (paper: 9)")
    ndf: int = _opt(32, "discriminator width (paper: 64)")
    d_layers: int = _opt(3, "stride-2 layers of each PatchGAN discriminator")
    d_head: str = _opt(
        "pool",
        "discriminator output: 'pool' (one score per image, the paper) or 'patch' (70x70 "
        "PatchGAN map)",
        choices=("pool", "patch"),
    )
    norm: str = _opt("instance", "normalisation layers", choices=("instance", "batch"))
    masks: int = _opt(1, "attention masks per generator (k >= 2: AttentionGAN scheme II)")
    mask_bias: float = _opt(
        0.0, "initial mask logit: the mask starts at sigmoid(mask_bias) everywhere"
    )
    attention_generator: bool = _opt(
        True, "attention-guided generators (off: plain CycleGAN generators of the same backbone)"
    )
    attention_discriminator: bool = _opt(
        True, "attention-guided discriminators D_XA, D_YA on [mask, image] pairs"
    )

    # objective (Eq. 9)
    gan_weight: float = _opt(0.5, "lambda_gan")
    cycle_weight: float = _opt(10.0, "lambda_cycle")
    pixel_weight: float = _opt(1.0, "lambda_pixel")
    tv_weight: float = _opt(1e-6, "lambda_tv")
    pixel_loss: bool = _opt(True, "the pixel loss L1(G(x), x) (Eq. 5)")
    tv_loss: bool = _opt(True, "the attention (total variation) loss on the masks (Eq. 6)")
    gan_mode: str = _opt("lsgan", "adversarial loss", choices=("lsgan", "vanilla", "hinge", "wgan"))
    warmup_epochs: int = _opt(10, "curriculum epochs with r = warmup_rate (paper: 10)")
    warmup_rate: float = _opt(0.01, "r during the curriculum (paper: 0.01)")
    rate: float = _opt(0.5, "r after the curriculum (paper: 0.5)")
    pool_size: int = _opt(50, "image history pool per domain (0: no pool)")

    # optimisation
    lr: float = _opt(1e-4, "Adam learning rate of generators and discriminators")
    beta1: float = _opt(0.5, "Adam beta1")
    beta2: float = _opt(0.999, "Adam beta2")
    batch_size: int = _opt(1, "images per step and process")
    epochs: int = _opt(5, "training epochs (paper: 200)")
    decay_epochs: int = _opt(
        2, "the last N epochs decay the learning rate linearly to zero (paper: 100)"
    )
    max_steps: int = _opt(0, "stop after this many steps in total (0: run every epoch)")
    seed: int = _opt(0, "seed of weights, data order, flips and the image pools")

    # devices
    device: str = _opt("auto", "'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    amp: str = _opt("none", "mixed precision: 'bf16' autocast on CUDA", choices=("none", "bf16"))
    channels_last: bool = _opt(False, "channels-last memory format for networks and images")
    compile: bool = _opt(False, "torch.compile the networks")

    # output
    out: str | None = _opt(None, "run folder (default: runs/aggan-DATE-TIME)")
    save_every: int = _opt(200, "also checkpoint every N steps (0: only at the end of each epoch)")
    sample_every: int = _opt(500, "write a sample grid every N steps (0: only at the end)")
    log_every: int = _opt(25, "record the losses every N steps")
    n_samples: int = _opt(3, "test images per direction in the sample grids")
    evaluate: bool = _opt(True, "evaluate on the test split at the end and print the table")
    tensorboard: bool = _opt(False, "also log to TensorBoard (needs the tensorboard package)")


#: The paper's configuration (section IV-A), one flag away: ``--paper``.
PAPER: dict[str, Any] = {
    "size": 256,
    "train_limit": 0,
    "ngf": 64,
    "n_blocks": 9,
    "ndf": 64,
    "epochs": 200,
    "decay_epochs": 100,
    "threads": 0,
    "save_every": 0,
    "sample_every": 5000,
    "log_every": 100,
}

# Fields a resumed run may change: how it runs, not what it computes.
RESUMABLE = frozenset(
    {
        "workers",
        "threads",
        "max_steps",
        "device",
        "compile",
        "save_every",
        "sample_every",
        "log_every",
        "n_samples",
        "evaluate",
        "tensorboard",
        "data_root",
        "out",
    }
)

_TYPES = {"int": int, "float": float, "str": str, "str | None": str}
# What each annotation accepts (a JSON config can hold anything), and how to say it.
_KINDS = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one option per :class:`TrainConfig` field to ``parser``.

    Defaults are suppressed, so the parsed namespace holds only what the user typed;
    :func:`explicit_overrides` reads it back. Booleans get ``--name``/``--no-name``.
    """
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"]
        if f.type == "bool":
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{help_text} (default: {'on' if f.default else 'off'})",
            )
            continue
        parser.add_argument(
            flag,
            dest=f.name,
            type=_TYPES[f.type],
            choices=f.metadata.get("choices"),
            default=argparse.SUPPRESS,
            metavar=f.name.upper() if "choices" not in f.metadata else None,
            help=f"{help_text} (default: {f.default})",
        )


def explicit_overrides(namespace: argparse.Namespace) -> dict[str, Any]:
    """The config fields the user set on the command line."""
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in vars(namespace).items() if k in names}


def validate_config(cfg: TrainConfig) -> TrainConfig:
    """Checks a configuration before anything is built or written.

    Raises:
        ConfigError: naming the option, the value received and what would work.
    """

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ConfigError(msg)

    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        accepts, kind = _KINDS[f.type]
        need(
            accepts(value),
            f"--{f.name.replace('_', '-')} must be {kind}, got {value!r} ({type(value).__name__})",
        )
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
    smallest = 4
    while smallest // 2**cfg.d_layers - 2 < 1 or smallest % 2**cfg.d_layers:
        smallest += 4
    need(
        cfg.size >= smallest,
        f"--size {cfg.size}: a discriminator with --d-layers {cfg.d_layers} needs images "
        f"of at least {smallest}x{smallest}",
    )
    for name in ("ngf", "n_blocks", "ndf", "d_layers", "batch_size", "epochs", "masks"):
        value = getattr(cfg, name)
        need(value >= 1, f"--{name.replace('_', '-')} must be at least 1, got {value}")
    for name in (
        "train_limit",
        "workers",
        "threads",
        "pool_size",
        "max_steps",
        "save_every",
        "sample_every",
        "warmup_epochs",
        "decay_epochs",
        "n_samples",
    ):
        value = getattr(cfg, name)
        need(value >= 0, f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    need(cfg.log_every >= 1, f"--log-every must be at least 1, got {cfg.log_every}")
    need(
        cfg.decay_epochs <= cfg.epochs,
        f"--decay-epochs {cfg.decay_epochs} is more than --epochs {cfg.epochs}",
    )
    need(cfg.lr > 0, f"--lr must be positive, got {cfg.lr}")
    for name in ("beta1", "beta2", "warmup_rate", "rate"):
        value = getattr(cfg, name)
        need(0 <= value <= 1, f"--{name.replace('_', '-')} must lie in [0, 1], got {value}")
    for name in ("gan_weight", "cycle_weight", "pixel_weight", "tv_weight"):
        value = getattr(cfg, name)
        need(value >= 0, f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if not cfg.attention_generator and cfg.masks != 1:
        raise ConfigError(
            f"--masks {cfg.masks} needs attention-guided generators; drop "
            "--no-attention-generator or --masks"
        )
    for name, choices in (
        ("d_head", ("pool", "patch")),
        ("norm", ("instance", "batch")),
        ("gan_mode", ("lsgan", "vanilla", "hinge", "wgan")),
        ("amp", ("none", "bf16")),
    ):
        value = getattr(cfg, name)
        need(
            value in choices, f"--{name.replace('_', '-')} must be one of {choices}, got {value!r}"
        )
    return cfg


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Writes ``cfg`` as indented JSON (the run folder's ``config.json``)."""
    Path(path).write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")


def load_config(path: str | Path) -> TrainConfig:
    """Reads a ``config.json``; unknown keys are an error, missing keys take defaults.

    Raises:
        ConfigError: the file is missing, not JSON, or names options that do not exist.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config file {path} has unknown options: {', '.join(unknown)}")
    return TrainConfig(**data)


def config_diff(a: TrainConfig, b: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ: name -> (value in ``a``, value in ``b``)."""
    return {
        f.name: (getattr(a, f.name), getattr(b, f.name))
        for f in fields(TrainConfig)
        if getattr(a, f.name) != getattr(b, f.name)
    }
