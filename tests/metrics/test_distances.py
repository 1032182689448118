"""frechet_distance and kernel_inception_distance: closed forms, references, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attnguide.metrics import (
    frechet_distance,
    kernel_inception_distance,
)
from attnguide.metrics._distances import _frechet_from_statistics as frechet_from_statistics

REDUCTIONS = ("mean", "sum", "none")


def _reduced(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]


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
