from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.ops import blend, multi_blend

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))


def _inputs(shape: tuple[int, int, int, int], seed: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    mask = torch.rand(b, 1, h, w, generator=g, dtype=dtype)
    content = torch.randn(b, c, h, w, generator=g, dtype=dtype)
    source = torch.randn(b, c, h, w, generator=g, dtype=dtype)
    return mask, content, source


def test_blend_values(device: torch.device) -> None:
    mask = torch.tensor([[[[0.0, 0.25], [0.5, 1.0]]]], device=device)
    content = torch.full((1, 2, 2, 2), 4.0, device=device)
    source = torch.full((1, 2, 2, 2), -4.0, device=device)
    expected = torch.tensor([[-4.0, -2.0], [0.0, 4.0]], device=device).expand(1, 2, 2, 2)
    torch.testing.assert_close(blend(mask, content, source), expected)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_zero_mask_returns_source_bit_exactly(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed)
    content[0, 0, 0, 0] = 1e30
    assert torch.equal(blend(torch.zeros_like(mask), content, source), source)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_one_mask_returns_content(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed)
    assert torch.equal(blend(torch.ones_like(mask), content, source), content)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_blend_lies_between_content_and_source(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed, torch.float64)
    out = blend(mask, content, source)
    lo, hi = torch.minimum(content, source), torch.maximum(content, source)
    assert bool(((out >= lo - 1e-12) & (out <= hi + 1e-12)).all())


def test_blend_gradcheck() -> None:
    mask, content, source = _inputs((2, 3, 5, 4), 0, torch.float64)
    args = tuple(t.requires_grad_() for t in (mask, content, source))
    assert torch.autograd.gradcheck(blend, args)


def test_blend_channels_last_matches_contiguous() -> None:
    mask, content, source = _inputs((2, 3, 6, 5), 1)
    cl = [t.to(memory_format=torch.channels_last) for t in (mask, content, source)]
    torch.testing.assert_close(blend(*cl), blend(mask, content, source), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"blend\(\): 'mask' must have shape \(b 1 h w\) with 1 at dimension 1, "
            r"got shape \(2, 3, 4, 4\)",
        ),
        (
            (torch.rand(2, 1, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"'mask' must have 4 dimensions \(b 1 h w\), got 3 with shape \(2, 1, 4\)",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"'content' has shape \(1, 3, 4, 4\) \(b c h w\) but b=2 from 'mask'; got b=1",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 1, 4, 4)),
            ValueError,
            r"'source' has shape \(2, 1, 4, 4\) \(b c h w\) but c=3 from 'content'; got c=1",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 5)),
            ValueError,
            r"'source' has shape \(2, 3, 4, 5\) \(b c h w\) but w=4 from 'mask'; got w=5",
        ),
        (
            (torch.rand(2, 1, 4, 4).double(), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            TypeError,
            r"'content' has dtype torch.float32 but 'mask' has torch.float64",
        ),
        (
            (torch.ones(2, 1, 4, 4, dtype=torch.long), torch.rand(2, 3, 4, 4), None),
            TypeError,
            r"'mask' must be a floating-point tensor, got torch.int64",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), [1.0]),
            TypeError,
            r"'source' must be a torch.Tensor, got list",
        ),
    ],
)
def test_blend_rejects_bad_input(args, error, message) -> None:
    with pytest.raises(error, match=message):
        blend(*args)


def test_blend_rejects_mixed_devices() -> None:
    mask, content, source = _inputs((1, 3, 4, 4), 0)
    with pytest.raises(ValueError, match=r"'content' is on meta but 'mask' is on cpu"):
        blend(mask, content.to("meta"), source)


def _softmax_masks(b, k, h, w, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(b, k, h, w, generator=g, dtype=dtype), dim=1)


def test_multi_blend_matches_loop() -> None:
    masks = _softmax_masks(2, 4, 5, 6, 0, torch.float64)
    contents = torch.randn(2, 3, 3, 5, 6, dtype=torch.float64)
    source = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    expected = source * masks[:, 3:4]
    for i in range(3):
        expected = expected + contents[:, i] * masks[:, i : i + 1]
    torch.testing.assert_close(multi_blend(masks, contents, source), expected)


def test_multi_blend_with_two_masks_is_blend() -> None:
    mask, content, source = _inputs((2, 3, 5, 6), 3, torch.float64)
    masks = torch.cat([mask, 1 - mask], dim=1)
    torch.testing.assert_close(
        multi_blend(masks, content.unsqueeze(1), source), blend(mask, content, source)
    )


@given(
    b=st.integers(1, 3),
    k=st.integers(2, 4),
    c=st.integers(1, 3),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_multi_blend_one_hot_background_returns_source(b, k, c, h, w, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(b, k, h, w)
    masks[:, -1] = 1.0
    contents = torch.randn(b, k - 1, c, h, w, generator=g)
    source = torch.randn(b, c, h, w, generator=g)
    assert torch.equal(multi_blend(masks, contents, source), source)


def test_multi_blend_gradcheck() -> None:
    masks = _softmax_masks(2, 3, 4, 3, 1, torch.float64).requires_grad_()
    contents = torch.randn(2, 2, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    source = torch.randn(2, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(multi_blend, (masks, contents, source))


@pytest.mark.parametrize(
    ("masks", "contents", "source", "message"),
    [
        (
            torch.rand(2, 1, 4, 4),
            torch.rand(2, 0, 3, 4, 4),
            torch.rand(2, 3, 4, 4),
            r"'masks' must hold k >= 2 masks \(b k h w\), got k=1",
        ),
        (
            torch.rand(2, 3, 4, 4),
            torch.rand(2, 3, 3, 4, 4),
            torch.rand(2, 3, 4, 4),
            r"'contents' has shape \(2, 3, 3, 4, 4\) \(b n c h w\) but n=2 from 'masks \(k - 1\)'",
        ),
        (
            torch.rand(2, 3, 4, 4),
            torch.rand(2, 2, 3, 4, 4),
            torch.rand(2, 3, 5, 4),
            r"'source' has shape \(2, 3, 5, 4\) \(b c h w\) but h=4 from 'masks'",
        ),
    ],
)
def test_multi_blend_rejects_bad_input(masks, contents, source, message) -> None:
    with pytest.raises(ValueError, match=message):
        multi_blend(masks, contents, source)
