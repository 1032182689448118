"""Results tables: Markdown cells and tables, and the mean and range over seeds of
finished runs (the examples' ``summarize.py``)."""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import ConfigError

__all__ = [
    "FREE",
    "cell",
    "markdown_table",
    "mean_range",
    "read_group",
    "read_groups",
    "speed_and_time",
    "summarize_main",
]


def cell(value: float | None, fmt: str) -> str:
    """One value of a results table: "N/A" when absent, "inf" for infinities."""
    if value is None:
        return "N/A"
    if math.isinf(value):
        return "inf"
    return fmt.format(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of the given header and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def speed_and_time(runs: list[dict] | None) -> list[str]:
    """The last two cells of a summary row: the runs' mean steps per second and the
    longest training plus evaluation time ("–" for a reference row, ``runs`` None)."""
    if runs is None:
        return ["–", "–"]
    speed = sum(r["steps_per_second"] for r in runs) / len(runs)
    longest = max(r["train_seconds"] + r.get("eval_seconds", 0.0) for r in runs)
    return [f"{speed:.2f}", f"{longest / 60:.1f} min"]


#: Options that may differ between the runs of one row.
FREE = frozenset({"seed", "out", "threads", "workers", "sample_every", "save_every", "log_every"})


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
    first = {k: v for k, v in runs[0]["config"].items() if k not in FREE}
    for folder, run in zip(folders[1:], runs[1:], strict=True):
        other = {k: v for k, v in run["config"].items() if k not in FREE}
        differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differ:
            raise ConfigError(
                f"{folder} differs from {folders[0]} in {', '.join(differ)}, not only the seed"
            )
    return runs


def mean_range(values: list[float | str], fmt: str = "{:.2f}") -> str:
    # metrics.json writes infinities as the strings "inf" and "-inf".
    values = [float(v) for v in values]
    if not values:
        return "–"
    if any(math.isinf(v) for v in values):
        # The mean is infinite; the range still shows the finite seeds.
        if len(values) == 1:
            return "∞"
        low = min(values)
        return f"∞ ({'∞' if math.isinf(low) else fmt.format(low)}–∞)"
    mean = fmt.format(sum(values) / len(values))
    if len(values) == 1:
        return mean
    return f"{mean} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def read_groups(specs: list[str]) -> dict[str, list[dict]]:
    """``LABEL=GLOB`` arguments as label -> the runs :func:`read_group` finds.

    Raises:
        ConfigError: an argument is not ``LABEL=GLOB``, a label repeats, or a group is
            not a set of finished runs that differ in their seed alone.
    """
    groups: dict[str, list[dict]] = {}
    for spec in specs:
        label, sep, pattern = spec.partition("=")
        if not sep or not label or not pattern:
            raise ConfigError(f"{spec!r}: expected LABEL=GLOB, e.g. 'AGGAN=runs/aggan-s*'")
        if label in groups:
            raise ConfigError(f"label {label!r} is given twice")
        groups[label] = read_group(pattern)
    return groups


def summarize_main(
    argv: list[str] | None,
    *,
    description: str,
    rows: str,
    table: Callable[[dict[str, list[dict]]], str],
) -> int:
    """The command line of a ``summarize.py``: ``LABEL=GLOB`` arguments in, ``table`` of
    their runs printed; 2 and a one-line message on bad input."""
    parser = argparse.ArgumentParser(prog="summarize.py", description=description)
    parser.add_argument("groups", nargs="+", metavar="LABEL=GLOB", help=rows)
    args = parser.parse_args(argv)
    try:
        groups = read_groups(args.groups)
    except (ConfigError, OSError, json.JSONDecodeError) as err:
        print(f"summarize.py: error: {err}", file=sys.stderr)
        return 2
    print(table(groups))
    return 0
