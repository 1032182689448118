"""Evaluate a trained AGGAN on a test split and print the results table.

    python examples/aggan/evaluate.py RUN_DIR [--data-root D] [--json metrics.json]
    python examples/aggan/evaluate.py RUN_DIR --at-start   # the networks it started from

With the synthetic faces' ground truth (``root/gt/``): PSNR and MSE (0-255 scale)
against the true counterpart as in the paper's Table I, SSIM, change-region and
background PSNR, and the attention mask's IoU and AUROC against the true change
region; a "copy input" row gives the scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.config import ConfigError, whole_number
from common.rundir import write_json

from aggan.checkpointing import add_run_arguments, load_run
from aggan.data import check_layout, default_data_root, load_test_set
from aggan.evaluation import evaluate, format_table, load_judge, train_judge
from aggan.pretrained import load_start
from aggan.visuals import error_figure

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--data-root", type=Path, help="test data (default: the run's)")
    parser.add_argument(
        "--limit",
        type=whole_number(0),
        default=0,
        help="first N test images only, 0 for all (default: 0)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--no-classifier",
        dest="classifier",
        action="store_false",
        help="leave out the domain classifier's accuracy (by default the run's "
        "classifier.safetensors, or one trained on the data set's training images)",
    )
    parser.add_argument(
        "--at-start",
        action="store_true",
        help="score the networks a run started from (its --init-from), before its first step",
    )
    parser.add_argument(
        "--error-figure",
        type=Path,
        metavar="PNG",
        help="also draw input | mask | output | truth | |output - truth| for a few test "
        "faces per direction (needs the data set's ground truth)",
    )
    parser.add_argument(
        "--figure-rows",
        type=whole_number(1),
        default=4,
        help="test faces per direction (default: 4)",
    )
    args = parser.parse_args(argv)
    try:
        if args.at_start and (args.checkpoint or args.config):
            raise ConfigError(
                "--at-start reads the run's own config.json: drop --checkpoint/--config"
            )
        cfg, model, device = (
            load_start(args.run_dir, device=args.device) if args.at_start else load_run(args)
        )
        root = args.data_root or (
            Path(cfg.data_root) if cfg.data_root else default_data_root(cfg.size)
        )
        check_layout(root, phases=("test",))
        judge = None
        if args.classifier:
            saved = args.run_dir / "classifier.safetensors" if args.run_dir else None
            if saved is not None and saved.is_file():
                judge = load_judge(saved, device)
            else:
                check_layout(root, phases=("train",))
                judge = train_judge(root, cfg.size, device)
        results = evaluate(model, root, cfg.size, device, limit=args.limit, classifier=judge)
        if args.json:
            write_json(args.json, results)
        if args.error_figure:
            _error_figures(model, root, cfg.size, device, args.error_figure, args.figure_rows)
    except (ConfigError, OSError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    label = "AGGAN" if cfg.attention_generator else "baseline (no attention)"
    print(format_table(results, label=label))
    return 0


def _error_figures(model, root: Path, size: int, device, path: Path, rows: int) -> None:
    """One error figure per direction: ``path`` with ``-AtoB`` / ``-BtoA`` before .png."""
    for direction in ("AtoB", "BtoA"):
        data = load_test_set(root, direction, size, rows)
        if data.target is None:
            raise ConfigError(f"{root} has no ground truth (gt/) to draw the errors against")
        out = path.with_name(f"{path.stem}-{direction}{path.suffix}")
        error_figure(model, data.source.to(device), data.target.to(device), direction, out)
        print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
