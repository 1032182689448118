"""Mean and range over seeds of finished runs: the README's comparison tables.

    python examples/aggan/summarize.py "AGGAN=runs/aggan-s*" "CycleGAN=runs/cyclegan-s*"

Each argument is ``LABEL=GLOB``: the run folders (their ``metrics.json``) that form one
row per direction, usually the same command with ``--seed 0``, ``1`` and ``2``. A cell
is the mean over the runs and, in brackets, the smallest and largest value; the last
columns are the mean training speed and the longest wall time. The runs of one row must
differ in their seed alone, so that the range means what it says.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.config import ConfigError

from aggan.data import DIRECTIONS

__all__ = ["METRICS", "main", "read_group", "summary_table"]

#: (metric, column header) of the table.
METRICS = (
    ("psnr", "PSNR"),
    ("change_psnr", "change PSNR"),
    ("bg_psnr", "bg PSNR"),
    ("mask_iou", "mask IoU"),
    ("mask_auroc", "mask AUROC"),
)
# Options that may differ between the runs of one row.
_FREE = {"seed", "out", "threads", "workers", "sample_every", "save_every", "log_every"}


def read_group(pattern: str) -> list[dict]:
    """The ``metrics.json`` of every run folder ``pattern`` matches, checked to be
    finished, evaluated runs of one configuration up to the seed."""
    # Files beside the run folders (logs, say) are not runs.
    folders = sorted(p for p in map(Path, glob.glob(pattern)) if p.is_dir())
    if not folders:
        raise ConfigError(f"{pattern!r} matches no run folder")
    runs = []
    for folder in folders:
        path = folder / "metrics.json"
        if not path.is_file():
            raise ConfigError(f"{folder} has no metrics.json: is the run finished?")
        run = json.loads(path.read_text(encoding="utf-8"))
        if "results" not in run:
            raise ConfigError(f"{path} has no results: the run was not evaluated")
        runs.append(run)
    first = {k: v for k, v in runs[0]["config"].items() if k not in _FREE}
    for folder, run in zip(folders[1:], runs[1:], strict=True):
        other = {k: v for k, v in run["config"].items() if k not in _FREE}
        differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differ:
            raise ConfigError(
                f"{folder} differs from {folders[0]} in {', '.join(differ)}, not only the seed"
            )
    return runs


def _cell(values: list[float | str], fmt: str = "{:.2f}") -> str:
    # metrics.json writes infinities as the strings "inf" and "-inf".
    values = [float(v) for v in values]
    if not values:
        return "–"
    if any(math.isinf(v) for v in values):
        return "∞"
    mean = fmt.format(sum(values) / len(values))
    if len(values) == 1:
        return mean
    return f"{mean} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def summary_table(groups: dict[str, list[dict]]) -> str:
    """A Markdown table, one row per (direction, group) and a copy-input row per
    direction, taken from the first group (it is the same for every run on one test set).
    """
    header = ["direction", "translation", "seeds", *(h for _, h in METRICS)]
    header += ["steps/s", "wall time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
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
                fmt = "{:.3f}" if name.startswith("mask") else "{:.2f}"
                cells.append(_cell([r[name] for r in results if name in r], fmt))
            if runs is None:
                cells += ["–", "–"]
            else:
                speed = sum(r["steps_per_second"] for r in runs) / len(runs)
                longest = max(r["train_seconds"] + r.get("eval_seconds", 0.0) for r in runs)
                cells += [f"{speed:.2f}", f"{longest / 60:.1f} min"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="summarize.py", description=__doc__.split("\n")[0])
    parser.add_argument("groups", nargs="+", metavar="LABEL=GLOB", help="one row per direction")
    args = parser.parse_args(argv)
    try:
        groups = {}
        for spec in args.groups:
            label, sep, pattern = spec.partition("=")
            if not sep or not label or not pattern:
                raise ConfigError(f"{spec!r}: expected LABEL=GLOB, e.g. 'AGGAN=runs/aggan-s*'")
            if label in groups:
                raise ConfigError(f"label {label!r} is given twice")
            groups[label] = read_group(pattern)
    except (ConfigError, OSError, json.JSONDecodeError) as err:
        print(f"summarize.py: error: {err}", file=sys.stderr)
        return 2
    print(summary_table(groups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
