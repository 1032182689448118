"""Evaluation on a test split, with ground truth where the data set has it.

For the synthetic faces (``root/gt/``): PSNR and MSE of each translation against its
true counterpart, as the paper's Table I (MSE on the 0-255 scale), SSIM, the PSNR of
the background (outside the dilated true change region, against the source: how
untouched identity and background stayed), the PSNR inside the true change region
("change PSNR": whether the expression itself was produced; copying the input scores
well on whole-image PSNR, since the change is small, but not there) and how well the
attention mask matches the true change region (IoU at 0.5, AUROC). Translations are
rounded to 8 bits first, as a saved PNG would be. Without ``gt/`` only the mask
coverage is reported.
"""

from __future__ import annotations

from pathlib import Path

import torch
from common.summary import cell, markdown_table
from torch import Tensor

from attnguide import metrics

from .data import DIRECTIONS, load_test_set
from .model import AGGAN, foreground

__all__ = ["COLUMNS", "evaluate", "format_table", "scores"]


def scores(
    out: Tensor, src: Tensor, target: Tensor | None, change: Tensor | None, mask: Tensor | None
) -> dict[str, Tensor]:
    """Per-image metrics of one batch (:func:`attnguide.metrics.translation_scores` of
    the mask's foreground)."""
    fg = None if mask is None else foreground(mask)
    return metrics.translation_scores(out, src, target=target, change_mask=change, mask=fg)


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
            found: dict[str, list[Tensor]] = {}
            copies: dict[str, list[Tensor]] = {}
            for k in range(0, len(data.names), batch_size):
                sl = slice(k, k + batch_size)
                src = data.source[sl].to(device)
                target = None if data.target is None else data.target[sl].to(device)
                change = None if data.change is None else data.change[sl].to(device)
                out, mask, _ = model.translate(src, direction)
                for name, v in scores(out.float(), src, target, change, mask).items():
                    found.setdefault(name, []).append(v.float().cpu())
                if reference:
                    for name, v in scores(src, src, target, change, None).items():
                        copies.setdefault(name, []).append(v.float().cpu())
            results[direction] = _means(found, len(data.names))
            if reference:
                results[f"{direction}/identity"] = _means(copies, len(data.names))
    finally:
        model.train(training)
    return results


def _means(values: dict[str, list[Tensor]], n: int) -> dict[str, float]:
    # PSNR of an unchanged background is +inf; the mean of a mix is then +inf too,
    # which is honest: report it as such rather than dropping those images.
    return {"n": float(n), **{name: float(torch.cat(c).mean()) for name, c in values.items()}}


#: (metric, column header, format) of the results table.
COLUMNS = (
    ("psnr", "PSNR", "{:.2f}"),
    ("mse", "MSE", "{:.1f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("change_psnr", "change PSNR", "{:.2f}"),
    ("bg_psnr", "bg PSNR", "{:.2f}"),
    ("mask_iou", "mask IoU", "{:.3f}"),
    ("mask_auroc", "mask AUROC", "{:.3f}"),
    ("mask_mean", "mask mean", "{:.3f}"),
)


def format_table(results: dict[str, dict[str, float]], *, label: str = "model") -> str:
    """A Markdown table of :func:`evaluate`'s results, one row per direction (and
    reference row), one column per metric; metrics a model has no value for are N/A.
    """
    rows = []
    for key, row in results.items():
        direction, _, kind = key.partition("/")
        who = "copy input (reference)" if kind == "identity" else label
        cells = [DIRECTIONS[direction][2], who]
        rows.append(cells + [cell(row.get(name), fmt) for name, _, fmt in COLUMNS])
    return markdown_table(["direction", "translation"] + [c[1] for c in COLUMNS], rows)
