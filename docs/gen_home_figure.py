"""Draws the home page's picture: input | attention mask | output on synthetic faces.

    python docs/gen_home_figure.py                      # trains a small AGGAN on the CPU
    python docs/gen_home_figure.py --checkpoint runs/aggan-DATE-TIME/checkpoint   # a trained run

Without ``--checkpoint`` it renders the synthetic faces data set, trains a small AGGAN
(two attention-guided generators, vanilla and mask-conditioned discriminators, the
paper's Eq. 9 objective) for ``--steps`` steps using only attnguide's public API, and
draws its neutral -> smiling translations of held-out test faces. With
``--checkpoint`` it loads the X -> Y generator of an ``examples/aggan`` run instead
(``--ngf``/``--n-blocks`` must match that run). Needs the ``examples`` extra (Pillow).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.data import UnpairedImageFolder, make_synthetic_faces
from attnguide.losses import (
    AdversarialLoss,
    AGGANLossWeights,
    aggan_generator_objective,
    cycle_consistency_loss,
    pixel_loss,
)
from attnguide.nets import PatchDiscriminator, ResnetGenerator, init_weights
from attnguide.training import ImagePool, load_checkpoint

HERE = Path(__file__).resolve().parent

# A perceptually ordered dark-to-bright ramp (black, violet, orange, pale yellow) for
# the mask, so that "how much" reads at a glance without a colour bar.
_RAMP = torch.tensor(
    [
        [0.0, 0.0, 0.02],
        [0.33, 0.06, 0.43],
        [0.73, 0.22, 0.33],
        [0.98, 0.55, 0.04],
        [0.99, 1.0, 0.64],
    ]
)


def heat(mask: Tensor) -> Tensor:
    """(b, 1, h, w) in [0, 1] -> (b, 3, h, w) RGB in [0, 1], along ``_RAMP``."""
    t = mask.clamp(0, 1).squeeze(1) * (len(_RAMP) - 1)
    lo = t.floor().long().clamp(max=len(_RAMP) - 2)
    frac = (t - lo).unsqueeze(-1)
    rgb = _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac
    return rgb.permute(0, 3, 1, 2)


def make_models(ngf: int, n_blocks: int, ndf: int) -> dict[str, nn.Module]:
    def generator() -> AttentionHead:
        return AttentionHead(init_weights(ResnetGenerator(ngf=ngf, n_blocks=n_blocks)))

    def discriminator() -> PatchDiscriminator:
        return init_weights(PatchDiscriminator(ndf=ndf, n_layers=2))

    return {
        "G_XY": generator(),
        "G_YX": generator(),
        "D_Y": discriminator(),
        "D_X": discriminator(),
        "D_YA": MaskConditionedDiscriminator(discriminator()),
        "D_XA": MaskConditionedDiscriminator(discriminator()),
    }


def train(
    m: dict[str, nn.Module], root: Path, *, size: int, steps: int, batch_size: int, lr: float
) -> None:
    """A short AGGAN run: the step of the CycleGAN guide, with r = 0.5 throughout."""
    data = UnpairedImageFolder(root, load_size=size + size // 8, crop_size=size, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
    gan, weights = AdversarialLoss("lsgan"), AGGANLossWeights()
    G, D = ("G_XY", "G_YX"), ("D_Y", "D_X", "D_YA", "D_XA")
    opt_G = torch.optim.Adam(
        itertools.chain(*(m[k].parameters() for k in G)), lr=lr, betas=(0.5, 0.999)
    )
    opt_D = torch.optim.Adam(
        itertools.chain(*(m[k].parameters() for k in D)), lr=lr, betas=(0.5, 0.999)
    )
    pools = {"Y": ImagePool(50), "X": ImagePool(50)}
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    start = time.monotonic()
    for step, batch in zip(range(steps), batches, strict=False):
        x, y = batch["A"], batch["B"]
        fy, fx = m["G_XY"](x), m["G_YX"](y)
        for k in D:
            m[k].requires_grad_(False)
        terms = {
            "gan": gan(m["D_Y"](fy.image), True, for_discriminator=False)
            + gan(m["D_X"](fx.image), True, for_discriminator=False),
            "agan": gan(m["D_YA"](fy.image, fy.mask), True, for_discriminator=False)
            + gan(m["D_XA"](fx.image, fx.mask), True, for_discriminator=False),
            "cycle": cycle_consistency_loss(m["G_YX"](fy.image).image, x)
            + cycle_consistency_loss(m["G_XY"](fx.image).image, y),
            "pixel": pixel_loss(fy.image, x) + pixel_loss(fx.image, y),
            "tv": fy.tv.mean() + fx.tv.mean(),
        }
        loss_G, _ = aggan_generator_objective(terms, weights, 0.5)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()
        for k in D:
            m[k].requires_grad_(True)

        loss_D = torch.zeros(())
        for d, da, real, fake, pool in (
            (m["D_Y"], m["D_YA"], y, fy, pools["Y"]),
            (m["D_X"], m["D_XA"], x, fx, pools["X"]),
        ):
            mask = fake.mask.detach()
            old, old_mask = pool.query(fake.image.detach(), mask)
            loss_D = loss_D + 0.5 * (gan(d(real), True) + gan(d(old), False))
            loss_D = loss_D + 0.5 * (gan(da(real, mask), True) + gan(da(old, old_mask), False))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        if step % 100 == 0 or step == steps - 1:
            print(
                f"step {step:5d}  G {loss_G.item():.3f}  D {loss_D.item():.3f}  "
                f"mask mean {fy.mask.mean().item():.3f}  {time.monotonic() - start:.0f}s",
                flush=True,
            )


def load_generator(path: Path, *, ngf: int, n_blocks: int, key: str) -> AttentionHead:
    state = load_checkpoint(path)
    if key not in state:
        raise SystemExit(f"{path}: no {key!r} in the checkpoint; it holds {sorted(state)}")
    G = AttentionHead(ResnetGenerator(ngf=ngf, n_blocks=n_blocks))
    G.load_state_dict(state[key])
    return G


def draw(G: AttentionHead, root: Path, out: Path, *, size: int, rows: int, scale: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    test = UnpairedImageFolder(root, phase="test", crop_size=size, serial=True)
    x = torch.stack([test[i]["A"] for i in range(rows)])
    G.eval()
    with torch.no_grad():
        result = G(x)
    tiles = [(x + 1) / 2, heat(result.mask), (result.image + 1) / 2]
    labels = ["input", "attention mask", "output"]

    gap, top = 4 * scale, 12 * scale
    tile = size * scale
    width = 3 * tile + 2 * gap
    height = top + rows * tile + (rows - 1) * gap
    canvas = Image.new("RGB", (width, height), "white")
    for col, images in enumerate(tiles):
        for row in range(rows):
            array = (images[row].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            image = Image.fromarray(array).resize((tile, tile), Image.Resampling.NEAREST)
            canvas.paste(image, (col * (tile + gap), top + row * (tile + gap)))
    pen = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=8 * scale)
    for col, label in enumerate(labels):
        x0 = col * (tile + gap) + tile // 2
        pen.text((x0, top // 2), label, fill="black", font=font, anchor="mm")
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)
    print(f"wrote {out} ({width}x{height})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="an examples/aggan checkpoint")
    parser.add_argument("--checkpoint-key", default="G_xy", help="the X->Y generator's key")
    parser.add_argument("--out", type=Path, default=HERE / "images" / "faces_attention.png")
    parser.add_argument("--data-root", type=Path, help="synthetic faces (rendered if absent)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--n-blocks", type=int, default=4)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--scale", type=int, default=3, help="pixels per image pixel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root or Path(tmp) / "faces"
        if not (root / "testA").is_dir():
            n_test = max(args.rows, 8)
            make_synthetic_faces(root, n_train=args.n_train, n_test=n_test, size=args.size)
        if args.checkpoint is not None:
            G = load_generator(
                args.checkpoint, ngf=args.ngf, n_blocks=args.n_blocks, key=args.checkpoint_key
            )
        else:
            models = make_models(args.ngf, args.n_blocks, args.ndf)
            train(
                models,
                root,
                size=args.size,
                steps=args.steps,
                batch_size=args.batch_size,
                lr=args.lr,
            )
            G = models["G_XY"]
        draw(G, root, args.out, size=args.size, rows=args.rows, scale=args.scale)


if __name__ == "__main__":
    main()
