"""Input checks shared by every public function.

Each check raises with a message that names the function, the argument, what was
received and what was expected, so a user can fix the call without reading our code.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_choice", "check_same_dtype_device", "check_shape", "check_tensor"]


def check_tensor(fn: str, name: str, x: object, *, floating: bool = True) -> Tensor:
    """Checks that ``x`` is a tensor (a floating-point one when ``floating``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): '{name}' must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{fn}(): '{name}' must be a floating-point tensor, got {x.dtype}")
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


def check_choice(fn: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    """Checks that ``value`` is one of the strings in ``choices``."""
    if value not in choices:
        raise ValueError(f"{fn}(): '{name}' must be one of {choices}, got {value!r}")
    return value  # type: ignore[return-value]
