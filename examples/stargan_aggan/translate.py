"""Translate images to a target domain with a trained run: images and attention masks.

    python examples/stargan_aggan/translate.py RUN_DIR INPUT OUTPUT_DIR --target smiling

INPUT is an image or a folder of images. Writes OUTPUT_DIR/images/NAME.png (the
translations) and, for an attention-guided run, OUTPUT_DIR/masks/NAME.png (8-bit
grayscale, 255 = the generator painted there), where NAME is the input's path relative
to INPUT (its file name for a single image) without its suffix. Nothing is overwritten
without ``--overwrite``, and two inputs that would share an output name are refused
before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from common.checkpoints import add_run_arguments
from common.config import ConfigError, whole_number
from common.outputs import check_outputs, image_inputs

from attnguide.data import read_image, save_image, to_uint8
from stargan_aggan.checkpointing import load_run
from stargan_aggan.model import StarGANModel

__all__ = ["main", "translate_images"]


@torch.no_grad()
def translate_images(
    model: StarGANModel,
    size: int,
    device: torch.device,
    files: list[Path],
    names: list[Path],
    outputs: Path,
    target: int,
    *,
    batch_size: int = 16,
    overwrite: bool = False,
) -> int:
    """Translates ``files`` to the domain ``target`` and writes the PNGs as ``names``
    under ``outputs``; returns how many.

    Raises:
        ConfigError: outputs that exist (without ``overwrite``).
    """
    kinds = ("images", "masks") if model.attention else ("images",)
    check_outputs(outputs, kinds, names, overwrite=overwrite)
    for k in range(0, len(files), batch_size):
        src = torch.stack([read_image(p, size=size) for p in files[k : k + batch_size]])
        labels = torch.full((len(src),), target, device=device)
        image, mask = model.translate(src.to(device), labels)
        for i, name in enumerate(names[k : k + batch_size]):
            save_image(to_uint8(image[i]), outputs / "images" / name)
            if mask is not None:
                save_image(to_uint8(mask[i], value_range=(0, 1)), outputs / "masks" / name)
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="translate.py", description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.add_argument("inputs", type=Path, help="an image or a folder of images")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--target", required=True, help="the target domain, by name")
    parser.add_argument("--batch-size", type=whole_number(1), default=16)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    try:
        # Bad inputs are said before anything is loaded.
        files, names = image_inputs(args.inputs, allow_file=True)
        cfg, model, domains, device = load_run(args)
        if args.target not in domains:
            raise ConfigError(
                f"--target {args.target!r}: the run knows the domains {', '.join(domains)}"
            )
        n = translate_images(
            model,
            cfg.size,
            device,
            files,
            names,
            args.outputs,
            domains.index(args.target),
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except (ConfigError, OSError) as err:
        print(f"translate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"translated {n} image(s) to {args.target} into {args.outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
