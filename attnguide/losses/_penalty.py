"""The gradient penalty of WGAN-GP (Gulrajani et al.), on images and masks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_real,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    reduce,
)
from attnguide.losses._adversarial import Prediction

__all__ = ["gradient_penalty"]


def _score_sum(prediction: object, name: str) -> Tensor:
    """The sum of a prediction's real/fake scores (tuples: the first element; lists:
    every scale), whose gradient is each sample's score gradient."""
    if isinstance(prediction, tuple):
        if len(prediction) == 0:
            raise ValueError(
                f"gradient_penalty(): the critic's output '{name}' is an empty tuple; "
                "expected (score, extras...) with the real/fake score first"
            )
        return _score_sum(prediction[0], f"{name}[0]")
    if isinstance(prediction, list):
        if len(prediction) == 0:
            raise ValueError(
                f"gradient_penalty(): the critic's output '{name}' is an empty list; "
                "expected one score map per scale"
            )
        return torch.stack([_score_sum(p, f"{name}[{i}]") for i, p in enumerate(prediction)]).sum()
    if not isinstance(prediction, Tensor) or not prediction.is_floating_point():
        raise TypeError(
            f"gradient_penalty(): the critic's output '{name}' must be a floating-point "
            "tensor, a list of them (multi-scale) or a tuple whose first element is the "
            f"score, got {type(prediction).__name__}"
        )
    if not prediction.requires_grad:
        raise ValueError(
            f"gradient_penalty(): the critic's output '{name}' does not depend on its "
            "input (it has no gradient); was it computed under torch.no_grad()?"
        )
    return prediction.sum()


def gradient_penalty(
    critic: Callable[..., Prediction],
    real: Tensor,
    fake: Tensor,
    *,
    real_mask: Tensor | None = None,
    fake_mask: Tensor | None = None,
    alpha: Tensor | None = None,
    target: float = 1.0,
    generator: torch.Generator | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """WGAN-GP's gradient penalty (Gulrajani et al.), as StarGAN trains its critic.

    At random points between real and fake samples, ``x = a * real + (1 - a) * fake``
    with one ``a ~ U(0, 1)`` per sample, the penalty is ``(||grad_x D(x)||_2 - target)^2``
    per sample. ``fake`` is detached; the result keeps the graph of the gradient
    (``create_graph``), so its backward trains the critic's parameters.

    A mask-conditioned critic (:class:`~attnguide.MaskConditionedDiscriminator`) judges
    an (image, mask) pair: pass ``real_mask`` and ``fake_mask`` and the masks are
    interpolated with the same ``a``, the critic is called as ``critic(x, m)`` and the
    norm is taken over the gradient of the pair, images and masks together, since the
    critic's input is the pair. The critic's output may be a score map, a tuple whose
    first element is the score (StarGAN's ``(src, cls)``) or a list of score maps (a
    multi-scale critic, whose scales' gradients add up). A sample's gradient is that of
    its own score only when the critic treats samples independently (instance norm,
    no batch norm), as WGAN-GP asks of a critic.

    Args:
        critic: The discriminator, called as ``critic(x)`` or ``critic(x, m)``.
        real: Real images.
        fake: Generated images (detached here).
        real_mask: The masks that go with ``real``, for a mask-conditioned critic.
        fake_mask: The masks that go with ``fake``; given together with ``real_mask``.
        alpha: The interpolation weights in [0, 1], one per sample; drawn uniformly
            (from ``generator``) when None.
        target: The gradient norm the penalty pulls towards (WGAN-GP: 1).
        generator: The random generator that draws ``alpha``.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample penalties, or
            ``"none"`` for the per-sample penalties.

    Returns:
        The penalty (multiply by lambda_gp, StarGAN: 10, and add to the critic's loss).

    Shape:
        - real, fake: ``(b, c, h, w)``
        - real_mask, fake_mask: ``(b, k, h, w)``
        - alpha: ``(b,)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, the inputs' dtypes differ,
            or the critic returns something other than tensors.
        ValueError: Shapes or devices disagree, only one of the masks is given,
            ``alpha`` is outside [0, 1], ``target`` is negative or not finite, the
            critic's output has no gradient, or ``reduction`` is unknown.

    Example:
        >>> w = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
        >>> critic = lambda x: (x * w).flatten(1).sum(1)  # gradient w: norm 5
        >>> real, fake = torch.rand(2, 2, 1, 1), torch.rand(2, 2, 1, 1)
        >>> gradient_penalty(critic, real, fake)  # (5 - 1)^2
        tensor(16.)
        >>> # gradient norm sqrt(26)
        >>> mask_critic = lambda x, m: critic(x) + m.flatten(1).sum(1)
        >>> ones = torch.ones(2, 1, 1, 1)
        >>> masks = {"real_mask": ones, "fake_mask": ones}
        >>> gradient_penalty(mask_critic, real, fake, **masks, target=0)
        tensor(26.)
    """
    fn = "gradient_penalty"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "real", real, "b c h w", sizes)
    check_shape(fn, "fake", fake, "b c h w", sizes)
    check_same_dtype_device(fn, real=real, fake=fake)
    target = check_real(fn, "target", target, minimum=0.0)
    check_reduction(fn, reduction)
    if (real_mask is None) != (fake_mask is None):
        given = "real_mask" if real_mask is not None else "fake_mask"
        raise ValueError(
            f"{fn}(): '{given}' was given without the other mask; a mask-conditioned "
            "critic needs both 'real_mask' and 'fake_mask', a plain one neither"
        )
    if real_mask is not None and fake_mask is not None:
        check_shape(fn, "real_mask", real_mask, "b k h w", sizes)
        check_shape(fn, "fake_mask", fake_mask, "b k h w", sizes)
        check_same_dtype_device(fn, real=real, real_mask=real_mask, fake_mask=fake_mask)
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, generator=generator, dtype=real.dtype, device=real.device)
    else:
        check_shape(fn, "alpha", alpha, "b", sizes)
        check_same_dtype_device(fn, real=real, alpha=alpha)
        if bool(((alpha < 0) | (alpha > 1) | alpha.isnan()).any()):
            raise ValueError(
                f"{fn}(): 'alpha' must lie in [0, 1], got values from "
                f"{float(alpha.min())} to {float(alpha.max())}"
            )
    a = alpha.view(b, 1, 1, 1)
    inputs = [(a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)]
    if real_mask is not None and fake_mask is not None:
        inputs.append((a * real_mask.detach() + (1 - a) * fake_mask.detach()).requires_grad_(True))
    with torch.enable_grad():
        score = _score_sum(critic(*inputs), "critic(...)")
        grads = torch.autograd.grad(score, inputs, create_graph=True)
    squared = sum(g.flatten(1).pow(2).sum(1) for g in grads)
    return reduce((squared.sqrt() - target).pow(2), reduction)
