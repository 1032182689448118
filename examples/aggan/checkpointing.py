"""Checkpoints of a run: what they hold, how a run resumes, how trained networks load.

A checkpoint (``RUN/checkpoint``, written by ``attnguide.training.save_checkpoint``)
holds the six networks, both optimizers and schedules, every process's image pools,
the RNG states, the progress counters, the loss history and the configuration:
everything a run depends on, so ``--resume`` continues exactly. Nothing in it is a
pickle, and a damaged or foreign checkpoint is refused with a one-line message.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import torch
from common.config import ConfigError, config_diff
from common.distributed import resolve_device
from common.rundir import CHECKPOINT
from torch import Tensor

from attnguide.training import load_checkpoint, weight_mismatches

from .config import TrainConfig, load_config
from .model import AGGAN, NAMES, build_model

__all__ = ["add_run_arguments", "load_networks", "load_run", "load_trained", "read_checkpoint"]

# What a training checkpoint holds beyond the networks, and the type of each entry.
_ENTRIES: dict[str, type | tuple[type, ...]] = {
    "opt_G": dict,
    "opt_D": dict,
    "sched_G": dict,
    "sched_D": dict,
    "rng": dict,
    "progress": dict,
    "losses": dict,
    "config": dict,
    "pools": list,
}
_PROGRESS = {"epoch": int, "batch": int, "step": int, "elapsed": (int, float)}


def read_checkpoint(path: Path, device: torch.device, *, training: bool) -> dict[str, Any]:
    """Loads a checkpoint and checks it holds what a run needs, by name and type.

    Raises:
        ConfigError: the checkpoint is missing, damaged, foreign or incomplete; the
            message names it and what is wrong.
    """
    try:
        saved = load_checkpoint(path, map_location=device)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"cannot load the checkpoint {path}: {err}") from None
    expected = {**_ENTRIES} if training else {}
    for name, kind in expected.items():
        if not isinstance(saved.get(name), kind):
            raise ConfigError(
                f"the checkpoint {path} lacks {name!r} or holds a "
                f"{type(saved.get(name)).__name__} there; it was not written by this "
                "example's train.py"
            )
    if training:
        progress = saved["progress"]
        for key, kind in _PROGRESS.items():
            if isinstance(progress.get(key), bool) or not isinstance(progress.get(key), kind):
                raise ConfigError(f"the checkpoint {path} has no valid progress[{key!r}]")
    return saved


def check_fits(model: AGGAN, cfg: TrainConfig, saved: dict[str, Any], where: Path) -> None:
    """Raises a message listing every network, key and shape where ``saved`` (a loaded
    checkpoint) and ``model`` disagree.

    Raises:
        ConfigError: the checkpoint comes from a different configuration.
    """
    problems: list[str] = []
    networks = model.networks()
    for name in NAMES:
        if name in networks and name not in saved:
            problems.append(f"{name}: in the model, not in the checkpoint")
        elif name in saved and name not in networks:
            problems.append(f"{name}: in the checkpoint, not in the model")
    for name in (n for n in NAMES if n in networks and n in saved):
        theirs = saved[name]
        if not isinstance(theirs, dict) or not all(isinstance(t, Tensor) for t in theirs.values()):
            problems.append(f"{name}: not a state dict of tensors")
            continue
        problems += [f"{name}.{p}" for p in weight_mismatches(networks[name].state_dict(), theirs)]
    if not problems:
        return
    message = [f"the checkpoint {where} does not fit the model of this configuration:"]
    saved_cfg = saved.get("config")
    if isinstance(saved_cfg, dict):
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        try:
            diff = config_diff(
                TrainConfig(**{k: v for k, v in saved_cfg.items() if k in known}), cfg
            )
        except TypeError:
            diff = {}
        if diff:
            message.append(
                "  differing options (checkpoint -> now): "
                + ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
            )
    message += [f"  {p}" for p in problems[:12]]
    if len(problems) > 12:
        message.append(f"  ... and {len(problems) - 12} more differences")
    raise ConfigError("\n".join(message))


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
    if run_dir is not None and not run_dir.is_dir():
        what = "a file" if run_dir.exists() else "it does not exist"
        raise ConfigError(f"{run_dir} is not a run folder ({what})")
    config = config or (run_dir / "config.json" if run_dir is not None else None)
    checkpoint = checkpoint or (run_dir / CHECKPOINT if run_dir is not None else None)
    if config is None or checkpoint is None:
        raise ConfigError("give a run folder, or both --checkpoint and --config")
    cfg = load_config(config)
    target = resolve_device(device)
    saved = read_checkpoint(checkpoint, target, training=False)
    model = build_model(cfg)
    load_networks(model, cfg, saved, checkpoint)
    return cfg, model.to(target).eval(), target


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a script that loads a trained run: RUN_DIR, --checkpoint, --config
    and --device (read back by :func:`load_run`)."""
    parser.add_argument("run_dir", type=Path, help="a run folder written by train.py")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint other than the run's")
    parser.add_argument("--config", type=Path, help="a config.json other than the run's")
    parser.add_argument("--device", default="auto", help="where to run (default: auto)")


def load_run(args: argparse.Namespace) -> tuple[TrainConfig, AGGAN, torch.device]:
    """:func:`load_trained` with the options :func:`add_run_arguments` added."""
    return load_trained(
        args.run_dir, checkpoint=args.checkpoint, config=args.config, device=args.device
    )
