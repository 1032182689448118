"""The N(0, 0.02) weight initialisation of CycleGAN-style models."""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import is_lazy

from attnguide._validation import check_real

__all__ = ["init_weights"]

M = TypeVar("M", bound=nn.Module)

_NORMS = (_NormBase, nn.GroupNorm, nn.LayerNorm)


def init_weights(module: M, std: float = 0.02) -> M:
    """Initialises a module's weights in place as CycleGAN's ``init_type="normal"``.

    Every convolution (transposed ones included) and linear layer gets weights drawn
    from ``N(0, std)`` and zero biases; every affine normalisation layer (batch,
    instance, group and layer norm) gets weights from ``N(1, std)`` and zero biases.
    Other parameters, buffers (running statistics) and lazy, not yet materialised
    parameters are left alone. The draws use torch's global random generator.

    Args:
        module: The module to initialise, with all its submodules.
        std: Standard deviation of the normal draws, finite and ``>= 0``.

    Returns:
        ``module`` itself, so the call can wrap a constructor.

    Raises:
        TypeError: ``module`` is not an ``nn.Module`` or ``std`` is not a real number.
        ValueError: ``std`` is negative or not finite.

    Example:
        >>> net = init_weights(nn.Conv2d(3, 8, 3), std=0.02)
        >>> bool(net.bias.abs().max() == 0)
        True
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"init_weights(): 'module' must be a torch.nn.Module, got {type(module).__name__}"
        )
    check_real("init_weights", "std", std, minimum=0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (_ConvNd, nn.Linear)):
                _fill(m, mean=0.0, std=std)
            elif isinstance(m, _NORMS):
                _fill(m, mean=1.0, std=std)
    return module


def _fill(m: nn.Module, *, mean: float, std: float) -> None:
    weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
    if isinstance(weight, torch.Tensor) and not is_lazy(weight):
        nn.init.normal_(weight, mean, std)
    if isinstance(bias, torch.Tensor) and not is_lazy(bias):
        nn.init.zeros_(bias)
