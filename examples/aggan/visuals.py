"""Pictures of a run, drawn with matplotlib: sample grids, error figures, loss curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from attnguide.data import to_uint8

from .model import AGGAN, foreground

__all__ = ["error_figure", "image_table", "loss_curves", "sample_grid"]


def _hwc(image: Tensor) -> Tensor:
    """A (3, h, w) image in [-1, 1] as an (h, w, 3) uint8 array, for imshow."""
    return to_uint8(image).permute(1, 2, 0).cpu().numpy()


def image_table(
    rows: Sequence[tuple[str, Sequence[Tensor]]],
    headers: Sequence[str],
    path: Path,
    *,
    title: str = "",
    maps: Sequence[bool] = (),
) -> None:
    """Writes a table of images: one labelled row per entry, one column per header.

    Each cell is a (3, h, w) image in [-1, 1], or, in the columns where ``maps`` is
    True, a (1, h, w) map in [0, 1] drawn with the "inferno" colour map (0 black, 1
    pale yellow).
    """
    n_rows, n_cols = len(rows), len(headers)
    fig = Figure(figsize=(1.25 * n_cols + 0.6, 1.25 * n_rows + (0.5 if title else 0.25)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for i, (label, cells) in enumerate(rows):
        for j, cell in enumerate(cells):
            ax = axes[i][j]
            if j < len(maps) and maps[j]:
                ax.imshow(cell[0].float().cpu().numpy(), cmap="inferno", vmin=0.0, vmax=1.0)
            else:
                ax.imshow(_hwc(cell), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(headers[j], fontsize=9)
        axes[i][0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


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


def loss_curves(history: Sequence[dict[str, float]], path: Path) -> None:
    """Draws the logged losses: the generators' weighted terms (log scale), the
    discriminators' losses and, with attention, the mean mask, one panel each."""
    steps = [r["step"] for r in history]
    keys = sorted({k for r in history for k in r})

    def series(prefix: str) -> dict[str, list[float]]:
        return {
            k.split("/", 1)[1]: [float(r.get(k, float("nan"))) for r in history]
            for k in keys
            if k.startswith(prefix)
        }

    panels = [
        ("generators: weighted terms", series("G/"), True),
        ("discriminators", series("D/"), False),
    ]
    if any(k.startswith("mask/") for k in keys):
        panels.append(("attention mask", series("mask/"), False))
    fig = Figure(figsize=(8, 2.6 * len(panels)), dpi=100)
    FigureCanvasAgg(fig)
    for ax, (name, data, log) in zip(
        fig.subplots(len(panels), 1, squeeze=False)[:, 0], panels, strict=True
    ):
        for label, values in data.items():
            positive = [v if v > 0 else float("nan") for v in values] if log else values
            ax.plot(steps, positive, label=label, linewidth=1.2)
        if log and any(v > 0 for vs in data.values() for v in vs):
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if data:
            ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
