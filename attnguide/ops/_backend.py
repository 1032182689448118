"""The backend switch of the fused ops: ``ATTNGUIDE_BACKEND=auto|torch|triton``.

The variable is read once, when attnguide is imported, so a forward pass never consults
the environment. ``auto`` (the default) runs the Triton kernels on CUDA tensors when
triton can be imported and the PyTorch reference everywhere else; ``torch`` always runs
the reference; ``triton`` always runs the kernels and raises where they cannot run
rather than falling back silently. Triton's own ``TRITON_INTERPRET=1`` lets the kernels
run on CPU tensors through its interpreter (slow; it is how the kernels are tested
without a GPU).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Literal

import torch

__all__ = ["get_backend"]

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


def get_backend() -> Backend:
    """Returns the fused ops' backend setting, read from ``ATTNGUIDE_BACKEND`` at import.

    Returns:
        ``"auto"``, ``"torch"`` or ``"triton"``. ``"auto"`` means: the Triton kernels
        for CUDA tensors when triton is importable, the PyTorch reference otherwise.

    Example:
        >>> get_backend() in ("auto", "torch", "triton")
        True
    """
    return _BACKEND


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


def triton_problem(fn: str, device_type: str, reason: str) -> str:
    """Why the Triton kernels cannot run on ``device_type`` ("" when they can).

    ``reason`` says who asked for triton (the variable, or a private entry point), so
    the message tells the user which setting to change.
    """
    if _TRITON_MISSING:
        return (
            f"{fn}(): {reason} but triton cannot be imported ({_TRITON_MISSING}); install "
            f"it with {_INSTALL_HINT}, or set {_VARIABLE}=auto (or torch) to use the "
            "PyTorch reference"
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
            f"imported. Set {_VARIABLE}=auto (or torch) to use the PyTorch reference on the CPU"
        )
    return (
        f"{fn}(): {reason} but the inputs are on {device_type}; the Triton kernels run on "
        f"CUDA tensors (or CPU tensors with TRITON_INTERPRET=1). Set {_VARIABLE}=auto (or "
        "torch) to use the PyTorch reference"
    )


def require_triton(fn: str, device: torch.device, *, reason: str) -> None:
    """Raises RuntimeError with :func:`triton_problem`'s message unless the kernels can run."""
    problem = triton_problem(fn, device.type, reason)
    if problem:
        raise RuntimeError(problem)


def use_triton(fn: str, device: torch.device) -> bool:
    """Whether ``fn`` should run its Triton kernels for inputs on ``device``.

    Raises:
        RuntimeError: ``ATTNGUIDE_BACKEND=triton`` where the kernels cannot run.
    """
    if _BACKEND == "torch":
        return False
    if _BACKEND == "auto":
        return device.type == "cuda" and not _TRITON_MISSING
    require_triton(fn, device, reason=f"{_VARIABLE}=triton")
    return True
