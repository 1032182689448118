"""Convergence curves of several runs, and the step and time at which each goal is met.

    python examples/aggan/curves.py "main job=runs/a" "--preset long=runs/b" \\
        --out examples/aggan/images/convergence.png --json convergence.json

Each run is ``LABEL=PATH``: a run folder trained with ``--eval-every`` (its
``eval.jsonl``) or an evaluation log itself. The figure has one column per metric
(PSNR, change PSNR, background PSNR, mask IoU and AUROC, classifier accuracy), against
the step and the training time; the table gives, per run and direction, the first
evaluated step (and training minutes) at which each goal holds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.summary import markdown_table
from common.visuals import eval_curves

from aggan.data import DIRECTIONS
from attnguide.training import read_eval_log

__all__ = ["GOALS", "first_reached", "main"]

#: The goals of the main job: (name, metric, test) with the copy-input value ``copy``.
GOALS = (
    ("PSNR > copy", "psnr", lambda v, copy: v > copy["psnr"]),
    ("change PSNR >= copy + 3", "change_psnr", lambda v, copy: v >= copy["change_psnr"] + 3),
    ("bg PSNR >= 30", "bg_psnr", lambda v, copy: v >= 30),
    ("mask IoU >= 0.4", "mask_iou", lambda v, copy: v >= 0.4),
    ("mask AUROC >= 0.9", "mask_auroc", lambda v, copy: v >= 0.9),
    ("classifier >= 0.8", "accuracy", lambda v, copy: v >= 0.8),
)

#: The curves drawn: (metric, title).
CURVES = (
    ("psnr", "PSNR"),
    ("change_psnr", "change PSNR"),
    ("bg_psnr", "background PSNR"),
    ("mask_iou", "mask IoU"),
    ("mask_auroc", "mask AUROC"),
    ("accuracy", "classifier: target domain"),
)


def _log_of(path: Path) -> Path:
    return path / "eval.jsonl" if path.is_dir() else path


def first_reached(records: list[dict], direction: str, copy: dict[str, float]) -> dict:
    """Per goal, ``(step, minutes)`` of the first record where it holds, or None."""
    found: dict[str, tuple[int, float] | None] = {}
    for name, metric, holds in GOALS:
        found[name] = None
        for r in records:
            value = r.get(direction, {}).get(metric)
            if value is not None and not math.isnan(value) and holds(value, copy):
                found[name] = (r["step"], r["seconds"] / 60)
                break
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="curves.py", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="LABEL=PATH", help="runs to draw")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--json", type=Path, help="also write the goal table here")
    args = parser.parse_args(argv)
    runs = []
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            parser.error(f"a run is LABEL=PATH, got {spec!r}")
        log = _log_of(Path(path))
        if not log.is_file():
            parser.error(f"{path} has no evaluation log (train with --eval-every N)")
        try:
            runs.append((label, read_eval_log(log)))
        except ValueError as err:
            parser.error(str(err))
    copy = next(
        (r["AtoB/identity"] for _, records in runs for r in records if "AtoB/identity" in r), None
    )
    if copy is None:
        parser.error("no log holds the copy-input scores (the first record of a run has them)")
    # A colour per run, a line style per direction.
    palette = [f"C{i}" for i in range(10)] + ["black", "saddlebrown"]
    lines = [
        (
            f"{label}: {DIRECTIONS[d][2].split(' (')[0]}",
            records,
            d,
            {"color": palette[i % len(palette)], "linestyle": "-" if k == 0 else "--"},
        )
        for i, (label, records) in enumerate(runs)
        for k, d in enumerate(DIRECTIONS)
    ]
    eval_curves(lines, args.out, metrics=CURVES, references=[("copy input", copy)])
    rows, table = [], {}
    for label, records in runs:
        for d in DIRECTIONS:
            reached = first_reached(records, d, copy)
            table[f"{label}/{d}"] = reached
            rows.append(
                [label, DIRECTIONS[d][2]]
                + ["–" if v is None else f"{v[0]} ({v[1]:.1f} min)" for v in reached.values()]
            )
    print(markdown_table(["run", "direction"] + [g[0] for g in GOALS], rows))
    print(f"wrote {args.out}")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
