"""Times attnguide.ops.blend_tv against eager and compiled PyTorch, and writes JSON.

The op is memory-bound, so besides the median time each row reports the bytes the op
must move at minimum (every input read once, every output written once), that
volume divided by the time, the rate as a percentage of this device's copy bandwidth
(measured in the same run with one large device-to-device copy), and, on CUDA, the
peak memory the call allocates beyond what existed before it.

Providers: ``eager`` (the PyTorch reference: ``blend`` then ``total_variation``),
``compiled`` (``torch.compile`` of that reference, static shapes, one compilation per
configuration) and ``attnguide`` (the public ``blend_tv`` with the backend set to
``triton`` for the run, so the Triton kernels). Modes: ``fwd``, ``bwd`` (the
backward of a retained forward) and ``fwd+bwd``; all three inputs require gradients.

On CUDA: medians from ``triton.testing.do_bench`` (L2 flushed before each run) over
B in {1, 4, 16, 64}, 256x256 and 512x512, C=3, float32 and bfloat16. Without CUDA the
CPU providers (eager and compiled; the kernels would only run in triton's
interpreter) are timed with ``time.perf_counter`` over a small sweep on one thread
(``--threads``), so the script itself is exercised.

Usage::

    python benchmarks/bench_blend_tv.py                      # full sweep on this device
    python benchmarks/bench_blend_tv.py --batch 16 --size 256 --dtype bfloat16
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from attnguide.ops import blend, blend_tv, total_variation, use_backend

RESULTS = Path(__file__).resolve().parent / "results"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MODES = ("fwd", "bwd", "fwd+bwd")
PROVIDERS = ("eager", "compiled", "attnguide")
CUDA_SWEEP = {"batch": [1, 4, 16, 64], "size": [256, 512], "dtype": ["float32", "bfloat16"]}
CPU_SWEEP = {"batch": [1, 4], "size": [64, 128], "dtype": ["float32", "bfloat16"]}
NOTES = {
    "cuda": "Measured on this GPU in this run.",
    "cpu": (
        "CPU run that exercises the script: eager vs torch.compile of the PyTorch "
        "reference only (the Triton kernels would run in triton's interpreter, whose "
        "timings mean nothing). Working sets of a few MB stay in the CPU caches, so "
        "rates can exceed the DRAM copy bandwidth measured with a 128 MiB copy. No GPU "
        "figures: the CUDA providers are unmeasured here."
    ),
}
# Sanity check of every provider against eager before timing it.
TOLERANCES = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}


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


def make_inputs(b: int, c: int, size: int, dtype: torch.dtype, device: torch.device):
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


def make_call(fn: Callable, mode: str, inputs: list, cotangents: list) -> Callable[[], object]:
    if mode == "fwd":
        return lambda: fn(*inputs)
    if mode == "bwd":
        outputs = fn(*inputs)
        return lambda: torch.autograd.grad(outputs, inputs, cotangents, retain_graph=True)
    return lambda: torch.autograd.grad(fn(*inputs), inputs, cotangents)


def check(fn: Callable, inputs: list, cotangents: list, dtype: torch.dtype) -> None:
    tol = TOLERANCES[dtype]
    expected = reference(*inputs)
    actual = fn(*inputs)
    expected_grads = torch.autograd.grad(expected, inputs, cotangents)
    actual_grads = torch.autograd.grad(actual, inputs, cotangents)
    for a, e in zip([*actual, *actual_grads], [*expected, *expected_grads], strict=True):
        torch.testing.assert_close(a.float(), e.float(), rtol=tol, atol=tol)


# --- timers ---------------------------------------------------------------------------


def time_cuda(call: Callable[[], object]) -> tuple[float, float, float]:
    """(median, p20, p80) in ms from triton.testing.do_bench."""
    from triton.testing import do_bench

    p50, p20, p80 = do_bench(call, warmup=25, rep=200, quantiles=[0.5, 0.2, 0.8])
    return p50, p20, p80


def time_cpu(call: Callable[[], object], budget_s: float = 0.5) -> tuple[float, float, float]:
    """(median, p20, p80) in ms of at least 7 timed runs after 2 warm-up runs."""
    for _ in range(2):
        call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 7 or (time.perf_counter() - start < budget_s and len(times) < 200):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    q = statistics.quantiles(times, n=10)
    return statistics.median(times), q[1], q[7]


def peak_memory_mib(call: Callable[[], object], device: torch.device) -> float | None:
    """Memory the call allocates beyond what was allocated before it (CUDA only)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    result = call()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del result
    return peak / 2**20


def copy_bandwidth_gbps(device: torch.device) -> float:
    """Read + write bytes per second of one large device-to-device copy."""
    n = (1 << 28) if device.type == "cuda" else (1 << 25)  # 1 GiB / 128 MiB of float32
    src = torch.ones(n, device=device)
    dst = torch.empty_like(src)
    call = lambda: dst.copy_(src)  # noqa: E731
    ms = (time_cuda if device.type == "cuda" else time_cpu)(call)[0]
    return 2 * src.nbytes / (ms * 1e-3) / 1e9


# --- the sweep --------------------------------------------------------------------------


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provider_fn(name: str) -> Callable:
    if name == "eager":
        return reference
    if name == "compiled":
        torch._dynamo.reset()  # a fresh cache per configuration: no recompile limit
        return torch.compile(reference, fullgraph=True, dynamic=False)
    # run() sets the backend to triton: the kernels or an error, never the reference.
    return blend_tv


def run(
    device: torch.device,
    batches: Sequence[int],
    sizes: Sequence[int],
    dtypes: Sequence[str],
    modes: Sequence[str],
    providers: Sequence[str],
    channels: int = 3,
) -> dict:
    with use_backend("triton"):
        return _run(device, batches, sizes, dtypes, modes, providers, channels)


def _run(
    device: torch.device,
    batches: Sequence[int],
    sizes: Sequence[int],
    dtypes: Sequence[str],
    modes: Sequence[str],
    providers: Sequence[str],
    channels: int,
) -> dict:
    timer = time_cuda if device.type == "cuda" else time_cpu
    copy_gbps = copy_bandwidth_gbps(device)
    rows = []
    for dtype_name in dtypes:
        dtype = DTYPES[dtype_name]
        for size in sizes:
            for b in batches:
                inputs, cotangents = make_inputs(b, channels, size, dtype, device)
                for provider in providers:
                    fn = provider_fn(provider)
                    check(fn, inputs, cotangents, dtype)
                    for mode in modes:
                        call = make_call(fn, mode, inputs, cotangents)
                        median, p20, p80 = timer(call)
                        moved = min_bytes(mode, b, channels, size, size, dtype.itemsize)
                        gbps = moved / (median * 1e-3) / 1e9
                        rows.append(
                            {
                                "provider": provider,
                                "dtype": dtype_name,
                                "batch": b,
                                "channels": channels,
                                "height": size,
                                "width": size,
                                "mode": mode,
                                "median_ms": median,
                                "p20_ms": p20,
                                "p80_ms": p80,
                                "min_bytes": moved,
                                "gbps": gbps,
                                "pct_of_copy_bandwidth": 100 * gbps / copy_gbps,
                                "peak_memory_mib": peak_memory_mib(call, device),
                            }
                        )
                        del call
                del inputs, cotangents
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {
        "benchmark": "blend_tv",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device_type": device.type,
        "device": device_name(device),
        "torch": torch.__version__,
        "triton": triton_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "timer": (
            "triton.testing.do_bench median (L2 flushed per run)"
            if device.type == "cuda"
            else "time.perf_counter median"
        ),
        "copy_bandwidth_gbps": copy_gbps,
        "note": NOTES[device.type],
        "results": rows,
    }


def table(report: dict) -> str:
    eager = {
        (r["dtype"], r["batch"], r["height"], r["mode"]): r["median_ms"]
        for r in report["results"]
        if r["provider"] == "eager"
    }
    header = (
        f"{'provider':<10} {'dtype':<9} {'B':>3} {'HxW':>9} {'mode':<8} {'median ms':>10} "
        f"{'GB/s':>8} {'% copy':>7} {'peak MiB':>9} {'vs eager':>9}"
    )
    lines = [
        f"{report['device']} ({report['device_type']}), torch {report['torch']}, "
        f"triton {report['triton']}; copy bandwidth {report['copy_bandwidth_gbps']:.1f} GB/s; "
        f"{report['timer']}",
        header,
        "-" * len(header),
    ]
    for r in report["results"]:
        base = eager.get((r["dtype"], r["batch"], r["height"], r["mode"]))
        speedup = f"{base / r['median_ms']:.2f}x" if base else "-"
        peak = "-" if r["peak_memory_mib"] is None else f"{r['peak_memory_mib']:.1f}"
        lines.append(
            f"{r['provider']:<10} {r['dtype']:<9} {r['batch']:>3} "
            f"{str(r['height']) + 'x' + str(r['width']):>9} {r['mode']:<8} {r['median_ms']:>10.4f} "
            f"{r['gbps']:>8.1f} {r['pct_of_copy_bandwidth']:>6.1f}% {peak:>9} {speedup:>9}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, nargs="+", help="batch sizes")
    parser.add_argument("--size", type=int, nargs="+", help="square image sizes")
    parser.add_argument("--dtype", nargs="+", choices=sorted(DTYPES))
    parser.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS)
    parser.add_argument("--output", type=Path, help="JSON path (default: benchmarks/results/)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on a shared machine, OpenMP barriers in compiled "
        "kernels otherwise measure the scheduler, not the op)",
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    sweep = CUDA_SWEEP if device.type == "cuda" else CPU_SWEEP
    providers = args.providers or (PROVIDERS if device.type == "cuda" else PROVIDERS[:2])
    report = run(
        device,
        batches=args.batch or sweep["batch"],
        sizes=args.size or sweep["size"],
        dtypes=args.dtype or sweep["dtype"],
        modes=args.mode,
        providers=providers,
    )
    print(table(report))
    if device.type == "cuda":
        slug = re.sub(r"[^A-Za-z0-9]+", "-", report["device"]).strip("-")
        default = RESULTS / f"blend_tv_cuda_{slug}.json"
    else:
        default = RESULTS / "blend_tv_cpu.json"
    output = args.output or default
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
