"""mse, psnr, ssim and background_psnr: golden values, references, gradients, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.metrics import (
    background_psnr,
    mse,
    psnr,
    ssim,
)

REDUCTIONS = ("mean", "sum", "none")


def _reduced(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


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
