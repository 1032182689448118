"""The backend switch of the fused ops: ``auto``, ``torch`` or ``triton``.

The setting starts as ``ATTNGUIDE_BACKEND``, read once when attnguide is imported, so a
forward pass never consults the environment; :func:`set_backend` and
:func:`use_backend` change it afterwards. ``auto`` (the default) runs the Triton
kernels on CUDA tensors when triton can be imported and the PyTorch reference
everywhere else; ``torch`` always runs the reference; ``triton`` always runs the
kernels and raises where they cannot run rather than falling back silently. Triton's
own ``TRITON_INTERPRET=1`` lets the kernels run on CPU tensors through its interpreter
(slow; it is how the kernels are tested without a GPU).

The setting is one module global that the ops read when called. torch.compile reads
it while tracing and guards on its value, so a compiled function recompiles (once per
setting) when the backend changes, rather than keeping the path it was traced with.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Literal

import torch

from attnguide._validation import check_choice

__all__ = ["get_backend", "set_backend", "use_backend"]

Backend = Literal["auto", "torch", "triton"]

_VARIABLE = "ATTNGUIDE_BACKEND"
_CHOICES: tuple[Backend, ...] = ("auto", "torch", "triton")
_INSTALL_HINT = 'pip install "attnguide[triton]"'


def _read_backend() -> Backend:
    value = os.environ.get(_VARIABLE, "").strip().lower() or "auto"
    if value not in _CHOICES:
        raise ValueError(
            f"{_VARIABLE} must be one of {_CHOICES} (or unset, meaning 'auto'), "
            f"got {os.environ[_VARIABLE]!r}"
        )
    return value  # type: ignore[return-value]


_BACKEND: Backend = _read_backend()
# Who chose the setting, for error messages that tell the user what to change.
_ORIGIN: str = f"{_VARIABLE}={_BACKEND}"


def get_backend() -> Backend:
    """Returns the fused ops' backend setting.

    It starts as ``ATTNGUIDE_BACKEND`` (read once, when attnguide is imported; unset
    means ``"auto"``) and changes with :func:`set_backend` and :func:`use_backend`.

    Returns:
        ``"auto"``, ``"torch"`` or ``"triton"``. ``"auto"`` means: the Triton kernels
        for CUDA tensors when triton is importable, the PyTorch reference otherwise.

    Example:
        >>> get_backend() in ("auto", "torch", "triton")
        True
    """
    return _BACKEND


def set_backend(name: Backend) -> Backend:
    """Chooses the fused ops' backend for the whole process, from the next call on.

    The setting is process-wide (not per thread) and outlives the caller; to change it
    for a block of code only, use :func:`use_backend`. Functions already compiled with
    ``torch.compile`` recompile for the new setting when next called.

    Args:
        name: ``"auto"`` (Triton kernels for CUDA tensors when triton is importable,
            the PyTorch reference otherwise), ``"torch"`` (always the reference) or
            ``"triton"`` (always the kernels; a call raises where they cannot run).

    Returns:
        The previous setting, so that it can be restored.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not one of the three backends.

    Example:
        >>> previous = set_backend("torch")
        >>> get_backend()
        'torch'
        >>> _ = set_backend(previous)
    """
    global _BACKEND, _ORIGIN
    check_choice("set_backend", "name", name, _CHOICES)
    previous = _BACKEND
    _BACKEND, _ORIGIN = name, f"set_backend({name!r})"
    return previous


@contextlib.contextmanager
def use_backend(name: Backend) -> Iterator[Backend]:
    """Runs a block of code with the fused ops' backend set to ``name``.

    On leaving the block, normally or by an exception, the setting in force before it
    is restored. Like :func:`set_backend` the setting is process-wide: another thread
    running meanwhile sees it too.

    Args:
        name: ``"auto"``, ``"torch"`` or ``"triton"`` (see :func:`set_backend`).

    Yields:
        The setting in force before the block.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not one of the three backends (raised on entry, with
            the setting unchanged).

    Example:
        >>> with use_backend("torch"):
        ...     get_backend()
        'torch'
    """
    global _BACKEND, _ORIGIN
    saved = _BACKEND, _ORIGIN
    previous = set_backend(name)
    try:
        yield previous
    finally:
        _BACKEND, _ORIGIN = saved


def _find_triton() -> str:
    """Why triton is not installed, or "" when it is (looked up once, without importing it)."""
    try:
        spec = importlib.util.find_spec("triton")
    except (ImportError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    return "" if spec is not None else "ModuleNotFoundError: No module named 'triton'"


# Settled at import, like the variable, so torch.compile sees constants here.
_TRITON_MISSING: str = _find_triton()


def interpreter_enabled() -> bool:
    """Whether triton runs kernels through its interpreter in this process.

    triton settles this when it is first imported: its own library functions
    (``tl.sum``, ...) are built for the interpreter or for the compiler according to
    ``TRITON_INTERPRET`` at that moment, so the variable must be set before anything
    imports triton (``torch._dynamo`` does). Setting it later changes nothing.
    """
    import triton.language as tl
    from triton.runtime.jit import JITFunction

    return not isinstance(tl.sum, JITFunction)


# How to get the reference back, whichever way the setting was made.
_USE_REFERENCE = (
    f"select the 'auto' (or 'torch') backend, with attnguide.ops.set_backend() or "
    f"{_VARIABLE} before import, to use the PyTorch reference"
)


def triton_problem(fn: str, device_type: str, reason: str) -> str:
    """Why the Triton kernels cannot run on ``device_type`` ("" when they can).

    ``reason`` says who asked for triton (the variable, ``set_backend``, or a private
    entry point), so the message tells the user which setting to change.
    """
    if _TRITON_MISSING:
        return (
            f"{fn}(): {reason} but triton cannot be imported ({_TRITON_MISSING}); install "
            f"it with {_INSTALL_HINT}, or {_USE_REFERENCE}"
        )
    if device_type == "cuda":
        return ""
    if device_type == "cpu":
        if interpreter_enabled():
            return ""
        return (
            f"{fn}(): {reason} but the inputs are CPU tensors and triton is not interpreting "
            "kernels; the Triton kernels run on CUDA tensors, or on CPU tensors through "
            "triton's interpreter when TRITON_INTERPRET=1 is set before triton is first "
            f"imported; or {_USE_REFERENCE} on the CPU"
        )
    return (
        f"{fn}(): {reason} but the inputs are on {device_type}; the Triton kernels run on "
        f"CUDA tensors (or CPU tensors with TRITON_INTERPRET=1); {_USE_REFERENCE}"
    )


def require_triton(fn: str, device: torch.device, *, reason: str) -> None:
    """Raises RuntimeError with :func:`triton_problem`'s message unless the kernels can run."""
    problem = triton_problem(fn, device.type, reason)
    if problem:
        raise RuntimeError(problem)


def use_triton(fn: str, device: torch.device) -> bool:
    """Whether ``fn`` should run its Triton kernels for inputs on ``device``.

    Raises:
        RuntimeError: The backend is ``triton`` where the kernels cannot run.
    """
    if _BACKEND == "torch":
        return False
    if _BACKEND == "auto":
        return device.type == "cuda" and not _TRITON_MISSING
    require_triton(fn, device, reason=_ORIGIN)
    return True
