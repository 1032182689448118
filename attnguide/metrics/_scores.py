"""All the scores a batch's ground truth allows, per image, on 8-bit translations."""

from __future__ import annotations

from torch import Tensor

from attnguide._validation import (
    check_shape,
)
from attnguide.metrics._fidelity import background_psnr, mse, psnr, ssim
from attnguide.metrics._masks import mask_auroc, mask_iou

__all__ = ["translation_scores"]


def translation_scores(
    translated: Tensor,
    source: Tensor,
    *,
    target: Tensor | None = None,
    change_mask: Tensor | None = None,
    mask: Tensor | None = None,
    dilate: int = 2,
) -> dict[str, Tensor]:
    """Every per-image score of a batch of translations that its ground truth allows.

    The images, in [-1, 1], are first rounded to 8 bits as a saved PNG would be, and
    scored on the 0-255 scale:

    - with ``target`` (the true counterparts): ``psnr``, ``mse`` (the AGGAN paper's
      Table I), ``ssim``; with ``change_mask`` too, ``change_psnr``: PSNR inside the
      true change region, whether the change itself was produced (copying the input
      scores well on whole-image PSNR when the change is small, but not there);
    - with ``change_mask``: ``bg_psnr``, :func:`background_psnr` against the source
      outside the region dilated by ``dilate``; with ``mask`` too, ``mask_iou`` (at
      0.5) and ``mask_auroc`` of the attention mask against the region;
    - with ``mask``: ``mask_mean``, the fraction of the image the mask covers.

    Args:
        translated: The translations, in [-1, 1].
        source: The images that were translated, in [-1, 1].
        target: The true counterparts, in [-1, 1], or None.
        change_mask: The true change regions (as for :func:`background_psnr`), or None.
        mask: The attention masks in [0, 1] (one channel: where the generator acts),
            or None.
        dilate: Pixels the change region grows by for ``bg_psnr``.

    Returns:
        Score name -> per-image values, ``(b,)``, float32.

    Shape:
        - translated, source, target: ``(b, c, h, w)``
        - change_mask, mask: ``(b, 1, h, w)``

    Raises:
        TypeError, ValueError: As the metric functions it calls, naming the argument.

    Example:
        >>> source = torch.zeros(2, 3, 16, 16)
        >>> change = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
        >>> change[..., 4:8, 4:8] = True
        >>> target = source.masked_fill(change, 1.0)
        >>> s = translation_scores(
        ...     target, source, target=target, change_mask=change,
        ...     mask=change.float(),
        ... )
        >>> print(*sorted(s))
        bg_psnr change_psnr mask_auroc mask_iou mask_mean mse psnr ssim
        >>> s["psnr"], s["mask_iou"]
        (tensor([inf, inf]), tensor([1., 1.]))
    """
    fn = "translation_scores"
    sizes: dict[str, tuple[int, str]] = {}

    def eight_bit(name: str, x: Tensor) -> Tensor:
        check_shape(fn, name, x, "b c h w", sizes)
        return ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round()

    out, src = eight_bit("translated", translated), eight_bit("source", source)
    if mask is not None:
        check_shape(fn, "mask", mask, "b 1 h w", sizes)
    s: dict[str, Tensor] = {}
    if target is not None:
        t = eight_bit("target", target)
        s["psnr"] = psnr(out, t, data_range=255.0, reduction="none")
        s["mse"] = mse(out, t, data_range=255.0, reduction="none")
        s["ssim"] = ssim(out, t, data_range=255.0, reduction="none")
        if change_mask is not None:
            s["change_psnr"] = psnr(out, t, data_range=255.0, region=change_mask, reduction="none")
    if change_mask is not None:
        s["bg_psnr"] = background_psnr(
            out, src, change_mask, dilate=dilate, data_range=255.0, reduction="none"
        )
        if mask is not None:
            s["mask_iou"] = mask_iou(mask.float(), change_mask, threshold=0.5, reduction="none")
            s["mask_auroc"] = mask_auroc(mask.float(), change_mask, reduction="none")
    if mask is not None:
        s["mask_mean"] = mask.detach().float().flatten(1).mean(1)
    return s
