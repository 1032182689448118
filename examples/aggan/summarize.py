"""Mean and range over seeds of finished runs: the README's comparison tables.

    python examples/aggan/summarize.py "AGGAN=runs/aggan-s*" "CycleGAN=runs/cyclegan-s*"

Each argument is ``LABEL=GLOB``: the run folders (their ``metrics.json``) that form one
row per direction, usually the same command with ``--seed 0``, ``1`` and ``2``. A cell
is the mean over the runs and, in brackets, the smallest and largest value; the last
columns are the mean training speed and the longest wall time. The runs of one row must
differ in their seed alone, so that the range means what it says.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.summary import markdown_table, mean_range, read_group, speed_and_time, summarize_main

from aggan.data import DIRECTIONS

__all__ = ["METRICS", "main", "read_group", "summary_table"]

#: (metric, column header) of the table.
METRICS = (
    ("psnr", "PSNR"),
    ("change_psnr", "change PSNR"),
    ("bg_psnr", "bg PSNR"),
    ("mask_iou", "mask IoU"),
    ("mask_auroc", "mask AUROC"),
    ("accuracy", "classifier"),
    ("fid", "FID (judge)"),
)


def summary_table(groups: dict[str, list[dict]]) -> str:
    """A Markdown table, one row per (direction, group) and a copy-input row per
    direction, taken from the first group (it is the same for every run on one test set).
    """
    header = ["direction", "translation", "seeds", *(h for _, h in METRICS)]
    header += ["steps/s", "wall time"]
    lines: list[list[str]] = []
    for direction in ("AtoB", "BtoA"):
        rows = [
            (label, [r["results"].get(direction, {}) for r in runs], runs)
            for label, runs in groups.items()
        ]
        first = next(iter(groups.values()))
        rows.append(("copy input", [first[0]["results"][f"{direction}/identity"]], None))
        for label, results, runs in rows:
            cells = [DIRECTIONS[direction][2], label, str(len(results))]
            for name, _ in METRICS:
                fmt = "{:.3f}" if name.startswith("mask") or name == "accuracy" else "{:.2f}"
                cells.append(mean_range([r[name] for r in results if name in r], fmt))
            lines.append(cells + speed_and_time(runs))
    return markdown_table(header, lines)


def main(argv: list[str] | None = None) -> int:
    return summarize_main(
        argv, description=__doc__.split("\n")[0], rows="one row per direction", table=summary_table
    )


if __name__ == "__main__":
    sys.exit(main())
