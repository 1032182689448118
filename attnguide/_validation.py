"""Input checks shared by every public function.

Each check raises with a message that names the function, the argument, what was
received and what was expected, so a user can fix the call without reading our code.
A value of the wrong type is a ``TypeError``; a value of the right type that is out of
range (or not finite) is a ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

import torch
from torch import Tensor

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_int",
    "check_real",
    "check_reduction",
    "check_same_dtype_device",
    "check_shape",
    "check_tensor",
    "reduce",
]

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")

S = TypeVar("S", bound=str)


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"in [{minimum}, {maximum}]"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"


def check_int(
    fn: str, name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Checks that ``value`` is an int (not a bool) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fn}(): '{name}' must be an int, got {type(value).__name__}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{fn}(): '{name}' must be {_bounds(minimum, maximum)}, got {value}")
    return value


def check_real(
    fn: str,
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """Checks that ``value`` is a finite real number (int or float, not a bool).

    ``minimum`` and ``maximum`` bound it inclusively; ``positive`` asks for ``> 0``.
    NaN and infinities are always refused: no argument here means them.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{fn}(): '{name}' must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{fn}(): '{name}' must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{fn}(): '{name}' must be > 0, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{fn}(): '{name}' must be {_bounds(minimum, maximum)}, got {value!r}")
    return float(value)


def check_bool(fn: str, name: str, value: object) -> bool:
    """Checks that ``value`` is a bool (not merely truthy)."""
    if not isinstance(value, bool):
        raise TypeError(f"{fn}(): '{name}' must be a bool, got {type(value).__name__}")
    return value


def check_choice(fn: str, name: str, value: object, choices: tuple[S, ...]) -> S:
    """Checks that ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str):
        raise TypeError(
            f"{fn}(): '{name}' must be a str, one of {choices}, got {type(value).__name__}"
        )
    if value not in choices:
        raise ValueError(f"{fn}(): '{name}' must be one of {choices}, got {value!r}")
    return value  # type: ignore[return-value]


def check_reduction(fn: str, reduction: object) -> Reduction:
    """Checks a ``reduction=`` argument: ``"mean"``, ``"sum"`` or ``"none"``."""
    return check_choice(fn, "reduction", reduction, REDUCTIONS)  # type: ignore[return-value]


def reduce(per_sample: Tensor, reduction: str) -> Tensor:
    """Reduces per-sample values ``(b,)`` by a checked ``reduction``."""
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def check_tensor(fn: str, name: str, x: object, *, floating: bool = True) -> Tensor:
    """Checks that ``x`` is a tensor (a floating-point one when ``floating``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): '{name}' must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{fn}(): '{name}' must be a floating-point tensor, got {x.dtype}")
    return x


def check_finite(fn: str, name: str, x: Tensor) -> Tensor:
    """Checks that a floating-point tensor holds no NaN or infinity.

    This reads the values (a device synchronisation on CUDA), so it guards functions
    that turn values into decisions (thresholds, rankings), never a training step.
    """
    if x.is_floating_point() and x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{fn}(): '{name}' must hold finite values, got {bad} NaN or infinite "
            f"value(s) in a tensor of shape {tuple(x.shape)}"
        )
    return x


def check_shape(
    fn: str,
    name: str,
    x: object,
    pattern: str,
    sizes: dict[str, tuple[int, str]] | None = None,
    *,
    floating: bool = True,
) -> Tensor:
    """Checks ``x`` against an einops-style ``pattern`` such as ``"b 1 h w"``.

    Letters bind sizes in ``sizes`` (letter -> (size, name of the argument that set it)),
    so calling this for several arguments with one dict checks that they agree; digits
    are fixed sizes. Nothing is broadcast: a size-1 dimension matches only a 1.
    """
    x = check_tensor(fn, name, x, floating=floating)
    letters = pattern.split()
    if x.ndim != len(letters):
        raise ValueError(
            f"{fn}(): '{name}' must have {len(letters)} dimensions ({pattern}), "
            f"got {x.ndim} with shape {tuple(x.shape)}"
        )
    if sizes is None:
        sizes = {}
    for axis, (letter, size) in enumerate(zip(letters, x.shape, strict=True)):
        if letter.isdigit():
            if size != int(letter):
                raise ValueError(
                    f"{fn}(): '{name}' must have shape ({pattern}) with {letter} at "
                    f"dimension {axis}, got shape {tuple(x.shape)}"
                )
        elif letter in sizes:
            expected, source = sizes[letter]
            if size != expected:
                raise ValueError(
                    f"{fn}(): '{name}' has shape {tuple(x.shape)} ({pattern}) but "
                    f"{letter}={expected} from '{source}'; got {letter}={size}"
                )
        else:
            sizes[letter] = (size, name)
    return x


def check_same_dtype_device(fn: str, **tensors: Tensor) -> None:
    """Checks that all ``tensors`` share the first one's dtype and device."""
    items = list(tensors.items())
    ref_name, ref = items[0]
    for name, x in items[1:]:
        if x.dtype != ref.dtype:
            raise TypeError(
                f"{fn}(): '{name}' has dtype {x.dtype} but '{ref_name}' has {ref.dtype}; "
                "all inputs must share one dtype"
            )
        if x.device != ref.device:
            raise ValueError(
                f"{fn}(): '{name}' is on {x.device} but '{ref_name}' is on {ref.device}; "
                "all inputs must be on one device"
            )


def check_images_and_masks(fn: str, images: object, masks: object | None) -> None:
    """Checks ``(b c h w)`` images and, unless None, their ``(b k h w)`` masks: the same
    batch and spatial size, on the images' device."""
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "images", images, "b c h w", sizes)
    if masks is not None:
        m = check_shape(fn, "masks", masks, "b k h w", sizes)
        if m.device != images.device:  # type: ignore[union-attr]
            raise ValueError(
                f"{fn}(): 'masks' is on {m.device} but 'images' is on {images.device}"  # type: ignore[union-attr]
            )
