from __future__ import annotations

import doctest
import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import attnguide.metrics
from attnguide.metrics import _frechet_from_statistics as frechet_from_statistics
from attnguide.metrics import (
    background_psnr,
    frechet_distance,
    kernel_inception_distance,
    mask_auroc,
    mask_iou,
    mse,
    psnr,
    ssim,
)

REDUCTIONS = ("mean", "sum", "none")


def _reduced(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(attnguide.metrics, extraglobs={"torch": torch})
    assert result.attempted >= 10 and result.failed == 0


# ------------------------------------------------------------------------ mse / psnr


def _golden_pair() -> tuple[torch.Tensor, torch.Tensor]:
    # Sample 0 differs by 0.5 in every value, sample 1 by 0 and 1 in halves.
    a = torch.zeros(2, 2, 2, 2)
    b = torch.zeros(2, 2, 2, 2)
    b[0] = 0.5
    b[1, :, 0] = 1.0
    return a, b


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_golden(reduction: str) -> None:
    a, b = _golden_pair()
    per_sample = torch.tensor([0.25, 0.5])
    torch.testing.assert_close(mse(a, b, reduction=reduction), _reduced(per_sample, reduction))
    # On the 0-255 scale: [-1, 1] units times 127.5^2.
    torch.testing.assert_close(
        mse(a, b, data_range=2.0, reduction=reduction),
        _reduced(per_sample * 127.5**2, reduction),
    )


def test_mse_same_number_for_both_value_ranges() -> None:
    a, b = torch.rand(3, 3, 8, 8) * 2 - 1, torch.rand(3, 3, 8, 8) * 2 - 1
    a255, b255 = (a + 1) * 127.5, (b + 1) * 127.5
    expected = mse(a255, b255, reduction="none")  # native units of [0, 255] images
    torch.testing.assert_close(mse(a, b, data_range=2.0, reduction="none"), expected)
    torch.testing.assert_close(mse(a255, b255, data_range=255, reduction="none"), expected)
    torch.testing.assert_close(
        mse(a / 2 + 0.5, b / 2 + 0.5, data_range=1.0, reduction="none"), expected
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_psnr_golden(reduction: str) -> None:
    a, b = _golden_pair()
    # 10 log10(4 / 0.25) and 10 log10(4 / 0.5)
    per_sample = torch.tensor([10 * math.log10(16.0), 10 * math.log10(8.0)])
    torch.testing.assert_close(
        psnr(a, b, data_range=2.0, reduction=reduction), _reduced(per_sample, reduction)
    )


def test_psnr_is_scale_free_and_infinite_for_equal_images() -> None:
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(psnr(a, b, data_range=1.0), psnr(a * 255, b * 255, data_range=255.0))
    torch.testing.assert_close(
        psnr(a, b, data_range=1.0), psnr(a * 2 - 1, b * 2 - 1, data_range=2.0)
    )
    same = psnr(a, a, data_range=1.0, reduction="none")
    assert torch.isinf(same).all() and (same > 0).all()
    # The paper's Table I pairs: MSE 2508.6 on 0-255 corresponds to 14.14 dB.
    x = torch.zeros(1, 1, 1, 1)
    y = torch.full((1, 1, 1, 1), math.sqrt(2508.6))
    torch.testing.assert_close(
        psnr(x, y, data_range=255.0), torch.tensor(14.1363), atol=1e-3, rtol=0
    )


def test_mse_psnr_gradcheck() -> None:
    a = torch.rand(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.rand(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, y: mse(x, y, data_range=2.0, reduction="none"), (a, b)
    )
    assert torch.autograd.gradcheck(lambda x, y: psnr(x, y, data_range=2.0), (a, b))


@given(
    seed=st.integers(0, 2**16),
    top=st.integers(0, 4),
    left=st.integers(0, 5),
    h=st.integers(1, 5),
    w=st.integers(1, 4),
)
def test_mse_psnr_of_a_region_equal_the_metric_of_the_region_cut_out(
    seed: int, top: int, left: int, h: int, w: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.rand(2, 3, 9, 9, generator=g), torch.rand(2, 3, 9, 9, generator=g)
    region = torch.zeros(2, 1, 9, 9, dtype=torch.bool)
    region[..., top : top + h, left : left + w] = True
    cut = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
    for m in (region, region.float(), region.to(torch.uint8) * 255):
        torch.testing.assert_close(
            mse(a, b, data_range=1.0, region=m, reduction="none"),
            mse(a[cut], b[cut], data_range=1.0, reduction="none"),
        )
        torch.testing.assert_close(
            psnr(a, b, data_range=1.0, region=m, reduction="none"),
            psnr(a[cut], b[cut], data_range=1.0, reduction="none"),
        )


def test_region_metrics_whole_image_background_and_errors() -> None:
    a = torch.rand(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    b = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    everywhere = torch.ones(2, 1, 6, 6, dtype=torch.bool)
    torch.testing.assert_close(
        psnr(a, b, data_range=1.0, region=everywhere), psnr(a, b, data_range=1.0)
    )
    # The background PSNR is the PSNR of the complement of the (dilated) change region.
    change = torch.zeros(2, 1, 6, 6, dtype=torch.bool)
    change[0, :, 1, 1] = change[1, :, 4, 2:4] = True
    torch.testing.assert_close(
        background_psnr(a, b, change, data_range=1.0, dilate=0, reduction="none"),
        psnr(a, b, data_range=1.0, region=~change, reduction="none"),
    )
    assert torch.autograd.gradcheck(lambda x: psnr(x, b, data_range=1.0, region=change), (a,))
    with pytest.raises(ValueError, match=r"psnr\(\): samples \[1\] have no pixel inside 'region'"):
        psnr(a, b, data_range=1.0, region=change & torch.tensor([True, False]).view(2, 1, 1, 1))
    with pytest.raises(
        ValueError, match=r"mse\(\): 'region' must have shape \(b 1 h w\), got \(2, 3, 6, 6\)"
    ):
        mse(a, b, region=torch.ones(2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"mse\(\): 'region' has shape \(1, 1, 6, 6\)"):
        mse(a, b, region=torch.ones(1, 1, 6, 6))
    with pytest.raises(TypeError, match=r"psnr\(\): 'region' must be bool, integer or floating"):
        psnr(a, b, data_range=1.0, region=torch.ones(2, 1, 6, 6, dtype=torch.complex64))


def test_half_precision_accumulates_in_float32() -> None:
    a = torch.zeros(1, 3, 64, 64, dtype=torch.float16)
    b = torch.full((1, 3, 64, 64), 0.001, dtype=torch.float16)
    out = mse(a, b)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor(0.001, dtype=torch.float16).float() ** 2)


def test_image_metrics_reject_bad_input() -> None:
    a = torch.rand(2, 3, 16, 16)
    with pytest.raises(
        ValueError, match=r"mse\(\): 'b' has shape \(2, 3, 16, 15\) \(b c h w\) but w=16"
    ):
        mse(a, torch.rand(2, 3, 16, 15))
    with pytest.raises(
        ValueError, match=r"psnr\(\): 'a' must have 4 dimensions \(b c h w\), got 3"
    ):
        psnr(a[0], a[0], data_range=1.0)
    with pytest.raises(
        TypeError, match=r"psnr\(\) missing 1 required keyword-only argument: 'data_range'"
    ):
        psnr(a, a)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"psnr\(\): 'data_range' must be > 0, got -1"):
        psnr(a, a, data_range=-1)
    with pytest.raises(TypeError, match=r"mse\(\): 'data_range' must be a number \(2.0 for"):
        mse(a, a, data_range="255")  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"mse\(\): 'b' has dtype torch.float64 but 'a' has torch.float32"
    ):
        mse(a, a.double())
    with pytest.raises(
        TypeError, match=r"mse\(\): 'a' must be a floating-point tensor, got torch.uint8"
    ):
        mse(a.to(torch.uint8), a.to(torch.uint8))
    with pytest.raises(
        ValueError, match=r"ssim\(\): 'reduction' must be one of \('mean', 'sum', 'none'\)"
    ):
        ssim(a, a, data_range=1.0, reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ssim\(\): images must be at least 11x11 .* got 10x16"):
        ssim(a[:, :, :10], a[:, :, :10], data_range=1.0)
    with pytest.raises(ValueError, match=r"'kernel_size' must be a positive odd int, got 4"):
        ssim(a, a, data_range=1.0, kernel_size=4)
    with pytest.raises(ValueError, match=r"'sigma' must be > 0, got 0"):
        ssim(a, a, data_range=1.0, sigma=0)


# ------------------------------------------------------------------------------ ssim


def _ssim_reference(a: torch.Tensor, b: torch.Tensor, data_range: float) -> list[float]:
    """Direct transcription of Wang et al. (2004), loops over every window position."""
    g = [math.exp(-((i - 5) ** 2) / (2 * 1.5**2)) for i in range(11)]
    total = sum(g)
    w = [[gi * gj / total**2 for gj in g] for gi in g]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    out = []
    bsz, ch, h, wd = a.shape
    for n in range(bsz):
        values = []
        for c in range(ch):
            x, y = a[n, c].tolist(), b[n, c].tolist()
            for i0, j0 in itertools.product(range(h - 10), range(wd - 10)):
                mx = my = sxx = syy = sxy = 0.0
                for i, j in itertools.product(range(11), range(11)):
                    xv, yv, wv = x[i0 + i][j0 + j], y[i0 + i][j0 + j], w[i][j]
                    mx += wv * xv
                    my += wv * yv
                for i, j in itertools.product(range(11), range(11)):
                    dx, dy, wv = x[i0 + i][j0 + j] - mx, y[i0 + i][j0 + j] - my, w[i][j]
                    sxx += wv * dx * dx
                    syy += wv * dy * dy
                    sxy += wv * dx * dy
                num = (2 * mx * my + c1) * (2 * sxy + c2)
                values.append(num / ((mx * mx + my * my + c1) * (sxx + syy + c2)))
        out.append(sum(values) / len(values))
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ssim_matches_direct_computation(reduction: str) -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 2, 13, 12, generator=g, dtype=torch.float64) * 255
    b = (a + 40 * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 255)
    expected = torch.tensor(_ssim_reference(a, b, 255.0), dtype=torch.float64)
    torch.testing.assert_close(
        ssim(a, b, data_range=255.0, reduction=reduction), _reduced(expected, reduction)
    )
    # float32 agrees with the float64 reference closely.
    torch.testing.assert_close(
        ssim(a.float(), b.float(), data_range=255.0, reduction="none"),
        expected.float(),
        atol=1e-5,
        rtol=0,
    )


def test_ssim_closed_forms() -> None:
    x = torch.rand(3, 3, 16, 16)
    torch.testing.assert_close(ssim(x, x, data_range=1.0, reduction="none"), torch.ones(3))
    # Constant images: variances vanish and only the luminance term remains.
    a, b = torch.full((1, 1, 11, 11), 0.2), torch.full((1, 1, 11, 11), 0.6)
    expected = (2 * 0.2 * 0.6 + 1e-4) / (0.2**2 + 0.6**2 + 1e-4)
    torch.testing.assert_close(ssim(a, b, data_range=1.0), torch.tensor(expected))
    # Scale-free when data_range follows the values.
    y = torch.rand(3, 3, 16, 16)
    torch.testing.assert_close(ssim(x, y, data_range=1.0), ssim(x * 255, y * 255, data_range=255.0))


@given(seed=st.integers(0, 2**16), h=st.integers(11, 14), w=st.integers(11, 14))
def test_ssim_symmetric_and_bounded(seed: int, h: int, w: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.rand(2, 2, h, w, generator=g), torch.rand(2, 2, h, w, generator=g)
    s = ssim(a, b, data_range=1.0, reduction="none")
    torch.testing.assert_close(s, ssim(b, a, data_range=1.0, reduction="none"))
    assert bool((s <= 1 + 1e-6).all()) and bool((s >= -1 - 1e-6).all())


def test_ssim_gradcheck() -> None:
    a = torch.rand(1, 1, 11, 12, dtype=torch.float64, requires_grad=True)
    b = torch.rand(1, 1, 11, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: ssim(x, y, data_range=1.0), (a, b))


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


# -------------------------------------------------------------------- background psnr


def test_background_psnr_golden_and_dilation() -> None:
    source = torch.zeros(2, 3, 8, 8)
    change = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    change[:, :, 3:5, 3:5] = True
    translated = source.clone()
    translated[:, :, 3:5, 3:5] = 1.0  # inside the change region: ignored
    translated[0, :, 2, 2] = 0.5  # one pixel from the region: inside the dilated region
    translated[1, 0, 0, 0] = 0.4  # far outside: counts
    out = background_psnr(translated, source, change, data_range=2.0, dilate=1, reduction="none")
    assert out[0].item() == math.inf
    kept = 64 - 16  # the 2x2 region dilated by 1 is 4x4
    expected = 10 * math.log10(4 / (0.4**2 / (3 * kept)))
    assert out[1].item() == pytest.approx(expected, rel=1e-6)
    # Without dilation the pixel next to the region counts too.
    undilated = background_psnr(
        translated, source, change, data_range=2.0, dilate=0, reduction="none"
    )
    expected0 = 10 * math.log10(4 / (3 * 0.5**2 / (3 * (64 - 4))))
    assert undilated[0].item() == pytest.approx(expected0, rel=1e-6)
    # Float and 8-bit masks mean the same; reductions reduce the per-sample values.
    torch.testing.assert_close(
        background_psnr(
            translated, source, change.float(), data_range=2.0, dilate=0, reduction="none"
        ),
        undilated,
    )
    torch.testing.assert_close(
        background_psnr(
            translated,
            source,
            change.to(torch.uint8) * 255,
            data_range=2.0,
            dilate=0,
            reduction="sum",
        ),
        undilated.sum(),
    )


def test_background_psnr_equals_psnr_without_change_region() -> None:
    a, b = torch.rand(3, 3, 9, 9), torch.rand(3, 3, 9, 9)
    empty = torch.zeros(3, 1, 9, 9, dtype=torch.bool)
    torch.testing.assert_close(
        background_psnr(a, b, empty, data_range=1.0, dilate=3, reduction="none"),
        psnr(a, b, data_range=1.0, reduction="none"),
    )


def test_background_psnr_gradcheck_and_errors() -> None:
    a = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    b = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    change = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    change[..., 2, 2] = True
    assert torch.autograd.gradcheck(lambda x: background_psnr(x, b, change, data_range=1.0), (a,))
    full = torch.ones(1, 1, 6, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"samples \[0\] have no pixel outside the change region"):
        background_psnr(a, b, full, data_range=1.0)
    with pytest.raises(
        ValueError, match=r"'change_mask' must have shape \(b 1 h w\), got \(1, 2, 6, 6\)"
    ):
        background_psnr(a, b, torch.zeros(1, 2, 6, 6), data_range=1.0)
    with pytest.raises(ValueError, match=r"'change_mask' has shape \(1, 1, 5, 6\)"):
        background_psnr(a, b, torch.zeros(1, 1, 5, 6), data_range=1.0)
    with pytest.raises(ValueError, match=r"'dilate' must be >= 0, got -1"):
        background_psnr(a, b, change, data_range=1.0, dilate=-1)


# ------------------------------------------------------------------------------- FID


def test_frechet_exact_small_case() -> None:
    # Corners of a square: mean 0, unbiased covariance diag(4/3, 4/3). The fake set is
    # the same scaled by 2 and shifted by (1, 0): mean (1, 0), covariance diag(16/3, 16/3).
    real = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    fake = real * 2 + torch.tensor([1.0, 0.0])
    expected = 1 + 2 * (4 / 3 + 16 / 3 - 2 * math.sqrt(4 / 3 * 16 / 3))
    out = frechet_distance(real, fake)
    assert out.dtype == torch.float64 and out.shape == ()
    assert out.item() == pytest.approx(expected, abs=1e-10)
    assert frechet_distance(real, real).item() == pytest.approx(0.0, abs=1e-10)


def test_frechet_matches_closed_form_for_gaussians() -> None:
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.tensor([0.0, 1.0, -2.0, 0.5]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    s1, s2 = torch.tensor([1.0, 0.5, 2.0, 1.0]), torch.tensor([0.25, 1.5, 2.0, 4.0])
    n = 40_000
    real = m1 + s1.sqrt() * torch.randn(n, 4, generator=g, dtype=torch.float64)
    fake = m2 + s2.sqrt() * torch.randn(n, 4, generator=g, dtype=torch.float64)
    closed = ((m1 - m2) ** 2).sum() + (s1 + s2 - 2 * (s1 * s2).sqrt()).sum()  # 5.25 + 1.31...
    assert frechet_distance(real, fake).item() == pytest.approx(closed.item(), rel=0.02)


def test_frechet_non_commuting_covariances() -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.randn(5, 5, generator=g, dtype=torch.float64)
    b = torch.randn(5, 5, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(5), b @ b.T
    mu1, mu2 = torch.randn(5, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    # An independent route: tr sqrt(s1 s2) from the (real, positive) eigenvalues of s1 s2.
    tr_sqrt = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
    expected = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_sqrt
    torch.testing.assert_close(frechet_from_statistics(mu1, s1, mu2, s2), expected)
    # Singular covariances (rank 2 in 5-D) are fine too.
    c = torch.randn(5, 2, generator=g, dtype=torch.float64)
    s3 = c @ c.T
    tr_sqrt = torch.linalg.eigvals(s3 @ s2).real.clamp(min=0).sqrt().sum()
    expected = s3.trace() + s2.trace() - 2 * tr_sqrt
    torch.testing.assert_close(
        frechet_from_statistics(mu2, s3, mu2, s2), expected, atol=1e-6, rtol=1e-6
    )


class _TinyExtractor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)  # (n, 4, 1, 1): flattened to (n, 4)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.pool(torch.tanh(self.conv(x)))


def test_frechet_and_kid_with_a_feature_extractor() -> None:
    net = _TinyExtractor().eval()
    real, fake = torch.rand(20, 3, 8, 8), torch.rand(15, 3, 8, 8) * 0.5
    with torch.no_grad():
        fr, ff = net(real).flatten(1), net(fake).flatten(1)
    net.calls = 0
    out = frechet_distance(real, fake, feature_extractor=net, batch_size=6)
    assert net.calls == 4 + 3  # batches of 6
    torch.testing.assert_close(out, frechet_distance(fr, ff))
    torch.testing.assert_close(
        out, frechet_distance(real, fake, feature_extractor=net, batch_size=64)
    )
    assert not net.training  # mode left alone
    kid = kernel_inception_distance(
        real,
        fake,
        feature_extractor=net,
        subset_size=15,
        num_subsets=3,
        generator=torch.Generator().manual_seed(0),
    )
    kid_features = kernel_inception_distance(
        fr, ff, subset_size=15, num_subsets=3, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(kid, kid_features)


def test_distances_reject_bad_input() -> None:
    x = torch.randn(10, 4)
    with pytest.raises(
        ValueError, match=r"frechet_distance\(\): 'fake' needs at least 2 items, got 1"
    ):
        frechet_distance(x, x[:1])
    with pytest.raises(ValueError, match=r"features differ in size: 4 vs 3"):
        frechet_distance(x, x[:, :3])
    with pytest.raises(ValueError, match=r"'real' must have 2 dimensions \(n d\), got 4"):
        frechet_distance(torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8))
    with pytest.raises(
        TypeError, match=r"'feature_extractor' must be an nn.Module or None, got function"
    ):
        frechet_distance(x, x, feature_extractor=lambda t: t)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"features of 'real' contain NaN or inf"):
        frechet_distance(torch.full((3, 2), float("nan")), x[:, :2])
    with pytest.raises(
        ValueError, match=r"'subset_size' must be in \[2, min\(n, m\) = 10\], got 11"
    ):
        kernel_inception_distance(x, x, subset_size=11)
    with pytest.raises(ValueError, match=r"'num_subsets' must be >= 1, got 0"):
        kernel_inception_distance(x, x, num_subsets=0)
    with pytest.raises(ValueError, match=r"'batch_size' must be >= 1, got 0"):
        kernel_inception_distance(x, x, feature_extractor=nn.Flatten(), batch_size=0)


# ------------------------------------------------------------------------------- KID


def _mmd_reference(x: list[list[float]], y: list[list[float]]) -> float:
    d = len(x[0])

    def k(u: list[float], v: list[float]) -> float:
        return (sum(a * b for a, b in zip(u, v, strict=True)) / d + 1) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(u, v) for u in x for v in y) / (m * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_kid_golden_on_full_subsets(reduction: str) -> None:
    # With subset_size = n every subset is the whole set: the estimate is exact.
    real = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    fake = torch.tensor([[1.0, 1.0], [0.0, -1.0], [3.0, 1.0]])
    # k = (x.y / 2 + 1)^3, worked by hand: xx off-diagonal pairs (1, 8, 8) -> 17 * 2 / 6,
    # yy pairs (0.125, 27, 0.125) -> 27.25 * 2 / 6, xy: the 9 cross pairs sum to 178.875.
    expected_value = 34 / 6 + 54.5 / 6 - 2 * 178.875 / 9
    assert _mmd_reference(real.tolist(), fake.tolist()) == pytest.approx(expected_value)
    per_subset = torch.full((4,), expected_value, dtype=torch.float64)
    out = kernel_inception_distance(real, fake, subset_size=3, num_subsets=4, reduction=reduction)
    torch.testing.assert_close(out, _reduced(per_subset, reduction))


def test_kid_subsets_and_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 6, generator=g, dtype=torch.float64)
    same = torch.randn(300, 6, generator=g, dtype=torch.float64)
    shifted = torch.randn(300, 6, generator=g, dtype=torch.float64) + 1.0
    gen = torch.Generator().manual_seed(1)
    per_subset = kernel_inception_distance(
        real, shifted, subset_size=50, num_subsets=5, generator=gen, reduction="none"
    )
    assert per_subset.shape == (5,) and per_subset.dtype == torch.float64
    # Each subset value is the exact estimate on the drawn subset, via the same generator.
    gen = torch.Generator().manual_seed(1)
    i = torch.randperm(300, generator=gen)[:50]
    j = torch.randperm(300, generator=gen)[:50]
    assert per_subset[0].item() == pytest.approx(
        _mmd_reference(real[i].tolist(), shifted[j].tolist()), rel=1e-9
    )
    kid_same = kernel_inception_distance(real, same, subset_size=100, num_subsets=20, generator=gen)
    kid_shift = kernel_inception_distance(
        real, shifted, subset_size=100, num_subsets=20, generator=gen
    )
    assert abs(kid_same.item()) < 0.05 < kid_shift.item()


# One rule for non-finite masks: nothing turns a NaN or an infinity into a finite
# result. Functions that threshold or rank a mask refuse it; arithmetic propagates it.


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_functions_that_threshold_or_rank_a_mask_refuse_non_finite_values(bad: float) -> None:
    mask = torch.tensor([[[[0.9, bad], [0.2, 0.1]]]])
    target = torch.tensor([[[[True, True], [False, False]]]])
    with pytest.raises(ValueError, match=r"mask_iou\(\): 'mask' must hold finite values, got 1"):
        attnguide.metrics.mask_iou(mask, target)
    with pytest.raises(ValueError, match=r"mask_auroc\(\): 'mask' must hold finite values"):
        attnguide.metrics.mask_auroc(mask, target)
    images = torch.zeros(1, 3, 2, 2)
    for call in (
        lambda: attnguide.metrics.psnr(images, images, data_range=2.0, region=mask),
        lambda: attnguide.metrics.mse(images, images, region=mask),
        lambda: attnguide.metrics.background_psnr(images, images, mask, data_range=2.0),
        lambda: attnguide.metrics.mask_iou(torch.rand(1, 1, 2, 2), mask),
    ):
        with pytest.raises(ValueError, match=r"must hold finite values"):
            call()


def test_non_finite_scalars_are_refused() -> None:
    x = torch.rand(1, 3, 16, 16)
    mask, target = torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4) > 0.5
    with pytest.raises(ValueError, match=r"'threshold' must be a finite number, got nan"):
        attnguide.metrics.mask_iou(mask, target, threshold=float("nan"))
    with pytest.raises(ValueError, match=r"'sigma' must be a finite number, got inf"):
        attnguide.metrics.ssim(x, x, data_range=1.0, sigma=float("inf"))
    with pytest.raises(ValueError, match=r"'data_range' must be a finite number, got inf"):
        attnguide.metrics.psnr(x, x, data_range=float("inf"))
    feats = torch.randn(8, 3)
    with pytest.raises(ValueError, match=r"'gamma' must be a finite number, got nan"):
        attnguide.metrics.kernel_inception_distance(feats, feats, subset_size=4, gamma=float("nan"))
    with pytest.raises(TypeError, match=r"'batch_size' must be an int, got float"):
        attnguide.metrics.frechet_distance(feats, feats, batch_size=2.0)
    with pytest.raises(TypeError, match=r"'generator' must be a torch.Generator or None, got int"):
        attnguide.metrics.kernel_inception_distance(feats, feats, subset_size=4, generator=0)


# ------------------------------------------------------------------ translation_scores


def _translation_case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    source = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    change = torch.zeros(3, 1, 16, 16, dtype=torch.bool)
    change[..., 3:9, 4:10] = True
    target = torch.where(change, torch.rand(3, 3, 16, 16, generator=g) * 2 - 1, source)
    out = target + 0.05 * torch.randn(3, 3, 16, 16, generator=g)
    mask = torch.rand(3, 1, 16, 16, generator=g)
    return out, source, target, change, mask


def test_translation_scores_are_the_metrics_of_the_8_bit_images() -> None:
    from attnguide.data import to_uint8

    out, source, target, change, mask = _translation_case()
    s = attnguide.metrics.translation_scores(
        out, source, target=target, change_mask=change, mask=mask
    )
    o8, s8, t8 = (to_uint8(x).float() for x in (out, source, target))
    expected = {
        "psnr": psnr(o8, t8, data_range=255.0, reduction="none"),
        "mse": mse(o8, t8, data_range=255.0, reduction="none"),
        "ssim": ssim(o8, t8, data_range=255.0, reduction="none"),
        "change_psnr": psnr(o8, t8, data_range=255.0, region=change, reduction="none"),
        "bg_psnr": background_psnr(o8, s8, change, data_range=255.0, reduction="none"),
        "mask_iou": mask_iou(mask, change, threshold=0.5, reduction="none"),
        "mask_auroc": mask_auroc(mask, change, reduction="none"),
        "mask_mean": mask.flatten(1).mean(1),
    }
    assert s.keys() == expected.keys()
    for name, value in expected.items():
        assert s[name].shape == (3,)
        torch.testing.assert_close(s[name], value, msg=name)


@pytest.mark.parametrize(
    ("given", "keys"),
    [
        ((), set()),
        (("target",), {"psnr", "mse", "ssim"}),
        (("change_mask",), {"bg_psnr"}),
        (("mask",), {"mask_mean"}),
        (("change_mask", "mask"), {"bg_psnr", "mask_iou", "mask_auroc", "mask_mean"}),
    ],
)
def test_translation_scores_score_what_the_ground_truth_allows(given, keys) -> None:
    out, source, target, change, mask = _translation_case()
    truth = {"target": target, "change_mask": change, "mask": mask}
    s = attnguide.metrics.translation_scores(out, source, **{k: truth[k] for k in given})
    assert set(s) == keys


def test_translation_scores_refuse_mismatched_shapes() -> None:
    out, source, target, _change, mask = _translation_case()
    with pytest.raises(ValueError, match="'target'"):
        attnguide.metrics.translation_scores(out, source, target=target[:2])
    with pytest.raises(ValueError, match="'mask'"):
        attnguide.metrics.translation_scores(out, source, mask=mask[..., :8])
    with pytest.raises(ValueError, match="'mask'"):
        attnguide.metrics.translation_scores(out, source, mask=mask.expand(-1, 2, -1, -1))
