"""Draws the upgrade guide's picture: CycleGAN output | upgraded output | mask.

    python examples/aggan/train.py --baseline cyclegan --out runs/cyclegan
    python examples/aggan/train.py --init-from runs/cyclegan --out runs/upgraded ...
    python docs/gen_upgrade_figure.py --cyclegan runs/cyclegan --upgraded runs/upgraded

Translates the first ``--rows`` held-out test faces (neutral -> smiling) with the
CycleGAN run's plain generator and with the upgraded run's attention-guided one, and
draws one row per face: the input, the CycleGAN's output, the upgraded output and its
attention mask. Needs the ``examples`` extra (Pillow, matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "examples"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from aggan.checkpointing import load_trained  # noqa: E402
from aggan.config import ConfigError  # noqa: E402
from gen_home_figure import add_figure_arguments, columns, draw  # noqa: E402

LABELS = ("input", "CycleGAN", "upgraded", "attention mask")


@torch.no_grad()
def cyclegan_outputs(run: Path, inputs: Tensor, device: str) -> Tensor:
    """The A -> B translations of a plain-generator run, in [0, 1]."""
    cfg, model, target = load_trained(run, device=device)
    if cfg.attention_generator:
        raise ConfigError(f"{run} trained attention generators: expected a CycleGAN run")
    image = model.translate((inputs * 2 - 1).to(target), "AtoB")[0]
    return (image.cpu() + 1) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cyclegan", type=Path, required=True, metavar="RUN_DIR")
    parser.add_argument("--upgraded", type=Path, required=True, metavar="RUN_DIR")
    add_figure_arguments(parser, HERE / "images" / "upgrade-cyclegan.png")
    args = parser.parse_args(argv)
    try:
        inputs, mask, upgraded = columns(args.upgraded, args.data_root, args.rows, args.device)
        cyclegan = cyclegan_outputs(args.cyclegan, inputs, args.device)
    except ConfigError as err:
        print(f"gen_upgrade_figure.py: error: {err}", file=sys.stderr)
        return 2
    scale = args.scale or max(1, 192 // inputs.shape[-1])
    draw([inputs, cyclegan, upgraded, mask], args.out, scale=scale, labels=LABELS)
    print(f"wrote {args.out} ({len(inputs)} faces, {scale}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
