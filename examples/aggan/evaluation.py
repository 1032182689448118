"""Evaluation on a test split, with ground truth where the data set has it.

For the synthetic faces (``root/gt/``): PSNR and MSE of each translation against its
true counterpart, as the paper's Table I (MSE on the 0-255 scale), SSIM, the PSNR of
the background (outside the dilated true change region, against the source: how
untouched identity and background stayed), and how well the attention mask matches the
true change region (IoU at 0.5, AUROC). Translations are rounded to 8 bits first, as a
saved PNG would be. PSNR inside the true change region ("change PSNR") says whether
the expression itself was produced: copying the input scores well on whole-image PSNR
(the change is small) but not there. For data without ``gt/`` only the mask coverage
is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnguide import metrics
from attnguide.data import IMG_EXTENSIONS, load_rgb

from .config import ConfigError
from .model import AGGAN, foreground
from .visuals import to_uint8

__all__ = [
    "DIRECTIONS",
    "TestSet",
    "evaluate",
    "format_table",
    "load_image",
    "load_mask",
    "load_test_set",
]

#: direction -> (source folder, ground-truth folder, what the translation should show)
DIRECTIONS = {
    "AtoB": ("testA", "gt/testA", "A->B (neutral -> smiling)"),
    "BtoA": ("testB", "gt/testB", "B->A (smiling -> neutral)"),
}


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            'the AGGAN example reads images with Pillow: pip install "attnguide[examples]"'
        ) from None
    return Image


def load_image(path: Path, size: int) -> Tensor:
    """An image file as a (3, size, size) tensor in [-1, 1] (bicubic resize if needed).

    Read by :func:`attnguide.data.load_rgb`, as training reads its images: EXIF
    orientation, alpha, palette and 16-bit files are handled the same way.
    """
    img = load_rgb(path)
    if img.size != (size, size):
        img = img.resize((size, size), _pil().BICUBIC)
    data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return data.view(size, size, 3).permute(2, 0, 1).float() / 127.5 - 1


def load_mask(path: Path, size: int) -> Tensor:
    """A grayscale change mask as a (1, size, size) tensor of 0/1 (255 = changed)."""
    Image = _pil()
    with Image.open(path) as img:
        img = img.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.NEAREST)
        data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return (data.view(1, size, size) > 127).float()


@dataclass
class TestSet:
    """The test images of one direction, with ground truth when available."""

    names: list[str]
    source: Tensor  # (n 3 h w) in [-1, 1]
    target: Tensor | None  # true counterparts, (n 3 h w)
    change: Tensor | None  # true change masks, (n 1 h w)


def load_test_set(root: Path, direction: str, size: int, limit: int = 0) -> TestSet:
    """Loads ``root/testA`` (or ``testB``) and, when present for every image, the true
    counterparts in ``root/gt/testA`` and the change masks in ``root/gt/mask``.

    Raises:
        ConfigError: the test folder is missing or empty.
    """
    src_dir, gt_dir, _ = DIRECTIONS[direction]
    folder = root / src_dir
    files = (
        sorted(p for p in folder.glob("*") if p.suffix.lower() in IMG_EXTENSIONS and p.is_file())
        if folder.is_dir()
        else []
    )
    if not files:
        raise ConfigError(f"{folder} is missing or holds no images; the test split is needed")
    if limit:
        files = files[:limit]
    names = [p.name for p in files]
    source = torch.stack([load_image(p, size) for p in files])
    gts = [root / gt_dir / n for n in names]
    masks = [root / "gt" / "mask" / (Path(n).stem + ".png") for n in names]
    target = change = None
    if all(p.is_file() for p in gts):
        target = torch.stack([load_image(p, size) for p in gts])
    if all(p.is_file() for p in masks):
        change = torch.stack([load_mask(p, size) for p in masks])
    return TestSet(names, source, target, change)


def _scores(
    out: Tensor, src: Tensor, target: Tensor | None, change: Tensor | None, mask: Tensor | None
) -> dict[str, Tensor]:
    """Per-image metrics of one batch (8-bit translations on the 0-255 scale)."""
    out255, src255 = to_uint8(out).float(), to_uint8(src).float()
    s: dict[str, Tensor] = {}
    if target is not None:
        t255 = to_uint8(target).float()
        s["psnr"] = metrics.psnr(out255, t255, data_range=255.0, reduction="none")
        s["mse"] = metrics.mse(out255, t255, data_range=255.0, reduction="none")
        s["ssim"] = metrics.ssim(out255, t255, data_range=255.0, reduction="none")
    if change is not None and target is not None:
        # PSNR against the truth inside the true change region alone: whether the
        # expression itself was produced (copying the input scores low here).
        s["change_psnr"] = metrics.psnr(
            out255, t255, data_range=255.0, region=change, reduction="none"
        )
    if change is not None:
        s["bg_psnr"] = metrics.background_psnr(
            out255, src255, change, dilate=2, data_range=255.0, reduction="none"
        )
        if mask is not None:
            fg = foreground(mask).float()
            s["mask_iou"] = metrics.mask_iou(fg, change, threshold=0.5, reduction="none")
            s["mask_auroc"] = metrics.mask_auroc(fg, change, reduction="none")
    if mask is not None:
        s["mask_mean"] = foreground(mask).float().flatten(1).mean(1)
    return s


@torch.no_grad()
def evaluate(
    model: AGGAN,
    root: Path,
    size: int,
    device: torch.device,
    *,
    batch_size: int = 16,
    limit: int = 0,
    reference: bool = True,
) -> dict[str, dict[str, float]]:
    """Translates the test split both ways and averages the per-image metrics.

    Args:
        model: The trained networks.
        root: The data set (``testA``, ``testB`` and optionally ``gt/``).
        size: The image size the model was trained at.
        device: Where to run the generators.
        batch_size: Images per forward.
        limit: Evaluate only the first N test images per direction (0: all).
        reference: Also score "copy the input" (the identity map), for scale.

    Returns:
        ``{"AtoB": {...}, "BtoA": {...}}`` and, with ``reference``, ``"AtoB/identity"``,
        ``"BtoA/identity"``; each maps metric names to means over the images (``n``:
        how many).
    """
    results: dict[str, dict[str, float]] = {}
    training = model.training
    model.eval()
    try:
        for direction in DIRECTIONS:
            data = load_test_set(root, direction, size, limit)
            sums: dict[str, list[Tensor]] = {}
            refs: dict[str, list[Tensor]] = {}
            for k in range(0, len(data.names), batch_size):
                sl = slice(k, k + batch_size)
                src = data.source[sl].to(device)
                target = None if data.target is None else data.target[sl].to(device)
                change = None if data.change is None else data.change[sl].to(device)
                out, mask, _ = model.translate(src, direction)
                for name, v in _scores(out.float(), src, target, change, mask).items():
                    sums.setdefault(name, []).append(v.float().cpu())
                if reference:
                    for name, v in _scores(src, src, target, change, None).items():
                        refs.setdefault(name, []).append(v.float().cpu())
            results[direction] = _means(sums, len(data.names))
            if reference:
                results[f"{direction}/identity"] = _means(refs, len(data.names))
    finally:
        model.train(training)
    return results


def _means(values: dict[str, list[Tensor]], n: int) -> dict[str, float]:
    out: dict[str, float] = {"n": float(n)}
    for name, chunks in values.items():
        v = torch.cat(chunks)
        # PSNR of an unchanged background is +inf; the mean of a mix is then +inf too,
        # which is honest: report it as such rather than dropping those images.
        out[name] = float(v.mean())
    return out


_COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("mse", "MSE", "{:.1f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("change_psnr", "change PSNR", "{:.2f}"),
    ("bg_psnr", "bg PSNR", "{:.2f}"),
    ("mask_iou", "mask IoU", "{:.3f}"),
    ("mask_auroc", "mask AUROC", "{:.3f}"),
    ("mask_mean", "mask mean", "{:.3f}"),
)


def _cell(value: float | None, fmt: str) -> str:
    if value is None:
        return "N/A"
    if math.isinf(value):
        return "inf"
    return fmt.format(value)


def format_table(results: dict[str, dict[str, float]], *, label: str = "model") -> str:
    """A Markdown table of :func:`evaluate`'s results, one row per direction (and
    reference row), one column per metric; metrics a model has no value for are N/A.
    """
    header = ["direction", "translation"] + [c[1] for c in _COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, row in results.items():
        direction, _, kind = key.partition("/")
        who = "copy input (reference)" if kind == "identity" else label
        cells = [DIRECTIONS[direction][2], who]
        cells += [_cell(row.get(name), fmt) for name, _, fmt in _COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
