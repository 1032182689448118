"""The domain classification loss of multi-domain models (StarGAN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    check_tensor,
    reduce,
)

__all__ = ["domain_classification_loss"]


def domain_classification_loss(
    logits: Tensor, labels: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """StarGAN domain-classification loss, chosen by the labels' dtype.

    - Floating ``labels`` of shape ``(b, n)`` are multi-label targets in [0, 1]
      (CelebA attributes): binary cross-entropy with logits, summed over the ``n``
      labels of a sample, as StarGAN does.
    - Integer ``labels`` of shape ``(b,)`` are class indices in ``[0, n)`` (RaFD
      expressions): cross-entropy over the ``n`` classes.

    Args:
        logits: The discriminator's classification logits (StarGAN's ``out_cls``).
        labels: Float multi-label targets or integer class indices.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample losses, or
            ``"none"`` for the per-sample losses.

    Returns:
        The loss.

    Shape:
        - logits: ``(b, n)``
        - labels: ``(b, n)`` floating, or ``(b,)`` integer
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``logits`` is not floating point; ``labels`` is neither floating
            point nor integer, or its dtype differs from the logits' when floating.
        ValueError: Shapes disagree (float labels not ``(b, n)``, integer labels not
            ``(b,)``), a class index is outside ``[0, n)``, the devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> logits = torch.zeros(2, 3)
        >>> domain_classification_loss(logits, torch.tensor([0, 2]))  # log 3
        tensor(1.0986)
        >>> domain_classification_loss(logits, torch.ones(2, 3))  # 3 log 2
        tensor(2.0794)
    """
    fn = "domain_classification_loss"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "logits", logits, "b n", sizes)
    check_tensor(fn, "labels", labels, floating=False)
    check_reduction(fn, reduction)
    if labels.is_floating_point():
        if labels.ndim != 2:
            raise ValueError(
                f"{fn}(): floating 'labels' are multi-label targets and must have shape "
                f"(b n), got shape {tuple(labels.shape)}; pass class indices as an "
                "integer tensor of shape (b)"
            )
        check_shape(fn, "labels", labels, "b n", sizes)
        check_same_dtype_device(fn, logits=logits, labels=labels)
        per_sample = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1)
    elif labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(
            f"{fn}(): 'labels' must be floating point (multi-label targets) or an "
            f"integer type (class indices), got {labels.dtype}"
        )
    else:
        if labels.ndim != 1:
            raise ValueError(
                f"{fn}(): integer 'labels' are class indices and must have shape (b), "
                f"got shape {tuple(labels.shape)}; pass multi-label targets as a "
                "floating-point tensor of shape (b n)"
            )
        check_shape(fn, "labels", labels, "b", sizes, floating=False)
        if labels.device != logits.device:
            raise ValueError(
                f"{fn}(): 'labels' is on {labels.device} but 'logits' is on "
                f"{logits.device}; all inputs must be on one device"
            )
        n = logits.shape[1]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n):
            # Checked here, not left to cross_entropy: it would read -100 as its
            # ignore_index and give that sample a loss of 0.
            raise ValueError(
                f"{fn}(): integer 'labels' are class indices in [0, {n}), got values "
                f"from {int(labels.min())} to {int(labels.max())}"
            )
        per_sample = F.cross_entropy(logits, labels.long(), reduction="none")
    return reduce(per_sample, reduction)
