"""Times attnguide.ops.multi_blend_tv against eager and compiled PyTorch, and writes JSON.

The multi-mask sibling of ``bench_blend_tv.py``, with the same providers, modes, timers
and report (see ``_harness.py``): eager (``multi_blend`` then ``total_variation`` of
the foreground masks), ``torch.compile`` of that reference, and the Triton kernels
through the public ``multi_blend_tv``. k = 10 masks (9 contents) of C = 3 channels by
default, as AttentionGAN's scheme II uses them; the same sweep as blend_tv.

Usage::

    python benchmarks/bench_multi_blend_tv.py                # full sweep on this device
    python benchmarks/bench_multi_blend_tv.py --masks 4 --batch 16 --size 256
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from attnguide.ops import multi_blend, multi_blend_tv, total_variation

# The shared harness sits beside this script (also when a test imports it by path).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness


def reference(masks: torch.Tensor, contents: torch.Tensor, source: torch.Tensor):
    return multi_blend(masks, contents, source), total_variation(masks[:, :-1])


def min_bytes(mode: str, b: int, k: int, c: int, h: int, w: int, itemsize: int) -> int:
    """Bytes the op must move: each input read once, each output written once."""
    plane = b * h * w * itemsize
    # masks (k planes), contents ((k - 1) c), source (c) in; image (c), tv out.
    forward = plane * (k + (k - 1) * c + 2 * c) + b * itemsize
    # grad_image (c), grad_tv, masks, contents, source in; the three gradients out.
    backward = plane * (2 * k + 2 * (k - 1) * c + 3 * c) + b * itemsize
    return {"fwd": forward, "bwd": backward, "fwd+bwd": forward + backward}[mode]


def make_inputs(b: int, size: int, dtype: torch.dtype, device: torch.device, params: dict):
    k, c = params["masks"], params["channels"]
    g = torch.Generator(device=device).manual_seed(0)

    def make(shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=g, device=device, dtype=torch.float32)

    inputs = [
        torch.softmax(make((b, k, size, size)), dim=1).to(dtype),
        make((b, k - 1, c, size, size)).to(dtype),
        make((b, c, size, size)).to(dtype),
    ]
    cotangents = [make((b, c, size, size)).to(dtype), make((b,)).to(dtype)]
    return [t.requires_grad_() for t in inputs], cotangents


BENCHMARK = _harness.Benchmark(
    name="multi_blend_tv",
    reference=reference,
    fused=multi_blend_tv,
    make_inputs=make_inputs,
    min_bytes=lambda mode, b, h, w, itemsize, p: min_bytes(
        mode, b, p["masks"], p["channels"], h, w, itemsize
    ),
    params={"masks": 10, "channels": 3},
    param_help={
        "masks": "masks k, the last one the background (default 10)",
        "channels": "image channels C (default 3)",
    },
)


def main(argv: Sequence[str] | None = None) -> int:
    return _harness.main(BENCHMARK, argv, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
