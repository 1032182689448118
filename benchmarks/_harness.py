"""What the fused-op benchmarks share: timers, the sweep, the table and the JSON report.

Each ``bench_<op>.py`` describes its op as a :class:`Benchmark` (the reference, the
public fused function, how to make inputs, the least bytes the op must move) and calls
:func:`main`. The op is memory-bound, so besides the median time each row reports the
bytes the op must move at minimum (every input read once, every output written once),
that volume divided by the time, the rate as a percentage of this device's copy
bandwidth (measured in the same run with one large device-to-device copy), and, on
CUDA, the peak memory the call allocates beyond what existed before it.

Providers: ``eager`` (the PyTorch reference), ``compiled`` (``torch.compile`` of that
reference, static shapes, one compilation per configuration, saved buffers not donated
to the backward so that it can be replayed) and ``attnguide`` (the
public fused function with the backend set to ``triton`` for the run, so the Triton
kernels or an error, never the reference). Modes: ``fwd``, ``bwd`` (the backward of a
retained forward) and ``fwd+bwd``; all inputs require gradients.

On CUDA: medians from ``triton.testing.do_bench`` (L2 flushed before each run).
Without CUDA the CPU providers (eager and compiled; the kernels would only run in
triton's interpreter) are timed with ``time.perf_counter`` on one thread
(``--threads``), so the scripts themselves are exercised.
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
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch._functorch.config

from attnguide.ops import use_backend

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
# Exit status of a sweep cut short by --budget-s: its JSON is written, marked incomplete.
INCOMPLETE = 3


@dataclass(frozen=True)
class Benchmark:
    """One fused op to time.

    ``make_inputs(b, size, dtype, device, params)`` returns the inputs (requiring
    gradients) and the cotangents of the outputs; ``min_bytes(mode, b, h, w, itemsize,
    params)`` the bytes the op must move; ``params`` the fixed sizes (channels, masks)
    recorded in every row and settable from the command line.
    """

    name: str
    reference: Callable
    fused: Callable
    make_inputs: Callable
    min_bytes: Callable
    params: dict[str, int] = field(default_factory=dict)
    param_help: dict[str, str] = field(default_factory=dict)


def make_call(fn: Callable, mode: str, inputs: list, cotangents: list) -> Callable[[], object]:
    if mode == "fwd":
        return lambda: fn(*inputs)
    if mode == "bwd":
        outputs = fn(*inputs)
        return lambda: torch.autograd.grad(outputs, inputs, cotangents, retain_graph=True)
    return lambda: torch.autograd.grad(fn(*inputs), inputs, cotangents)


def check(fn: Callable, reference: Callable, inputs: list, cotangents: list, dtype) -> None:
    tol = TOLERANCES[dtype]
    expected = reference(*inputs)
    actual = fn(*inputs)
    expected_grads = torch.autograd.grad(expected, inputs, cotangents)
    actual_grads = torch.autograd.grad(actual, inputs, cotangents)
    for a, e in zip([*actual, *actual_grads], [*expected, *expected_grads], strict=True):
        torch.testing.assert_close(a.float(), e.float(), rtol=tol, atol=tol)


# --- timers ---------------------------------------------------------------------------


def time_cuda(
    call: Callable[[], object], warmup_ms: float = 25, rep_ms: float = 200
) -> tuple[float, float, float]:
    """(median, p20, p80) in ms from triton.testing.do_bench."""
    from triton.testing import do_bench

    p50, p20, p80 = do_bench(call, warmup=warmup_ms, rep=rep_ms, quantiles=[0.5, 0.2, 0.8])
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


def copy_bandwidth_gbps(device: torch.device, timer: Callable) -> float:
    """Read + write bytes per second of one large device-to-device copy."""
    n = (1 << 28) if device.type == "cuda" else (1 << 25)  # 1 GiB / 128 MiB of float32
    src = torch.ones(n, device=device)
    dst = torch.empty_like(src)
    ms = timer(lambda: dst.copy_(src))[0]
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


def provider_fn(bench: Benchmark, name: str) -> Callable:
    if name == "eager":
        return bench.reference
    if name == "compiled":
        torch._dynamo.reset()  # a fresh cache per configuration: no recompile limit
        return torch.compile(bench.reference, fullgraph=True, dynamic=False)
    # run() sets the backend to triton: the kernels or an error, never the reference.
    return bench.fused


def run(
    bench: Benchmark,
    device: torch.device,
    batches: Sequence[int],
    sizes: Sequence[int],
    dtypes: Sequence[str],
    modes: Sequence[str],
    providers: Sequence[str],
    params: dict[str, int] | None = None,
    *,
    warmup_ms: float = 25,
    rep_ms: float = 200,
    budget_s: float | None = None,
) -> dict:
    """Times every configuration of the sweep and returns the report (see main)."""
    # The bwd mode replays one retained graph; a compiled backward that donates its
    # saved buffers refuses that, so the compiled provider keeps them (as eager does).
    with use_backend("triton"), torch._functorch.config.patch(donated_buffer=False):
        return _run(
            bench,
            device,
            batches,
            sizes,
            dtypes,
            modes,
            providers,
            {**bench.params, **(params or {})},
            warmup_ms,
            rep_ms,
            budget_s,
        )


def _run(
    bench, device, batches, sizes, dtypes, modes, providers, params, warmup_ms, rep_ms, budget_s
) -> dict:
    start = time.perf_counter()
    if device.type == "cuda":

        def timer(call):
            return time_cuda(call, warmup_ms, rep_ms)

    else:
        timer = time_cpu
    copy_gbps = copy_bandwidth_gbps(device, timer)
    rows, skipped = [], []
    configurations = [(d, s, b) for d in dtypes for s in sizes for b in batches]
    for dtype_name, size, b in configurations:
        if budget_s is not None and time.perf_counter() - start > budget_s:
            skipped.append({"dtype": dtype_name, "height": size, "width": size, "batch": b})
            continue
        dtype = DTYPES[dtype_name]
        inputs, cotangents = bench.make_inputs(b, size, dtype, device, params)
        for provider in providers:
            fn = provider_fn(bench, provider)
            check(fn, bench.reference, inputs, cotangents, dtype)
            for mode in modes:
                call = make_call(fn, mode, inputs, cotangents)
                median, p20, p80 = timer(call)
                moved = bench.min_bytes(mode, b, size, size, dtype.itemsize, params)
                gbps = moved / (median * 1e-3) / 1e9
                rows.append(
                    {
                        "provider": provider,
                        "dtype": dtype_name,
                        "batch": b,
                        **params,
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
    report = {
        "benchmark": bench.name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device_type": device.type,
        "device": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "triton": triton_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "timer": (
            f"triton.testing.do_bench median (L2 flushed per run, warmup {warmup_ms:g} ms, "
            f"rep {rep_ms:g} ms)"
            if device.type == "cuda"
            else "time.perf_counter median"
        ),
        "params": params,
        "copy_bandwidth_gbps": copy_gbps,
        "note": NOTES[device.type],
        "seconds": time.perf_counter() - start,
        "results": rows,
    }
    if skipped:
        report["incomplete"] = {"budget_s": budget_s, "skipped": skipped}
    return report


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
    params = ", ".join(f"{k}={v}" for k, v in report.get("params", {}).items())
    lines = [
        f"{report['benchmark']} ({params}) on {report['device']} ({report['device_type']}), "
        f"torch {report['torch']}, triton {report['triton']}; copy bandwidth "
        f"{report['copy_bandwidth_gbps']:.1f} GB/s; {report['timer']}",
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
    if "incomplete" in report:
        skipped = report["incomplete"]["skipped"]
        lines.append(
            f"INCOMPLETE: the {report['incomplete']['budget_s']:g} s budget ran out; "
            f"{len(skipped)} configuration(s) not measured: {skipped}"
        )
    return "\n".join(lines)


def main(bench: Benchmark, argv: Sequence[str] | None = None, description: str = "") -> int:
    """Parses the command line, runs the sweep, prints the table and writes the JSON.

    Returns 0, or ``INCOMPLETE`` when ``--budget-s`` cut the sweep short.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, nargs="+", help="batch sizes")
    parser.add_argument("--size", type=int, nargs="+", help="square image sizes")
    parser.add_argument("--dtype", nargs="+", choices=sorted(DTYPES))
    parser.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS)
    for name, default in bench.params.items():
        parser.add_argument(f"--{name}", type=int, default=default, help=bench.param_help[name])
    parser.add_argument("--output", type=Path, help="JSON path (default: benchmarks/results/)")
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="folder for the JSON under its default name (<op>_cuda_<device>.json, <op>_cpu.json)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (default 1: on a shared machine, OpenMP barriers in compiled "
        "kernels otherwise measure the scheduler, not the op)",
    )
    parser.add_argument(
        "--warmup-ms", type=float, default=25, help="CUDA: do_bench warm-up (default 25)"
    )
    parser.add_argument(
        "--rep-ms", type=float, default=200, help="CUDA: do_bench timing window (default 200)"
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        help="start no new configuration after this many seconds; the JSON then lists the "
        f"configurations not measured and the exit status is {INCOMPLETE}",
    )
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    sweep = CUDA_SWEEP if device.type == "cuda" else CPU_SWEEP
    providers = args.providers or (PROVIDERS if device.type == "cuda" else PROVIDERS[:2])
    report = run(
        bench,
        device,
        batches=args.batch or sweep["batch"],
        sizes=args.size or sweep["size"],
        dtypes=args.dtype or sweep["dtype"],
        modes=args.mode,
        providers=providers,
        params={name: getattr(args, name) for name in bench.params},
        warmup_ms=args.warmup_ms,
        rep_ms=args.rep_ms,
        budget_s=args.budget_s,
    )
    print(table(report))
    if device.type == "cuda":
        slug = re.sub(r"[^A-Za-z0-9]+", "-", report["device"]).strip("-")
        default = RESULTS / f"{bench.name}_cuda_{slug}.json"
    else:
        default = RESULTS / f"{bench.name}_cpu.json"
    output = args.output or (args.output_dir / default.name if args.output_dir else default)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}")
    return INCOMPLETE if "incomplete" in report else 0
