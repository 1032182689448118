"""Writes the fused ops' benchmark tables for the docs from benchmarks/results/*.json.

    python docs/gen_benchmark_table.py   # rewrites docs/includes/{,multi-}blend-tv-benchmark.md

Each op's tables come from the reports its benchmark script wrote into
benchmarks/results/ (``blend_tv_*.json`` from bench_blend_tv.py, ``multi_blend_tv_*.json``
from bench_multi_blend_tv.py; CUDA runs first). The guides include the files this
writes, and tests check that they match the committed JSON, so the tables in the docs
are always the measured ones.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INCLUDES = Path(__file__).resolve().parent / "includes"
OUTPUT = INCLUDES / "blend-tv-benchmark.md"
# Per op: the include the guide shows, the script that measures it, and what it times.
OPS = {
    "blend_tv": {
        "output": OUTPUT,
        "script": "benchmarks/bench_blend_tv.py",
        "sizes": "C = 3 throughout.",
    },
    "multi_blend_tv": {
        "output": INCLUDES / "multi-blend-tv-benchmark.md",
        "script": "benchmarks/bench_multi_blend_tv.py",
        "sizes": "k = 10 masks (9 content images) and C = 3 unless a report says otherwise.",
    },
}
MODES = ("fwd+bwd", "fwd", "bwd")
PROVIDER_NAMES = {
    "eager": "eager PyTorch",
    "compiled": "torch.compile",
    "attnguide": "attnguide (Triton)",
}


def _reports(results: Path, op: str) -> list[tuple[str, dict]]:
    reports = []
    for path in sorted(results.glob(f"{op}_*.json")):
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


def _describe(name: str, report: dict, op: str) -> list[str]:
    triton = report.get("triton") or "not installed"
    n = report.get("threads")
    threads = f", {n} thread{'s' if n > 1 else ''}" if n else ""
    # blend_tv's sizes are the same in every report; multi_blend_tv's k may differ.
    params = report.get("params", {}) if op == "multi_blend_tv" else {}
    sizes = ", ".join(f"{k}={v}" for k, v in params.items())
    incomplete = report.get("incomplete")
    return [
        f"**{report['device']}** ({report['device_type']}{threads}), torch {report['torch']}, "
        f"triton {triton}, measured {report['date']}; copy bandwidth measured in the same run: "
        f"{report['copy_bandwidth_gbps']:.1f} GB/s. Timer: {report['timer']}. "
        + (f"Sizes: {sizes}. " if sizes else "")
        + f"Source: `benchmarks/results/{name}`.",
        "",
        f"{report['note']}",
        *(
            [
                "",
                f"Incomplete: the run's {incomplete['budget_s']:g} s budget left "
                f"{len(incomplete['skipped'])} configuration(s) unmeasured.",
            ]
            if incomplete
            else []
        ),
    ]


def render(results: Path = RESULTS, op: str = "blend_tv") -> str:
    """The markdown the guide includes, from every ``<op>_*.json`` in ``results``."""
    reports = _reports(results, op) if results.is_dir() else []
    script = OPS[op]["script"]
    lines: list[str] = [
        f"`{script}` times forward, backward and forward+backward of",
        "three providers: eager PyTorch (the reference), `torch.compile` of the reference, and",
        "attnguide's Triton kernels. Times are medians in milliseconds; GB/s is the least",
        "memory the op must move (each input read once, each output written once) divided",
        'by the time, and "% of copy" compares it with a large device-to-device copy timed',
        f"in the same run. {OPS[op]['sizes']}",
        "",
        "```bash",
        "# CUDA when available, else the CPU providers",
        f"python {script}",
        "```",
        "",
    ]
    if reports and not any(r["device_type"] == "cuda" for _, r in reports):
        lines += [
            '!!! warning "CUDA figures are unmeasured"',
            "    No benchmark has been run on a CUDA GPU yet, so there are no figures for the",
            "    Triton kernels here. The tables below are CPU runs of the two PyTorch",
            "    providers, which exercise the script; they say nothing about the kernels.",
            "",
        ]
    if not reports:
        lines += [
            "No benchmark results are committed yet: there are no figures for the Triton",
            "kernels or the PyTorch providers here until a run's JSON is added to",
            "`benchmarks/results/`.",
            "",
        ]
    for name, report in reports:
        lines += [*_describe(name, report, op), ""]
        lines += ["Forward + backward:", "", *_table(report, "fwd+bwd"), ""]
        lines += [f'??? note "Forward and backward separately ({report["device"]})"', ""]
        for mode in MODES[1:]:
            lines += [f"    {mode}:", ""]
            lines += [f"    {line}" for line in _table(report, mode)] + [""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    for name, spec in OPS.items():
        spec["output"].parent.mkdir(parents=True, exist_ok=True)
        spec["output"].write_text(render(op=name), encoding="utf-8")
        print(f"wrote {spec['output'].relative_to(ROOT)}")
