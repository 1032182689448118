"""cycle_consistency_loss and pixel_loss: golden values, torch's L1, gradients, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _reductions import assert_reductions

from attnguide.losses import (
    cycle_consistency_loss,
    pixel_loss,
)

L1_LOSSES = [
    pytest.param(cycle_consistency_loss, ("reconstructed", "original"), id="cycle"),
    pytest.param(pixel_loss, ("translated", "source"), id="pixel"),
]


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_golden_values(loss_fn, names, device) -> None:
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]], device=device)
    b = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]]], [[[1.0, -1.0], [0.5, 0.0]]]], device=device)
    # sample 0: (1 + 2 + 3 + 4) / 4 = 2.5; sample 1: (1 + 1 + 0.5 + 0) / 4 = 0.625
    assert_reductions(lambda reduction: loss_fn(a, b, reduction=reduction), [2.5, 0.625], device)
    # Keyword names are part of the API.
    torch.testing.assert_close(
        loss_fn(**dict(zip(names, (a, b), strict=True))), torch.tensor(1.5625, device=device)
    )


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_mean_matches_torch(loss_fn, names) -> None:
    a, b = torch.randn(3, 3, 5, 4), torch.randn(3, 3, 5, 4)
    torch.testing.assert_close(loss_fn(a, b), F.l1_loss(a, b))
    assert loss_fn(a, a).item() == 0.0


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_gradcheck(loss_fn, names) -> None:
    # Random values avoid ties, where |.| has no derivative.
    a = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda x, y, r=reduction: loss_fn(x, y, reduction=r), (a, b)
        )


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_rejects_bad_input(loss_fn, names) -> None:
    fn = loss_fn.__name__
    first, second = names
    x = torch.rand(2, 3, 4, 4)
    with pytest.raises(
        ValueError,
        match=rf"{fn}\(\): '{second}' has shape \(2, 3, 4, 5\) \(b c h w\) but w=4 from "
        rf"'{first}'; got w=5",
    ):
        loss_fn(x, torch.rand(2, 3, 4, 5))
    with pytest.raises(ValueError, match=rf"'{second}' has shape \(1, 3, 4, 4\) .* got b=1"):
        loss_fn(x, torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=rf"'{second}' has shape \(2, 1, 4, 4\) .* got c=1"):
        loss_fn(x, torch.rand(2, 1, 4, 4))
    with pytest.raises(
        ValueError, match=rf"{fn}\(\): '{first}' must have 4 dimensions \(b c h w\), got 3"
    ):
        loss_fn(x[0], x[0])
    with pytest.raises(TypeError, match=rf"'{second}' has dtype torch.float64 but '{first}'"):
        loss_fn(x, x.double())
    with pytest.raises(
        TypeError, match=rf"'{first}' must be a floating-point tensor, got torch.uint8"
    ):
        loss_fn(x.to(torch.uint8), x)
    with pytest.raises(ValueError, match=rf"{fn}\(\): 'reduction' must be one of .*, got 'mn'"):
        loss_fn(x, x, reduction="mn")
