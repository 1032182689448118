from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.ops import total_variation


def _golden() -> tuple[torch.Tensor, torch.Tensor]:
    # sample 0: [[0, 1], [3, 1]] -> horizontal |1-0| + |1-3| = 3, vertical |3-0| + |1-1| = 3
    # sample 1: constant -> 0
    mask = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]], [[[2.0, 2.0], [2.0, 2.0]]]])
    return mask, torch.tensor([6.0, 0.0])


def test_golden_values_under_every_reduction() -> None:
    mask, per_sample = _golden()
    torch.testing.assert_close(total_variation(mask), per_sample)
    torch.testing.assert_close(total_variation(mask, reduction="none"), per_sample)
    torch.testing.assert_close(total_variation(mask, reduction="sum"), torch.tensor(6.0))
    torch.testing.assert_close(total_variation(mask, reduction="mean"), torch.tensor(3.0))


def test_sums_over_channels() -> None:
    mask, per_sample = _golden()
    two = torch.cat([mask, 2 * mask], dim=1)
    torch.testing.assert_close(total_variation(two), 3 * per_sample)


def test_single_pixel_and_single_row() -> None:
    assert total_variation(torch.rand(3, 1, 1, 1)).eq(0).all()
    row = torch.tensor([[[[0.0, 2.0, 1.0]]]])
    torch.testing.assert_close(total_variation(row), torch.tensor([3.0]))


@given(
    b=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    value=st.floats(-10, 10),
)
def test_constant_mask_has_zero_variation(b, c, h, w, value) -> None:
    assert torch.equal(total_variation(torch.full((b, c, h, w), value)), torch.zeros(b))


@given(h=st.integers(1, 8), w=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_invariant_under_flips_and_transpose(h, w, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(2, 1, h, w, generator=g, dtype=torch.float64)
    tv = total_variation(mask)
    for flipped in (mask.flip(-1), mask.flip(-2), mask.transpose(-1, -2)):
        torch.testing.assert_close(total_variation(flipped), tv)


def test_matches_loop_reference() -> None:
    mask = torch.rand(2, 1, 5, 4, dtype=torch.float64)
    expected = torch.zeros(2, dtype=torch.float64)
    for b in range(2):
        for y in range(5):
            for x in range(4):
                if x + 1 < 4:
                    expected[b] += abs(mask[b, 0, y, x + 1] - mask[b, 0, y, x])
                if y + 1 < 5:
                    expected[b] += abs(mask[b, 0, y + 1, x] - mask[b, 0, y, x])
    torch.testing.assert_close(total_variation(mask), expected)


def test_gradcheck() -> None:
    # Random values avoid ties, where |.| has no derivative.
    mask = torch.rand(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(total_variation, (mask,))
    assert torch.autograd.gradcheck(lambda m: total_variation(m, reduction="mean"), (mask,))


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"'mask' must have 4 dimensions \(b c h w\), got 2"):
        total_variation(torch.rand(4, 4))
    with pytest.raises(ValueError, match=r"'reduction' must be one of .*, got 'max'"):
        total_variation(torch.rand(1, 1, 4, 4), reduction="max")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'mask' must be a floating-point tensor, got torch.uint8"):
        total_variation(torch.ones(1, 1, 4, 4, dtype=torch.uint8))
