"""Translate images to a target domain with a trained run: images and attention masks.

    python examples/stargan_aggan/translate.py RUN_DIR INPUT OUTPUT_DIR --target smiling
    python examples/stargan_aggan/translate.py --weights 200000-G.ckpt --arch aggan-multi \
        INPUT OUTPUT_DIR --target 4

INPUT is an image or a folder of images. Writes OUTPUT_DIR/images/NAME.png (the
translations) and, for an attention-guided run, OUTPUT_DIR/masks/NAME.png (8-bit
grayscale, 255 = the generator painted there), where NAME is the input's path relative
to INPUT (its file name for a single image) without its suffix. Nothing is overwritten
without ``--overwrite``, and two inputs that would share an output name are refused
before anything is written.

With ``--weights FILE --arch aggan-multi`` (instead of RUN_DIR) it runs the multi-domain
generator of the paper authors' code (``AttentionGAN-v1-multi``, e.g. the RaFD model's
``200000-G.ckpt``) from its ``state_dict`` file, read with
``attnguide.training.load_weights`` only (never unpickling code); the label length is
read from the weights' first convolution and ``--target`` is the domain's index in the
authors' label order (RaFD: the expressions' folders sorted by name).
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
from common.distributed import resolve_device
from common.outputs import check_outputs, image_inputs

from attnguide.data import read_image, save_image, to_uint8
from attnguide.nets import AGGANMultiGenerator
from attnguide.training import load_weights, weight_mismatches
from stargan_aggan.checkpointing import load_run
from stargan_aggan.model import StarGANModel

__all__ = ["load_authors_generator", "main", "translate_images"]


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


class _AuthorsModel:
    """An authors' generator in the place of a run's model (``translate`` and ``attention``)."""

    attention = True

    def __init__(self, generator: AGGANMultiGenerator) -> None:
        self.generator = generator

    def translate(self, images: torch.Tensor, targets: torch.Tensor):
        labels = torch.nn.functional.one_hot(targets, self.generator.c_dim).to(images)
        out = self.generator(images, labels)
        return out.image, out.mask


def load_authors_generator(path: Path, device: torch.device) -> AGGANMultiGenerator:
    """The authors' multi-domain generator (default sizes, the label length read from
    the weights) with the weights of ``path``, in eval mode.

    Raises:
        ConfigError: the file cannot be read safely, or does not fit the architecture.
    """
    try:
        weights = load_weights(path)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"--weights {path}: {err}") from None
    first = weights.get("main.0.weight")
    if first is None or first.ndim != 4 or first.shape[1] <= 3:
        raise ConfigError(
            f"--weights {path} does not fit --arch aggan-multi (no 'main.0.weight' taking "
            "3 image channels and a label)"
        )
    net = AGGANMultiGenerator(c_dim=int(first.shape[1]) - 3)
    problems = weight_mismatches(net.state_dict(), weights)
    if problems:
        raise ConfigError(
            f"--weights {path} does not fit --arch aggan-multi ({len(problems)} "
            f"difference(s), first: {'; '.join(problems[:3])})"
        )
    net.load_state_dict(weights)
    return net.to(device).eval()


def _main_weights(argv: list[str]) -> int:
    """``--weights FILE --arch aggan-multi INPUT OUTPUT_DIR --target INDEX``."""
    parser = argparse.ArgumentParser(
        prog="translate.py --weights", description="translate with the authors' weights"
    )
    parser.add_argument("--weights", type=Path, required=True, help="a state_dict file")
    parser.add_argument(
        "--arch",
        choices=("aggan-multi",),
        required=True,
        help="the authors' network the weights belong to",
    )
    parser.add_argument("inputs", type=Path, help="an image or a folder of images")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--target", type=whole_number(0), required=True, help="domain index")
    parser.add_argument(
        "--size", type=whole_number(4), default=128, help="image side (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=whole_number(1),
        default=16,
        help="images per forward pass (default: %(default)s)",
    )
    parser.add_argument("--device", default="auto", help="where to run (default: auto)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    try:
        files, names = image_inputs(args.inputs, allow_file=True)
        device = resolve_device(args.device)
        net = load_authors_generator(args.weights, device)
        if args.target >= net.c_dim:
            raise ConfigError(
                f"--target {args.target}: the weights know {net.c_dim} domains (0 to "
                f"{net.c_dim - 1})"
            )
        n = translate_images(
            _AuthorsModel(net),  # type: ignore[arg-type]
            args.size,
            device,
            files,
            names,
            args.outputs,
            args.target,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except (ConfigError, OSError) as err:
        print(f"translate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"translated {n} image(s) to domain {args.target} into {args.outputs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if any(a == "--weights" or a.startswith("--weights=") for a in given):
        return _main_weights(given)
    parser = argparse.ArgumentParser(
        prog="translate.py",
        description=__doc__.split("\n")[0],
        epilog="or: translate.py --weights FILE --arch aggan-multi INPUT OUTPUT_DIR --target "
        "INDEX (the authors' checkpoints; --weights --help for its options)",
    )
    add_run_arguments(parser)
    parser.add_argument("inputs", type=Path, help="an image or a folder of images")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument("--target", required=True, help="the target domain, by name")
    parser.add_argument(
        "--batch-size",
        type=whole_number(1),
        default=16,
        help="images per forward pass (default: %(default)s)",
    )
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
