"""Evaluate a trained AGGAN on a test split and print the results table.

    python examples/aggan/evaluate.py RUN_DIR [--data-root D] [--json metrics.json]

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
from aggan.data import check_layout, default_data_root
from aggan.evaluation import evaluate, format_table

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--data-root", type=Path, help="test data (default: the run's)")
    parser.add_argument(
        "--limit", type=whole_number(0), default=0, help="first N test images only (0: all)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        cfg, model, device = load_run(args)
        root = args.data_root or (
            Path(cfg.data_root) if cfg.data_root else default_data_root(cfg.size)
        )
        check_layout(root, phases=("test",))
        results = evaluate(model, root, cfg.size, device, limit=args.limit)
        if args.json:
            write_json(args.json, results)
    except (ConfigError, OSError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    label = "AGGAN" if cfg.attention_generator else "baseline (no attention)"
    print(format_table(results, label=label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
