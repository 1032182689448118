"""Draws the home page's picture: input | attention mask | output of a trained AGGAN.

    python examples/aggan/train.py --out runs/aggan-faces      # train (see the guide)
    python docs/gen_home_figure.py --run runs/aggan-faces      # -> docs/images/home.png

Loads the X -> Y generator (neutral -> smiling) of an ``examples/aggan`` run folder
with the run's own configuration, translates the first ``--rows`` held-out test faces
and draws one row per face: the input, the attention mask (black: copied from the
input, yellow: painted by the generator) and the output. The test faces are read from
the run's data set; the built-in synthetic faces are rendered first if they are absent.
Needs the ``examples`` extra (Pillow, matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from aggan.checkpointing import load_trained  # noqa: E402
from aggan.config import ConfigError, TrainConfig  # noqa: E402
from aggan.data import check_layout, default_data_root  # noqa: E402
from aggan.model import foreground  # noqa: E402

from attnguide.data import list_images, make_synthetic_faces, read_image  # noqa: E402

LABELS = ("input", "attention mask", "output")


def test_root(cfg: TrainConfig, data_root: Path | None) -> Path:
    """The data set whose ``testA`` images the figure shows."""
    if data_root is None and cfg.data_root is None:
        # Rendering is deterministic: these are the faces the run was evaluated on.
        return make_synthetic_faces(default_data_root(cfg.size), size=cfg.size)
    root = data_root if data_root is not None else Path(cfg.data_root)
    check_layout(root, phases=("test",))
    return root


@torch.no_grad()
def columns(run: Path, data_root: Path | None, rows: int, device: str) -> list[Tensor]:
    """Inputs, coloured masks and outputs of the run's A -> B generator, in [0, 1]."""
    cfg, model, target = load_trained(run, device=device)
    if not cfg.attention_generator:
        raise ConfigError(f"{run} trained plain generators: there is no mask to draw")
    files = list_images(test_root(cfg, data_root) / "testA")[:rows]
    x = torch.stack([read_image(p, size=cfg.size) for p in files]).to(target)
    image, mask, _ = model.translate(x, "AtoB")
    return [(x.cpu() + 1) / 2, inferno(foreground(mask).cpu()), (image.cpu() + 1) / 2]


def inferno(mask: Tensor) -> Tensor:
    """(b, 1, h, w) masks in [0, 1] as (b, 3, h, w) colours of matplotlib's "inferno"."""
    from matplotlib import colormaps

    rgba = colormaps["inferno"](mask[:, 0].clamp(0, 1).numpy())
    return torch.from_numpy(rgba[..., :3]).float().permute(0, 3, 1, 2)


def draw(tiles: list[Tensor], out: Path, *, scale: int, labels: tuple[str, ...] = LABELS) -> None:
    """One row per image, one column per entry of ``tiles``, labelled on top."""
    from PIL import Image, ImageDraw, ImageFont

    rows, size = tiles[0].shape[0], tiles[0].shape[-1]
    tile = size * scale
    gap, top = max(4, tile // 32), max(24, tile // 6)
    width = len(tiles) * tile + (len(tiles) - 1) * gap
    height = top + rows * tile + (rows - 1) * gap
    canvas = Image.new("RGB", (width, height), "white")
    for col, images in enumerate(tiles):
        for row in range(rows):
            array = (images[row].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            image = Image.fromarray(array).resize((tile, tile), Image.Resampling.NEAREST)
            canvas.paste(image, (col * (tile + gap), top + row * (tile + gap)))
    pen = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=top * 2 // 3)
    for col, label in enumerate(labels[: len(tiles)]):
        centre = col * (tile + gap) + tile // 2
        pen.text((centre, top // 2), label, fill="black", font=font, anchor="mm")
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)


def add_figure_arguments(parser: argparse.ArgumentParser, out: Path) -> None:
    """The options every figure script shares: where, which faces, how large, on what."""
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--data-root", type=Path, help="test data (default: the run's)")
    parser.add_argument("--rows", type=int, default=3, help="test faces to show")
    parser.add_argument("--scale", type=int, default=0, help="pixels per image pixel (0: auto)")
    parser.add_argument("--device", default="cpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, required=True, metavar="RUN_DIR", help="an examples/aggan run folder"
    )
    add_figure_arguments(parser, HERE / "images" / "home.png")
    args = parser.parse_args(argv)
    try:
        tiles = columns(args.run, args.data_root, args.rows, args.device)
    except ConfigError as err:
        print(f"gen_home_figure.py: error: {err}", file=sys.stderr)
        return 2
    # Small images are enlarged without smoothing to about 192 pixels a tile.
    scale = args.scale or max(1, 192 // tiles[0].shape[-1])
    draw(tiles, args.out, scale=scale)
    print(f"wrote {args.out} ({len(tiles[0])} faces, {scale}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
