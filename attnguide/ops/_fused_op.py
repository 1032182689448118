"""The custom ops around a fused Triton op's two kernels, registered the same way for each.

A fused op here takes three tensors (masks, contents, source) and returns two (the
image and the per-sample TV); its backward takes both cotangents, the three inputs and
which inputs need a gradient, and returns the three gradients. :func:`register` builds
two layers of custom ops for such a pair of launchers:

- ``attnguide::<name>_forward`` / ``_backward``, ``torch.library.triton_op``s: under
  torch.compile their body is traced, so inductor sees (and can schedule) the CUDA
  kernel launches and the reductions around them;
- ``..._interpreted`` variants, opaque custom ops with fake implementations, for
  triton's interpreter (interpreted launches run on real data and cannot be traced).

and gives the forward an autograd formula that calls the backward op (first-order
gradients only).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.library import triton_op, wrap_triton

__all__ = ["register"]

# launch(a, b, c, kernel) -> (image, tv); kernel None: allocate only (fake tensors).
Forward = Callable[[Tensor, Tensor, Tensor, object], tuple[Tensor, Tensor]]
# launch(g_image, g_tv, a, b, c, need_a, need_b, need_c, kernel) -> three gradients.
Backward = Callable[..., tuple[Tensor, Tensor, Tensor]]


def register(
    name: str,
    forward: Forward,
    backward: Backward,
    fwd_kernel: object,
    bwd_kernel: object,
    *,
    interpreted: bool,
) -> tuple[Callable[..., tuple[Tensor, Tensor]], Callable[..., tuple[Tensor, Tensor, Tensor]]]:
    """Registers the ops of the fused op ``name``; returns its forward and backward ops."""

    @torch.library.custom_op(f"attnguide::{name}_forward_interpreted", mutates_args=())
    def forward_interpreted(a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        return forward(a, b, c, fwd_kernel)

    @forward_interpreted.register_fake
    def _(a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        return forward(a, b, c, None)

    @torch.library.custom_op(f"attnguide::{name}_backward_interpreted", mutates_args=())
    def backward_interpreted(
        grad_image: Tensor,
        grad_tv: Tensor,
        a: Tensor,
        b: Tensor,
        c: Tensor,
        need_a: bool,
        need_b: bool,
        need_c: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        return backward(grad_image, grad_tv, a, b, c, need_a, need_b, need_c, bwd_kernel)

    @backward_interpreted.register_fake
    def _(
        grad_image: Tensor,
        grad_tv: Tensor,
        a: Tensor,
        b: Tensor,
        c: Tensor,
        need_a: bool,
        need_b: bool,
        need_c: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        return backward(grad_image, grad_tv, a, b, c, need_a, need_b, need_c, None)

    @triton_op(f"attnguide::{name}_forward", mutates_args=())
    def forward_op(a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        if interpreted:
            return forward_interpreted(a, b, c)
        return forward(a, b, c, wrap_triton(fwd_kernel))

    @triton_op(f"attnguide::{name}_backward", mutates_args=())
    def backward_op(
        grad_image: Tensor,
        grad_tv: Tensor,
        a: Tensor,
        b: Tensor,
        c: Tensor,
        need_a: bool,
        need_b: bool,
        need_c: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        if interpreted:
            return backward_interpreted(grad_image, grad_tv, a, b, c, need_a, need_b, need_c)
        return backward(
            grad_image, grad_tv, a, b, c, need_a, need_b, need_c, wrap_triton(bwd_kernel)
        )

    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)

    def formula(ctx, grad_image: Tensor, grad_tv: Tensor):
        a, b, c = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        grads = backward_op(grad_image, grad_tv, a, b, c, *need)
        return tuple(g if n else None for g, n in zip(grads, need, strict=True))

    forward_op.register_autograd(formula, setup_context=setup_context)
    return forward_op, backward_op
