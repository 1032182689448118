"""Distribution distances on features you supply: Fréchet (FID) and kernel (KID)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnguide._validation import (
    Reduction,
    check_int,
    check_real,
    check_reduction,
    check_shape,
)
from attnguide.metrics._common import (
    _reduce,
)

__all__ = ["frechet_distance", "kernel_inception_distance"]


def _features(
    fn: str, name: str, x: object, extractor: nn.Module | None, batch_size: int
) -> Tensor:
    """Features (n, d) in float64: ``x`` itself, or ``extractor`` applied in batches."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): '{name}' must be a torch.Tensor, got {type(x).__name__}")
    if extractor is None:
        feats = check_shape(fn, name, x, "n d")
    else:
        if x.ndim < 1 or x.shape[0] == 0:
            raise ValueError(f"{fn}(): '{name}' must hold a batch of inputs, got {tuple(x.shape)}")
        with torch.no_grad():
            parts = [extractor(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        feats = torch.cat([p.flatten(1) for p in parts])
        if not feats.is_floating_point():
            raise TypeError(
                f"{fn}(): 'feature_extractor' must return floating-point features, "
                f"got {feats.dtype}"
            )
    if not bool(torch.isfinite(feats).all()):
        raise ValueError(f"{fn}(): features of '{name}' contain NaN or inf")
    return feats.double()


def _check_extraction(fn: str, extractor: object, batch_size: object) -> None:
    if extractor is not None and not isinstance(extractor, nn.Module):
        raise TypeError(
            f"{fn}(): 'feature_extractor' must be an nn.Module or None, "
            f"got {type(extractor).__name__}"
        )
    check_int(fn, "batch_size", batch_size, minimum=1)


def _sqrt_psd(s: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix (eigh, float64)."""
    vals, vecs = torch.linalg.eigh(s)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def _frechet_from_statistics(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor) -> Tensor:
    """``|mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr((s1 s2)^(1/2))`` in float64."""
    # The eigenvalues of s1 s2 are those of the symmetric PSD r s2 r with r = s1^(1/2),
    # so the trace of the square root needs only symmetric eigendecompositions.
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    m = (m + m.T) / 2
    tr_sqrt = torch.linalg.eigvalsh(m).clamp(min=0).sqrt().sum()
    return (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_sqrt


def frechet_distance(
    real: Tensor,
    fake: Tensor,
    *,
    feature_extractor: nn.Module | None = None,
    batch_size: int = 64,
) -> Tensor:
    """Fréchet distance between Gaussians fitted to two feature sets (FID's statistic).

    ``|mu_r - mu_f|^2 + tr(S_r + S_f - 2 (S_r S_f)^(1/2))`` with means and unbiased
    covariances of the features, computed in float64 with symmetric
    eigendecompositions (no scipy). This is a statistic of two sets, so there is no
    per-sample value and no ``reduction``.

    With ``feature_extractor=None`` the inputs are features already. Otherwise they
    are inputs to the extractor, applied under ``torch.no_grad()`` in batches of
    ``batch_size``; its outputs are flattened to ``(n, d)``. The extractor's mode and
    device are left to you: call ``.eval()`` and move inputs to its device first.

    The library downloads no weights. For FID comparable with published numbers use
    the Inception network and weights of pytorch-fid (``pt_inception-2015-12-05``)
    that you already have, with its preprocessing; any other network (torchvision's
    ``inception_v3`` with ``fc = nn.Identity()``, a domain-specific encoder) gives a
    self-consistent distance for comparing models among themselves::

        net = torchvision.models.inception_v3(
            weights=None, aux_logits=True, init_weights=False
        )
        net.load_state_dict(torch.load("inception_v3.pth"))  # a file you have
        net.fc = torch.nn.Identity()  # 2048-d pool features
        extractor = torch.nn.Sequential(Resize299AndNormalise(), net).eval()
        fid = frechet_distance(real, fake, feature_extractor=extractor)

    Args:
        real: Features ``(n, d)`` or extractor inputs ``(n, ...)``.
        fake: The same for the other set (``m`` items, ``m`` may differ from ``n``).
        feature_extractor: Maps a batch of inputs to features, or None.
        batch_size: Inputs per extractor call.

    Returns:
        A float64 scalar tensor (>= 0 up to rounding).

    Shape:
        - real: ``(n, d)`` features, or ``(n, ...)`` inputs; ``n >= 2``
        - fake: ``(m, d)`` features, or ``(m, ...)`` inputs; ``m >= 2``
        - output: ``()``

    Raises:
        TypeError: Inputs are not tensors, or the extractor is not an ``nn.Module``.
        ValueError: Fewer than 2 items, feature sizes differ, or features are not finite.

    Example:
        >>> real, fake = torch.randn(500, 8), torch.randn(500, 8) + 1.0
        >>> fid = frechet_distance(real, fake)  # close to |mu difference|^2 = 8
    """
    fn = "frechet_distance"
    _check_extraction(fn, feature_extractor, batch_size)
    fr = _features(fn, "real", real, feature_extractor, batch_size)
    ff = _features(fn, "fake", fake, feature_extractor, batch_size)
    _check_sets(fn, fr, ff, 2)
    mu_r, mu_f = fr.mean(dim=0), ff.mean(dim=0)
    s_r, s_f = torch.cov(fr.T).view(fr.shape[1], -1), torch.cov(ff.T).view(ff.shape[1], -1)
    return _frechet_from_statistics(mu_r, s_r, mu_f, s_f)


def _check_sets(fn: str, fr: Tensor, ff: Tensor, minimum: int) -> None:
    for name, f in (("real", fr), ("fake", ff)):
        if f.shape[0] < minimum:
            raise ValueError(f"{fn}(): '{name}' needs at least {minimum} items, got {f.shape[0]}")
    if fr.shape[1] != ff.shape[1]:
        raise ValueError(
            f"{fn}(): 'real' and 'fake' features differ in size: {fr.shape[1]} vs {ff.shape[1]}"
        )


def _mmd2_unbiased(x: Tensor, y: Tensor, degree: int, gamma: float, coef: float) -> Tensor:
    m = x.shape[0]
    k_xx = (x @ x.T * gamma + coef) ** degree
    k_yy = (y @ y.T * gamma + coef) ** degree
    k_xy = (x @ y.T * gamma + coef) ** degree
    off = m * (m - 1)
    return (
        (k_xx.sum() - k_xx.diagonal().sum()) / off
        + (k_yy.sum() - k_yy.diagonal().sum()) / off
        - 2 * k_xy.mean()
    )


def kernel_inception_distance(
    real: Tensor,
    fake: Tensor,
    *,
    feature_extractor: nn.Module | None = None,
    subset_size: int | None = None,
    num_subsets: int = 100,
    degree: int = 3,
    gamma: float | None = None,
    coef: float = 1.0,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Kernel distance (KID's statistic): unbiased MMD^2 with a polynomial kernel.

    ``k(x, y) = (gamma x.y + coef)^degree`` (defaults: ``gamma = 1/d``, ``coef = 1``,
    ``degree = 3``, as in Binkowski et al. 2018). The unbiased MMD^2 estimate is
    computed on ``num_subsets`` random subsets of ``subset_size`` items drawn without
    replacement from each set; KID is their mean. Unlike FID it is unbiased, so it can
    be slightly negative for equal distributions. Features and extractors are handled
    as in :func:`frechet_distance`.

    Args:
        real: Features ``(n, d)`` or extractor inputs ``(n, ...)``.
        fake: The same for the other set.
        feature_extractor: Maps a batch of inputs to features, or None.
        subset_size: Items per subset, at most ``min(n, m)``; None uses
            ``min(1000, n, m)``.
        num_subsets: Number of subsets.
        degree: Polynomial degree.
        gamma: Kernel scale; None uses ``1 / d``.
        coef: Kernel offset.
        batch_size: Inputs per extractor call.
        generator: Random generator for the subsets (None: torch's global one).
        reduction: ``"mean"`` (KID), ``"sum"``, or ``"none"``: the per-subset estimates,
            e.g. for their standard deviation.

    Returns:
        float64: a scalar, or ``(num_subsets,)`` for ``reduction="none"``.

    Shape:
        - real: ``(n, d)`` or ``(n, ...)``; fake: ``(m, d)`` or ``(m, ...)``
        - output: ``(num_subsets,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: Inputs are not tensors, or the extractor is not an ``nn.Module``.
        ValueError: Fewer than 2 items, feature sizes differ, a bad ``subset_size``,
            ``num_subsets`` or ``degree``, or ``reduction`` is unknown.

    Example:
        >>> real, fake = torch.randn(200, 8), torch.randn(200, 8)
        >>> kid = kernel_inception_distance(real, fake, subset_size=100)  # about 0
    """
    fn = "kernel_inception_distance"
    _check_extraction(fn, feature_extractor, batch_size)
    check_reduction(fn, reduction)
    check_int(fn, "num_subsets", num_subsets, minimum=1)
    check_int(fn, "degree", degree, minimum=1)
    if gamma is not None:
        check_real(fn, "gamma", gamma, positive=True)
    check_real(fn, "coef", coef)
    fr = _features(fn, "real", real, feature_extractor, batch_size)
    ff = _features(fn, "fake", fake, feature_extractor, batch_size)
    _check_sets(fn, fr, ff, 2)
    n, m = fr.shape[0], ff.shape[0]
    if subset_size is None:
        subset_size = min(1000, n, m)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{fn}(): 'generator' must be a torch.Generator or None, got {type(generator).__name__}"
        )
    check_int(fn, "subset_size", subset_size)
    if not 2 <= subset_size <= min(n, m):
        raise ValueError(
            f"{fn}(): 'subset_size' must be in [2, min(n, m) = {min(n, m)}], got {subset_size}"
        )
    g = 1.0 / fr.shape[1] if gamma is None else float(gamma)
    values = []
    for _ in range(num_subsets):
        i = torch.randperm(n, generator=generator)[:subset_size].to(fr.device)
        j = torch.randperm(m, generator=generator)[:subset_size].to(ff.device)
        values.append(_mmd2_unbiased(fr[i], ff[j], degree, g, float(coef)))
    return _reduce(fn, torch.stack(values), reduction)
