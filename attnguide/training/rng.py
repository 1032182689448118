"""The state of every global random generator a training run draws from."""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["capture_rng_state", "restore_rng_state"]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def capture_rng_state() -> dict[str, Any]:
    """The state of every global random generator a training run draws from.

    Returns:
        A dict with ``"python"`` (the ``random`` module), ``"torch"`` (torch's CPU
        generator), ``"cuda"`` (a list with one state per CUDA device, only when CUDA
        is available) and ``"numpy"`` (numpy's legacy global generator, only when numpy
        is installed), made of tensors and plain Python values only, so
        :func:`~attnguide.training.save_checkpoint` stores it without pickling. Pass it
        to :func:`restore_rng_state` to continue the same streams.

    Example:
        >>> state = capture_rng_state()
        >>> a = torch.rand(3)
        >>> restore_rng_state(state)
        >>> torch.equal(a, torch.rand(3))
        True
    """
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    np = _numpy()
    if np is not None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state["numpy"] = (kind, keys.tolist(), pos, has_gauss, gauss)
    return state


def _bad(fn: str, entry: str, why: str) -> ValueError:
    return ValueError(f"{fn}(): state[{entry!r}] is not a {entry} generator state: {why}")


def _python_state(fn: str, value: object) -> tuple[Any, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise _bad(fn, "python", f"expected (version, internal state, gauss), got {value!r:.80}")
    version, internal, gauss = value
    if not isinstance(internal, Sequence) or isinstance(internal, str):
        raise _bad(fn, "python", "the internal state must be a sequence of ints")
    candidate = (version, tuple(internal), gauss)
    try:
        # A scratch generator first: a bad state must leave the global one untouched.
        random.Random().setstate(candidate)
    except (TypeError, ValueError, OverflowError) as err:
        raise _bad(fn, "python", str(err)) from None
    return candidate


def _torch_state(fn: str, entry: str, value: object, device: str = "cpu") -> Tensor:
    if not isinstance(value, Tensor) or value.dtype != torch.uint8:
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise _bad(fn, entry, f"expected a uint8 tensor, got {got}")
    state = value.cpu()
    if device == "cpu":
        try:
            torch.Generator().set_state(state)
        except RuntimeError as err:
            raise _bad(fn, entry, str(err).splitlines()[0]) from None
    return state


def _numpy_state(fn: str, np: Any, value: object) -> tuple[Any, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 5:
        raise _bad(fn, "numpy", "expected (kind, keys, pos, has_gauss, gauss)")
    kind, keys, pos, has_gauss, gauss = value
    try:
        candidate = (kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss)
        np.random.RandomState().set_state(candidate)
    except (TypeError, ValueError, OverflowError, IndexError) as err:
        raise _bad(fn, "numpy", str(err)) from None
    return candidate


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restores the generators from :func:`capture_rng_state`, all or nothing.

    Every entry is checked before any generator changes, so a state that is refused
    leaves all of them as they were. CUDA states are restored for the devices present;
    when CUDA is unavailable or the device count differs, and when a numpy state is
    given but numpy is missing, the generators that cannot be restored keep their
    state and a ``UserWarning`` says so.

    Args:
        state: What :func:`capture_rng_state` returned (possibly loaded from a
            checkpoint onto another device).

    Raises:
        TypeError: ``state`` is not a mapping.
        ValueError: ``state`` lacks the ``"python"`` or ``"torch"`` entry, has an
            unknown one, or an entry is not a valid state of its generator.

    Example:
        >>> import random
        >>> state = capture_rng_state()
        >>> first = random.random(), torch.rand(2)
        >>> restore_rng_state(state)
        >>> second = random.random(), torch.rand(2)
        >>> first[0] == second[0] and torch.equal(first[1], second[1])
        True
    """
    fn = "restore_rng_state"
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}(): 'state' must be a mapping, got {type(state).__name__}")
    missing = {"python", "torch"} - set(state)
    if missing:
        raise ValueError(
            f"{fn}(): 'state' lacks {sorted(missing)}; pass what capture_rng_state() returned"
        )
    unknown = set(state) - {"python", "torch", "cuda", "numpy"}
    if unknown:
        raise ValueError(f"{fn}(): 'state' has unknown entries {sorted(map(str, unknown))}")

    python = _python_state(fn, state["python"])
    cpu = _torch_state(fn, "torch", state["torch"])
    cuda: list[Tensor] = []
    if "cuda" in state:
        raw = state["cuda"]
        if not isinstance(raw, Sequence) or isinstance(raw, (str, Tensor)):
            raise _bad(fn, "cuda", "expected a list of per-device states")
        cuda = [_torch_state(fn, "cuda", s, device="cuda") for s in raw]
    np, numpy_state = None, None
    if "numpy" in state:
        np = _numpy()
        if np is not None:
            numpy_state = _numpy_state(fn, np, state["numpy"])

    random.setstate(python)
    torch.set_rng_state(cpu)
    if "cuda" in state:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count != len(cuda):
            warnings.warn(
                f"{fn}(): the state has {len(cuda)} CUDA generator states but "
                f"{count} CUDA devices are available; restoring {min(count, len(cuda))}",
                stacklevel=2,
            )
        for index, s in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(s, index)
    if "numpy" in state:
        if np is None:
            warnings.warn(f"{fn}(): numpy is not installed; its state is ignored", stacklevel=2)
        else:
            np.random.set_state(numpy_state)
