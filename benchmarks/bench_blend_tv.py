"""Times attnguide.ops.blend_tv against eager and compiled PyTorch, and writes JSON.

Providers, modes, timers and the report are described in ``_harness.py``: eager
(``blend`` then ``total_variation``), ``torch.compile`` of that reference, and the
Triton kernels through the public ``blend_tv``; forward, backward and both; the least
bytes the op must move, GB/s and % of this device's copy bandwidth, peak memory.

On CUDA the sweep is B in {1, 4, 16, 64}, 256x256 and 512x512, C=3, float32 and
bfloat16; on the CPU a small sweep on one thread, which only exercises the script.

Usage::

    python benchmarks/bench_blend_tv.py                      # full sweep on this device
    python benchmarks/bench_blend_tv.py --batch 16 --size 256 --dtype bfloat16
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from attnguide.ops import blend, blend_tv, total_variation

# The shared harness sits beside this script (also when a test imports it by path).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness


def reference(mask: torch.Tensor, content: torch.Tensor, source: torch.Tensor):
    return blend(mask, content, source), total_variation(mask)


def min_bytes(mode: str, b: int, c: int, h: int, w: int, itemsize: int) -> int:
    """Bytes the op must move: each input read once, each output written once."""
    plane = b * h * w * itemsize
    # mask, content, source in; image, tv out.
    forward = plane * (1 + 3 * c) + b * itemsize
    # grad_image, grad_tv, mask, content, source in; the three gradients out.
    backward = plane * (2 + 5 * c) + b * itemsize
    return {"fwd": forward, "bwd": backward, "fwd+bwd": forward + backward}[mode]


def make_inputs(b: int, size: int, dtype: torch.dtype, device: torch.device, params: dict):
    c = params["channels"]
    g = torch.Generator(device=device).manual_seed(0)

    def make(shape: tuple[int, ...], rand: bool) -> torch.Tensor:
        fn = torch.rand if rand else torch.randn
        return fn(shape, generator=g, device=device, dtype=torch.float32).to(dtype)

    inputs = [
        make((b, 1, size, size), True),
        make((b, c, size, size), False),
        make((b, c, size, size), False),
    ]
    cotangents = [make((b, c, size, size), False), make((b,), False)]
    return [t.requires_grad_() for t in inputs], cotangents


BENCHMARK = _harness.Benchmark(
    name="blend_tv",
    reference=reference,
    fused=blend_tv,
    make_inputs=make_inputs,
    min_bytes=lambda mode, b, h, w, itemsize, p: min_bytes(mode, b, p["channels"], h, w, itemsize),
    params={"channels": 3},
    param_help={"channels": "image channels C (default 3)"},
)


def main(argv: Sequence[str] | None = None) -> int:
    return _harness.main(BENCHMARK, argv, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
