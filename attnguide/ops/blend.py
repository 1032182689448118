"""Attention blending: the composition at the heart of AGGAN (Eq. 1 of the paper)."""

from __future__ import annotations

import torch
from torch import Tensor

from attnguide._validation import check_same_dtype_device, check_shape

__all__ = ["blend", "multi_blend"]


def blend(mask: Tensor, content: Tensor, source: Tensor) -> Tensor:
    """Composes ``content`` over ``source`` where ``mask`` attends.

    ``image = content * mask + source * (1 - mask)``: where the mask is 1 the content
    is taken, where it is 0 the source is kept bit for bit.

    Args:
        mask: Attention mask in [0, 1], one channel, broadcast over the image channels.
        content: What the generator paints where it attends.
        source: The input image, kept where the mask is 0.

    Returns:
        The blended image.

    Shape:
        - mask: ``(b, 1, h, w)``
        - content: ``(b, c, h, w)``
        - source: ``(b, c, h, w)``
        - output: ``(b, c, h, w)``

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: Ranks, batch or spatial sizes disagree, the mask has more than one
            channel, or the inputs are on different devices.

    Example:
        >>> mask = torch.zeros(2, 1, 8, 8)
        >>> content, source = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
        >>> torch.equal(blend(mask, content, source), source)
        True
    """
    sizes: dict[str, tuple[int, str]] = {}
    check_shape("blend", "mask", mask, "b 1 h w", sizes)
    check_shape("blend", "content", content, "b c h w", sizes)
    check_shape("blend", "source", source, "b c h w", sizes)
    check_same_dtype_device("blend", mask=mask, content=content, source=source)
    # source + mask * (content - source) is cheaper but does not return the source at
    # mask == 0 when content - source overflows; keep the paper's two-product form.
    return content * mask + source * (1 - mask)


def multi_blend(masks: Tensor, contents: Tensor, source: Tensor) -> Tensor:
    """Composes several contents and the source with k attention masks.

    The AttentionGAN "scheme II" composition:
    ``image = sum_i contents[:, i] * masks[:, i] + source * masks[:, k-1]`` for
    ``i < k-1``; the last mask is the background that keeps the source. The masks
    are expected to sum to one over ``k`` (apply the softmax before calling); this
    function does not renormalise them.

    Args:
        masks: ``k >= 2`` attention masks, the last one for the source.
        contents: ``k - 1`` content images.
        source: The input image.

    Returns:
        The composed image.

    Shape:
        - masks: ``(b, k, h, w)``
        - contents: ``(b, k-1, c, h, w)``
        - source: ``(b, c, h, w)``
        - output: ``(b, c, h, w)``

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: Sizes disagree, ``k < 2``, or the inputs are on different devices.

    Example:
        >>> masks = torch.softmax(torch.randn(2, 3, 8, 8), dim=1)
        >>> contents, source = torch.randn(2, 2, 3, 8, 8), torch.randn(2, 3, 8, 8)
        >>> multi_blend(masks, contents, source).shape
        torch.Size([2, 3, 8, 8])
    """
    validate_multi("multi_blend", masks, contents, source)
    foreground = torch.einsum("bkhw,bkchw->bchw", masks[:, :-1], contents)
    return foreground + source * masks[:, -1:]


def validate_multi(
    fn: str, masks: Tensor, contents: Tensor, source: Tensor, *, single: str = "blend"
) -> None:
    """The checks of :func:`multi_blend`'s arguments, shared with the fused op.

    ``single`` names the function a caller with one mask should use instead.
    """
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "masks", masks, "b k h w", sizes)
    k = masks.shape[1]
    if k < 2:
        raise ValueError(
            f"{fn}(): 'masks' must hold k >= 2 masks (b k h w), got k={k} with "
            f"shape {tuple(masks.shape)}; use {single}() for a single mask"
        )
    sizes["n"] = (k - 1, "masks (k - 1)")
    check_shape(fn, "contents", contents, "b n c h w", sizes)
    check_shape(fn, "source", source, "b c h w", sizes)
    check_same_dtype_device(fn, masks=masks, contents=contents, source=source)
