"""Total variation of attention masks: the paper's attention loss (Eq. 6)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from attnguide._validation import check_choice, check_shape

__all__ = ["total_variation"]

Reduction = Literal["none", "mean", "sum"]


def total_variation(mask: Tensor, reduction: Reduction = "none") -> Tensor:
    """Anisotropic total variation of a mask, per sample.

    ``tv[b] = sum_{c,h,w} |M[b,c,h,w+1] - M[b,c,h,w]| + |M[b,c,h+1,w] - M[b,c,h,w]|``,
    each difference taken where both neighbours exist (no padding). A constant mask
    has zero variation; flipping a mask does not change it.

    Args:
        mask: Attention mask(s); any number of channels, all summed.
        reduction: ``"none"`` for the per-sample sums, ``"sum"`` for their total,
            ``"mean"`` for their batch mean.

    Returns:
        The total variation, accumulated in the mask's dtype.

    Shape:
        - mask: ``(b, c, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not a floating-point tensor.
        ValueError: ``mask`` is not 4-D, or ``reduction`` is unknown.

    Example:
        >>> mask = torch.zeros(1, 1, 4, 4)
        >>> mask[..., 2:] = 1.0
        >>> total_variation(mask)
        tensor([4.])
    """
    check_shape("total_variation", "mask", mask, "b c h w")
    check_choice("total_variation", "reduction", reduction, ("none", "mean", "sum"))
    dx = (mask[..., :, 1:] - mask[..., :, :-1]).abs().sum(dim=(1, 2, 3))
    dy = (mask[..., 1:, :] - mask[..., :-1, :]).abs().sum(dim=(1, 2, 3))
    tv = dx + dy
    if reduction == "sum":
        return tv.sum()
    if reduction == "mean":
        return tv.mean()
    return tv
