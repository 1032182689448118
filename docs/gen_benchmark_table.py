"""Writes the fused op's benchmark tables for the docs from benchmarks/results/*.json.

    python docs/gen_benchmark_table.py        # rewrites docs/includes/blend-tv-benchmark.md

The guide on the fused op includes the file this writes; a test checks that it matches
the committed JSON, so the tables in the docs are always the measured ones.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUTPUT = Path(__file__).resolve().parent / "includes" / "blend-tv-benchmark.md"
MODES = ("fwd+bwd", "fwd", "bwd")
PROVIDER_NAMES = {
    "eager": "eager PyTorch",
    "compiled": "torch.compile",
    "attnguide": "attnguide (Triton)",
}


def _reports(results: Path) -> list[tuple[str, dict]]:
    reports = []
    for path in sorted(results.glob("blend_tv_*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        reports.append((path.name, report))
    # CUDA runs first: they are the ones the op is for.
    return sorted(reports, key=lambda item: (item[1]["device_type"] != "cuda", item[0]))


def _table(report: dict, mode: str) -> list[str]:
    rows = [r for r in report["results"] if r["mode"] == mode]
    providers = [p for p in PROVIDER_NAMES if any(r["provider"] == p for r in rows)]
    # The rightmost provider is the one the table is about (the kernels when measured),
    # compared with each provider to its left.
    featured, baselines = providers[-1], providers[:-1]
    by_key = {(r["dtype"], r["batch"], r["height"], r["width"], r["provider"]): r for r in rows}
    keys = sorted(
        {(r["dtype"], r["height"], r["width"], r["batch"]) for r in rows},
        key=lambda k: (k[0] != "float32", k[0], k[1], k[2], k[3]),
    )
    header = ["dtype", "b", "h×w"] + [f"{PROVIDER_NAMES[p]} ms" for p in providers]
    header += [f"{PROVIDER_NAMES[featured]} GB/s", "% of copy", "peak MiB"]
    header += [f"speed-up vs {PROVIDER_NAMES[p]}" for p in baselines]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dtype, height, width, batch in keys:
        found = {p: by_key.get((dtype, batch, height, width, p)) for p in providers}
        cells = [dtype, str(batch), f"{height}×{width}"]
        cells += [f"{r['median_ms']:.3f}" if r else "–" for r in found.values()]
        best = found[featured]
        if best is None:
            cells += ["–", "–", "–"] + ["–" for _ in baselines]
        else:
            peak = best["peak_memory_mib"]
            cells += [
                f"{best['gbps']:.1f}",
                f"{best['pct_of_copy_bandwidth']:.0f}%",
                "–" if peak is None else f"{peak:.1f}",
            ]
            for p in baselines:
                base = found[p]
                cells.append(f"{base['median_ms'] / best['median_ms']:.2f}×" if base else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _describe(name: str, report: dict) -> list[str]:
    triton = report.get("triton") or "not installed"
    n = report.get("threads")
    threads = f", {n} thread{'s' if n > 1 else ''}" if n else ""
    return [
        f"**{report['device']}** ({report['device_type']}{threads}), torch {report['torch']}, "
        f"triton {triton}, measured {report['date']}; copy bandwidth measured in the same run: "
        f"{report['copy_bandwidth_gbps']:.1f} GB/s. Timer: {report['timer']}. "
        f"Source: `benchmarks/results/{name}`.",
        "",
        f"{report['note']}",
    ]


def render(results: Path = RESULTS) -> str:
    """The markdown the guide includes, from every ``blend_tv_*.json`` in ``results``."""
    reports = _reports(results) if results.is_dir() else []
    lines: list[str] = [
        "`benchmarks/bench_blend_tv.py` times forward, backward and forward+backward of",
        "three providers: eager PyTorch (the reference), `torch.compile` of the reference, and",
        "attnguide's Triton kernels. Times are medians in milliseconds; GB/s is the least",
        "memory the op must move (each input read once, each output written once) divided",
        'by the time, and "% of copy" compares it with a large device-to-device copy timed',
        "in the same run. C = 3 throughout.",
        "",
        "```bash",
        "python benchmarks/bench_blend_tv.py   # CUDA when available, else the CPU providers",
        "```",
        "",
    ]
    if not any(r["device_type"] == "cuda" for _, r in reports):
        lines += [
            '!!! warning "CUDA figures are unmeasured"',
            "    No benchmark has been run on a CUDA GPU yet, so there are no figures for the",
            "    Triton kernels here. The tables below are CPU runs of the two PyTorch",
            "    providers, which exercise the script; they say nothing about the kernels.",
            "",
        ]
    if not reports:
        lines += ["No benchmark results are committed yet.", ""]
    for name, report in reports:
        lines += [*_describe(name, report), ""]
        lines += ["Forward + backward:", "", *_table(report, "fwd+bwd"), ""]
        lines += [f'??? note "Forward and backward separately ({report["device"]})"', ""]
        for mode in MODES[1:]:
            lines += [f"    {mode}:", ""]
            lines += [f"    {line}" for line in _table(report, mode)] + [""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
