"""Trained networks of a run, loaded for translation and evaluation.

A checkpoint (``RUN/checkpoint``) holds both networks, both optimizers and schedules,
the RNG state, the progress counters, the loss history, the configuration and the
domains in label order (see :mod:`stargan_aggan.engine`); nothing in it is a pickle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from common.checkpoints import check_fits, read_checkpoint, run_files
from common.config import ConfigError
from common.distributed import resolve_device

from .config import TrainConfig, load_config
from .model import NAMES, StarGANModel, build_model

__all__ = ["load_run", "load_trained"]


def load_trained(
    run_dir: Path | None,
    *,
    checkpoint: Path | None = None,
    config: Path | None = None,
    device: str = "auto",
) -> tuple[TrainConfig, StarGANModel, list[str], torch.device]:
    """The trained networks of a run in eval mode, its domains and where they are.

    Raises:
        ConfigError: a file is missing or damaged, or the checkpoint does not fit the
            configuration (the message lists the differing keys and shapes).
    """
    config, checkpoint = run_files(run_dir, checkpoint, config)
    cfg = load_config(config)
    target = resolve_device(device)
    saved = read_checkpoint(checkpoint, target, entries={"domains": list})
    domains = saved["domains"]
    if len(domains) < 2 or not all(isinstance(d, str) for d in domains):
        raise ConfigError(f"the checkpoint {checkpoint} has no valid list of domains")
    model = build_model(cfg, len(domains))
    check_fits(model.networks(), NAMES, cfg, saved, checkpoint)
    for name, net in model.networks().items():
        net.load_state_dict(saved[name])
    return cfg, model.to(target).eval(), list(domains), target


def load_run(args: argparse.Namespace) -> tuple[TrainConfig, StarGANModel, list[str], torch.device]:
    """:func:`load_trained` with the options of ``common.checkpoints.add_run_arguments``."""
    return load_trained(
        args.run_dir, checkpoint=args.checkpoint, config=args.config, device=args.device
    )
