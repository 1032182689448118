"""Pictures of a run: sample grids, one row per input and one column per target domain
(see ``common.visuals``)."""

from __future__ import annotations

from pathlib import Path

import torch
from common.visuals import image_table
from torch import Tensor

from .model import StarGANModel

__all__ = ["sample_grid", "sample_inputs"]


def sample_inputs(images: list[Tensor], n: int) -> tuple[Tensor, list[int]]:
    """``n`` test images taken in turn from each domain's list (domain ``i % d``), and
    their domains."""
    picked, labels = [], []
    for i in range(n):
        d = i % len(images)
        picked.append(images[d][(i // len(images)) % len(images[d])])
        labels.append(d)
    return torch.stack(picked), labels


@torch.no_grad()
def sample_grid(
    model: StarGANModel,
    images: Tensor,
    labels: list[int],
    domains: list[str],
    path: Path,
    *,
    title: str = "",
) -> None:
    """Writes one PNG: a row per input (its domain as the row label), the input, then for
    each target domain its translation and, with attention, its mask.

    Args:
        model: The networks (used in eval mode, then restored).
        images: The inputs, ``(n 3 h w)`` in [-1, 1], on the model's device.
        labels: Their domains (indices into ``domains``).
        domains: Every domain's name, in label order.
        path: Where to write the PNG.
        title: A line of text above the grid.
    """
    was = model.training
    model.eval()
    try:
        outs = [
            model.translate(images, torch.full((len(images),), t, device=images.device))
            for t in range(len(domains))
        ]
    finally:
        model.train(was)
    headers, maps = ["input"], [False]
    for name in domains:
        headers.append(f"→ {name}")
        maps.append(False)
        if model.attention:
            headers.append("mask")
            maps.append(True)
    rows = []
    for i in range(len(images)):
        cells = [images[i]]
        for image, mask in outs:
            cells.append(image[i])
            if mask is not None:
                cells.append(mask[i])
        rows.append((domains[labels[i]], cells))
    image_table(rows, headers, path, title=title, maps=maps)
