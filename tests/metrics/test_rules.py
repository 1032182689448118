"""Rules every metric keeps: non-finite masks and scalars refused, examples that run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import attnguide.metrics


def test_docstring_examples_run() -> None:
    # The public names live in the package's private modules, one per family.
    modules = [
        importlib.import_module(f"attnguide.metrics.{info.name}")
        for info in pkgutil.iter_modules(attnguide.metrics.__path__)
    ]
    results = [doctest.testmod(m, extraglobs={"torch": torch}) for m in modules]
    assert sum(r.attempted for r in results) >= 10
    assert sum(r.failed for r in results) == 0


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
