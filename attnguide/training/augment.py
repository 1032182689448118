"""Differentiable augmentation of what a discriminator sees (DiffAugment, Zhao et al. 2020).

A discriminator that sees every real image many times memorises them; augmenting only
the real images would teach the generator to produce augmented ones. DiffAugment
applies the same kind of random transform to real and fake images alike, inside the
graph, so the generator's gradient passes through it. For a mask-conditioned
discriminator the mask must move with its image: :func:`augment_pair` draws one
transform per sample and applies it to both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from attnguide._validation import check_images_and_masks, check_real

__all__ = ["augment_pair"]


def _shifted(x: Tensor, dy: Tensor, dx: Tensor, pad: int) -> Tensor:
    """Each sample moved by its own integer offset, zeros where it came from outside."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(h, device=x.device)[None] + pad - dy[:, None]  # (b h)
    cols = torch.arange(w, device=x.device)[None] + pad - dx[:, None]  # (b w)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indexing puts the indexed dimensions first: (b h w c).
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def augment_pair(
    images: Tensor,
    masks: Tensor | None = None,
    *,
    translation: float = 0.125,
    cutout: float = 0.5,
    color: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """DiffAugment's translation, cutout and colour transforms, one draw per sample,
    the geometric ones applied to an image and its mask alike.

    - translation: each sample moves by a random integer offset of up to
      ``translation`` of its height and width; what comes in from outside is 0.
    - cutout: a square of side ``cutout`` of the image, at a random place, is set to
      0 (in the image and in its mask).
    - color (images only): random brightness in [-0.5, 0.5), saturation in [0, 2) and
      contrast in [0.5, 1.5), as in DiffAugment.

    Everything is differentiable with respect to ``images`` and ``masks``.

    Args:
        images: ``(b c h w)`` images in [-1, 1].
        masks: ``(b k h w)`` their attention masks, or None.
        translation: Largest shift as a fraction of the size, in [0, 1) (0: none).
        cutout: Side of the cut-out square as a fraction of the size, in [0, 1] (0: none).
        color: Whether to jitter brightness, saturation and contrast.
        generator: The random stream (default: torch's global one).

    Returns:
        ``(images, masks)``, augmented; ``masks`` is None when it was.

    Example:
        >>> x, m = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 1, 16, 16)
        >>> y, n = augment_pair(x, m)
        >>> y.shape, n.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 1, 16, 16]))
    """
    fn = "augment_pair"
    check_images_and_masks(fn, images, masks)
    check_real(fn, "translation", translation, minimum=0, maximum=0.999)
    check_real(fn, "cutout", cutout, minimum=0, maximum=1)
    b, _, h, w = images.shape
    dev = images.device

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    if color:
        x = images
        x = x + (uniform(b, 1, 1, 1) - 0.5).to(x.dtype)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (uniform(b, 1, 1, 1) * 2).to(x.dtype) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        images = (x - mean) * (uniform(b, 1, 1, 1) + 0.5).to(x.dtype) + mean
    if translation > 0:
        sy, sx = int(h * translation + 0.5), int(w * translation + 0.5)
        if sy or sx:
            dy = (uniform(b) * (2 * sy + 1)).long() - sy
            dx = (uniform(b) * (2 * sx + 1)).long() - sx
            pad = max(sy, sx)
            images = _shifted(images, dy, dx, pad)
            if masks is not None:
                masks = _shifted(masks, dy, dx, pad)
    if cutout > 0:
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        cy = (uniform(b) * (h + 1 - ch % 2)).long()
        cx = (uniform(b) * (w + 1 - cw % 2)).long()
        rows = torch.arange(h, device=dev)[None] - (cy - ch // 2)[:, None]
        cols = torch.arange(w, device=dev)[None] - (cx - cw // 2)[:, None]
        inside = ((rows >= 0) & (rows < ch))[:, :, None] & ((cols >= 0) & (cols < cw))[:, None]
        keep = (~inside)[:, None]
        images = images * keep.to(images.dtype)
        if masks is not None:
            masks = masks * keep.to(masks.dtype)
    return images, masks
