"""Times one AGGAN training step of the example, per speed option, and writes JSON.

A step is what ``examples/aggan`` trains with: both generators forward and backward and
their Adam step, then the discriminators' (the image pools included), on fixed inputs.
Providers build the example's ``Trainer`` with one set of options each:

- ``eager``: the reference, the research code's way of computing the step: NCHW,
  float32, every network pass on its own, Adam's for-each update, no compilation;
- ``fused_adam``, ``batch_passes``, ``channels_last``, ``compile``: one option on top of
  the reference (each is the same math: its losses are held to the reference's);
- ``fast``: the example's defaults (fused Adam and batched passes);
- ``bf16``: ``fast`` under bfloat16 autocast (CPU: where oneDNN has bf16 kernels, i.e.
  AVX-512 BF16 or AMX; CUDA); not the same math, so its first-step losses are reported
  beside the reference's rather than held to them;
- ``bf16_cl_compile``: ``bf16`` plus channels_last and torch.compile (the GPU recipe).

Configurations: ``main`` (the main job: 64², 16 generator channels, 4 blocks), ``paper128``
and ``paper256`` (the paper's networks: 64 channels, 9 blocks, a 70×70 PatchGAN), each
with 1 mask (scheme I) and 10 (AttentionGAN scheme II), batch 1 and 4 as chosen. Every
provider's step runs in turns with the others (interleaved repeats after warm-up), so a
slower stretch of the machine hits all of them alike; the table gives the median and the
minimum, the ratio to ``eager`` measured side by side in this run, the peak memory, the
compile time and how far the first step's losses are from the reference's.

Usage::

    python benchmarks/bench_train_step.py                       # the default sweep, CPU
    python benchmarks/bench_train_step.py --configs main --batch 1 4
    python benchmarks/bench_train_step.py --device cuda --configs paper256 \\
        --providers eager bf16_cl_compile                        # the GPU suite's step
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from aggan.config import TrainConfig, validate_config  # noqa: E402
from aggan.engine import Trainer  # noqa: E402
from common.distributed import Distributed, cpu_has_bf16  # noqa: E402

from attnguide.data import make_synthetic_faces  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"

CONFIGS: dict[str, dict[str, Any]] = {
    "main": {"size": 64, "ngf": 16, "n_blocks": 4, "ndf": 32, "d_head": "pool"},
    "paper128": {"size": 128, "ngf": 64, "n_blocks": 9, "ndf": 64, "d_head": "patch"},
    "paper256": {"size": 256, "ngf": 64, "n_blocks": 9, "ndf": 64, "d_head": "patch"},
}
REFERENCE = {"fused_adam": False, "batch_passes": False}
PROVIDERS: dict[str, dict[str, Any]] = {
    "eager": {},
    "fused_adam": {"fused_adam": True},
    "batch_passes": {"batch_passes": True},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
    "fast": {"fused_adam": True, "batch_passes": True},
    "bf16": {"fused_adam": True, "batch_passes": True, "amp": "bf16"},
    "bf16_cl_compile": {
        "fused_adam": True,
        "batch_passes": True,
        "amp": "bf16",
        "channels_last": True,
        "compile": True,
    },
}
SAME_MATH = ("eager", "fused_adam", "batch_passes", "channels_last", "compile", "fast")
# The first step of a same-math provider must match the reference's losses this closely.
TOLERANCE = 1e-4


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (Linux)


def _peak_mb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Case:
    """One (configuration, masks, batch, provider): a trainer and fixed inputs."""

    def __init__(self, cfg: TrainConfig, root: Path, device: torch.device, run: Path) -> None:
        self.device = device
        self.trainer = Trainer(cfg, root, run, Distributed(), device)
        g = torch.Generator().manual_seed(1234)
        shape = (cfg.batch_size, 3, cfg.size, cfg.size)
        self.x = (torch.rand(shape, generator=g) * 2 - 1).to(device)
        self.y = (torch.rand(shape, generator=g) * 2 - 1).to(device)
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.x, self.y = (t.contiguous(memory_format=fmt) for t in (self.x, self.y))

    def step(self) -> dict[str, float]:
        logs = self.trainer.train_step(self.x, self.y, 0.01)
        return {k: float(v) for k, v in logs.items()}


def _supported(provider: str, device: torch.device) -> str:
    """Why ``provider`` cannot run here ("" when it can)."""
    amp = PROVIDERS[provider].get("amp") == "bf16"
    if amp and device.type == "cpu" and not torch.backends.mkldnn.is_available():
        return "no oneDNN in this torch build"
    if amp and device.type == "cpu" and not cpu_has_bf16():
        return "this CPU has no bfloat16 kernels (AVX-512 BF16 or AMX)"
    return ""


def bench_group(
    base: dict[str, Any], providers: list[str], root: Path, device: torch.device, reps: int
) -> list[dict[str, Any]]:
    """Interleaved timings of ``providers`` on one configuration."""
    cases: dict[str, Case] = {}
    rows: dict[str, dict[str, Any]] = {}
    first: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in providers:
            why = _supported(name, device)
            row = {**base, "provider": name}
            rows[name] = row
            if why:
                row["skipped"] = why
                continue
            opts = {**REFERENCE, **PROVIDERS[name]}
            cfg = validate_config(dataclasses.replace(TrainConfig(**base["config"]), **opts))
            _peak_reset(device)
            t0 = time.perf_counter()
            case = Case(cfg, root, device, Path(tmp) / name)
            first[name] = case.step()  # the first step: compiles, and is compared
            _sync(device)
            row["first_step_s"] = round(time.perf_counter() - t0, 2)
            for _ in range(2):
                case.step()
            _sync(device)
            row["peak_memory_mb"] = _peak_mb(device)
            cases[name] = case
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(reps):
            for name, case in cases.items():
                _sync(device)
                t0 = time.perf_counter()
                case.step()
                _sync(device)
                times[name].append(time.perf_counter() - t0)
    reference = statistics.median(times["eager"]) if "eager" in times else None
    for name, ts in times.items():
        row = rows[name]
        row["median_ms"] = round(statistics.median(ts) * 1000, 2)
        row["min_ms"] = round(min(ts) * 1000, 2)
        row["repeats"] = len(ts)
        if reference:
            row["speedup"] = round(reference / statistics.median(ts), 3)
        if "eager" in first:
            ref = first["eager"]
            row["first_step_max_rel_diff"] = max(
                abs(first[name][k] - ref[k]) / max(abs(ref[k]), 1e-12) for k in ref
            )
            if name in SAME_MATH:
                row["same_math_ok"] = row["first_step_max_rel_diff"] <= TOLERANCE
    return list(rows.values())


def environment(device: torch.device, threads: int) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device.type,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": cpu_has_bf16(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                env["cpu"] = line.split(":", 1)[1].strip()
                break
    env["cores"] = os.cpu_count()
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


_HEADER = ("config", "masks", "batch", "provider", "median ms", "min ms", "× eager", "peak MB")
_HEADER += ("first step s", "loss diff")


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows (skipped providers say why)."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in rows:
        cells = [r["name"], str(r["masks"]), str(r["batch"]), r["provider"]]
        if "skipped" in r:
            cells += [f"skipped: {r['skipped']}"] + [""] * (len(_HEADER) - 5)
        else:
            diff = r.get("first_step_max_rel_diff")
            peak = r.get("peak_memory_mb")
            cells += [
                f"{r['median_ms']:.1f}",
                f"{r['min_ms']:.1f}",
                f"{r.get('speedup', float('nan')):.2f}",
                "–" if peak is None else f"{peak:.0f}",
                f"{r['first_step_s']:.1f}",
                "–" if diff is None else f"{diff:.1e}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--configs", nargs="+", default=["main", "paper128"], choices=sorted(CONFIGS)
    )
    parser.add_argument("--masks", nargs="+", type=int, default=[1, 10])
    parser.add_argument("--batch", nargs="+", type=int, default=[1])
    parser.add_argument("--providers", nargs="+", default=list(PROVIDERS), choices=list(PROVIDERS))
    parser.add_argument(
        "--repeats", type=int, default=0, help="timed steps per provider (0: by size)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="intra-op threads (0: torch's default)"
    )
    parser.add_argument(
        "--output", type=Path, help="the JSON report (default: benchmarks/results/)"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if "eager" not in args.providers:
        args.providers.insert(0, "eager")  # every ratio is to the reference, measured here
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs:
            spec = CONFIGS[name]
            root = make_synthetic_faces(
                Path(tmp) / f"faces-{spec['size']}", n_train=4, n_test=2, size=spec["size"]
            )
            for masks in args.masks:
                for batch in args.batch:
                    config = {
                        **spec,
                        "masks": masks,
                        "batch_size": batch,
                        "data_root": str(root),
                        "device": args.device,
                    }
                    config["threads"] = args.threads
                    reps = args.repeats or (
                        10 if spec["size"] <= 64 else 4 if spec["size"] <= 128 else 3
                    )
                    base = {"name": name, "masks": masks, "batch": batch, "config": config}
                    group = bench_group(base, list(args.providers), root, device, reps)
                    rows += group
                    print(format_table(group).split("\n", 2)[-1], flush=True)
    report = {"environment": environment(device, torch.get_num_threads()), "rows": rows}
    out = args.output or RESULTS / f"train_step_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\n{format_table(rows)}\n\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
