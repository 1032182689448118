"""Translate a folder of images with a trained AGGAN: images, attention masks, contents.

    python examples/aggan/translate.py RUN_DIR INPUT_DIR OUTPUT_DIR [--direction BtoA]

Writes OUTPUT_DIR/images/NAME.png (the translations), OUTPUT_DIR/masks/NAME.png (the
attention mask, 8-bit grayscale, 255 = the generator painted there) and
OUTPUT_DIR/content/NAME.png (what it painted), where NAME is the input's path relative
to INPUT_DIR without its suffix. A model trained without attention writes images only.
Nothing is overwritten without ``--overwrite``, and two inputs that would share an
output name (``x.png`` and ``x.jpg``) are refused before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from common.config import ConfigError, whole_number
from common.outputs import check_outputs, image_inputs

from aggan.checkpointing import add_run_arguments, load_run
from aggan.config import TrainConfig
from aggan.model import AGGAN, foreground
from attnguide.data import read_image, save_image, to_uint8

__all__ = ["main", "translate_folder"]


@torch.no_grad()
def translate_folder(
    cfg: TrainConfig,
    model: AGGAN,
    device: torch.device,
    inputs: Path,
    outputs: Path,
    *,
    direction: str = "AtoB",
    batch_size: int = 16,
    overwrite: bool = False,
) -> int:
    """Translates every image under ``inputs`` with a loaded run and writes the PNGs;
    returns how many.

    Raises:
        ConfigError: no images in ``inputs``, clashing output names, or outputs that
            exist (without ``overwrite``).
    """
    files, names = image_inputs(inputs)
    kinds = ("images", "masks", "content") if cfg.attention_generator else ("images",)
    check_outputs(outputs, kinds, names, overwrite=overwrite)
    for k in range(0, len(files), batch_size):
        src = torch.stack([read_image(p, size=cfg.size) for p in files[k : k + batch_size]])
        image, mask, content = model.translate(src.to(device), direction)
        for i, name in enumerate(names[k : k + batch_size]):
            save_image(to_uint8(image[i]), outputs / "images" / name)
            if mask is not None:
                fg = to_uint8(foreground(mask[i : i + 1])[0], value_range=(0, 1))
                save_image(fg, outputs / "masks" / name)
                first = content[i, 0] if content.ndim == 5 else content[i]
                save_image(to_uint8(first), outputs / "content" / name)
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="translate.py", description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("inputs", type=Path, help="folder of images to translate")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    parser.add_argument("--batch-size", type=whole_number(1), default=16)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    try:
        image_inputs(args.inputs)  # bad inputs are said before loading
        cfg, model, device = load_run(args)
        n = translate_folder(
            cfg,
            model,
            device,
            args.inputs,
            args.outputs,
            direction=args.direction,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except (ConfigError, OSError) as err:
        print(f"translate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"translated {n} images ({args.direction}) into {args.outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
