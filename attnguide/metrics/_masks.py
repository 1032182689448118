"""Attention-mask quality against the true change region: IoU and AUROC."""

from __future__ import annotations

import torch
from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_finite,
    check_real,
    check_shape,
)
from attnguide.metrics._common import (
    _binary,
    _reduce,
    _same_device,
)

__all__ = ["mask_auroc", "mask_iou"]


def mask_iou(
    mask: Tensor, target: Tensor, *, threshold: float = 0.5, reduction: Reduction = "mean"
) -> Tensor:
    """Intersection over union of a thresholded attention mask and the true change region.

    A pixel is predicted as changed where ``mask >= threshold``. When both the
    prediction and the target are empty the IoU is 1 (they agree perfectly).

    Args:
        mask: Predicted attention mask(s) in [0, 1].
        target: Ground-truth change region: bool, integers (nonzero = changed) or floats
            (> 0.5 = changed, e.g. an 8-bit mask loaded as [0, 1]).
        threshold: Where the mask counts as "changed".
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        IoU in [0, 1], float32.

    Shape:
        - mask, target: ``(b, c, h, w)`` (usually ``c = 1``), the same shape
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not floating-point, ``target`` has a bad dtype, or
            ``threshold`` is not a number.
        ValueError: Shapes differ, inputs are on different devices, the mask (or a
            float target) holds NaN or infinity, ``threshold`` is not finite, or
            ``reduction`` is unknown.

    Example:
        >>> mask = torch.tensor([[[[0.9, 0.8], [0.1, 0.6]]]])
        >>> target = torch.tensor([[[[True, True], [False, False]]]])
        >>> mask_iou(mask, target)  # intersection 2, union 3
        tensor(0.6667)
    """
    fn = "mask_iou"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "mask", mask, "b c h w", sizes)
    t = _binary(fn, "target", target, sizes)
    _same_device(fn, mask, t)
    check_real(fn, "threshold", threshold)
    # A NaN mask value is neither above nor below a threshold: refuse it, as mask_auroc
    # does, rather than count it as "unchanged".
    check_finite(fn, "mask", mask)
    pred = (mask >= threshold).flatten(1)
    t = t.flatten(1)
    inter = (pred & t).sum(dim=1).float()
    union = (pred | t).sum(dim=1).float()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return _reduce(fn, iou, reduction)


def mask_auroc(mask: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Area under the ROC curve of an attention mask as a detector of changed pixels.

    Computed per sample from ranks (the Mann-Whitney U statistic): the probability
    that a changed pixel gets a higher mask value than an unchanged one, ties counting
    one half. Threshold-free; 1 is a perfect ranking, 0.5 chance.

    Args:
        mask: Predicted attention mask(s); any finite scores.
        target: Ground-truth change region: bool, integers (nonzero = changed) or floats
            (> 0.5 = changed). Every sample needs changed and unchanged pixels.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        AUROC in [0, 1], float64.

    Shape:
        - mask, target: ``(b, c, h, w)``, the same shape
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not floating-point, or ``target`` has a bad dtype.
        ValueError: Shapes differ, the mask is not finite, a sample's target is all
            changed or all unchanged (AUROC undefined), or ``reduction`` is unknown.

    Example:
        >>> mask = torch.tensor([[[[0.9, 0.4], [0.4, 0.1]]]])
        >>> target = torch.tensor([[[[1, 1], [0, 0]]]])
        >>> # pairs (0.9, 0.4) (0.9, 0.1) (0.4, 0.4) (0.4, 0.1): 3.5 of 4 ranked right
        >>> mask_auroc(mask, target)
        tensor(0.8750, dtype=torch.float64)
    """
    fn = "mask_auroc"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "mask", mask, "b c h w", sizes)
    t = _binary(fn, "target", target, sizes)
    _same_device(fn, mask, t)
    check_finite(fn, "mask", mask)
    scores = mask.detach().flatten(1).double()
    pos = t.flatten(1)
    n = scores.shape[1]
    n_pos = pos.sum(dim=1).double()
    n_neg = n - n_pos
    undefined = ((n_pos == 0) | (n_neg == 0)).nonzero().flatten().tolist()
    if undefined:
        raise ValueError(
            f"{fn}(): AUROC is undefined for samples {undefined}: their 'target' marks "
            "every pixel or no pixel as changed"
        )
    ordered = scores.sort(dim=1).values
    # 1-based average rank of each score among its ties: (first + last) / 2.
    first = torch.searchsorted(ordered, scores, right=False)
    last = torch.searchsorted(ordered, scores, right=True)
    ranks = (first + last + 1).double() / 2
    u = (ranks * pos).sum(dim=1) - n_pos * (n_pos + 1) / 2
    return _reduce(fn, u / (n_pos * n_neg), reduction)
