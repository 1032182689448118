"""Translate a folder of images with a trained AGGAN: images, attention masks, contents.

    python examples/aggan/translate.py RUN_DIR INPUT_DIR OUTPUT_DIR [--direction BtoA]
    python examples/aggan/translate.py --weights FILE --arch attentiongan INPUT_DIR OUTPUT_DIR

Writes OUTPUT_DIR/images/NAME.png (the translations), OUTPUT_DIR/masks/NAME.png (the
attention mask, 8-bit grayscale, 255 = the generator painted there) and
OUTPUT_DIR/content/NAME.png (what it painted), where NAME is the input's path relative
to INPUT_DIR without its suffix. A model trained without attention writes images only.
Nothing is overwritten without ``--overwrite``, and two inputs that would share an
output name (``x.png`` and ``x.jpg``) are refused before anything is written.

With ``--weights FILE --arch NAME`` (instead of RUN_DIR) it runs a generator of the
paper authors' code from its published ``state_dict`` file (``latest_net_G.pth`` of
AttentionGAN: ``--arch attentiongan``; ``netG_A2B.pth`` of AttentionGAN-v1: ``--arch
aggan``), built with the authors' default sizes. The file is read with
``attnguide.training.load_weights`` only, which never unpickles code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from common.config import ConfigError, whole_number
from common.distributed import resolve_device
from common.outputs import check_outputs, image_inputs

from aggan.checkpointing import add_run_arguments, load_run
from aggan.config import TrainConfig
from aggan.model import AGGAN, foreground
from attnguide.data import read_image, save_image, to_uint8
from attnguide.nets import AUTHORS_GENERATORS
from attnguide.training import load_weights, weight_mismatches

__all__ = ["load_authors_generator", "main", "translate_folder", "translate_with"]

# The authors' two-domain generators; the multi-domain one needs target labels.
AUTHORS_ARCHS = ("attentiongan", "aggan")


def _write(
    run: Callable[[torch.Tensor], tuple],
    files: list[Path],
    names: list[Path],
    outputs: Path,
    size,
    batch_size: int,
) -> None:
    """Translates ``files`` in batches with ``run(src) -> (image, mask, content)`` and
    writes each result under ``outputs``."""
    for k in range(0, len(files), batch_size):
        src = torch.stack([read_image(p, size=size) for p in files[k : k + batch_size]])
        image, mask, content = run(src)
        for i, name in enumerate(names[k : k + batch_size]):
            save_image(to_uint8(image[i]), outputs / "images" / name)
            if mask is not None:
                fg = to_uint8(foreground(mask[i : i + 1])[0], value_range=(0, 1))
                save_image(fg, outputs / "masks" / name)
                first = content[i, 0] if content.ndim == 5 else content[i]
                save_image(to_uint8(first), outputs / "content" / name)


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
    _write(
        lambda src: model.translate(src.to(device), direction),
        files,
        names,
        outputs,
        cfg.size,
        batch_size,
    )
    return len(files)


def load_authors_generator(path: Path, arch: str, device: torch.device) -> torch.nn.Module:
    """The authors' generator ``arch`` (default sizes) with the weights of ``path``, in
    eval mode.

    Raises:
        ConfigError: the file cannot be read safely, or its keys and shapes are not the
            architecture's (the message lists the first differences).
    """
    try:
        weights = load_weights(path)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"--weights {path}: {err}") from None
    net = AUTHORS_GENERATORS[arch]()
    problems = weight_mismatches(net.state_dict(), weights)
    if problems:
        raise ConfigError(
            f"--weights {path} does not fit --arch {arch} ({len(problems)} difference(s), "
            f"first: {'; '.join(problems[:3])})"
        )
    net.load_state_dict(weights)
    return net.to(device).eval()


@torch.no_grad()
def translate_with(
    generator: torch.nn.Module,
    device: torch.device,
    inputs: Path,
    outputs: Path,
    *,
    size: int = 256,
    batch_size: int = 16,
    overwrite: bool = False,
) -> int:
    """Translates every image under ``inputs`` with a generator returning
    ``AttentionOutput`` (the authors' networks) and writes images, masks and contents;
    returns how many.

    Raises:
        ConfigError: as :func:`translate_folder`.
    """
    files, names = image_inputs(inputs)
    check_outputs(outputs, ("images", "masks", "content"), names, overwrite=overwrite)

    def run(src: torch.Tensor):
        out = generator(src.to(device))
        return out.image, out.mask, out.content

    _write(run, files, names, outputs, size, batch_size)
    return len(files)


def _main_weights(argv: list[str] | None) -> int:
    """``--weights FILE --arch NAME INPUT_DIR OUTPUT_DIR``: an authors' checkpoint."""
    parser = argparse.ArgumentParser(
        prog="translate.py --weights", description="translate with the authors' weights"
    )
    parser.add_argument("--weights", type=Path, required=True, help="a state_dict file")
    parser.add_argument(
        "--arch",
        choices=AUTHORS_ARCHS,
        required=True,
        help="the authors' network the weights belong to",
    )
    parser.add_argument("inputs", type=Path, help="folder of images to translate")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument(
        "--size", type=whole_number(8), default=256, help="image side (default: %(default)s)"
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
        image_inputs(args.inputs)
        device = resolve_device(args.device)
        net = load_authors_generator(args.weights, args.arch, device)
        n = translate_with(
            net,
            device,
            args.inputs,
            args.outputs,
            size=args.size,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    except (ConfigError, OSError) as err:
        print(f"translate.py: error: {err}", file=sys.stderr)
        return 2
    print(f"translated {n} images with {args.arch} weights {args.weights} into {args.outputs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if any(a == "--weights" or a.startswith("--weights=") for a in given):
        return _main_weights(given)
    parser = argparse.ArgumentParser(
        prog="translate.py",
        description=__doc__.split("\n")[0],
        epilog="or: translate.py --weights FILE --arch {attentiongan,aggan} INPUT_DIR "
        "OUTPUT_DIR (the authors' checkpoints; --weights --help for its options)",
    )
    add_run_arguments(parser)
    parser.add_argument("inputs", type=Path, help="folder of images to translate")
    parser.add_argument("outputs", type=Path, help="folder for the results")
    parser.add_argument(
        "--direction",
        choices=("AtoB", "BtoA"),
        default="AtoB",
        help="which generator: AtoB (domain A to B) or BtoA (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=whole_number(1),
        default=16,
        help="images per forward pass (default: %(default)s)",
    )
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
