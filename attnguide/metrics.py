"""Evaluation metrics: image fidelity, attention-mask quality and distribution distances.

- :func:`mse`, :func:`psnr`, :func:`ssim`: translated image against ground truth (mse
  and psnr also inside a ``region``, e.g. the true change region).
- :func:`mask_iou`, :func:`mask_auroc`: a predicted attention mask against the
  ground-truth change region.
- :func:`background_psnr`: how untouched everything outside the change region stayed.
- :func:`frechet_distance`, :func:`kernel_inception_distance`: FID / KID statistics of
  features from a ``feature_extractor`` you supply (nothing is downloaded).
- :mod:`attnguide.classifier` has the judge that reads no pixel one by one: a small
  classifier trained on real images of each domain, and the share of translations it
  assigns to their target domain.
- :func:`translation_scores`: all of the above that a batch's ground truth allows, per
  image, on 8-bit translations.

Non-finite masks: a function that thresholds or ranks a mask (:func:`mask_iou`,
:func:`mask_auroc`, a float ``region`` or ``change_mask``) refuses NaN and infinities
with a ``ValueError``, since no decision about them is right; arithmetic on images
propagates them, as everywhere in attnguide: nothing turns a non-finite value into a
finite result silently.

Value ranges are explicit. Images in [-1, 1] (what the generators output) have
``data_range=2.0``; 8-bit images as floats in [0, 255] have ``data_range=255.0``.
The AGGAN paper's Table I reports MSE on the 0-255 scale: ``mse(fake, real,
data_range=2.0)`` gives that number for [-1, 1] tensors. The paper measured saved
8-bit images; to match it exactly, quantise first (``((x + 1) * 127.5).round()``
with ``data_range=255.0``).

Per-image metrics take ``reduction="mean" | "sum" | "none"``; ``"none"`` returns one
value per sample, ``"mean"`` averages those (the mean of per-image PSNRs, as papers
report it, not the PSNR of the pooled error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide._validation import (
    Reduction,
    check_finite,
    check_int,
    check_real,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    reduce,
)

__all__ = [
    "background_psnr",
    "frechet_distance",
    "kernel_inception_distance",
    "mask_auroc",
    "mask_iou",
    "mse",
    "psnr",
    "ssim",
    "translation_scores",
]


def _reduce(fn: str, values: Tensor, reduction: str) -> Tensor:
    return reduce(values, check_reduction(fn, reduction))


def _pair(
    fn: str, a: Tensor, b: Tensor, names: tuple[str, str] = ("a", "b")
) -> dict[str, tuple[int, str]]:
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, names[0], a, "b c h w", sizes)
    check_shape(fn, names[1], b, "b c h w", sizes)
    check_same_dtype_device(fn, **{names[0]: a, names[1]: b})
    return sizes


def _check_range(fn: str, data_range: object) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)):
        raise TypeError(
            f"{fn}(): 'data_range' must be a number (2.0 for [-1, 1] images, 255.0 for "
            f"[0, 255]), got {type(data_range).__name__}"
        )
    return check_real(fn, "data_range", data_range, positive=True)


def _work(x: Tensor) -> Tensor:
    """At least float32 for accumulation (half-precision sums lose too much)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _binary(fn: str, name: str, target: object, sizes: dict[str, tuple[int, str]]) -> Tensor:
    """A ground-truth mask as bool: bool as is, integers nonzero, floats above 0.5.

    A float mask must be finite: thresholding would silently call NaN "unchanged".
    """
    t = check_shape(fn, name, target, "b c h w", sizes, floating=False)
    if t.dtype == torch.bool:
        return t
    if t.is_floating_point():
        return check_finite(fn, name, t) > 0.5
    if t.is_complex():
        raise TypeError(f"{fn}(): '{name}' must be bool, integer or floating, got {t.dtype}")
    return t != 0


def _per_sample_mse(a: Tensor, b: Tensor) -> Tensor:
    return (_work(a) - _work(b)).square().flatten(1).mean(dim=1)


def _region(
    fn: str, name: str, region: object, sizes: dict[str, tuple[int, str]], like: Tensor
) -> Tensor:
    """A one-channel region of the images' batch and spatial size, as bool."""
    r = _binary(fn, name, region, {k: sizes[k] for k in "bhw"})
    if r.shape[1] != 1:
        raise ValueError(f"{fn}(): '{name}' must have shape (b 1 h w), got {tuple(r.shape)}")
    if r.device != like.device:
        raise ValueError(
            f"{fn}(): '{name}' is on {r.device} but the images are on {like.device}; "
            "all inputs must be on one device"
        )
    return r


def _region_mse(fn: str, a: Tensor, b: Tensor, inside: Tensor, empty: str) -> Tensor:
    """Per-sample mean squared error over the pixels of ``inside`` (b 1 h w, bool), all
    channels; a sample with an empty region is an error that ends with ``empty``."""
    keep = inside.flatten(1)
    kept = keep.sum(dim=1)
    none = (kept == 0).nonzero().flatten().tolist()
    if none:
        raise ValueError(f"{fn}(): samples {none} have no pixel {empty}")
    diff = (_work(a) - _work(b)).square().sum(dim=1).flatten(1)
    return (diff * keep).sum(dim=1) / (kept * a.shape[1])


def _image_mse(fn: str, a: Tensor, b: Tensor, region: object) -> Tensor:
    """Checks a pair of image batches (and ``region``) and returns their per-sample error."""
    sizes = _pair(fn, a, b)
    if region is None:
        return _per_sample_mse(a, b)
    inside = _region(fn, "region", region, sizes, a)
    return _region_mse(fn, a, b, inside, "inside 'region'; the error is undefined there")


def _psnr_from_mse(err: Tensor, data_range: float) -> Tensor:
    # A zero error gives +inf, as 10 log10(R^2 / 0) should.
    return 10.0 * torch.log10(data_range**2 / err)


def mse(
    a: Tensor,
    b: Tensor,
    *,
    data_range: float | None = None,
    region: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Mean squared error per image.

    Args:
        a: Images, e.g. translated.
        b: Images of the same shape, e.g. ground truth.
        data_range: Width of the interval the images live in (2.0 for [-1, 1], 255.0
            for [0, 255], 1.0 for [0, 1]). When given, the error is reported on the
            0-255 scale of 8-bit images, i.e. multiplied by ``(255 / data_range)**2``,
            the scale of the AGGAN paper's Table I. None reports it in the inputs'
            own units.
        region: Optional region to measure in, ``(b, 1, h, w)``: bool, integers
            (nonzero = inside) or floats (> 0.5 = inside). The error is averaged over
            the pixels inside it (all channels) and nothing else, e.g. the true change
            region, to ask whether the change itself was made. None: the whole image.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per image).

    Returns:
        The error, float32 or wider.

    Shape:
        - a, b: ``(b, c, h, w)``
        - region: ``(b, 1, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: Inputs are not floating-point tensors of one dtype, ``data_range``
            is not a number, or ``region`` has a bad dtype.
        ValueError: Shapes differ, a sample's ``region`` is empty, ``data_range <= 0``,
            or ``reduction`` is unknown.

    Example:
        >>> fake, real = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
        >>> mse(fake, real)  # in [-1, 1] units
        tensor(0.2500)
        >>> mse(fake, real, data_range=2.0)  # on the 0-255 scale: 63.75 ** 2
        tensor(4064.0625)
    """
    fn = "mse"
    err = _image_mse(fn, a, b, region)
    if data_range is not None:
        err = err * (255.0 / _check_range(fn, data_range)) ** 2
    return _reduce(fn, err, reduction)


def psnr(
    a: Tensor,
    b: Tensor,
    *,
    data_range: float,
    region: Tensor | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Peak signal-to-noise ratio per image, in dB: ``10 log10(data_range^2 / mse)``.

    PSNR does not depend on the scale as long as ``data_range`` matches the inputs:
    [-1, 1] images with ``data_range=2.0`` give the same value as their [0, 255]
    versions with ``data_range=255.0``. Identical images give ``inf``.

    Args:
        a: Images, e.g. translated.
        b: Images of the same shape, e.g. ground truth.
        data_range: Width of the value interval (2.0 for [-1, 1], 255.0 for [0, 255]).
        region: Optional region to measure in, as for :func:`mse`: the PSNR of the
            pixels inside it (all channels). None: the whole image.
        reduction: ``"mean"`` (mean of per-image PSNRs), ``"sum"`` or ``"none"``.

    Returns:
        PSNR in dB, float32 or wider.

    Shape:
        - a, b: ``(b, c, h, w)``
        - region: ``(b, 1, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: Inputs are not floating-point tensors of one dtype, ``data_range``
            is not a number, or ``region`` has a bad dtype.
        ValueError: Shapes differ, a sample's ``region`` is empty, ``data_range <= 0``,
            or ``reduction`` is unknown.

    Example:
        >>> a, b = torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.2)
        >>> psnr(a, b, data_range=2.0)  # 10 log10(4 / 0.04)
        tensor(20.)
    """
    fn = "psnr"
    err = _image_mse(fn, a, b, region)
    r = _check_range(fn, data_range)
    return _reduce(fn, _psnr_from_mse(err, r), reduction)


def _gaussian_window(size: int, sigma: float, like: Tensor) -> Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    a: Tensor,
    b: Tensor,
    *,
    data_range: float,
    kernel_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: Reduction = "mean",
) -> Tensor:
    """Structural similarity (Wang et al. 2004) per image, with a Gaussian window.

    Local means, variances and covariance are Gaussian-weighted averages over an
    ``kernel_size`` x ``kernel_size`` window (``sigma`` 1.5), population (not sample)
    statistics, constants ``C1 = (k1 R)^2`` and ``C2 = (k2 R)^2`` with
    ``R = data_range``. The SSIM map is taken only where the window fits (no padding)
    and averaged over positions and channels: scikit-image's value with
    ``gaussian_weights=True, use_sample_covariance=False`` (tested to 1e-9).
    torchmetrics' SSIM gives values a few tenths of a percent apart on the same images.

    Args:
        a: Images, e.g. translated.
        b: Images of the same shape, e.g. ground truth.
        data_range: Width of the value interval (2.0 for [-1, 1], 255.0 for [0, 255]).
        kernel_size: Odd window side.
        sigma: Standard deviation of the Gaussian window, in pixels.
        k1: Luminance constant.
        k2: Contrast constant.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per image).

    Returns:
        SSIM in [-1, 1] (1 for identical images), float32 or wider; differentiable.

    Shape:
        - a, b: ``(b, c, h, w)`` with ``h, w >= kernel_size``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: Inputs are not floating-point tensors of one dtype, or ``data_range``
            is not a number.
        ValueError: Shapes differ, images are smaller than the window, ``kernel_size``
            is not a positive odd int, ``sigma``/``k1``/``k2`` are not positive, or
            ``reduction`` is unknown.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> ssim(x, x, data_range=1.0)
        tensor(1.)
    """
    fn = "ssim"
    _pair(fn, a, b)
    r = _check_range(fn, data_range)
    check_int(fn, "kernel_size", kernel_size, minimum=1)
    if kernel_size % 2 == 0:
        raise ValueError(f"{fn}(): 'kernel_size' must be a positive odd int, got {kernel_size}")
    for name, value in (("sigma", sigma), ("k1", k1), ("k2", k2)):
        check_real(fn, name, value, positive=True)
    h, w = a.shape[-2:]
    if h < kernel_size or w < kernel_size:
        raise ValueError(
            f"{fn}(): images must be at least {kernel_size}x{kernel_size} for the "
            f"{kernel_size}x{kernel_size} window, got {h}x{w}"
        )
    x, y = _work(a), _work(b)
    c = x.shape[1]
    g = _gaussian_window(kernel_size, float(sigma), x)
    # One depthwise pass over the five statistics; the 2-D Gaussian is separable.
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    stats = F.conv2d(stats, g.view(1, 1, 1, -1).expand(5 * c, 1, 1, -1), groups=5 * c)
    stats = F.conv2d(stats, g.view(1, 1, -1, 1).expand(5 * c, 1, -1, 1), groups=5 * c)
    mu_x, mu_y, xx, yy, xy = stats.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    c1, c2 = (k1 * r) ** 2, (k2 * r) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return _reduce(fn, (num / den).flatten(1).mean(dim=1), reduction)


def mask_iou(
    mask: Tensor, target: Tensor, *, threshold: float = 0.5, reduction: Reduction = "mean"
) -> Tensor:
    """Intersection over union of a thresholded attention mask and the true change region.

    A pixel is predicted as changed where ``mask >= threshold``. When both the
    prediction and the target are empty the IoU is 1 (they agree perfectly).

    Args:
        mask: Predicted attention mask(s) in [0, 1].
        target: Ground-truth change region: bool, integers (nonzero = changed) or floats
            (> 0.5 = changed, e.g. an 8-bit mask loaded as [0, 1]).
        threshold: Where the mask counts as "changed".
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        IoU in [0, 1], float32.

    Shape:
        - mask, target: ``(b, c, h, w)`` (usually ``c = 1``), the same shape
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not floating-point, ``target`` has a bad dtype, or
            ``threshold`` is not a number.
        ValueError: Shapes differ, inputs are on different devices, the mask (or a
            float target) holds NaN or infinity, ``threshold`` is not finite, or
            ``reduction`` is unknown.

    Example:
        >>> mask = torch.tensor([[[[0.9, 0.8], [0.1, 0.6]]]])
        >>> target = torch.tensor([[[[True, True], [False, False]]]])
        >>> mask_iou(mask, target)  # intersection 2, union 3
        tensor(0.6667)
    """
    fn = "mask_iou"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "mask", mask, "b c h w", sizes)
    t = _binary(fn, "target", target, sizes)
    _same_device(fn, mask, t)
    check_real(fn, "threshold", threshold)
    # A NaN mask value is neither above nor below a threshold: refuse it, as mask_auroc
    # does, rather than count it as "unchanged".
    check_finite(fn, "mask", mask)
    pred = (mask >= threshold).flatten(1)
    t = t.flatten(1)
    inter = (pred & t).sum(dim=1).float()
    union = (pred | t).sum(dim=1).float()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return _reduce(fn, iou, reduction)


def _same_device(fn: str, mask: Tensor, target: Tensor) -> None:
    if mask.device != target.device:
        raise ValueError(
            f"{fn}(): 'target' is on {target.device} but 'mask' is on {mask.device}; "
            "all inputs must be on one device"
        )


def mask_auroc(mask: Tensor, target: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Area under the ROC curve of an attention mask as a detector of changed pixels.

    Computed per sample from ranks (the Mann-Whitney U statistic): the probability
    that a changed pixel gets a higher mask value than an unchanged one, ties counting
    one half. Threshold-free; 1 is a perfect ranking, 0.5 chance.

    Args:
        mask: Predicted attention mask(s); any finite scores.
        target: Ground-truth change region: bool, integers (nonzero = changed) or floats
            (> 0.5 = changed). Every sample needs changed and unchanged pixels.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sample).

    Returns:
        AUROC in [0, 1], float64.

    Shape:
        - mask, target: ``(b, c, h, w)``, the same shape
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not floating-point, or ``target`` has a bad dtype.
        ValueError: Shapes differ, the mask is not finite, a sample's target is all
            changed or all unchanged (AUROC undefined), or ``reduction`` is unknown.

    Example:
        >>> mask = torch.tensor([[[[0.9, 0.4], [0.4, 0.1]]]])
        >>> target = torch.tensor([[[[1, 1], [0, 0]]]])
        >>> # pairs (0.9, 0.4) (0.9, 0.1) (0.4, 0.4) (0.4, 0.1): 3.5 of 4 ranked right
        >>> mask_auroc(mask, target)
        tensor(0.8750, dtype=torch.float64)
    """
    fn = "mask_auroc"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "mask", mask, "b c h w", sizes)
    t = _binary(fn, "target", target, sizes)
    _same_device(fn, mask, t)
    check_finite(fn, "mask", mask)
    scores = mask.detach().flatten(1).double()
    pos = t.flatten(1)
    n = scores.shape[1]
    n_pos = pos.sum(dim=1).double()
    n_neg = n - n_pos
    undefined = ((n_pos == 0) | (n_neg == 0)).nonzero().flatten().tolist()
    if undefined:
        raise ValueError(
            f"{fn}(): AUROC is undefined for samples {undefined}: their 'target' marks "
            "every pixel or no pixel as changed"
        )
    ordered = scores.sort(dim=1).values
    # 1-based average rank of each score among its ties: (first + last) / 2.
    first = torch.searchsorted(ordered, scores, right=False)
    last = torch.searchsorted(ordered, scores, right=True)
    ranks = (first + last + 1).double() / 2
    u = (ranks * pos).sum(dim=1) - n_pos * (n_pos + 1) / 2
    return _reduce(fn, u / (n_pos * n_neg), reduction)


def background_psnr(
    translated: Tensor,
    source: Tensor,
    change_mask: Tensor,
    *,
    data_range: float,
    dilate: int = 2,
    reduction: Reduction = "mean",
) -> Tensor:
    """PSNR between translation and source outside the (dilated) true change region.

    Measures how untouched background and identity stayed: the change region is grown
    by ``dilate`` pixels in every direction (a square max filter), so anti-aliased
    borders of the changed parts do not count, and PSNR is computed over the remaining
    pixels (all channels). A translation that keeps them exactly gives ``inf``.

    Args:
        translated: The translated images.
        source: The images that were translated.
        change_mask: Ground-truth change region: bool, integers (nonzero = changed) or
            floats (> 0.5 = changed).
        data_range: Width of the value interval (2.0 for [-1, 1], 255.0 for [0, 255]).
        dilate: Pixels the change region grows by; 0 uses it as is.
        reduction: ``"mean"`` (mean of per-image PSNRs), ``"sum"`` or ``"none"``.

    Returns:
        PSNR in dB, float32 or wider.

    Shape:
        - translated, source: ``(b, c, h, w)``
        - change_mask: ``(b, 1, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: Images are not floating-point tensors of one dtype, or the mask has a
            bad dtype.
        ValueError: Shapes differ, ``dilate < 0``, a sample has no pixel left outside
            the dilated region, or ``reduction`` is unknown.

    Example:
        >>> source = torch.zeros(1, 3, 8, 8)
        >>> change = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
        >>> change[..., :2, :2] = True
        >>> translated = source.clone()
        >>> translated[..., :3, :3] = 1.0  # inside the region dilated by 1
        >>> background_psnr(translated, source, change, data_range=2.0, dilate=1)
        tensor(inf)
    """
    fn = "background_psnr"
    sizes = _pair(fn, translated, source, ("translated", "source"))
    region = _region(fn, "change_mask", change_mask, sizes, translated)
    r = _check_range(fn, data_range)
    check_int(fn, "dilate", dilate, minimum=0)
    grown = region.float()
    if dilate > 0:
        grown = F.max_pool2d(grown, 2 * dilate + 1, stride=1, padding=dilate)
    empty = f"outside the change region dilated by {dilate}; background PSNR is undefined"
    err = _region_mse(fn, translated, source, grown == 0, empty)
    return _reduce(fn, _psnr_from_mse(err, r), reduction)


# ------------------------------------------------------------------ distribution distances


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


# ------------------------------------------------------------------ a translation's scores


def translation_scores(
    translated: Tensor,
    source: Tensor,
    *,
    target: Tensor | None = None,
    change_mask: Tensor | None = None,
    mask: Tensor | None = None,
    dilate: int = 2,
) -> dict[str, Tensor]:
    """Every per-image score of a batch of translations that its ground truth allows.

    The images, in [-1, 1], are first rounded to 8 bits as a saved PNG would be, and
    scored on the 0-255 scale:

    - with ``target`` (the true counterparts): ``psnr``, ``mse`` (the AGGAN paper's
      Table I), ``ssim``; with ``change_mask`` too, ``change_psnr``: PSNR inside the
      true change region, whether the change itself was produced (copying the input
      scores well on whole-image PSNR when the change is small, but not there);
    - with ``change_mask``: ``bg_psnr``, :func:`background_psnr` against the source
      outside the region dilated by ``dilate``; with ``mask`` too, ``mask_iou`` (at
      0.5) and ``mask_auroc`` of the attention mask against the region;
    - with ``mask``: ``mask_mean``, the fraction of the image the mask covers.

    Args:
        translated: The translations, in [-1, 1].
        source: The images that were translated, in [-1, 1].
        target: The true counterparts, in [-1, 1], or None.
        change_mask: The true change regions (as for :func:`background_psnr`), or None.
        mask: The attention masks in [0, 1] (one channel: where the generator acts),
            or None.
        dilate: Pixels the change region grows by for ``bg_psnr``.

    Returns:
        Score name -> per-image values, ``(b,)``, float32.

    Shape:
        - translated, source, target: ``(b, c, h, w)``
        - change_mask, mask: ``(b, 1, h, w)``

    Raises:
        TypeError, ValueError: As the metric functions it calls, naming the argument.

    Example:
        >>> source = torch.zeros(2, 3, 16, 16)
        >>> change = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
        >>> change[..., 4:8, 4:8] = True
        >>> target = source.masked_fill(change, 1.0)
        >>> s = translation_scores(
        ...     target, source, target=target, change_mask=change,
        ...     mask=change.float(),
        ... )
        >>> sorted(s)
        ['bg_psnr', 'change_psnr', 'mask_auroc', 'mask_iou', 'mask_mean', 'mse',
         'psnr', 'ssim']
        >>> s["psnr"], s["mask_iou"]
        (tensor([inf, inf]), tensor([1., 1.]))
    """
    fn = "translation_scores"
    sizes: dict[str, tuple[int, str]] = {}

    def eight_bit(name: str, x: Tensor) -> Tensor:
        check_shape(fn, name, x, "b c h w", sizes)
        return ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round()

    out, src = eight_bit("translated", translated), eight_bit("source", source)
    if mask is not None:
        check_shape(fn, "mask", mask, "b 1 h w", sizes)
    s: dict[str, Tensor] = {}
    if target is not None:
        t = eight_bit("target", target)
        s["psnr"] = psnr(out, t, data_range=255.0, reduction="none")
        s["mse"] = mse(out, t, data_range=255.0, reduction="none")
        s["ssim"] = ssim(out, t, data_range=255.0, reduction="none")
        if change_mask is not None:
            s["change_psnr"] = psnr(out, t, data_range=255.0, region=change_mask, reduction="none")
    if change_mask is not None:
        s["bg_psnr"] = background_psnr(
            out, src, change_mask, dilate=dilate, data_range=255.0, reduction="none"
        )
        if mask is not None:
            s["mask_iou"] = mask_iou(mask.float(), change_mask, threshold=0.5, reduction="none")
            s["mask_auroc"] = mask_auroc(mask.float(), change_mask, reduction="none")
    if mask is not None:
        s["mask_mean"] = mask.detach().float().flatten(1).mean(1)
    return s
