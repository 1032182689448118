"""Checks shared by the loss tests."""

from __future__ import annotations

import math

import torch


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def assert_reductions(loss_fn, per_sample: list[float], device=None) -> None:
    """Checks "none", "mean" and "sum" of ``loss_fn(reduction=...)`` against per-sample goldens."""
    expected = torch.tensor(per_sample, dtype=torch.float64, device=device)
    none = loss_fn(reduction="none")
    assert none.shape == expected.shape
    torch.testing.assert_close(none, expected.to(none.dtype))
    torch.testing.assert_close(loss_fn(reduction="mean"), expected.mean().to(none.dtype))
    torch.testing.assert_close(loss_fn(reduction="sum"), expected.sum().to(none.dtype))
