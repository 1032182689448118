"""Compiles the fused ops' Triton kernels for NVIDIA GPUs, as a real launch would, without one.

Run by ``test_gpu_compile.py`` in a fresh interpreter: cases as JSON on stdin, one
result per case as JSON on stdout. It needs a process where triton is *not*
interpreting (``TRITON_INTERPRET`` unset before triton is imported): in the test
process triton's own library functions (``tl.sum``, ...) are built for the
interpreter, and a kernel that calls them cannot be compiled there.

The kernels are the op module's own: in a process that does not interpret, it builds
them as ``JITFunction`` from the same plain Python functions that the interpreter runs
in the other tests, with whatever options the module gives them (``do_not_specialize``
included), so what compiles here is what a GPU process launches.

For each case the real launcher (``_forward`` / ``_backward`` of the op's kernel
module) runs on CPU tensors of the case's shape, dtype and memory format, with a
stand-in kernel that records the launch instead of running it; the launcher picks
BLOCK and num_warps for the case's SM count. The recorded arguments then go through
triton's own launch-time specialisation (the binder every ``kernel[grid](...)`` call
uses: pointers and ints divisible by 16 get ``tt.divisibility = 16``), and the result
is compiled to PTX and a cubin for the case's target with ``triton.compile``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable

import torch

# A GPU the launcher can size for: it asks how many SMs the device has.
_SMS = {"n": 0}


def _pretend_cuda(module) -> None:
    module._sm_count = lambda index: _SMS["n"]
    torch.cuda.current_device = lambda: 0


class _Recorder:
    """Stands in for ``kernel`` in ``kernel[grid](*args, **kwargs)``: records the launch."""

    def __init__(self, jit, launches: list) -> None:
        self.jit, self.launches = jit, launches

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.launches.append((self.jit, grid, args, kwargs))


def _tensor(shape, dtype: torch.dtype, channels_last: bool = False) -> torch.Tensor:
    # Never read: only the data pointer (16-byte aligned, as CUDA allocations are),
    # dtype, shape and strides matter to a launch.
    t = torch.empty(shape, dtype=dtype)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


def _kernels(module):
    """The module's kernels after checking that they are built for the compiler."""
    from triton.runtime.jit import JITFunction

    assert not module.INTERPRETED, "triton is interpreting in this process"
    for kernel in (module._fwd_kernel, module._bwd_kernel):
        assert type(kernel) is JITFunction, type(kernel)
    _pretend_cuda(module)
    return module._fwd_kernel, module._bwd_kernel


def _blend_tv(case: dict, launches: list) -> None:
    from attnguide.ops import _triton_blend_tv as k

    fwd, bwd = _kernels(k)
    b, c, h, w = case["shape"]
    dtype, cl = getattr(torch, case["dtype"]), case["image_last"]
    assert case["contents_last"] == cl, "blend_tv's content and source share one layout"
    mask = _tensor((b, 1, h, w), dtype)
    if case["direction"] == "fwd":
        kernel = _Recorder(fwd, launches)
        k._forward(mask, _tensor((b, c, h, w), dtype, cl), _tensor((b, c, h, w), dtype, cl), kernel)
    else:
        kernel = _Recorder(bwd, launches)
        big = [_tensor((b, c, h, w), dtype, cl) for _ in range(3)]
        grad_tv = _tensor((b,), dtype)
        k._backward(big[0], grad_tv, mask, big[1], big[2], *case["needs"], kernel)


def _multi_blend_tv(case: dict, launches: list) -> None:
    from attnguide.ops import _triton_multi_blend_tv as k

    fwd, bwd = _kernels(k)
    b, n, c, h, w = case["shape"]
    dtype, cl = getattr(torch, case["dtype"]), case["image_last"]
    masks = _tensor((b, n + 1, h, w), dtype)
    if case["contents_last"]:
        # Per-mask channels-last contents: (b, n, h, w, c) in memory.
        contents = torch.empty((b, n, h, w, c), dtype=dtype).permute(0, 1, 4, 2, 3)
    else:
        contents = _tensor((b, n, c, h, w), dtype)
    source = _tensor((b, c, h, w), dtype, cl)
    if case["direction"] == "fwd":
        k._forward(masks, contents, source, _Recorder(fwd, launches))
    else:
        grad_image, grad_tv = _tensor((b, c, h, w), dtype, cl), _tensor((b,), dtype)
        k._backward(
            grad_image, grad_tv, masks, contents, source, *case["needs"], _Recorder(bwd, launches)
        )


OPS: dict[str, Callable[[dict, list], None]] = {
    "blend_tv": _blend_tv,
    "multi_blend_tv": _multi_blend_tv,
}

# ld.global / st.global with any qualifiers, then an optional vector width and the type.
_ACCESS = re.compile(r"\b(ld|st)\.global(?:\.[\w:]+?)*?(?:\.v(\d))?\.([bfsu])(\d+)\b")


def memory_accesses(ptx: str) -> dict[str, int]:
    """Counts of global loads and stores by form, e.g. ``{"ld.global.v4.b32": 6}``."""
    forms: Counter[str] = Counter()
    for op, lanes, kind, bits in _ACCESS.findall(ptx):
        forms[f"{op}.global{'.v' + lanes if lanes else ''}.{kind}{bits}"] += 1
    return dict(forms)


def _compile(jit, args: tuple, kwargs: dict, target) -> dict:
    import triton
    from triton.compiler.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    backend = make_backend(target)
    # What JITFunction.run does on a launch, up to the point where it would compile.
    binder = create_function_from_signature(jit.signature, jit.params, backend)
    bound, specialization, options = binder(*args, **kwargs)
    options, signature, constexprs, attrs = jit._pack_args(
        backend, kwargs, bound, specialization, options
    )
    start = time.perf_counter()
    compiled = triton.compile(
        ASTSource(jit, signature, constexprs, attrs), target=target, options=options.__dict__
    )
    seconds = time.perf_counter() - start
    names = jit.arg_names
    divisible = [
        names[path[0]]
        for path, values in attrs.items()
        if ["tt.divisibility", 16] in [list(v) for v in values]
    ]
    return {
        "kernel": jit.fn.__name__,
        "block": kwargs["BLOCK"],
        "block_c": kwargs.get("BLOCK_C", 1),
        "num_warps": kwargs["num_warps"],
        "divisible_by_16": divisible,
        "accesses": memory_accesses(compiled.asm["ptx"]),
        "has_cubin": bool(compiled.asm.get("cubin")),
        "seconds": seconds,
    }


def run_case(case: dict) -> dict:
    from triton.backends.compiler import GPUTarget

    _SMS["n"] = case["sms"]
    launches: list = []
    try:
        OPS[case["op"]](case, launches)
        if len(launches) != 1:
            return {"error": f"the launcher made {len(launches)} launches, expected 1"}
        jit, _grid, args, kwargs = launches[0]
        return _compile(jit, args, kwargs, GPUTarget("cuda", case["arch"], 32))
    except Exception as error:  # reported per case, so one failure does not hide the rest
        return {"error": f"{type(error).__name__}: {error}"}


def main() -> None:
    assert "TRITON_INTERPRET" not in os.environ, "run without TRITON_INTERPRET"
    cases = json.load(sys.stdin)
    json.dump([run_case(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
