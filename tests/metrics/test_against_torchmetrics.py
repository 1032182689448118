"""Our statistics against the packages made for them: torchmetrics' FID and KID (the
``metrics`` extra) and scikit-image's SSIM, on the same inputs.

torchmetrics' FID and KID take any feature module, so both sides see identical
features here and no Inception weights are needed.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnguide import metrics

tm_fid = pytest.importorskip("torchmetrics.image.fid")
tm_kid = pytest.importorskip("torchmetrics.image.kid")


class _Passthrough(nn.Module):
    """The "images" are the features already."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _sets(n: int = 120, m: int = 90, d: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g, dtype=torch.float64)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    fake = torch.randn(m, d, generator=g, dtype=torch.float64) @ mix + 0.3
    return real, fake


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_equals_torchmetrics_fid(seed: int) -> None:
    real, fake = _sets(seed=seed)
    fid = tm_fid.FrechetInceptionDistance(feature=_Passthrough(real.shape[1]))
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours = metrics.frechet_distance(real, fake)
    torch.testing.assert_close(ours, fid.compute().double(), rtol=1e-6, atol=1e-8)


def test_kernel_distance_equals_torchmetrics_kid_on_whole_sets() -> None:
    # With one subset as large as each set, the subset is the set in some order and
    # the unbiased MMD^2 does not depend on the order: both sides are deterministic.
    real, fake = _sets(n=80, m=80)
    kid = tm_kid.KernelInceptionDistance(
        feature=_Passthrough(real.shape[1]), subsets=1, subset_size=80
    )
    kid.update(real, real=True)
    kid.update(fake, real=False)
    theirs, _ = kid.compute()
    ours = metrics.kernel_inception_distance(real, fake, subset_size=80, num_subsets=1)
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("data_range", [2.0, 255.0])
def test_ssim_equals_scikit_image_ssim(data_range: float) -> None:
    skimage_metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(3)
    a = torch.rand(4, 3, 32, 32, generator=g, dtype=torch.float64) * data_range
    noise = torch.randn(a.shape, generator=g, dtype=torch.float64) * data_range / 10
    b = (a + noise).clamp(0, data_range)
    theirs = [
        skimage_metrics.structural_similarity(
            x.numpy(),
            y.numpy(),
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=0,
        )
        for x, y in zip(a, b, strict=True)
    ]
    ours = metrics.ssim(a, b, data_range=data_range, reduction="none")
    torch.testing.assert_close(ours, torch.tensor(theirs, dtype=torch.float64), rtol=1e-9, atol=0)
