"""Translate a folder of images with a trained AGGAN: images, attention masks, contents.

    python examples/aggan/translate.py RUN_DIR INPUT_DIR OUTPUT_DIR [--direction BtoA]

Writes OUTPUT_DIR/images/NAME.png (the translations), OUTPUT_DIR/masks/NAME.png (the
attention mask, 8-bit grayscale, 255 = the generator painted there) and
OUTPUT_DIR/content/NAME.png (what it painted). A model trained without attention writes
images only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from aggan.config import ConfigError
from aggan.data import list_images
from aggan.engine import load_trained
from aggan.evaluation import load_image
from aggan.model import foreground
from aggan.visuals import to_uint8

__all__ = ["main", "translate_folder"]


def _save(image: torch.Tensor, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    array = image.permute(1, 2, 0).cpu().contiguous().numpy()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


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
) -> int:
    """Translates every image under ``inputs`` and writes the PNGs; returns how many.

    Raises:
        ConfigError: no images in ``inputs``, ``outputs`` is not writable, or the run's
            checkpoint cannot be loaded.
    """
    if not inputs.is_dir():
        raise ConfigError(f"input folder {inputs} does not exist")
    files = list_images(inputs)
    if not files:
        raise ConfigError(f"input folder {inputs} holds no images")
    cfg, model, target = load_trained(run_dir, checkpoint=checkpoint, config=config, device=device)
    try:
        outputs.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot write to {outputs}: {err.strerror or err}") from None
    for k in range(0, len(files), batch_size):
        chunk = files[k : k + batch_size]
        src = torch.stack([load_image(p, cfg.size) for p in chunk]).to(target)
        image, mask, content = model.translate(src, direction)
        for i, path in enumerate(chunk):
            name = path.relative_to(inputs).with_suffix(".png")
            _save(to_uint8(image[i]), outputs / "images" / name)
            if mask is not None:
                fg = (foreground(mask[i : i + 1])[0] * 255).round().to(torch.uint8)
                _save(fg, outputs / "masks" / name)
                first = content[i, 0] if content.ndim == 5 else content[i]
                _save(to_uint8(first), outputs / "content" / name)
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="translate.py", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by train.py")
    parser.add_argument("inputs", type=Path, help="folder of images to translate")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint other than the run's")
    parser.add_argument("--config", type=Path, help="a config.json other than the run's")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
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
        )
    except ConfigError as err:
        print(f"translate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"translated {n} images ({args.direction}) into {args.outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
