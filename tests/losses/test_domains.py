"""domain_classification_loss: BCE for attributes, CE for labels, against torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from _reductions import assert_reductions, softplus

from attnguide.losses import (
    domain_classification_loss,
)


def test_domain_classification_bce_golden_values(device) -> None:
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.0]], device=device)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]], device=device)
    # BCE with logits: label 1 -> softplus(-x), label 0 -> softplus(x); summed over labels.
    per_sample = [softplus(0.0) + softplus(2.0), softplus(-1.0) + softplus(0.0)]
    assert_reductions(
        lambda reduction: domain_classification_loss(logits, labels, reduction=reduction),
        per_sample,
        device,
    )


def test_domain_classification_bce_soft_labels() -> None:
    # A soft target 0.5 on logit 0 costs log 2, the entropy of a fair coin.
    loss = domain_classification_loss(torch.zeros(1, 3), torch.full((1, 3), 0.5), reduction="none")
    torch.testing.assert_close(loss, torch.tensor([3 * math.log(2)]))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_domain_classification_ce_golden_values(dtype, device) -> None:
    logits = torch.tensor([[0.0, math.log(2.0), 0.0], [1.0, 1.0, 1.0]], device=device)
    labels = torch.tensor([1, 0], dtype=dtype, device=device)
    # sample 0: -log(2 / (1 + 2 + 1)) = log 2; sample 1: uniform over 3 classes -> log 3
    assert_reductions(
        lambda reduction: domain_classification_loss(logits, labels, reduction=reduction),
        [math.log(2.0), math.log(3.0)],
        device,
    )


def test_domain_classification_matches_torch() -> None:
    logits = torch.randn(4, 5)
    multi = torch.randint(0, 2, (4, 5)).float()
    indices = torch.randint(0, 5, (4,))
    torch.testing.assert_close(
        domain_classification_loss(logits, multi),
        F.binary_cross_entropy_with_logits(logits, multi, reduction="sum") / 4,
    )
    torch.testing.assert_close(
        domain_classification_loss(logits, indices), F.cross_entropy(logits, indices)
    )


def test_domain_classification_gradcheck() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    soft = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(domain_classification_loss, (logits, soft))
    indices = torch.tensor([0, 3, 1])
    assert torch.autograd.gradcheck(
        lambda x: domain_classification_loss(x, indices, reduction="none"), (logits,)
    )


@pytest.mark.parametrize(
    ("logits", "labels", "error", "message"),
    [
        (
            torch.randn(2, 3),
            torch.rand(2),
            ValueError,
            r"domain_classification_loss\(\): floating 'labels' are multi-label targets and "
            r"must have shape \(b n\), got shape \(2,\); pass class indices as an integer",
        ),
        (
            torch.randn(2, 3),
            torch.zeros(2, 3, dtype=torch.long),
            ValueError,
            r"integer 'labels' are class indices and must have shape \(b\), got shape "
            r"\(2, 3\); pass multi-label targets as a floating-point tensor",
        ),
        (
            torch.randn(2, 3),
            torch.zeros(2, 3, dtype=torch.bool),
            TypeError,
            r"'labels' must be floating point \(multi-label targets\) or an integer type "
            r"\(class indices\), got torch.bool",
        ),
        (
            torch.randn(2, 3),
            torch.rand(2, 4),
            ValueError,
            r"'labels' has shape \(2, 4\) \(b n\) but n=3 from 'logits'; got n=4",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 1, 2]),
            ValueError,
            r"'labels' has shape \(3,\) \(b\) but b=2 from 'logits'; got b=3",
        ),
        (
            torch.randn(2, 3, 1, 1),
            torch.tensor([0, 1]),
            ValueError,
            r"domain_classification_loss\(\): 'logits' must have 2 dimensions \(b n\), got 4",
        ),
        (
            torch.randn(2, 3),
            torch.rand(2, 3, dtype=torch.float64),
            TypeError,
            r"'labels' has dtype torch.float64 but 'logits' has torch.float32",
        ),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([0, 1]),
            TypeError,
            r"'logits' must be a floating-point tensor, got torch.int64",
        ),
        (
            torch.randn(2, 3),
            [0, 1],
            TypeError,
            r"'labels' must be a torch.Tensor, got list",
        ),
        (  # cross_entropy's ignore_index: would silently give a loss of 0
            torch.randn(2, 3),
            torch.tensor([-100, 1]),
            ValueError,
            r"integer 'labels' are class indices in \[0, 3\), got values from -100 to 1",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 3]),
            ValueError,
            r"integer 'labels' are class indices in \[0, 3\), got values from 0 to 3",
        ),
    ],
)
def test_domain_classification_rejects_bad_input(logits, labels, error, message) -> None:
    with pytest.raises(error, match=message):
        domain_classification_loss(logits, labels)


def test_domain_classification_rejects_bad_reduction() -> None:
    with pytest.raises(ValueError, match=r"'reduction' must be one of .*, got 'batchmean'"):
        domain_classification_loss(torch.randn(2, 3), torch.tensor([0, 1]), reduction="batchmean")  # type: ignore[arg-type]
