"""Pictures of an AGGAN run: sample grids and error figures (see ``common.visuals``)."""

from __future__ import annotations

from pathlib import Path

import torch
from common.visuals import image_table
from torch import Tensor

from .model import AGGAN, foreground

__all__ = ["error_figure", "sample_grid"]


@torch.no_grad()
def sample_grid(model: AGGAN, a: Tensor, b: Tensor, path: Path, *, title: str = "") -> None:
    """Writes one PNG: for each A image and each B image a row of input | mask | content
    | output | reconstruction (without attention: input | output | reconstruction).

    Args:
        model: The networks (the generators are used in eval mode, then restored).
        a, b: Test images of each domain in [-1, 1], on the model's device.
        path: Where to write the PNG.
        title: A line of text above the grid.
    """
    modes = [(m, m.training) for m in (model.G_xy, model.G_yx)]
    for m, _ in modes:
        m.eval()
    rows: list[tuple[str, list[Tensor]]] = []
    try:
        for name, src, there, back in (("A→B", a, "AtoB", "BtoA"), ("B→A", b, "BtoA", "AtoB")):
            image, mask, content = model.translate(src, there)
            rec = model.translate(image, back)[0]
            for i in range(len(src)):
                cells = [src[i]]
                if mask is not None:
                    first = content[i, 0] if content.ndim == 5 else content[i]
                    cells += [foreground(mask[i : i + 1])[0], first]
                rows.append((name, [*cells, image[i], rec[i]]))
    finally:
        for m, training in modes:
            m.train(training)
    if model.attention:
        headers, maps = ["input", "mask", "content", "output", "cycle"], [False, True]
    else:
        headers, maps = ["input", "output", "cycle"], []
    image_table(rows, headers, path, title=title, maps=maps)


@torch.no_grad()
def error_figure(
    model: AGGAN, source: Tensor, target: Tensor, direction: str, path: Path, *, title: str = ""
) -> None:
    """For each test image: input | mask | output | true counterpart | |output - truth|.

    The error is the mean absolute difference over the channels, scaled so that a
    difference of a quarter of the value range is white.
    """
    was = model.training
    model.eval()
    try:
        image, mask, _ = model.translate(source, direction)
    finally:
        model.train(was)
    error = ((image - target).abs().mean(dim=1, keepdim=True) / 0.5).clamp(0, 1)
    rows = []
    for i in range(len(source)):
        cells = [source[i]]
        if mask is not None:
            cells.append(foreground(mask[i : i + 1])[0])
        rows.append((direction, [*cells, image[i], target[i], error[i]]))
    if mask is not None:
        headers, maps = (
            ["input", "mask", "output", "truth", "|output − truth|"],
            [False, True, False, False, True],
        )
    else:
        headers, maps = (
            ["input", "output", "truth", "|output − truth|"],
            [False, False, False, True],
        )
    image_table(rows, headers, path, title=title, maps=maps)
