"""``python -m attnguide.data.synthetic_faces``: render the data set or a preview."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from attnguide.data.io import save_image
from attnguide.data.synthetic_faces import (
    MAX_SIZE,
    MIN_SIZE,
    _check_int,
    make_synthetic_faces,
    render_face_pairs,
)


def _preview(n: int = 8, *, size: int = 64, seed: int = 0) -> Tensor:
    """A grid of ``n`` test identities: neutral, smiling, change mask (uint8 RGB)."""
    pairs = render_face_pairs(n, size=size, seed=seed)
    mask = pairs.mask.expand(-1, 3, -1, -1).to(torch.uint8) * 255
    gap = max(1, size // 32)
    rows = []
    for images in (pairs.neutral, pairs.smiling, mask):
        cells = []
        for image in images:
            cells += [image, torch.full((3, size, gap), 255, dtype=torch.uint8)]
        rows += [torch.cat(cells[:-1], dim=2)]
        rows += [torch.full((3, gap, rows[-1].shape[2]), 255, dtype=torch.uint8)]
    return torch.cat(rows[:-1], dim=1)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attnguide.data.synthetic_faces",
        description="Render the synthetic faces data set (neutral -> smiling, with ground "
        "truth) in the CycleGAN layout, and/or save a preview grid.",
    )
    parser.add_argument("--root", type=Path, help="output folder of the data set")
    parser.add_argument("--size", type=int, default=64, help="image side, 32..512")
    parser.add_argument("--n-train", type=int, default=1000, help="images per training domain")
    parser.add_argument("--n-test", type=int, default=200, help="paired test identities")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--preview", type=Path, help="save a PNG of 8 test identities: neutral, smiling, mask"
    )
    args = parser.parse_args(argv)
    if args.root is None and args.preview is None:
        parser.error("give --root, --preview or both")
    try:
        if args.root is not None:
            start = time.perf_counter()
            root = make_synthetic_faces(
                args.root,
                n_train=args.n_train,
                n_test=args.n_test,
                size=args.size,
                seed=args.seed,
            )
            seconds = time.perf_counter() - start
            print(f"synthetic faces in {root} ({seconds:.1f} s)")
        if args.preview is not None:
            _check_int("preview", "size", args.size, MIN_SIZE, MAX_SIZE)
            _check_int("preview", "seed", args.seed, 0)
            args.preview.parent.mkdir(parents=True, exist_ok=True)
            save_image(_preview(size=args.size, seed=args.seed), args.preview)
            print(f"preview saved to {args.preview}")
    except (ValueError, TypeError, FileExistsError, ImportError) as e:
        parser.exit(2, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
