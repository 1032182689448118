"""The AGGAN generator objective: its weights (Eq. 7) and curriculum (Eq. 9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from attnguide._validation import (
    check_int,
    check_real,
    check_same_dtype_device,
    check_tensor,
)

__all__ = ["AGGANLossWeights", "aggan_generator_objective", "curriculum_rate"]

_OBJECTIVE_TERMS: tuple[str, ...] = ("gan", "agan", "cycle", "pixel", "tv")


@dataclass(frozen=True)
class AGGANLossWeights:
    """The λ weights of the AGGAN objective (Eq. 7); defaults are the paper's values.

    Args:
        gan: ``λgan``, shared by the vanilla and the attention-guided adversarial terms.
        cycle: ``λcycle``, the cycle-consistency weight.
        pixel: ``λpixel``, the pixel-loss weight.
        tv: ``λtv``, the attention (total variation) weight.

    Raises:
        TypeError: A weight is not a real number.
        ValueError: A weight is negative, infinite or NaN.

    Example:
        >>> AGGANLossWeights(pixel=0.0)
        AGGANLossWeights(gan=0.5, cycle=10.0, pixel=0.0, tv=1e-06)
    """

    gan: float = 0.5
    cycle: float = 10.0
    pixel: float = 1.0
    tv: float = 1e-6

    def __post_init__(self) -> None:
        for field in fields(self):
            check_real("AGGANLossWeights", field.name, getattr(self, field.name), minimum=0)


def curriculum_rate(
    epoch: int, *, warmup_epochs: int = 10, warmup_rate: float = 0.01, rate: float = 0.5
) -> float:
    """The curriculum parameter ``r`` of Eq. 9 for a (0-based) epoch.

    The paper sets ``r = 0.01`` for the first 10 epochs, so the adversarial and
    attention terms dominate early training, then ``r = 0.5``.

    Args:
        epoch: The current epoch, counting from 0.
        warmup_epochs: How many epochs (0 to ``warmup_epochs - 1``) use ``warmup_rate``.
        warmup_rate: ``r`` during the curriculum period.
        rate: ``r`` afterwards.

    Returns:
        ``warmup_rate`` while ``epoch < warmup_epochs``, else ``rate``.

    Raises:
        TypeError: ``epoch`` or ``warmup_epochs`` is not an int, or a rate is not a
            real number.
        ValueError: ``epoch`` or ``warmup_epochs`` is negative, or a rate lies
            outside [0, 1].

    Example:
        >>> curriculum_rate(9), curriculum_rate(10)
        (0.01, 0.5)
    """
    fn = "curriculum_rate"
    epoch = check_int(fn, "epoch", epoch, minimum=0)
    warmup_epochs = check_int(fn, "warmup_epochs", warmup_epochs, minimum=0)
    warmup_rate = check_real(fn, "warmup_rate", warmup_rate, minimum=0, maximum=1)
    rate = check_real(fn, "rate", rate, minimum=0, maximum=1)
    return warmup_rate if epoch < warmup_epochs else rate


def aggan_generator_objective(
    terms: Mapping[str, Tensor], weights: AGGANLossWeights, r: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """The generators' AGGAN objective with its curriculum (Eq. 9).

    ``total = r * (λcycle*cycle + λpixel*pixel)
    + (1 - r) * (λgan*(gan + agan) + λtv*tv)``.

    Each term is a scalar the caller has already summed over both translation
    directions (e.g. ``gan = L_GAN(G_xy, D_y) + L_GAN(G_yx, D_x)``). A term missing
    from ``terms`` contributes nothing, which is how an ablation drops it; with
    ``r = 0.5`` the objective is Eq. 7 scaled by one half.

    Args:
        terms: Maps any of ``"gan"``, ``"agan"``, ``"cycle"``, ``"pixel"``, ``"tv"`` to
            its unweighted loss.
        weights: The λ weights.
        r: The curriculum parameter in [0, 1], see :func:`curriculum_rate`.

    Returns:
        ``(total, weighted)``: the objective, and a dict holding every given term
        multiplied by its λ and its curriculum factor (``r`` or ``1 - r``) plus
        ``"total"``; the weighted terms sum to the total, ready for logging.

    Shape:
        - terms: each ``()``
        - total: ``()``

    Raises:
        TypeError: ``terms`` is not a mapping, a term is not a floating-point tensor,
            the terms differ in dtype, ``weights`` is not an :class:`AGGANLossWeights`
            or ``r`` is not a real number.
        ValueError: ``terms`` is empty or has unknown keys, a term is not a scalar,
            the terms are on different devices, or ``r`` lies outside [0, 1].

    Example:
        >>> terms = {"gan": torch.tensor(1.0), "cycle": torch.tensor(0.2)}
        >>> weights = AGGANLossWeights()
        >>> total, weighted = aggan_generator_objective(terms, weights, 0.5)
        >>> total, weighted["gan"], weighted["cycle"]
        (tensor(1.2500), tensor(0.2500), tensor(1.))
    """
    fn = "aggan_generator_objective"
    if not isinstance(terms, Mapping):
        raise TypeError(
            f"{fn}(): 'terms' must be a mapping of term names to tensors, got "
            f"{type(terms).__name__}"
        )
    unknown = [key for key in terms if key not in _OBJECTIVE_TERMS]
    if unknown:
        raise ValueError(
            f"{fn}(): 'terms' has unknown keys {unknown}; expected any of {_OBJECTIVE_TERMS}"
        )
    if not terms:
        raise ValueError(f"{fn}(): 'terms' is empty; expected any of {_OBJECTIVE_TERMS}")
    if not isinstance(weights, AGGANLossWeights):
        raise TypeError(
            f"{fn}(): 'weights' must be an AGGANLossWeights, got {type(weights).__name__}"
        )
    r = check_real(fn, "r", r, minimum=0, maximum=1)
    for key, value in terms.items():
        check_tensor(fn, f"terms[{key!r}]", value)
        if value.ndim != 0:
            raise ValueError(
                f"{fn}(): 'terms[{key!r}]' must be a scalar (0-dimensional) tensor, got "
                f"shape {tuple(value.shape)}; reduce it first"
            )
    check_same_dtype_device(fn, **{f"terms[{key!r}]": value for key, value in terms.items()})

    factors = {
        "gan": (1 - r) * weights.gan,
        "agan": (1 - r) * weights.gan,
        "cycle": r * weights.cycle,
        "pixel": r * weights.pixel,
        "tv": (1 - r) * weights.tv,
    }
    weighted = {key: terms[key] * factors[key] for key in _OBJECTIVE_TERMS if key in terms}
    total = torch.stack(list(weighted.values())).sum()
    weighted["total"] = total
    return total, weighted
