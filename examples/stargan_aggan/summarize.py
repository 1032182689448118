"""Mean and range over seeds of finished runs, per target domain: the README's table.

    python examples/stargan_aggan/summarize.py "AGGAN-StarGAN=runs/sa-s*" "StarGAN=runs/st-s*"

Each argument is ``LABEL=GLOB``: the run folders (their ``metrics.json``) of one model,
usually the same command with ``--seed 0``, ``1`` and ``2``. For each target domain a
row per model and a copy-input row (the same for every run on one test set); each score
is first averaged over the source domains of a run, then a cell gives the mean over the
runs and, in brackets, the smallest and largest. The runs of one label must differ in
their seed alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.summary import markdown_table, mean_range, speed_and_time, summarize_main

from stargan_aggan.evaluation import COLUMNS, by_target

__all__ = ["main", "summary_table"]


def summary_table(groups: dict[str, list[dict]]) -> str:
    """A Markdown table: per target domain a row per group and a copy-input row, then
    the domain classifier's accuracy on the real test images of each domain."""
    header = ["target", "translation", "seeds", *(h for _, h, _ in COLUMNS)]
    header += ["it/s", "wall time"]
    lines: list[list[str]] = []
    per_run = {
        label: [by_target(r["results"]["model"]) for r in runs] for label, runs in groups.items()
    }
    first = next(iter(groups.values()))[0]["results"]
    copy = by_target(first["copy"])
    for target in copy:
        rows = [
            (label, [t[target] for t in tables], groups[label]) for label, tables in per_run.items()
        ]
        rows.append(("copy input", [copy[target]], None))
        for label, results, runs in rows:
            cells = [f"→ {target}", label, str(len(results))]
            for name, _, fmt in COLUMNS:
                cells.append(mean_range([r[name] for r in results if name in r], fmt))
            lines.append(cells + speed_and_time(runs))
    table = markdown_table(header, lines)
    accuracy = [r["accuracy"] for r in first["real"].values()]
    if accuracy:
        table += (
            "\n\nDomain classifier on the real test images: accuracy "
            + ", ".join(f"{d} {r['accuracy']:.3f}" for d, r in first["real"].items())
            + f" (mean {sum(accuracy) / len(accuracy):.3f})."
        )
    return table


def main(argv: list[str] | None = None) -> int:
    return summarize_main(
        argv, description=__doc__.split("\n")[0], rows="one row per target", table=summary_table
    )


if __name__ == "__main__":
    sys.exit(main())
