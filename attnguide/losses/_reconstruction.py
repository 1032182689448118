"""Reconstruction losses: cycle consistency (Eq. 4) and the pixel loss (Eq. 5)."""

from __future__ import annotations

from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    reduce,
)

__all__ = ["cycle_consistency_loss", "pixel_loss"]


def _l1(fn: str, names: tuple[str, str], a: Tensor, b: Tensor, reduction: str) -> Tensor:
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, names[0], a, "b c h w", sizes)
    check_shape(fn, names[1], b, "b c h w", sizes)
    check_same_dtype_device(fn, **{names[0]: a, names[1]: b})
    check_reduction(fn, reduction)
    return reduce((a - b).abs().flatten(1).mean(dim=1), reduction)


def cycle_consistency_loss(
    reconstructed: Tensor, original: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """L1 cycle-consistency loss (Eq. 4): ``mean |reconstructed - original|``.

    Call it once per direction, e.g. with ``G_yx(G_xy(x))`` and ``x``; the paper's
    ``L_cycle`` is the sum of both directions.

    Args:
        reconstructed: The image after a round trip through both generators.
        original: The image the round trip started from.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mean absolute
            errors, or ``"none"`` for those per-sample errors.

    Returns:
        The loss.

    Shape:
        - reconstructed: ``(b, c, h, w)``
        - original: ``(b, c, h, w)``, exactly the shape of ``reconstructed``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: The inputs are not 4-D, their shapes or devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> x = torch.zeros(2, 1, 2, 2)
        >>> shift = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
        >>> cycle_consistency_loss(x + shift, x)
        tensor(2.)
    """
    return _l1(
        "cycle_consistency_loss", ("reconstructed", "original"), reconstructed, original, reduction
    )


def pixel_loss(translated: Tensor, source: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """L1 pixel loss (Eq. 5): ``mean |translated - source|``.

    Keeps the translation close to its input, so the generator changes only what the
    target domain requires. Call it once per direction; the paper's ``L_pixel`` is the
    sum of both.

    Args:
        translated: The generator's output ``G_xy(x)``.
        source: The generator's input ``x``.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mean absolute
            errors, or ``"none"`` for those per-sample errors.

    Returns:
        The loss.

    Shape:
        - translated: ``(b, c, h, w)``
        - source: ``(b, c, h, w)``, exactly the shape of ``translated``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: The inputs are not 4-D, their shapes or devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> x = torch.zeros(1, 3, 2, 2)
        >>> pixel_loss(x + 0.5, x)
        tensor(0.5000)
    """
    return _l1("pixel_loss", ("translated", "source"), translated, source, reduction)
