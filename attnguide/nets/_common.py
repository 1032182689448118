"""Argument checks and layer factories shared by the reference networks."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from attnguide._validation import check_choice

Norm = Literal["instance", "batch"]
Padding = Literal["reflect", "replicate", "zeros"]

NORMS: tuple[str, ...] = ("instance", "batch")
PADDINGS: tuple[str, ...] = ("reflect", "replicate", "zeros")


def check_norm(fn: str, norm: object) -> str:
    return check_choice(fn, "norm", norm, NORMS)


def norm_layer(norm: str, channels: int, factory: dict[str, Any]) -> nn.Module:
    """CycleGAN's norm layers: instance norm without affine parameters or running stats."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False, **factory)
    return nn.BatchNorm2d(channels, **factory)


def factory_kwargs(device: torch.device | str | None, dtype: torch.dtype | None) -> dict[str, Any]:
    return {"device": device, "dtype": dtype}
