"""Pictures of a run, drawn with matplotlib: tables of images and loss curves."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from attnguide.data import to_uint8

__all__ = ["eval_curves", "image_table", "loss_curves"]


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


def loss_curves(history: Sequence[dict[str, float]], path: Path, *, log_scale: bool = True) -> None:
    """Draws the logged losses: the generators' weighted terms (log scale unless
    ``log_scale`` is off, as for WGAN losses, which go negative), the discriminators'
    losses and, with attention, the mean mask, one panel each."""
    steps = [r["step"] for r in history]
    keys = sorted({k for r in history for k in r})

    def series(prefix: str) -> dict[str, list[float]]:
        return {
            k.split("/", 1)[1]: [float(r.get(k, float("nan"))) for r in history]
            for k in keys
            if k.startswith(prefix)
        }

    panels = [
        ("generators: weighted terms", series("G/"), log_scale),
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


def eval_curves(
    lines: Sequence[tuple[str, Sequence[dict], str] | tuple[str, Sequence[dict], str, dict]],
    path: Path,
    *,
    metrics: Sequence[tuple[str, str]],
    references: Sequence[tuple[str, dict[str, float]]] = (),
) -> None:
    """Draws evaluations during training (``eval.jsonl`` records): one column per
    metric, against the step (top row) and the training time in minutes (bottom row).

    Args:
        lines: ``(label, records, key)`` per line: records with ``step``, ``seconds``
            and, under ``key``, a dict of metrics (e.g. ``"AtoB"``); a fourth element,
            a dict of ``Axes.plot`` keywords (``color``, ``linestyle``), styles it.
        path: The PNG to write.
        metrics: ``(metric, title)`` of each column.
        references: ``(label, {metric: value})`` drawn as dashed lines (e.g. copying
            the input); non-finite values are left out.
    """
    fig = Figure(figsize=(2.9 * len(metrics), 5.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(metrics), squeeze=False)
    for col, (metric, title) in enumerate(metrics):
        for row, xlabel in enumerate(("step", "training minutes")):
            ax = axes[row, col]
            for label, records, key, *style in lines:
                xs = [r["step"] if row == 0 else r["seconds"] / 60 for r in records]
                ys = [float(r.get(key, {}).get(metric, float("nan"))) for r in records]
                kwargs = {"marker": ".", "linewidth": 1.2, **(style[0] if style else {})}
                ax.plot(xs, ys, label=label, **kwargs)
            for label, values in references:
                ref = values.get(metric)
                if ref is not None and math.isfinite(ref):
                    ax.axhline(ref, color="grey", linestyle="--", linewidth=0.8, label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
    # One legend below the plots, where it hides no curve.
    handles, labels = axes[0, 0].get_legend_handles_labels()
    columns = min(len(labels), 4)
    rows = math.ceil(len(labels) / columns)
    fig.set_figheight(5.4 + 0.16 * rows)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, (0.16 * rows + 0.1) / fig.get_figheight(), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
