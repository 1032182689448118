"""Checks and arithmetic shared by the metrics."""

from __future__ import annotations

import torch
from torch import Tensor

from attnguide._validation import (
    check_finite,
    check_real,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    reduce,
)


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


def _same_device(fn: str, mask: Tensor, target: Tensor) -> None:
    if mask.device != target.device:
        raise ValueError(
            f"{fn}(): 'target' is on {target.device} but 'mask' is on {mask.device}; "
            "all inputs must be on one device"
        )
