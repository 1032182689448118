"""Losses on the attention mask: its total variation (Eq. 6) and its saturation."""

from __future__ import annotations

from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_reduction,
    check_shape,
    reduce,
)
from attnguide.ops import total_variation

__all__ = ["attention_tv_loss", "mask_saturation_loss"]


def attention_tv_loss(mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Attention loss (Eq. 6): the total variation of the mask, summed over pixels.

    ``tv[b] = sum_{c,h,w} |M[b,c,h,w+1] - M[b,c,h,w]| + |M[b,c,h+1,w] - M[b,c,h,w]|``,
    computed by :func:`attnguide.ops.total_variation`. It keeps masks smooth; being a
    sum over pixels it grows with the image size, which the paper's tiny weight
    (``λtv = 1e-6``) accounts for.

    Args:
        mask: Attention mask(s) in [0, 1]; all channels are summed.
        reduction: ``"mean"`` for the batch mean of per-sample sums, ``"sum"`` for
            their total, ``"none"`` for the per-sample sums.

    Returns:
        The loss.

    Shape:
        - mask: ``(b, c, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not a floating-point tensor.
        ValueError: ``mask`` is not 4-D, or ``reduction`` is unknown.

    Example:
        >>> mask = torch.zeros(2, 1, 4, 4)
        >>> mask[0, ..., 2:] = 1.0
        >>> attention_tv_loss(mask)
        tensor(2.)
    """
    check_shape("attention_tv_loss", "mask", mask, "b c h w")
    check_reduction("attention_tv_loss", reduction)
    return total_variation(mask, reduction=reduction)


def mask_saturation_loss(mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Mask saturation penalty (GANimation): the mean of the mask.

    Without it a mask can saturate to 1 everywhere, at which point the generator
    repaints the whole image and the attention does nothing. Penalising the mask's
    mean pushes it to attend only where the translation needs it.

    Args:
        mask: Attention mask(s) in [0, 1]; all channels are averaged.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mask means, or
            ``"none"`` for those per-sample means.

    Returns:
        The loss.

    Shape:
        - mask: ``(b, c, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not a floating-point tensor.
        ValueError: ``mask`` is not 4-D, or ``reduction`` is unknown.

    Example:
        >>> mask = torch.zeros(2, 1, 2, 2)
        >>> mask[0, 0, 0] = 1.0
        >>> mask_saturation_loss(mask, reduction="none")
        tensor([0.5000, 0.0000])
    """
    check_shape("mask_saturation_loss", "mask", mask, "b c h w")
    check_reduction("mask_saturation_loss", reduction)
    return reduce(mask.flatten(1).mean(dim=1), reduction)
