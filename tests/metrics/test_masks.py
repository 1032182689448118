"""mask_iou and mask_auroc against golden values and pair counting."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.metrics import (
    mask_auroc,
    mask_iou,
)

REDUCTIONS = ("mean", "sum", "none")


def _reduced(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


# ----------------------------------------------------------------------- mask metrics


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mask_iou_golden(reduction: str) -> None:
    mask = torch.tensor(
        [
            [[[0.9, 0.5], [0.1, 0.6]]],  # predicted {0, 1, 3}; target {0, 1}: 2 / 3
            [[[0.0, 0.0], [0.0, 0.0]]],  # both empty: 1
            [[[0.2, 0.2], [0.2, 0.2]]],  # predicted nothing, target {3}: 0
        ]
    )
    target = torch.tensor(
        [[[[1, 1], [0, 0]]], [[[0, 0], [0, 0]]], [[[0, 0], [0, 1]]]], dtype=torch.bool
    )
    per_sample = torch.tensor([2 / 3, 1.0, 0.0])
    torch.testing.assert_close(
        mask_iou(mask, target, reduction=reduction), _reduced(per_sample, reduction)
    )
    # Targets as 8-bit masks (0/255) or floats in [0, 1] mean the same.
    torch.testing.assert_close(
        mask_iou(mask, target.to(torch.uint8) * 255, reduction="none"), per_sample
    )
    torch.testing.assert_close(mask_iou(mask, target.float(), reduction="none"), per_sample)
    # A higher threshold drops the 0.5 and 0.6 pixels: sample 0 becomes 1 / 2.
    torch.testing.assert_close(
        mask_iou(mask, target, threshold=0.7, reduction="none")[0], torch.tensor(0.5)
    )


def _auroc_pairs(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, t in zip(scores, labels, strict=True) if t]
    neg = [s for s, t in zip(scores, labels, strict=True) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mask_auroc_golden_with_ties(reduction: str) -> None:
    mask = torch.tensor(
        [
            [[[0.9, 0.4], [0.4, 0.1]]],  # 3.5 / 4
            [[[0.1, 0.2], [0.8, 0.9]]],  # perfect
            [[[0.9, 0.8], [0.2, 0.1]]],  # reversed
        ]
    )
    target = torch.tensor([[[[1, 1], [0, 0]]], [[[0, 0], [1, 1]]], [[[0, 0], [1, 1]]]])
    per_sample = torch.tensor([0.875, 1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(
        mask_auroc(mask, target, reduction=reduction), _reduced(per_sample, reduction)
    )


@given(
    seed=st.integers(0, 2**16),
    levels=st.integers(2, 5),
    c=st.integers(1, 2),
    h=st.integers(1, 4),
    w=st.integers(2, 5),
)
def test_mask_auroc_equals_pair_counting(seed: int, levels: int, c: int, h: int, w: int) -> None:
    g = torch.Generator().manual_seed(seed)
    # Few distinct levels force many ties.
    mask = torch.randint(0, levels, (2, c, h, w), generator=g).float() / levels
    target = torch.rand(2, c, h, w, generator=g) > 0.5
    target.view(2, -1)[:, 0] = True
    target.view(2, -1)[:, 1] = False
    out = mask_auroc(mask, target, reduction="none")
    for n in range(2):
        expected = _auroc_pairs(mask[n].flatten().tolist(), target[n].flatten().tolist())
        assert out[n].item() == pytest.approx(expected, abs=1e-12)
    # Any strictly increasing transform of the scores leaves the ranking alone.
    torch.testing.assert_close(mask_auroc(mask.exp() * 3 - 1, target, reduction="none"), out)


def test_mask_metrics_reject_bad_input() -> None:
    mask = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"mask_iou\(\): 'target' has shape \(2, 1, 4, 5\)"):
        mask_iou(mask, torch.zeros(2, 1, 4, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"mask_iou\(\): 'mask' must be a floating-point tensor"):
        mask_iou(mask > 0.5, mask > 0.5)
    with pytest.raises(ValueError, match=r"AUROC is undefined for samples \[1\]"):
        target = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
        target[0, 0, 0, 0] = True
        mask_auroc(mask, target)
    with pytest.raises(ValueError, match=r"mask_auroc\(\): 'mask' must hold finite values"):
        mask_auroc(torch.full((1, 1, 2, 2), float("nan")), torch.tensor([[[[1, 0], [0, 1]]]]))
    with pytest.raises(ValueError, match=r"'reduction' must be one of"):
        mask_iou(mask, mask > 0.5, reduction="max")  # type: ignore[arg-type]
