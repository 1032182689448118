"""Evaluate a trained run on a test split: every (source, target) pair of domains.

    python examples/stargan_aggan/evaluate.py RUN_DIR [--data-root D] [--json out.json]

With a paired test split and ``gt/mask/`` (the built-in faces): PSNR against the true
counterpart, change-region and background PSNR, the attention mask's IoU and AUROC
against the true change mask; the accuracy of a domain classifier trained on the
training split alone; a copy-input row per pair for scale, and the classifier's
accuracy on the real test images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.checkpoints import add_run_arguments
from common.config import ConfigError, whole_number
from common.rundir import write_json

from stargan_aggan.checkpointing import load_run
from stargan_aggan.classifier import train_classifier
from stargan_aggan.data import check_layout, default_data_root
from stargan_aggan.evaluation import evaluate, format_pairs, format_targets, label_of

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate.py", description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--data-root", type=Path, help="data set (default: the run's)")
    parser.add_argument(
        "--limit",
        type=whole_number(0),
        default=0,
        help="first N test images per domain, 0 for all (default: 0)",
    )
    parser.add_argument("--pairs", action="store_true", help="also print the table per pair")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    try:
        cfg, model, domains, device = load_run(args)
        root = args.data_root or (
            Path(cfg.data_root) if cfg.data_root else default_data_root(cfg.size)
        )
        # The classifier trains on the training split: both phases are needed.
        check_layout(root, domains, phases=("train", "test"))
        classifier = train_classifier(root, domains, cfg.size, device)
        results = evaluate(model, root, domains, cfg.size, device, classifier, limit=args.limit)
        if args.json:
            write_json(args.json, results)
    except (ConfigError, OSError) as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return 2
    print(format_targets(results, label=label_of(cfg)))
    if args.pairs:
        print("\n" + format_pairs(results, label=label_of(cfg)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
