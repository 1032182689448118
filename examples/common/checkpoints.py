"""Reading an example's checkpoints: checked by name and type, and fitted to a model.

A checkpoint (``RUN/checkpoint``, written by ``attnguide.training.save_checkpoint``)
holds nothing that unpickles; what is checked here is that it holds what a run needs,
and that its networks fit the model of a configuration, with a one-line (or, for
mismatched weights, one-line-per-difference) message otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnguide.training import load_checkpoint, save_checkpoint, weight_mismatches

from .config import ConfigError, config_diff
from .rundir import CHECKPOINT

__all__ = [
    "TRAINING_ENTRIES",
    "add_run_arguments",
    "check_fits",
    "read_checkpoint",
    "run_files",
    "write_checkpoint",
]

#: What every example's training checkpoint holds beyond the networks: two optimizers
#: and schedules, the RNG state, the progress, the loss log and the configuration.
TRAINING_ENTRIES: dict[str, type | tuple[type, ...]] = {
    "opt_G": dict,
    "opt_D": dict,
    "sched_G": dict,
    "sched_D": dict,
    "rng": dict,
    "progress": dict,
    "losses": dict,
    "config": dict,
}
_PROGRESS = {"epoch": int, "batch": int, "step": int, "elapsed": (int, float)}


def read_checkpoint(
    path: Path, device: torch.device, *, entries: Mapping[str, type | tuple[type, ...]]
) -> dict[str, Any]:
    """Loads a checkpoint and checks that it holds ``entries`` (name -> type), and a
    valid ``progress`` when one is expected.

    Raises:
        ConfigError: the checkpoint is missing, damaged, foreign or incomplete; the
            message names it and what is wrong.
    """
    try:
        saved = load_checkpoint(path, map_location=device)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(f"cannot load the checkpoint {path}: {err}") from None
    for name, kind in entries.items():
        if not isinstance(saved.get(name), kind):
            raise ConfigError(
                f"the checkpoint {path} lacks {name!r} or holds a "
                f"{type(saved.get(name)).__name__} there; it was not written by this "
                "example's train.py"
            )
    if "progress" in entries:
        progress = saved["progress"]
        for key, kind in _PROGRESS.items():
            if isinstance(progress.get(key), bool) or not isinstance(progress.get(key), kind):
                raise ConfigError(f"the checkpoint {path} has no valid progress[{key!r}]")
    return saved


def write_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """``save_checkpoint`` with its refusals (a full disk, a read-only folder, a folder
    in the way that is not ours) as one-line messages; the previous checkpoint stays.

    Raises:
        ConfigError: the checkpoint cannot be written; the message names the folder
            and, for a full disk, the space needed and free.
    """
    try:
        save_checkpoint(path, state)
    except OSError as err:
        raise ConfigError(f"cannot save the checkpoint {path}: {err}") from None


def check_fits(
    networks: Mapping[str, nn.Module],
    names: tuple[str, ...],
    cfg: Any,
    saved: dict[str, Any],
    where: Path,
) -> None:
    """Raises a message listing every network, key and shape where ``saved`` (a loaded
    checkpoint) and ``networks`` (those of ``names`` that ``cfg`` builds) disagree,
    with the options in which the checkpoint's configuration differs from ``cfg``.

    Raises:
        ConfigError: the checkpoint comes from a different configuration.
    """
    problems: list[str] = []
    for name in names:
        if name in networks and name not in saved:
            problems.append(f"{name}: in the model, not in the checkpoint")
        elif name in saved and name not in networks:
            problems.append(f"{name}: in the checkpoint, not in the model")
    for name in (n for n in names if n in networks and n in saved):
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
        cls = type(cfg)
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            diff = config_diff(cls(**{k: v for k, v in saved_cfg.items() if k in known}), cfg)
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


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a script that loads a trained run: RUN_DIR, --checkpoint, --config
    and --device."""
    parser.add_argument("run_dir", type=Path, help="a run folder written by train.py")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint other than the run's")
    parser.add_argument("--config", type=Path, help="a config.json other than the run's")
    parser.add_argument("--device", default="auto", help="where to run (default: auto)")


def run_files(
    run_dir: Path | None, checkpoint: Path | None, config: Path | None
) -> tuple[Path, Path]:
    """The ``config.json`` and checkpoint a loading script reads: the run folder's, or
    the ones given instead.

    Raises:
        ConfigError: ``run_dir`` is not a folder, or neither it nor both files are given.
    """
    if run_dir is not None and not run_dir.is_dir():
        what = "a file" if run_dir.exists() else "it does not exist"
        raise ConfigError(f"{run_dir} is not a run folder ({what})")
    config = config or (run_dir / "config.json" if run_dir is not None else None)
    checkpoint = checkpoint or (run_dir / CHECKPOINT if run_dir is not None else None)
    if config is None or checkpoint is None:
        raise ConfigError("give a run folder, or both --checkpoint and --config")
    return config, checkpoint
