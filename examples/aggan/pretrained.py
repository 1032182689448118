"""Start a run from trained networks: upgrade a CycleGAN into AGGAN (``--init-from``).

``AttentionHead`` keeps a generator's modules and ``state_dict`` keys, so a trained
CycleGAN generator loads into ``G_xy.generator`` as it is, and ``MaskConditionedDiscriminator``
keeps a discriminator's, so its vanilla weights load into ``D_XA.discriminator`` with the
mask weights at zero: at step 0 it scores exactly as the vanilla one. Three sources:

- a run folder of this example (``RUN/config.json`` and ``RUN/checkpoint``), e.g. the
  CycleGAN baseline's;
- a folder in the layout CycleGAN's own code writes: ``latest_net_G_A.pth``,
  ``latest_net_G_B.pth``, ``latest_net_D_A.pth``, ``latest_net_D_B.pth`` (plain state
  dicts saved by ``torch.save``; read with ``torch.load(weights_only=True)`` only);
  ``G_A`` maps A to B (our ``G_xy``) and ``D_A`` judges its outputs (our ``D_Y``);
- a folder of ``G_xy.safetensors`` and ``G_yx.safetensors`` (and optionally
  ``D_X.safetensors``, ``D_Y.safetensors``).

Generators are required; discriminators that a source lacks keep their fresh
initialisation. Weights of another architecture are refused with the keys, shapes and
dtypes that differ, and weights that hold NaN or infinities with their keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.config import ConfigError
from common.distributed import resolve_device
from common.rundir import CHECKPOINT
from torch import Tensor, nn

from attnguide.training import load_weights, nonfinite_keys, weight_mismatches

from .checkpointing import read_checkpoint
from .config import TrainConfig, load_config
from .model import AGGAN, NAMES, build_model

__all__ = ["initialise_from", "read_pretrained"]

# CycleGAN's network names -> ours (G_A: A -> B; D_A judges G_A's fakes, domain B).
CYCLEGAN_NAMES = {"G_A": "G_xy", "G_B": "G_yx", "D_A": "D_Y", "D_B": "D_X"}
# Which vanilla discriminator an attention-guided one starts from.
_VANILLA = {"D_XA": "D_X", "D_YA": "D_Y"}


def read_pretrained(source: Path, *, epoch: str = "latest") -> dict[str, dict[str, Tensor]]:
    """The networks stored at ``source``, by our names (``G_xy``, ``G_yx``, ``D_X``, ...).

    Raises:
        ConfigError: ``source`` is none of the three layouts, lacks a generator, a
            file cannot be read safely, or weights hold NaN or infinities.
    """
    flag = f"--init-from {source}"
    if not source.is_dir():
        raise ConfigError(f"{flag}: not a folder")
    try:
        if (source / "config.json").is_file() and (source / CHECKPOINT).exists():
            saved = read_checkpoint(source / CHECKPOINT, "cpu", training=False)
            found = {n: saved[n] for n in NAMES if n in saved}
        elif (source / f"{epoch}_net_G_A.pth").is_file():
            found = {
                ours: load_weights(source / f"{epoch}_net_{theirs}.pth")
                for theirs, ours in CYCLEGAN_NAMES.items()
                if (source / f"{epoch}_net_{theirs}.pth").is_file()
            }
        else:
            found = {
                name: load_weights(source / f"{name}.safetensors")
                for name in ("G_xy", "G_yx", "D_X", "D_Y")
                if (source / f"{name}.safetensors").is_file()
            }
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"{flag}: {err}") from None
    for name, weights in found.items():
        bad = nonfinite_keys(weights)
        if bad:
            raise ConfigError(
                f"{flag}: the weights of {name} hold NaN or infinite values in {len(bad)} "
                f"tensor(s), e.g. {', '.join(bad[:4])}; these are not trained weights"
            )
    missing = [n for n in ("G_xy", "G_yx") if n not in found]
    if missing:
        raise ConfigError(
            f"{flag}: no weights for {', '.join(missing)} there. Expected a run folder of "
            f"this example (config.json, {CHECKPOINT}/), CycleGAN's {epoch}_net_G_A.pth and "
            f"{epoch}_net_G_B.pth (and _D_A, _D_B), or G_xy.safetensors and G_yx.safetensors"
        )
    return found


def _inner(net: nn.Module) -> nn.Module:
    """The wrapped network of an adapter, or the network itself."""
    return getattr(net, "generator", None) or getattr(net, "discriminator", None) or net


def _load(name: str, net: nn.Module, weights: dict[str, Tensor], where: str) -> None:
    """Loads ``weights`` into ``net`` whole, or into the network it wraps."""
    for target in (net, _inner(net)):
        if not weight_mismatches(target.state_dict(), weights):
            target.load_state_dict(weights)
            return
    problems = weight_mismatches(_inner(net).state_dict(), weights)
    shown = "\n".join(f"  {name}.{p}" for p in problems[:12])
    more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
    raise ConfigError(
        f"--init-from {where}: the weights of {name} do not fit this configuration's "
        f"{type(_inner(net)).__name__}:\n{shown}{more}"
    )


def initialise_from(model: AGGAN, found: dict[str, dict[str, Tensor]], where: str) -> list[str]:
    """Loads what :func:`read_pretrained` found into ``model``; returns what was loaded.

    Each attention-guided discriminator starts from the vanilla one of its domain, its
    mask weights at zero, so it scores as that one does at step 0.
    """
    nets = model.networks()
    loaded = []
    for name, weights in found.items():
        if name in nets:
            _load(name, nets[name], weights, where)
            loaded.append(name)
    for name, vanilla in _VANILLA.items():
        if name in nets and name not in found and vanilla in found:
            _load(name, nets[name], found[vanilla], where)
            nets[name].reset_mask_parameters()
            loaded.append(f"{name} (from {vanilla})")
    model.reset_ema()
    return loaded


def load_start(run_dir: Path, *, device: str = "auto") -> tuple[TrainConfig, AGGAN, Any]:
    """The networks a run started from (``--init-from``), before its first step, in
    eval mode: what ``evaluate.py --at-start`` scores.

    Raises:
        ConfigError: ``run_dir`` is not a run folder, or its run did not start from
            trained networks.
    """
    config = run_dir / "config.json"
    if not config.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (it has no config.json)")
    cfg = load_config(config)
    if cfg.init_from is None:
        raise ConfigError(
            f"{run_dir} started from random weights (no --init-from): its start is not "
            "a trained model to evaluate"
        )
    model = build_model(cfg)
    initialise_from(
        model, read_pretrained(Path(cfg.init_from), epoch=cfg.init_epoch), cfg.init_from
    )
    target = resolve_device(device)
    return cfg, model.to(target).eval(), target
