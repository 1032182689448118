"""Writes the training-step benchmark tables for the docs from benchmarks/results/.

    python docs/gen_train_step_table.py   # rewrites docs/includes/train-step-benchmark.md

Each ``train_step_*.json`` that ``benchmarks/bench_train_step.py`` wrote becomes one
table (CUDA runs first), with the machine and versions it was measured on; the
performance guide includes the file this writes, and a test checks that it matches the
committed JSON, so the docs always show the measured figures.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUTPUT = Path(__file__).resolve().parent / "includes" / "train-step-benchmark.md"
CONFIG_NAMES = {
    "main": "main job (64², 16 channels, 4 blocks)",
    "paper128": "paper networks at 128²",
    "paper256": "paper networks at 256²",
}


def _machine(env: dict) -> str:
    if env["device"] == "cuda":
        return f"{env.get('gpu', 'CUDA GPU')}, CUDA {env.get('cuda')}, torch {env['torch']}"
    isa = env.get("onednn_max_cpu_isa", "default")
    limited = "" if isa == "default" else f", oneDNN limited to {isa}"
    return (
        f"{env.get('cpu', 'CPU')}, {env.get('cores')} cores, {env['threads']} threads, "
        f"ATen {env.get('cpu_capability')}{limited}, torch {env['torch']}, "
        f"Python {env['python']}"
    )


def table(report: dict, source: str) -> list[str]:
    env = report["environment"]
    lines = [
        f"**{_machine(env)}** ({env['date'][:10]}, `{source}`)",
        "",
        "| configuration | masks | batch | provider | median ms | min ms | × eager | "
        "peak MB | first step s | first-step loss diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        head = f"| {CONFIG_NAMES.get(r['name'], r['name'])} | {r['masks']} | {r['batch']} | "
        if "skipped" in r:
            lines.append(head + f"{r['provider']} | skipped: {r['skipped']} ||||||")
            continue
        peak = "–" if r.get("peak_memory_mb") is None else f"{r['peak_memory_mb']:.0f}"
        diff = r.get("first_step_max_rel_diff")
        lines.append(
            head + f"{r['provider']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | "
            f"{r.get('speedup', float('nan')):.2f} | {peak} | {r['first_step_s']:.1f} | "
            + ("–" if diff is None else f"{diff:.1e}")
            + " |"
        )
    return lines


def render(results: Path = RESULTS) -> str:
    reports = []
    for path in sorted(results.glob("train_step_*.json")):
        reports.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
    reports.sort(key=lambda item: (item[1]["environment"]["device"] != "cuda", item[0]))
    out = [
        "<!-- Written by docs/gen_train_step_table.py from benchmarks/results/train_step_*.json;",
        "     do not edit by hand. -->",
        "",
    ]
    if not reports:
        out.append("No training-step benchmark has been run yet.")
    for name, report in reports:
        out += [*table(report, f"benchmarks/results/{name}"), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
