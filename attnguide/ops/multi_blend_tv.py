"""Multi-mask blend and foreground-mask total variation in one call (AttentionGAN scheme II).

``multi_blend_tv`` is to :func:`~attnguide.ops.multi_blend` what
:func:`~attnguide.ops.blend_tv` is to :func:`~attnguide.ops.blend`: the output stage of
an attention head with ``k >= 2`` masks, returning the composed image and the total
variation of the ``k - 1`` foreground masks with the same values and gradients as the
eager ops, but on CUDA reading each input once and writing each output once per
direction (a Triton kernel each). Which implementation runs is decided by the backend
switch (:func:`~attnguide.ops.set_backend`, initially ``ATTNGUIDE_BACKEND``).
"""

from __future__ import annotations

from torch import Tensor

from attnguide.ops._backend import require_triton, use_triton
from attnguide.ops.blend import multi_blend, validate_multi
from attnguide.ops.total_variation import total_variation

__all__ = ["multi_blend_tv"]


def _validate(masks: Tensor, contents: Tensor, source: Tensor) -> None:
    validate_multi("multi_blend_tv", masks, contents, source, single="blend_tv")


def multi_blend_tv(masks: Tensor, contents: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """Composes contents and source with ``k`` masks and measures the foreground masks' variation.

    Returns ``(multi_blend(masks, contents, source), total_variation(masks[:, :-1]))``:
    the image ``sum_i contents[:, i] * masks[:, i] + source * masks[:, k-1]`` (``i < k-1``)
    and, per sample, the anisotropic total variation summed over the ``k - 1``
    foreground masks (the last mask, the background, is their complement when the
    masks sum to one, so it is not penalised). The masks are used as given: apply the
    softmax before calling.

    Gradients reach all three inputs: ``g * masks[:, i]`` to content ``i``,
    ``g * masks[:, k-1]`` to the source, and to mask ``i`` the channel sum of
    ``g * contents[:, i]`` (of ``g * source`` for the background) plus, for the
    foreground masks, ``grad_tv`` times the TV subgradient (``sign`` of each neighbour
    difference, 0 at ties, as autograd differentiates ``abs``).

    On CUDA tensors (with triton installed) a Triton kernel does each direction in one
    pass over the data, whatever ``k`` is (the forward then sums a few per-tile TV
    partials), accumulating in float32; elsewhere, or with the ``torch`` backend (see
    :func:`~attnguide.ops.set_backend`), the PyTorch reference (``multi_blend`` and
    ``total_variation``) runs. Both work with autograd and ``torch.compile``, any memory
    format, float16, bfloat16, float32 and float64. The Triton path gives first-order
    gradients only (asking for a double backward through it raises); the reference
    differentiates to any order. The kernels are tuned for the few channels of images
    (``c <= 4``); more channels work, with shorter tiles.

    Args:
        masks: ``k >= 2`` attention masks (a softmax over ``k``), the last one for the
            source.
        contents: ``k - 1`` content images, one for each foreground mask.
        source: The input image, kept where the background mask is 1.

    Returns:
        ``(image, tv)``: the composed image (in ``source``'s memory format on the Triton
        path) and the total variation of each sample's foreground masks, in the inputs'
        dtype.

    Shape:
        - masks: ``(b, k, h, w)``
        - contents: ``(b, k-1, c, h, w)``
        - source: ``(b, c, h, w)``
        - image: ``(b, c, h, w)``
        - tv: ``(b,)``

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: Ranks, batch, mask-count or spatial sizes disagree, ``k < 2``, or the
            inputs are on different devices.
        RuntimeError: The backend is ``triton`` but the kernels cannot run here (triton
            missing, or CPU tensors without ``TRITON_INTERPRET=1``).

    Example:
        >>> masks = torch.zeros(2, 3, 8, 8)
        >>> masks[:, 0, :, 4:] = 1.0  # content 0 on the right half ...
        >>> masks[:, 2, :, :4] = 1.0  # ... the source on the left
        >>> contents, source = torch.randn(2, 2, 3, 8, 8), torch.randn(2, 3, 8, 8)
        >>> image, tv = multi_blend_tv(masks, contents, source)
        >>> torch.equal(image[..., :4], source[..., :4]), tv
        (True, tensor([8., 8.]))
    """
    _validate(masks, contents, source)
    if use_triton("multi_blend_tv", masks.device):
        return _kernels().multi_blend_tv_triton(masks, contents, source)
    return _reference(masks, contents, source)


def _reference(masks: Tensor, contents: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    # The foundation ops are the definition; their own checks repeat ours and pass.
    return multi_blend(masks, contents, source), total_variation(masks[:, :-1])


def _multi_blend_tv_triton(
    masks: Tensor, contents: Tensor, source: Tensor
) -> tuple[Tensor, Tensor]:
    """The Triton path whatever the backend setting says (the kernels' tests)."""
    _validate(masks, contents, source)
    require_triton("multi_blend_tv", masks.device, reason="the Triton kernels were requested")
    return _kernels().multi_blend_tv_triton(masks, contents, source)


def _kernels():
    # Imported on first use, plainly (see blend_tv._kernels): triton is optional.
    from attnguide.ops import _triton_multi_blend_tv

    return _triton_multi_blend_tv
