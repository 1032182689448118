"""attention_tv_loss and mask_saturation_loss: golden values, gradients, errors."""

from __future__ import annotations

import pytest
import torch
from _reductions import assert_reductions

from attnguide.losses import (
    attention_tv_loss,
    mask_saturation_loss,
)
from attnguide.ops import total_variation


def _golden_mask() -> torch.Tensor:
    # sample 0: [[0, 1], [0.5, 1]] -> horizontal |1-0| + |1-0.5| = 1.5, vertical |0.5-0| + 0
    # = 0.5, so 2; sample 1: constant -> 0
    return torch.tensor([[[[0.0, 1.0], [0.5, 1.0]]], [[[0.3, 0.3], [0.3, 0.3]]]])


def test_attention_tv_golden_values(device) -> None:
    mask = _golden_mask().to(device)
    assert_reductions(
        lambda reduction: attention_tv_loss(mask, reduction=reduction), [2.0, 0.0], device
    )
    # The default is the batch mean of per-sample sums (Eq. 6 sums over pixels).
    torch.testing.assert_close(attention_tv_loss(mask), torch.tensor(1.0, device=device))


def test_attention_tv_is_ops_total_variation() -> None:
    mask = torch.rand(3, 2, 5, 6)
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            attention_tv_loss(mask, reduction=reduction), total_variation(mask, reduction)
        )


def test_attention_tv_gradcheck() -> None:
    mask = torch.rand(2, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(attention_tv_loss, (mask,))


def test_attention_tv_rejects_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"attention_tv_loss\(\): 'mask' must have 4 dimensions \(b c h w\), got 3"
    ):
        attention_tv_loss(torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match=r"attention_tv_loss\(\): 'reduction' .* got 'none '"):
        attention_tv_loss(torch.rand(2, 1, 4, 4), reduction="none ")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'mask' must be a floating-point tensor, got torch.bool"):
        attention_tv_loss(torch.ones(2, 1, 4, 4, dtype=torch.bool))


def test_mask_saturation_golden_values(device) -> None:
    mask = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]], [[[0.25, 0.25], [0.25, 0.25]]]], device=device)
    # sample 0: (1 + 0 + 0.5 + 0.5) / 4 = 0.5; sample 1: 0.25
    assert_reductions(
        lambda reduction: mask_saturation_loss(mask, reduction=reduction), [0.5, 0.25], device
    )
    # Several channels are averaged together: (0.5 * 4 + 1 * 4) / 8 for sample 0.
    two = torch.cat([mask, torch.ones_like(mask)], dim=1)
    torch.testing.assert_close(
        mask_saturation_loss(two, reduction="none"), torch.tensor([0.75, 0.625], device=device)
    )


def test_mask_saturation_gradcheck() -> None:
    mask = torch.rand(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda m, r=reduction: mask_saturation_loss(m, reduction=r), (mask,)
        )


def test_mask_saturation_rejects_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"mask_saturation_loss\(\): 'mask' must have 4 dimensions \(b c h w\)"
    ):
        mask_saturation_loss(torch.rand(4, 4))
    with pytest.raises(ValueError, match=r"mask_saturation_loss\(\): 'reduction' .* got 'max'"):
        mask_saturation_loss(torch.rand(2, 1, 4, 4), reduction="max")  # type: ignore[arg-type]
