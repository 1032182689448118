"""Pictures of a run: sample grids and loss curves, drawn with Pillow alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .model import AGGAN, foreground

__all__ = ["heatmap", "loss_curves", "sample_grid", "to_uint8"]


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError(
            'the AGGAN example draws its pictures with Pillow: pip install "attnguide[examples]"'
        ) from None
    return Image, ImageDraw, ImageFont


# Control points of a perceptually ordered dark-to-bright map (close to "inferno").
_HEAT = torch.tensor(
    [
        [0.0, 0.0, 0.02],
        [0.26, 0.04, 0.41],
        [0.58, 0.15, 0.40],
        [0.87, 0.32, 0.23],
        [0.99, 0.65, 0.04],
        [0.99, 1.0, 0.64],
    ]
)


def heatmap(mask: Tensor) -> Tensor:
    """Colours a mask in [0, 1] from black (0) through purple and orange to yellow (1).

    Shape:
        - mask: ``(b 1 h w)``; output: ``(b 3 h w)`` in [0, 1].
    """
    m = mask.detach().float().clamp(0, 1)[:, 0]
    pos = m * (len(_HEAT) - 1)
    lo = pos.floor().long().clamp(max=len(_HEAT) - 2)
    t = (pos - lo).unsqueeze(-1)
    colours = _HEAT.to(m.device)
    rgb = colours[lo] * (1 - t) + colours[lo + 1] * t
    return rgb.permute(0, 3, 1, 2)


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] images to uint8 [0, 255], rounded."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _label(draw: Any, xy: tuple[int, int], text: str, font: Any) -> None:
    draw.text(xy, text, fill=(20, 20, 20), font=font)


@torch.no_grad()
def sample_grid(model: AGGAN, a: Tensor, b: Tensor, path: Path, *, title: str = "") -> None:
    """Writes one PNG: for each A image and each B image a row of input | mask (heat map)
    | content | output | reconstruction (without attention: input | output |
    reconstruction).

    Args:
        model: The networks (the generators are used in eval mode, then restored).
        a, b: Test images of each domain in [-1, 1], on the model's device.
        path: Where to write the PNG.
        title: A line of text above the grid.
    """
    Image, ImageDraw, ImageFont = _pil()
    modes = [(n, m.training) for n, m in (("G_xy", model.G_xy), ("G_yx", model.G_yx))]
    model.G_xy.eval()
    model.G_yx.eval()
    rows: list[tuple[str, list[Tensor]]] = []
    try:
        for name, src, there, back in (
            ("A->B", a, "AtoB", "BtoA"),
            ("B->A", b, "BtoA", "AtoB"),
        ):
            if len(src) == 0:
                continue
            image, mask, content = model.translate(src, there)
            rec = model.translate(image, back)[0]
            cells = [to_uint8(src)]
            if mask is not None:
                cells.append((heatmap(foreground(mask)) * 255).round().to(torch.uint8))
                first = content[:, 0] if content.ndim == 5 else content
                cells.append(to_uint8(first))
            cells += [to_uint8(image), to_uint8(rec)]
            rows.append((name, cells))
    finally:
        for (_, training), m in zip(modes, (model.G_xy, model.G_yx), strict=True):
            m.train(training)

    attention = model.attention
    headers = (
        ["input", "mask", "content", "output", "cycle"]
        if attention
        else ["input", "output", "cycle"]
    )
    h, w = a.shape[-2:] if len(a) else b.shape[-2:]
    scale = max(1, 96 // max(h, w))
    cell_h, cell_w = h * scale, w * scale
    gap, left, top = 4, 44, 34 if title else 20
    n_rows = sum(len(cells[0]) for _, cells in rows)
    width = left + len(headers) * (cell_w + gap)
    height = top + n_rows * (cell_h + gap) + gap * len(rows)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    if title:
        _label(draw, (4, 2), title, font)
    for j, header in enumerate(headers):
        _label(draw, (left + j * (cell_w + gap) + 2, top - 14), header, font)
    y = top
    for name, cells in rows:
        _label(draw, (2, y + cell_h // 2 - 6), name, font)
        for i in range(len(cells[0])):
            for j, column in enumerate(cells):
                tile = column[i].permute(1, 2, 0).cpu().contiguous().numpy()
                img = Image.fromarray(tile, "RGB").resize((cell_w, cell_h), Image.NEAREST)
                canvas.paste(img, (left + j * (cell_w + gap), y))
            y += cell_h + gap
        y += gap
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
]


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def _nice(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100 or abs(v) < 0.01:
        return f"{v:.1e}"
    return f"{v:.3g}"


def _panel(
    draw: Any,
    font: Any,
    box: tuple[int, int, int, int],
    title: str,
    steps: Sequence[float],
    series: dict[str, Sequence[float]],
    *,
    log_y: bool = False,
) -> None:
    x0, y0, x1, y1 = box
    draw.text((x0 + 4, y0 + 2), title, fill=(0, 0, 0), font=font)
    px0, py0, px1, py1 = x0 + 60, y0 + 20, x1 - 150, y1 - 24
    draw.rectangle((px0, py0, px1, py1), outline=(80, 80, 80))
    if not steps or not series:
        return

    def tr(v: float) -> float:
        return math.log10(max(v, 1e-12)) if log_y else v

    all_v = [tr(v) for vs in series.values() for v in vs if math.isfinite(v)]
    if not all_v:
        return
    lo, hi = min(all_v), max(all_v)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    s0, s1 = min(steps), max(steps)
    if s1 == s0:
        s1 = s0 + 1

    def xy(s: float, v: float) -> tuple[float, float]:
        x = px0 + (s - s0) / (s1 - s0) * (px1 - px0)
        y = py1 - (tr(v) - lo) / (hi - lo) * (py1 - py0)
        return x, y

    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = py1 - (py1 - py0) * k / 4
        draw.line((px0 - 3, y, px1, y), fill=(225, 225, 225))
        label = _nice(10**v if log_y else v)
        draw.text((x0 + 2, y - 6), label, fill=(60, 60, 60), font=font)
    for k in range(5):
        s = s0 + (s1 - s0) * k / 4
        x = px0 + (px1 - px0) * k / 4
        draw.line((x, py1, x, py1 + 3), fill=(80, 80, 80))
        draw.text((x - 10, py1 + 6), str(round(s)), fill=(60, 60, 60), font=font)
    window = max(1, len(steps) // 40)
    for i, (name, values) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pts = [xy(s, v) for s, v in zip(steps, _smooth(values, window), strict=True)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        else:
            draw.ellipse((pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2), fill=colour)
        ly = py0 + 4 + 14 * i
        draw.line((px1 + 10, ly + 6, px1 + 30, ly + 6), fill=colour, width=3)
        draw.text((px1 + 36, ly), name, fill=(0, 0, 0), font=font)


def loss_curves(history: Sequence[dict[str, float]], path: Path) -> None:
    """Draws the logged losses (one panel for the generators' weighted Eq. 9 terms, one
    for the discriminators, one for the mean attention mask) into a PNG.
    """
    Image, ImageDraw, ImageFont = _pil()
    panels: list[tuple[str, dict[str, list[float]], bool]] = []
    steps = [float(r["step"]) for r in history]
    keys = sorted({k for r in history for k in r})

    def series(prefix: str) -> dict[str, list[float]]:
        return {
            k.split("/", 1)[1]: [float(r.get(k, float("nan"))) for r in history]
            for k in keys
            if k.startswith(prefix)
        }

    panels.append(("generators: weighted terms of Eq. 9 (log scale)", series("G/"), True))
    panels.append(("discriminators (halved)", series("D/"), False))
    if any(k.startswith("mask/") for k in keys):
        panels.append(("attention mask", series("mask/"), False))
    width, panel_h = 900, 260
    canvas = Image.new("RGB", (width, panel_h * len(panels)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i, (title, data, log_y) in enumerate(panels):
        _panel(
            draw, font, (0, i * panel_h, width, (i + 1) * panel_h), title, steps, data, log_y=log_y
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
