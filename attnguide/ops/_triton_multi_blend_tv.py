"""Triton kernels for :func:`attnguide.ops.multi_blend_tv` and the custom ops that launch them.

Imported only when the Triton backend runs (triton is an optional extra). The design
is :mod:`attnguide.ops._triton_blend_tv`'s, extended to ``k`` masks:

- One launch per direction, a flat grid over ``(sample, tile)``; a program owns
  ``BLOCK`` consecutive pixels of one sample and all ``C`` channels of them, as a
  ``(BLOCK_C, BLOCK)`` tile (``BLOCK_C`` the next power of two >= C). It walks the
  ``k - 1`` foreground masks once: each mask tile is loaded once and serves the TV
  and the blend (or, backward, the TV subgradient, the mask gradient and the content
  gradient). Every input is read once and every output written once, so the forward
  moves ``k + (k - 1) C + 2 C`` planes and the backward ``2 k + 2 (k - 1) C + 3 C``
  (grad_image, masks, contents, source in; every gradient out), whatever ``k`` is.
- The channel sum of the mask gradient is a reduction over the tile's channel axis,
  inside each thread's registers; nothing is accumulated across programs.
- The TV is reduced in two deterministic stages, as for ``blend_tv``: a float32
  partial per program, then ``sum(dim=1)``.
- Everything is accumulated in float32 (float64 for float64 inputs).
- Memory formats are normalised in :func:`_kernel_layout`. The masks are read as
  ``k`` planes (``(b, k, h, w)`` contiguous; channels-last masks are copied). The
  image-sized tensors (source, grad_image, and the image and source gradient the
  kernels write) take the source's layout, the contents (and their gradient) their
  own: NCHW or channels-last each (channels-last contents are ``(b, k-1, h, w, c)``
  in memory), passed to the kernels as compile-time flags; anything else is copied
  to NCHW once.
- The tile holds all channels of its pixels, so it is sized by
  ``BLOCK_C * BLOCK <= 4096``: for the 1-4 channels of images, tiles of up to 1024
  pixels; for many channels, short tiles and more registers per thread (correct,
  but not what the kernels are tuned for).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton.runtime.jit import JITFunction

from attnguide.ops._fused_op import register
from attnguide.ops._triton_blend_tv import _PROGRAMS_PER_SM, INTERPRETED, _sm_count

__all__ = ["multi_blend_tv_triton"]

# Elements of one (channels, pixels) tile: bounds the registers each thread needs.
_TILE_ELEMENTS = 4096
# Interpreter tiles: small, so that tests on small images still cross tile borders.
_INTERPRETER_BLOCK = 256


def _multi_blend_tv_fwd_kernel(
    masks_ptr,
    contents_ptr,
    source_ptr,
    image_ptr,
    partial_ptr,
    K,
    C,
    W,
    HW,
    n_tiles,
    CONTENTS_LAST: tl.constexpr,
    IMAGE_LAST: tl.constexpr,
    IS_FP64: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    b = pid // n_tiles
    tile = pid - b * n_tiles
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    ch = tl.arange(0, BLOCK_C)
    io = (ch < C)[:, None] & inside[None, :]
    # Per-sample bases in int64; offsets within a sample fit int32 (checked at launch).
    b64 = b.to(tl.int64)
    masks_ptr += b64 * K * HW
    image_base = b64 * C * HW
    source_ptr += image_base
    image_ptr += image_base
    contents_ptr += b64 * (K - 1) * C * HW
    # Element offsets of the (channels, pixels) tile in one C x H x W image.
    if IMAGE_LAST:
        image_pixel, image_channel = offs * C, 1
    else:
        image_pixel, image_channel = offs, HW
    image_idx = ch[:, None] * image_channel + image_pixel[None, :]
    if CONTENTS_LAST:
        contents_pixel, contents_channel = offs * C, 1
    else:
        contents_pixel, contents_channel = offs, HW
    contents_idx = ch[:, None] * contents_channel + contents_pixel[None, :]

    background = tl.load(masks_ptr + (K - 1) * HW + offs, mask=inside, other=0.0)
    background = background.to(tl.float64) if IS_FP64 else background.to(tl.float32)
    s = tl.load(source_ptr + image_idx, mask=io, other=0.0).to(background.dtype)
    acc = s * background[None, :]

    col = offs % W
    has_right = inside & (col < W - 1)
    has_down = inside & (offs < HW - W)
    tv = tl.zeros_like(background)
    for i in range(K - 1):
        plane = masks_ptr + i * HW
        m = tl.load(plane + offs, mask=inside, other=0.0).to(background.dtype)
        right = tl.load(plane + offs + 1, mask=has_right, other=0.0).to(background.dtype)
        down = tl.load(plane + offs + W, mask=has_down, other=0.0).to(background.dtype)
        tv += tl.where(has_right, tl.abs(right - m), 0.0)
        tv += tl.where(has_down, tl.abs(down - m), 0.0)
        x = tl.load(contents_ptr + i * C * HW + contents_idx, mask=io, other=0.0)
        acc += x.to(background.dtype) * m[None, :]
    tl.store(partial_ptr + pid, tl.sum(tv, axis=0))
    tl.store(image_ptr + image_idx, acc.to(image_ptr.dtype.element_ty), mask=io)


def _multi_blend_tv_bwd_kernel(
    grad_image_ptr,
    grad_tv_ptr,
    masks_ptr,
    contents_ptr,
    source_ptr,
    d_masks_ptr,
    d_contents_ptr,
    d_source_ptr,
    K,
    C,
    W,
    HW,
    n_tiles,
    CONTENTS_LAST: tl.constexpr,
    IMAGE_LAST: tl.constexpr,
    IS_FP64: tl.constexpr,
    NEED_MASKS: tl.constexpr,
    NEED_CONTENTS: tl.constexpr,
    NEED_SOURCE: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    b = pid // n_tiles
    tile = pid - b * n_tiles
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    ch = tl.arange(0, BLOCK_C)
    io = (ch < C)[:, None] & inside[None, :]
    b64 = b.to(tl.int64)
    masks_base = b64 * K * HW
    masks_ptr += masks_base
    d_masks_ptr += masks_base
    image_base = b64 * C * HW
    grad_image_ptr += image_base
    source_ptr += image_base
    d_source_ptr += image_base
    contents_base = b64 * (K - 1) * C * HW
    contents_ptr += contents_base
    d_contents_ptr += contents_base
    # Element offsets of the (channels, pixels) tile in one C x H x W image.
    if IMAGE_LAST:
        image_pixel, image_channel = offs * C, 1
    else:
        image_pixel, image_channel = offs, HW
    image_idx = ch[:, None] * image_channel + image_pixel[None, :]
    if CONTENTS_LAST:
        contents_pixel, contents_channel = offs * C, 1
    else:
        contents_pixel, contents_channel = offs, HW
    contents_idx = ch[:, None] * contents_channel + contents_pixel[None, :]

    background = tl.load(masks_ptr + (K - 1) * HW + offs, mask=inside, other=0.0)
    background = background.to(tl.float64) if IS_FP64 else background.to(tl.float32)
    g = tl.load(grad_image_ptr + image_idx, mask=io, other=0.0).to(background.dtype)
    if NEED_SOURCE:
        d_s = g * background[None, :]
        tl.store(d_source_ptr + image_idx, d_s.to(d_source_ptr.dtype.element_ty), mask=io)
    if NEED_MASKS:
        s = tl.load(source_ptr + image_idx, mask=io, other=0.0).to(background.dtype)
        d_background = tl.sum(g * s, axis=0)
        tl.store(
            d_masks_ptr + (K - 1) * HW + offs,
            d_background.to(d_masks_ptr.dtype.element_ty),
            mask=inside,
        )
        g_tv = tl.load(grad_tv_ptr + b).to(background.dtype)
    col = offs % W
    has_left = inside & (col > 0)
    has_right = inside & (col < W - 1)
    has_up = inside & (offs >= W)
    has_down = inside & (offs < HW - W)
    for i in range(K - 1):
        plane = masks_ptr + i * HW
        m = tl.load(plane + offs, mask=inside, other=0.0).to(background.dtype)
        if NEED_CONTENTS:
            d_x = g * m[None, :]
            tl.store(
                d_contents_ptr + i * C * HW + contents_idx,
                d_x.to(d_contents_ptr.dtype.element_ty),
                mask=io,
            )
        if NEED_MASKS:
            x = tl.load(contents_ptr + i * C * HW + contents_idx, mask=io, other=0.0)
            d_m = tl.sum(g * x.to(background.dtype), axis=0)
            left = tl.load(plane + offs - 1, mask=has_left, other=0.0).to(background.dtype)
            right = tl.load(plane + offs + 1, mask=has_right, other=0.0).to(background.dtype)
            up = tl.load(plane + offs - W, mask=has_up, other=0.0).to(background.dtype)
            down = tl.load(plane + offs + W, mask=has_down, other=0.0).to(background.dtype)
            # sign(d) with sign(0) = 0: a tie contributes nothing, as d|x|/dx at 0 in autograd.
            d_left = m - left
            d_right = right - m
            d_up = m - up
            d_down = down - m
            t = background.dtype
            sub = tl.where(has_left, (d_left > 0).to(t) - (d_left < 0).to(t), 0.0)
            sub -= tl.where(has_right, (d_right > 0).to(t) - (d_right < 0).to(t), 0.0)
            sub += tl.where(has_up, (d_up > 0).to(t) - (d_up < 0).to(t), 0.0)
            sub -= tl.where(has_down, (d_down > 0).to(t) - (d_down < 0).to(t), 0.0)
            d_m += g_tv * sub
            tl.store(d_masks_ptr + i * HW + offs, d_m.to(d_masks_ptr.dtype.element_ty), mask=inside)


# Built as _triton_blend_tv builds its kernels: for triton's interpreter when it is
# interpreting in this process, for the compiler otherwise.
if INTERPRETED:
    from triton.runtime.interpreter import InterpretedFunction as _build
else:
    _build = JITFunction
_fwd_kernel = _build(_multi_blend_tv_fwd_kernel)
_bwd_kernel = _build(_multi_blend_tv_bwd_kernel)


def _dense_channels_last_contents(contents: Tensor) -> bool:
    # (b, n, c, h, w) stored as (b, n, h, w, c): per-mask channels-last images.
    return contents.permute(0, 1, 3, 4, 2).is_contiguous()


def _kernel_layout(
    contents: Tensor, source: Tensor, *images: Tensor
) -> tuple[bool, bool, Tensor, Tensor, tuple[Tensor, ...]]:
    """The one place where memory formats are handled.

    Returns ``(contents_last, image_last, contents, source, images)``: the contents in
    their own layout when it is dense NCHW or dense channels-last (``(b, n, h, w, c)``
    in memory), NCHW otherwise; ``source`` likewise; and ``images`` (grad_image) in the
    source's layout. Tensors already in the chosen layout are returned as they are;
    others are copied once.
    """
    contents_last = not contents.is_contiguous() and _dense_channels_last_contents(contents)
    if contents_last:
        contents = contents.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    else:
        contents = contents.contiguous()
    image_last = not source.is_contiguous() and source.is_contiguous(
        memory_format=torch.channels_last
    )
    fmt = torch.channels_last if image_last else torch.contiguous_format
    source = source.contiguous(memory_format=fmt)
    return (
        contents_last,
        image_last,
        contents,
        source,
        tuple(t.contiguous(memory_format=fmt) for t in images),
    )


def _empty_contents(like: Tensor, contents_last: bool) -> Tensor:
    b, n, c, h, w = like.shape
    if contents_last:
        return like.new_empty((b, n, h, w, c)).permute(0, 1, 4, 2, 3)
    return like.new_empty((b, n, c, h, w))


def _launch_config(
    batch: int, hw: int, channels: int, device: torch.device
) -> tuple[int, int, int]:
    """(BLOCK_C, BLOCK, num_warps): all channels per tile, the largest tile of up to
    1024 pixels (and ``_TILE_ELEMENTS`` elements) that still fills the GPU."""
    block_c = triton.next_power_of_2(max(channels, 1))
    if INTERPRETED:
        return block_c, _INTERPRETER_BLOCK, 4
    largest = max(32, min(1024, _TILE_ELEMENTS // block_c))
    index = device.index if device.index is not None else torch.cuda.current_device()
    target = _PROGRAMS_PER_SM * _sm_count(index)
    block = largest
    while block > min(256, largest) and batch * triton.cdiv(hw, block) < target:
        block //= 2
    # 256 pixels per warp: 8 float32 (two 128-bit loads) or 8 bf16 per thread and channel.
    return block_c, block, max(1, block // 256)


def _check_sizes(masks: Tensor, contents: Tensor) -> None:
    for name, t in (("masks", masks), ("contents", contents)):
        if t[0].numel() >= 2**31:
            raise ValueError(
                f"multi_blend_tv(): one sample of '{name}' must hold fewer than 2**31 "
                f"elements for the Triton kernels, got shape {tuple(t.shape)}"
            )


def _forward(masks: Tensor, contents: Tensor, source: Tensor, kernel: object | None):
    """Allocates the outputs and, unless ``kernel`` is None (fake tensors), launches."""
    b, k, h, w = masks.shape
    c = source.shape[1]
    hw = h * w
    contents_last, image_last, contents, source, _ = _kernel_layout(contents, source)
    masks = masks.contiguous()
    fmt = torch.channels_last if image_last else torch.contiguous_format
    image = torch.empty((b, c, h, w), dtype=source.dtype, device=source.device, memory_format=fmt)
    acc = torch.float64 if source.dtype == torch.float64 else torch.float32
    if b * hw == 0:
        return image, torch.zeros(b, dtype=source.dtype, device=source.device)
    block_c, block, num_warps = _launch_config(b, hw, c, source.device)
    n_tiles = triton.cdiv(hw, block)
    partials = torch.empty((b, n_tiles), dtype=acc, device=source.device)
    if kernel is not None:
        _check_sizes(masks, contents)
        kernel[(b * n_tiles,)](
            masks,
            contents,
            source,
            image,
            partials,
            k,
            c,
            w,
            hw,
            n_tiles,
            CONTENTS_LAST=contents_last,
            IMAGE_LAST=image_last,
            IS_FP64=acc == torch.float64,
            BLOCK_C=block_c,
            BLOCK=block,
            num_warps=num_warps,
        )
    return image, partials.sum(dim=1).to(source.dtype)


def _backward(
    grad_image: Tensor,
    grad_tv: Tensor,
    masks: Tensor,
    contents: Tensor,
    source: Tensor,
    need_masks: bool,
    need_contents: bool,
    need_source: bool,
    kernel: object | None,
):
    b, k, h, w = masks.shape
    c = source.shape[1]
    hw = h * w
    contents_last, image_last, contents, source, (grad_image,) = _kernel_layout(
        contents, source, grad_image
    )
    masks = masks.contiguous()
    grad_tv = grad_tv.contiguous()
    fmt = torch.channels_last if image_last else torch.contiguous_format
    empty = source.new_empty(0)
    d_masks = torch.empty_like(masks) if need_masks else empty.clone()
    d_contents = _empty_contents(contents, contents_last) if need_contents else empty.clone()
    d_source = (
        torch.empty((b, c, h, w), dtype=source.dtype, device=source.device, memory_format=fmt)
        if need_source
        else empty.clone()
    )
    if b * hw == 0 or not (need_masks or need_contents or need_source):
        return d_masks, d_contents, d_source
    block_c, block, num_warps = _launch_config(b, hw, c, source.device)
    n_tiles = triton.cdiv(hw, block)
    if kernel is not None:
        _check_sizes(masks, contents)
        # Outputs not needed get a real tensor as a placeholder; the kernel never touches them.
        kernel[(b * n_tiles,)](
            grad_image,
            grad_tv,
            masks,
            contents,
            source,
            d_masks if need_masks else masks,
            d_contents if need_contents else contents,
            d_source if need_source else source,
            k,
            c,
            w,
            hw,
            n_tiles,
            CONTENTS_LAST=contents_last,
            IMAGE_LAST=image_last,
            IS_FP64=source.dtype == torch.float64,
            NEED_MASKS=need_masks,
            NEED_CONTENTS=need_contents,
            NEED_SOURCE=need_source,
            BLOCK_C=block_c,
            BLOCK=block,
            num_warps=num_warps,
        )
    return d_masks, d_contents, d_source


multi_blend_tv_forward, multi_blend_tv_backward = register(
    "multi_blend_tv", _forward, _backward, _fwd_kernel, _bwd_kernel, interpreted=INTERPRETED
)


def multi_blend_tv_triton(masks: Tensor, contents: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """Runs the fused op's kernels on validated inputs (see ``attnguide.ops.multi_blend_tv``)."""
    return multi_blend_tv_forward(masks, contents, source)
