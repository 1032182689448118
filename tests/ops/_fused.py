"""Helpers shared by the fused ops' tests (blend_tv, multi_blend_tv)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch

from attnguide.ops import _backend

ROOT = Path(__file__).resolve().parents[2]
# (rtol, atol) of each dtype's results against the float64 reference of the same inputs.
TOLERANCES = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
}
HAS_TRITON = not _backend._TRITON_MISSING
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

# Makes "import triton" fail as it does where triton is not installed.
BLOCK_TRITON = """
import sys
class _NoTriton:
    def find_spec(self, name, path=None, target=None):
        if name == "triton" or name.startswith("triton."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoTriton())
"""


def run_fused(fn: Callable, inputs: Sequence, cotangents: Sequence, needs=(True, True, True)):
    """fn's outputs and the gradients of <outputs, cotangents> (None where not needed)."""
    leaves = [t.detach().clone().requires_grad_(n) for t, n in zip(inputs, needs, strict=True)]
    image, tv = fn(*leaves)
    wanted = [t for t in leaves if t.requires_grad]
    # tv depends on the masks alone: without a mask gradient it is not differentiable.
    used = [i for i, out in enumerate((image, tv)) if out.requires_grad]
    grads = iter(
        torch.autograd.grad([(image, tv)[i] for i in used], wanted, [cotangents[i] for i in used])
    )
    return image, tv, [next(grads) if t.requires_grad else None for t in leaves]


def assert_matches(actual, expected, dtype, names=("mask", "content", "source")) -> None:
    """run_fused results against float64 ones, within the dtype's tolerance."""
    rtol, atol = TOLERANCES[dtype]
    image, tv, grads = actual
    ref_image, ref_tv, ref_grads = expected
    assert image.dtype == dtype and tv.dtype == dtype
    torch.testing.assert_close(image.double(), ref_image, rtol=rtol, atol=atol)
    torch.testing.assert_close(tv.double(), ref_tv, rtol=rtol, atol=atol)
    for name, grad, ref in zip(names, grads, ref_grads, strict=True):
        if ref is None:
            assert grad is None, name
            continue
        assert grad.dtype == dtype, name
        torch.testing.assert_close(grad.double(), ref, rtol=rtol, atol=atol, msg=name)


def to_channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter with attnguide importable and ``env`` set
    (and no ATTNGUIDE_ or TRITON_ variables of ours)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTNGUIDE_", "TRITON_"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
