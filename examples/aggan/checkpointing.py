"""Checkpoints of a run: what they hold, how a run resumes, how trained networks load.

A checkpoint (``RUN/checkpoint``, written by ``attnguide.training.save_checkpoint``)
holds the six networks, both optimizers and schedules, every process's image pools,
the RNG states, the progress counters, the loss history and the configuration:
everything a run depends on, so ``--resume`` continues exactly. Nothing in it is a
pickle, and a damaged or foreign checkpoint is refused with a one-line message.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from common import checkpoints as common
from common.checkpoints import add_run_arguments
from common.distributed import resolve_device

from .config import TrainConfig, load_config
from .model import AGGAN, NAMES, build_model

__all__ = ["add_run_arguments", "load_networks", "load_run", "load_trained", "read_checkpoint"]

# What a training checkpoint holds beyond the networks, and the type of each entry.
_ENTRIES = {**common.TRAINING_ENTRIES, "pools": list}


def read_checkpoint(path: Path, device: torch.device, *, training: bool) -> dict[str, Any]:
    """Loads a checkpoint and checks it holds what a run needs, by name and type.

    Raises:
        ConfigError: the checkpoint is missing, damaged, foreign or incomplete; the
            message names it and what is wrong.
    """
    return common.read_checkpoint(path, device, entries=_ENTRIES if training else {})


def check_fits(model: AGGAN, cfg: TrainConfig, saved: dict[str, Any], where: Path) -> None:
    """Raises a message listing every network, key and shape where ``saved`` (a loaded
    checkpoint) and ``model`` disagree.

    Raises:
        ConfigError: the checkpoint comes from a different configuration.
    """
    common.check_fits(model.networks(), NAMES, cfg, saved, where)


def load_networks(model: AGGAN, cfg: TrainConfig, saved: dict[str, Any], where: Path) -> None:
    """Loads the networks of a loaded checkpoint into ``model`` after checking they fit."""
    check_fits(model, cfg, saved, where)
    for name, net in model.networks().items():
        net.load_state_dict(saved[name])


def load_trained(
    run_dir: Path | None,
    *,
    checkpoint: Path | None = None,
    config: Path | None = None,
    device: str = "auto",
) -> tuple[TrainConfig, AGGAN, torch.device]:
    """The trained networks of a run, in eval mode, for translation and evaluation.

    Args:
        run_dir: A run folder (its ``config.json`` and ``checkpoint``), or None when
            both ``checkpoint`` and ``config`` are given.
        checkpoint: A checkpoint directory other than the run's latest.
        config: A ``config.json`` other than the run's.
        device: Where to put the networks ("auto": CUDA when available).

    Raises:
        ConfigError: a file is missing or damaged, or the checkpoint does not fit the
            configuration (the message lists the differing keys and shapes).
    """
    config, checkpoint = common.run_files(run_dir, checkpoint, config)
    cfg = load_config(config)
    target = resolve_device(device)
    saved = read_checkpoint(checkpoint, target, training=False)
    model = build_model(cfg)
    load_networks(model, cfg, saved, checkpoint)
    return cfg, model.to(target).eval(), target


def load_run(args: argparse.Namespace) -> tuple[TrainConfig, AGGAN, torch.device]:
    """:func:`load_trained` with the options :func:`add_run_arguments` added."""
    return load_trained(
        args.run_dir, checkpoint=args.checkpoint, config=args.config, device=args.device
    )
