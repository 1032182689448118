"""DiffAugment for mask-conditioned discriminators: the mask moves with its image."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.training import augment_pair


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@given(st.integers(1, 3), st.integers(8, 20), st.integers(0, 1000))
def test_image_and_mask_move_together(b: int, size: int, seed: int) -> None:
    # A mask equal to the image's first channel must stay equal to it after the
    # geometric transforms: the same shift and the same cut-out for both.
    x = torch.rand(b, 3, size, size) * 2 - 1
    y, m = augment_pair(x, x[:, :1].clone(), color=False, generator=_gen(seed))
    assert torch.equal(y[:, :1], m)


def test_shift_is_a_translation_with_zeros() -> None:
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    y, _ = augment_pair(x, translation=0.25, cutout=0.0, color=False, generator=_gen(3))
    # Some integer shift (dy, dx) with |d| <= 2 explains every pixel.
    found = False
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            ref = torch.zeros_like(x)
            src = x[..., max(0, -dy) : 8 - max(0, dy), max(0, -dx) : 8 - max(0, dx)]
            ref[..., max(0, dy) : 8 - max(0, -dy), max(0, dx) : 8 - max(0, -dx)] = src
            found |= torch.equal(ref, y)
    assert found


def test_cutout_zeroes_one_square_of_the_given_side() -> None:
    x = torch.ones(4, 3, 16, 16)
    y, m = augment_pair(x, torch.ones(4, 1, 16, 16), translation=0, cutout=0.25, color=False)
    zeros = (y[:, 0] == 0).flatten(1).sum(1)
    assert bool((zeros <= 16).all()) and bool((zeros >= 4).all())  # a 4x4 square, clipped
    assert torch.equal(y[:, :1] == 0, m == 0)


def test_nothing_asked_changes_nothing() -> None:
    x = torch.rand(2, 3, 8, 8)
    y, m = augment_pair(x, None, translation=0, cutout=0, color=False)
    assert torch.equal(x, y) and m is None


def test_gradients_reach_image_and_mask() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    y, m = augment_pair(x, mask, generator=_gen(1))
    (y.sum() + m.square().sum()).backward()
    assert x.grad is not None and mask.grad is not None
    assert torch.isfinite(x.grad).all() and mask.grad.abs().sum() > 0


def test_seeded_draws_repeat() -> None:
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(augment_pair(x, generator=_gen(7))[0], augment_pair(x, generator=_gen(7))[0])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="'masks' has shape"):
        augment_pair(torch.rand(2, 3, 8, 8), torch.rand(3, 1, 8, 8))
    with pytest.raises(ValueError, match="'translation'"):
        augment_pair(torch.rand(2, 3, 8, 8), translation=1.0)
    with pytest.raises(ValueError, match="'cutout'"):
        augment_pair(torch.rand(2, 3, 8, 8), cutout=-0.1)
