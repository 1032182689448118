"""Image fidelity: MSE, PSNR and SSIM against ground truth, and background PSNR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from attnguide._validation import (
    Reduction,
    check_int,
    check_real,
)
from attnguide.metrics._common import (
    _check_range,
    _image_mse,
    _pair,
    _psnr_from_mse,
    _reduce,
    _region,
    _region_mse,
    _work,
)

__all__ = ["background_psnr", "mse", "psnr", "ssim"]


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
