"""Triton kernels for :func:`attnguide.ops.blend_tv` and the custom ops that launch them.

Imported only when the Triton backend runs (triton is an optional extra).

Design, for a memory-bound op:

- One launch per direction does all per-pixel work. The grid is flat over
  ``(sample, tile)``; a program owns ``BLOCK`` consecutive pixels of one sample, loads
  the mask there once, and loops over the channels. Over the pixels the loads are
  unit-stride, so for NCHW inputs they coalesce and vectorise (128-bit when ``h*w``
  is a multiple of 16).
- The TV needs the right and lower neighbours, which may belong to the next tile; they
  are read with masked loads of lines that this or a neighbouring program also reads,
  so they mostly hit L1/L2 rather than adding DRAM traffic.
- TV is reduced in two deterministic stages: each program writes its tile's partial
  sum (float32, float64 for float64 inputs) to a ``(b, tiles)`` buffer, and a
  ``sum(dim=1)`` finishes it. Atomics would need a zero-filled output (itself a
  launch) and give run-to-run differences; a single-launch "last program reduces"
  scheme needs a zeroed semaphore that outlives the call, which breaks under
  concurrent streams and is invisible to torch.compile. The second stage is a small
  extra launch reading ``4 * b * tiles`` bytes; under torch.compile it is an ordinary
  reduction in the graph, which inductor may fuse with whatever consumes ``tv``.
- Backward is one launch with no reduction: the TV subgradient at a pixel is
  ``sign(m - left) - sign(right - m) + sign(m - up) - sign(down - m)`` (terms that
  have no neighbour vanish) times ``grad_tv[b]``, with ``sign(0) = 0`` exactly as
  autograd differentiates ``torch.abs``; outputs nobody needs are neither read for
  nor written.
- Everything is accumulated in float32 (float64 for float64 inputs): the blend, the
  channel sum of the mask gradient and the TV partials; results are rounded once.
- Memory format is normalised in one place, :func:`_kernel_layout`: the big tensors
  all take the layout of ``content`` when it is dense NCHW or dense channels_last
  (native support: the kernels take the layout as a compile-time flag), anything
  else is copied to NCHW; outputs are allocated in the chosen layout.

With ``TRITON_INTERPRET=1`` set before triton is imported, the same kernels run on
CPU tensors through triton's interpreter; that is how they are tested without a GPU.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton.runtime.jit import JITFunction

from attnguide.ops._backend import interpreter_enabled
from attnguide.ops._fused_op import register

__all__ = ["blend_tv_triton"]

# Programs per SM the CUDA launch aims for before it grows tiles (latency hiding).
_PROGRAMS_PER_SM = 4
# Interpreter tiles: small, so that tests on small images still cross tile borders.
_INTERPRETER_BLOCK = 256


def _blend_tv_fwd_kernel(
    mask_ptr,
    content_ptr,
    source_ptr,
    image_ptr,
    partial_ptr,
    C,
    W,
    HW,
    n_tiles,
    CHANNELS_LAST: tl.constexpr,
    IS_FP64: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    b = pid // n_tiles
    tile = pid - b * n_tiles
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    # Per-sample bases in int64 (b * C * HW can pass 2**31); offsets in a sample fit int32.
    mask_ptr += b.to(tl.int64) * HW
    sample = b.to(tl.int64) * C * HW
    content_ptr += sample
    source_ptr += sample
    image_ptr += sample

    m = tl.load(mask_ptr + offs, mask=inside, other=0.0)
    m = m.to(tl.float64) if IS_FP64 else m.to(tl.float32)

    # Anisotropic TV: right and lower differences of the pixels this tile owns.
    col = offs % W
    has_right = inside & (col < W - 1)
    has_down = inside & (offs < HW - W)
    right = tl.load(mask_ptr + offs + 1, mask=has_right, other=0.0).to(m.dtype)
    down = tl.load(mask_ptr + offs + W, mask=has_down, other=0.0).to(m.dtype)
    tv = tl.where(has_right, tl.abs(right - m), 0.0) + tl.where(has_down, tl.abs(down - m), 0.0)
    tl.store(partial_ptr + pid, tl.sum(tv, axis=0))

    if CHANNELS_LAST:
        pixel = offs * C
        channel_stride = 1
    else:
        pixel = offs
        channel_stride = HW
    keep = 1.0 - m
    for c in range(C):
        idx = pixel + c * channel_stride
        x = tl.load(content_ptr + idx, mask=inside, other=0.0).to(m.dtype)
        s = tl.load(source_ptr + idx, mask=inside, other=0.0).to(m.dtype)
        out = x * m + s * keep
        tl.store(image_ptr + idx, out.to(image_ptr.dtype.element_ty), mask=inside)


def _blend_tv_bwd_kernel(
    grad_image_ptr,
    grad_tv_ptr,
    mask_ptr,
    content_ptr,
    source_ptr,
    d_mask_ptr,
    d_content_ptr,
    d_source_ptr,
    C,
    W,
    HW,
    n_tiles,
    CHANNELS_LAST: tl.constexpr,
    IS_FP64: tl.constexpr,
    NEED_MASK: tl.constexpr,
    NEED_CONTENT: tl.constexpr,
    NEED_SOURCE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0)
    b = pid // n_tiles
    tile = pid - b * n_tiles
    offs = tile * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    plane = b.to(tl.int64) * HW
    mask_ptr += plane
    d_mask_ptr += plane
    sample = b.to(tl.int64) * C * HW
    grad_image_ptr += sample
    content_ptr += sample
    source_ptr += sample
    d_content_ptr += sample
    d_source_ptr += sample

    m = tl.load(mask_ptr + offs, mask=inside, other=0.0)
    m = m.to(tl.float64) if IS_FP64 else m.to(tl.float32)

    if CHANNELS_LAST:
        pixel = offs * C
        channel_stride = 1
    else:
        pixel = offs
        channel_stride = HW
    keep = 1.0 - m
    # d_mask = sum_c g * (content - source), accumulated across channels in m's dtype.
    d_m = tl.zeros_like(m)
    for c in range(C):
        idx = pixel + c * channel_stride
        g = tl.load(grad_image_ptr + idx, mask=inside, other=0.0).to(m.dtype)
        if NEED_CONTENT:
            tl.store(d_content_ptr + idx, (g * m).to(d_content_ptr.dtype.element_ty), mask=inside)
        if NEED_SOURCE:
            tl.store(d_source_ptr + idx, (g * keep).to(d_source_ptr.dtype.element_ty), mask=inside)
        if NEED_MASK:
            x = tl.load(content_ptr + idx, mask=inside, other=0.0).to(m.dtype)
            s = tl.load(source_ptr + idx, mask=inside, other=0.0).to(m.dtype)
            d_m += g * (x - s)

    if NEED_MASK:
        col = offs % W
        has_left = inside & (col > 0)
        has_right = inside & (col < W - 1)
        has_up = inside & (offs >= W)
        has_down = inside & (offs < HW - W)
        left = tl.load(mask_ptr + offs - 1, mask=has_left, other=0.0).to(m.dtype)
        right = tl.load(mask_ptr + offs + 1, mask=has_right, other=0.0).to(m.dtype)
        up = tl.load(mask_ptr + offs - W, mask=has_up, other=0.0).to(m.dtype)
        down = tl.load(mask_ptr + offs + W, mask=has_down, other=0.0).to(m.dtype)
        # sign(d) with sign(0) = 0: a tie contributes nothing, as d|x|/dx at 0 in autograd.
        d_left = m - left
        d_right = right - m
        d_up = m - up
        d_down = down - m
        sub = tl.where(has_left, (d_left > 0).to(m.dtype) - (d_left < 0).to(m.dtype), 0.0)
        sub -= tl.where(has_right, (d_right > 0).to(m.dtype) - (d_right < 0).to(m.dtype), 0.0)
        sub += tl.where(has_up, (d_up > 0).to(m.dtype) - (d_up < 0).to(m.dtype), 0.0)
        sub -= tl.where(has_down, (d_down > 0).to(m.dtype) - (d_down < 0).to(m.dtype), 0.0)
        g_tv = tl.load(grad_tv_ptr + b).to(m.dtype)
        d_m += g_tv * sub
        tl.store(d_mask_ptr + offs, d_m.to(d_mask_ptr.dtype.element_ty), mask=inside)


# Built the way triton builds its own library functions in this process: for the
# interpreter when TRITON_INTERPRET=1 was set before triton was imported (CPU tensors
# then work), for the compiler otherwise. Deciding by the same fact as triton keeps
# the two consistent even if the variable changed after triton was imported.
INTERPRETED = interpreter_enabled()
if INTERPRETED:
    from triton.runtime.interpreter import InterpretedFunction as _build
else:
    _build = JITFunction
_fwd_kernel = _build(_blend_tv_fwd_kernel)
_bwd_kernel = _build(_blend_tv_bwd_kernel)


def _kernel_layout(like: Tensor, *tensors: Tensor) -> tuple[bool, tuple[Tensor, ...]]:
    """The one place where memory formats are handled.

    Returns whether the kernels run channels_last and ``tensors`` in that layout: the
    layout of ``like`` (the content image) when it is dense NCHW or dense NHWC, NCHW
    otherwise. Tensors already in the chosen layout are returned as they are (no copy);
    others (views, expanded or strided tensors, the other format) are copied once.
    """
    if like.is_contiguous():
        channels_last = False
    else:
        channels_last = like.is_contiguous(memory_format=torch.channels_last)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return channels_last, tuple(t.contiguous(memory_format=fmt) for t in tensors)


@functools.cache
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _launch_config(batch: int, hw: int, device: torch.device) -> tuple[int, int]:
    """(BLOCK, num_warps): the largest tile up to 1024 pixels that still fills the GPU."""
    if INTERPRETED:
        return _INTERPRETER_BLOCK, 4
    index = device.index if device.index is not None else torch.cuda.current_device()
    target = _PROGRAMS_PER_SM * _sm_count(index)
    block = 1024
    while block > 256 and batch * triton.cdiv(hw, block) < target:
        block //= 2
    # 256 pixels per warp: 8 float32 (two 128-bit loads) or 8 bf16 per thread and channel.
    return block, block // 256


def _check_sizes(content: Tensor) -> None:
    _, c, h, w = content.shape
    if c * h * w >= 2**31:
        raise ValueError(
            "blend_tv(): one sample of 'content' must hold fewer than 2**31 elements for "
            f"the Triton kernels, got shape {tuple(content.shape)}"
        )


def _forward(mask: Tensor, content: Tensor, source: Tensor, kernel: object | None):
    """Allocates the outputs and, unless ``kernel`` is None (fake tensors), launches."""
    b, c, h, w = content.shape
    hw = h * w
    channels_last, (content, source) = _kernel_layout(content, content, source)
    mask = mask.contiguous()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    image = torch.empty((b, c, h, w), dtype=content.dtype, device=content.device, memory_format=fmt)
    acc = torch.float64 if content.dtype == torch.float64 else torch.float32
    if b * hw == 0:
        return image, torch.zeros(b, dtype=content.dtype, device=content.device)
    block, num_warps = _launch_config(b, hw, content.device)
    n_tiles = triton.cdiv(hw, block)
    partials = torch.empty((b, n_tiles), dtype=acc, device=content.device)
    if kernel is not None:
        _check_sizes(content)
        kernel[(b * n_tiles,)](
            mask,
            content,
            source,
            image,
            partials,
            c,
            w,
            hw,
            n_tiles,
            CHANNELS_LAST=channels_last,
            IS_FP64=acc == torch.float64,
            BLOCK=block,
            num_warps=num_warps,
        )
    return image, partials.sum(dim=1).to(content.dtype)


def _backward(
    grad_image: Tensor,
    grad_tv: Tensor,
    mask: Tensor,
    content: Tensor,
    source: Tensor,
    need_mask: bool,
    need_content: bool,
    need_source: bool,
    kernel: object | None,
):
    b, c, h, w = content.shape
    hw = h * w
    channels_last, (grad_image, content, source) = _kernel_layout(
        content, grad_image, content, source
    )
    mask = mask.contiguous()
    grad_tv = grad_tv.contiguous()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    empty = content.new_empty(0)

    def big(needed: bool) -> Tensor:
        if not needed:
            return empty.clone()
        return torch.empty(
            (b, c, h, w), dtype=content.dtype, device=content.device, memory_format=fmt
        )

    d_mask = torch.empty_like(mask) if need_mask else empty.clone()
    d_content, d_source = big(need_content), big(need_source)
    if b * hw == 0 or not (need_mask or need_content or need_source):
        return d_mask, d_content, d_source
    block, num_warps = _launch_config(b, hw, content.device)
    n_tiles = triton.cdiv(hw, block)
    if kernel is not None:
        _check_sizes(content)
        # Outputs not needed get a real tensor as a placeholder; the kernel never touches them.
        kernel[(b * n_tiles,)](
            grad_image,
            grad_tv,
            mask,
            content,
            source,
            d_mask if need_mask else mask,
            d_content if need_content else content,
            d_source if need_source else source,
            c,
            w,
            hw,
            n_tiles,
            CHANNELS_LAST=channels_last,
            IS_FP64=content.dtype == torch.float64,
            NEED_MASK=need_mask,
            NEED_CONTENT=need_content,
            NEED_SOURCE=need_source,
            BLOCK=block,
            num_warps=num_warps,
        )
    return d_mask, d_content, d_source


blend_tv_forward, blend_tv_backward = register(
    "blend_tv", _forward, _backward, _fwd_kernel, _bwd_kernel, interpreted=INTERPRETED
)


def blend_tv_triton(mask: Tensor, content: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    """Runs the fused op's kernels on validated inputs (see ``attnguide.ops.blend_tv``)."""
    return blend_tv_forward(mask, content, source)
