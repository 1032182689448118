"""Weights from elsewhere: one module's state dict from a file, checked before it loads.

Upstream projects save a network's ``state_dict`` on its own: CycleGAN as
``latest_net_G_A.pth`` (``torch.save``), others as ``.safetensors``. :func:`load_weights`
reads either without running code (safetensors, or ``torch.load(weights_only=True)``,
which accepts tensors and plain containers only), and :func:`weight_mismatches` says,
key by key, where a state dict does not fit a module, so that a wrong architecture is
refused with a list rather than a traceback.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor

__all__ = ["load_weights", "nonfinite_keys", "weight_mismatches"]

PathLike = str | os.PathLike[str]


# How the files torch.save writes begin: a zip archive (since torch 1.6) or a pickle.
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def load_weights(
    path: PathLike, *, map_location: torch.device | str = "cpu", finite: bool = True
) -> dict[str, Tensor]:
    """Loads one module's state dict from ``path``, never executing code.

    ``.safetensors`` files are read by the safetensors package; anything else (``.pth``,
    ``.pt``, ``.ckpt``: what ``torch.save(net.state_dict(), path)`` writes) by
    ``torch.load(weights_only=True)``, whose restricted unpickler refuses every object
    that is not a tensor or a plain container.

    A file that is neither (a text file named ``.pth``) is refused by name before
    torch's unpickler sees it, and so are weights that hold NaN or infinities.

    Args:
        path: The file.
        map_location: Where to put the tensors.
        finite: Refuse floating-point tensors that hold NaN or an infinity (the message
            lists their keys); ``False`` accepts them.

    Returns:
        The state dict, names mapped to tensors.

    Raises:
        TypeError: ``path`` is not a str or path.
        FileNotFoundError: ``path`` is not a regular file.
        ValueError: The file is not a weights file, is damaged, holds something other
            than a mapping of names to tensors, would need to run code to load, or
            (with ``finite``) holds non-finite values (the message names it).

    Example:
        >>> import tempfile
        >>> net = torch.nn.Linear(2, 3)
        >>> with tempfile.TemporaryDirectory() as root:
        ...     torch.save(net.state_dict(), f"{root}/net.pth")
        ...     weights = load_weights(f"{root}/net.pth")
        >>> sorted(weights), weight_mismatches(net.state_dict(), weights)
        (['bias', 'weight'], [])
    """
    fn = "load_weights"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(): 'path' must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a regular file"
        raise FileNotFoundError(f"{fn}(): '{path}' {what}")
    device = torch.device(map_location)
    if path.suffix != ".safetensors":
        with open(path, "rb") as f:
            head = f.read(4)
        if not head.startswith(_TORCH_MAGIC):
            raise ValueError(
                f"{fn}(): '{path}' is not a weights file: it begins with {head!r}, and what "
                "torch.save writes is a zip archive (b'PK\\x03\\x04') or a pickle (b'\\x80')"
            )
    try:
        if path.suffix == ".safetensors":
            weights = load_file(path, device=str(device))
        else:
            weights = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        # The restricted unpickler names the objects it refuses as "Unsupported global".
        if "global" in str(err).lower():
            raise ValueError(
                f"{fn}(): '{path}' holds objects that would run code to load; only tensors "
                "and plain containers are read"
            ) from None
        raise ValueError(f"{fn}(): '{path}' is not a readable weights file (damaged?)") from None
    except (SafetensorError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise ValueError(f"{fn}(): '{path}' is not a readable weights file: {err}") from None
    except Exception as err:
        # A damaged pickle can make the restricted unpickler fail in any way
        # (IndexError, KeyError, ...); what matters is which file it was.
        raise ValueError(
            f"{fn}(): '{path}' is not a readable weights file (damaged?): "
            f"{type(err).__name__}: {err}"
        ) from None
    if not isinstance(weights, Mapping):
        raise ValueError(
            f"{fn}(): '{path}' holds a {type(weights).__name__}, not a state dict (a mapping "
            "of names to tensors)"
        )
    bad = [k for k, v in weights.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ValueError(
            f"{fn}(): '{path}' is not a state dict: entries {bad[:5]!r} are not tensors named "
            "by strings"
        )
    if finite:
        bad = nonfinite_keys(weights)
        if bad:
            raise ValueError(
                f"{fn}(): '{path}' holds NaN or infinite values in {len(bad)} tensor(s): "
                f"{bad[:8]}; these are not trained weights (pass finite=False to load them)"
            )
    return dict(weights)


def nonfinite_keys(weights: Mapping[str, Tensor]) -> list[str]:
    """The keys of ``weights`` whose floating-point tensors hold a NaN or an infinity.

    Args:
        weights: A state dict.

    Returns:
        Those keys, sorted; empty when every value is finite.

    Example:
        >>> w, n = torch.tensor([1.0, float("nan")]), torch.tensor([3])
        >>> nonfinite_keys({"w": w, "n": n})
        ['w']
    """
    return sorted(
        k
        for k, v in weights.items()
        if (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all())
    )


def weight_mismatches(expected: Mapping[str, Tensor], given: Mapping[str, Tensor]) -> list[str]:
    """Where the state dict ``given`` does not fit a module whose own is ``expected``.

    Args:
        expected: The module's ``state_dict()``.
        given: The weights meant for it.

    Returns:
        One line per problem: a key the weights lack, a key the module lacks, a shape
        or a dtype that differs (``load_state_dict`` would cast integers into float
        weights silently). Empty when ``module.load_state_dict(given)`` fits exactly.

    Example:
        >>> ours = {"w": torch.zeros(2, 3)}
        >>> given = {"w": torch.zeros(3, 2), "b": torch.zeros(1)}
        >>> for line in weight_mismatches(ours, given):
        ...     print(line)
        b: in the weights, not in the module
        w: shape (3, 2) in the weights, (2, 3) in the module
    """
    problems = [
        f"{k}: in the module, not in the weights" for k in sorted(set(expected) - set(given))
    ]
    problems += [
        f"{k}: in the weights, not in the module" for k in sorted(set(given) - set(expected))
    ]
    for key in sorted(set(expected) & set(given)):
        if tuple(expected[key].shape) != tuple(given[key].shape):
            problems.append(
                f"{key}: shape {tuple(given[key].shape)} in the weights, "
                f"{tuple(expected[key].shape)} in the module"
            )
        elif expected[key].dtype != given[key].dtype:
            problems.append(
                f"{key}: dtype {str(given[key].dtype).removeprefix('torch.')} in the weights, "
                f"{str(expected[key].dtype).removeprefix('torch.')} in the module"
            )
    return problems
