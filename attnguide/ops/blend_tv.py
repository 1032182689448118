"""Blend and mask total variation in one call: the attention head's whole output stage.

``blend_tv`` returns what :func:`~attnguide.ops.blend` and
:func:`~attnguide.ops.total_variation` return, with the same gradients, but on CUDA it
reads each input once and writes each output once (a Triton kernel per direction)
instead of the dozen passes eager PyTorch makes. Which implementation runs is decided
by the backend switch (:func:`~attnguide.ops.set_backend`, initially
``ATTNGUIDE_BACKEND``).
"""

from __future__ import annotations

from torch import Tensor

from attnguide._validation import check_same_dtype_device, check_shape
from attnguide.ops._backend import require_triton, use_triton
from attnguide.ops.blend import blend
from attnguide.ops.total_variation import total_variation

__all__ = ["blend_tv"]


def _validate(fn: str, mask: Tensor, content: Tensor, source: Tensor) -> None:
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "mask", mask, "b 1 h w", sizes)
    check_shape(fn, "content", content, "b c h w", sizes)
    check_shape(fn, "source", source, "b c h w", sizes)
    check_same_dtype_device(fn, mask=mask, content=content, source=source)


def blend_tv(mask: Tensor, content: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """Blends ``content`` over ``source`` with ``mask`` and measures the mask's variation.

    Returns ``(blend(mask, content, source), total_variation(mask))``: the image
    ``content * mask + source * (1 - mask)`` and the per-sample anisotropic total
    variation of the mask. Gradients reach all three inputs: ``g * mask`` to the
    content, ``g * (1 - mask)`` to the source, and to the mask the channel sum of
    ``g * (content - source)`` plus ``grad_tv`` times the TV subgradient (``sign`` of
    each neighbour difference, 0 at ties, as autograd differentiates ``abs``).

    On CUDA tensors (with triton installed) a Triton kernel does each direction in one
    pass over the data (the forward then sums a few per-tile TV partials), accumulating
    in float32; elsewhere, or with the ``torch`` backend (see
    :func:`~attnguide.ops.set_backend`), the PyTorch reference (``blend`` and
    ``total_variation``) runs. Both work with autograd and ``torch.compile``, any memory
    format, float16, bfloat16, float32 and float64. The Triton path gives first-order
    gradients only (asking for a double backward through it raises); the reference
    differentiates to any order.

    Args:
        mask: Attention mask in [0, 1], one channel, broadcast over the image channels.
        content: What the generator paints where it attends.
        source: The input image, kept where the mask is 0.

    Returns:
        ``(image, tv)``: the blended image (in ``content``'s memory format on the Triton
        path) and the total variation of each sample's mask, in the inputs' dtype.

    Shape:
        - mask: ``(b, 1, h, w)``
        - content: ``(b, c, h, w)``
        - source: ``(b, c, h, w)``
        - image: ``(b, c, h, w)``
        - tv: ``(b,)``

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: Ranks, batch or spatial sizes disagree, the mask has more than one
            channel, or the inputs are on different devices.
        RuntimeError: The backend is ``triton`` but the kernels cannot run here
            (triton missing, or CPU tensors without ``TRITON_INTERPRET=1``).

    Example:
        >>> mask = torch.zeros(2, 1, 8, 8)
        >>> mask[..., 4:] = 1.0
        >>> content, source = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
        >>> image, tv = blend_tv(mask, content, source)
        >>> torch.equal(image[..., :4], source[..., :4]), tv
        (True, tensor([8., 8.]))
    """
    _validate("blend_tv", mask, content, source)
    if use_triton("blend_tv", mask.device):
        return _kernels().blend_tv_triton(mask, content, source)
    return _reference(mask, content, source)


def _reference(mask: Tensor, content: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    # The foundation ops are the definition; their own checks repeat ours and pass.
    return blend(mask, content, source), total_variation(mask)


def _blend_tv_triton(mask: Tensor, content: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """The Triton path whatever the backend setting says (the kernels' tests)."""
    _validate("blend_tv", mask, content, source)
    require_triton("blend_tv", mask.device, reason="the Triton kernels were requested")
    return _kernels().blend_tv_triton(mask, content, source)


def _kernels():
    # Imported on first use: triton is an optional extra and slow to import. A plain
    # import, not a cached global: torch.compile would guard on the global being None
    # and recompile once its first trace had set it.
    from attnguide.ops import _triton_blend_tv

    return _triton_blend_tv
