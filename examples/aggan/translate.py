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

from aggan.checkpointing import load_trained
from aggan.config import ConfigError
from aggan.model import foreground
from attnguide.data import list_images, read_image, save_image, to_uint8

__all__ = ["main", "translate_folder"]


def _outputs(files: list[Path], inputs: Path) -> list[Path]:
    """The output name of each input, refusing two inputs that would share one."""
    names: dict[Path, Path] = {}
    for path in files:
        name = path.relative_to(inputs).with_suffix(".png")
        if name in names:
            raise ConfigError(
                f"{names[name]} and {path} would both be written as {name}; rename one of them"
            )
        names[name] = path
    return list(names)


@torch.no_grad()
def translate_folder(
    run_dir: Path | None,
    inputs: Path,
    outputs: Path,
    *,
    direction: str = "AtoB",
    checkpoint: Path | None = None,
    config: Path | None = None,
    device: str = "auto",
    batch_size: int = 16,
    overwrite: bool = False,
) -> int:
    """Translates every image under ``inputs`` and writes the PNGs; returns how many.

    Raises:
        ConfigError: no images in ``inputs``, clashing output names, outputs that exist
            (without ``overwrite``), a bad batch size, or a run that cannot be loaded.
    """
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if not inputs.is_dir():
        raise ConfigError(f"input folder {inputs} does not exist")
    files = list_images(inputs)
    if not files:
        raise ConfigError(f"input folder {inputs} holds no images")
    names = _outputs(files, inputs)
    cfg, model, target = load_trained(run_dir, checkpoint=checkpoint, config=config, device=device)
    kinds = ("images", "masks", "content") if cfg.attention_generator else ("images",)
    existing = [outputs / k / n for k in kinds for n in names if (outputs / k / n).exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{len(existing)} output file(s) exist already, e.g. {existing[0]}; choose another "
            "output folder or pass --overwrite"
        )
    for k in range(0, len(files), batch_size):
        chunk = files[k : k + batch_size]
        src = torch.stack([read_image(p, size=cfg.size) for p in chunk]).to(target)
        image, mask, content = model.translate(src, direction)
        for i, name in enumerate(names[k : k + batch_size]):
            save_image(to_uint8(image[i]), outputs / "images" / name)
            if mask is not None:
                save_image(
                    to_uint8(foreground(mask[i : i + 1])[0], value_range=(0, 1)),
                    outputs / "masks" / name,
                )
                first = content[i, 0] if content.ndim == 5 else content[i]
                save_image(to_uint8(first), outputs / "content" / name)
    return len(files)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="translate.py", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by train.py")
    parser.add_argument("inputs", type=Path, help="folder of images to translate")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint other than the run's")
    parser.add_argument("--config", type=Path, help="a config.json other than the run's")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=_positive, default=16)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    try:
        n = translate_folder(
            args.run_dir,
            args.inputs,
            args.outputs,
            direction=args.direction,
            checkpoint=args.checkpoint,
            config=args.config,
            device=args.device,
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
