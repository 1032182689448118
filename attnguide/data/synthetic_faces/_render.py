"""The renderer behind the synthetic faces: identity sampling and analytic drawing.

Shapes are analytic (approximate signed distances) evaluated on a grid supersampled
``SUPERSAMPLE`` times per axis with a one-fine-pixel soft edge, then averaged down, so
the faces are anti-aliased at every size. Identities are rendered in batches and each
canvas is painted in bands of rows: many small temporaries are far cheaper on a CPU
than a few huge ones. A layer is evaluated only inside the window that bounds it for
every identity of the batch, and painting with zero coverage leaves a pixel
bit-identical, so an identity renders to the same bytes whatever batch it is in.
"""

from __future__ import annotations

import colorsys
import math
import random
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

SUPERSAMPLE = 2
# Identities rendered together, in supersampled pixels: enough to amortise the
# per-operation overhead. Painting goes in row bands of about _BAND_ELEMENTS.
BATCH_PIXELS = 2**21
_BAND_ELEMENTS = 2**18


def identity(seed: int, split: str, index: int) -> dict[str, object]:
    """The parameters of identity ``index`` of ``split`` in the data set ``seed``."""
    # str seeds go through SHA-512 in random.seed: the same stream on every run and
    # platform, independent of PYTHONHASHSEED and of which other identities are drawn.
    return _sample_identity(random.Random(f"attnguide.faces/{seed}/{split}/{index}"))


_SKIN = [
    (0.99, 0.87, 0.77),
    (0.96, 0.80, 0.69),
    (0.92, 0.74, 0.60),
    (0.85, 0.64, 0.48),
    (0.76, 0.55, 0.39),
    (0.62, 0.43, 0.30),
    (0.48, 0.33, 0.24),
    (0.36, 0.25, 0.18),
]
_HAIR = [
    (0.08, 0.07, 0.07),
    (0.22, 0.14, 0.09),
    (0.40, 0.25, 0.13),
    (0.62, 0.42, 0.20),
    (0.85, 0.70, 0.40),
    (0.66, 0.26, 0.10),
    (0.70, 0.70, 0.72),
]
_FANCY_HAIR = [(0.20, 0.35, 0.85), (0.90, 0.35, 0.65), (0.25, 0.70, 0.45), (0.55, 0.30, 0.80)]
_EYES = [(0.30, 0.18, 0.08), (0.45, 0.30, 0.12), (0.20, 0.42, 0.70), (0.25, 0.55, 0.35)]
_EYES += [(0.45, 0.45, 0.50), (0.10, 0.08, 0.06)]
_HAIR_STYLES = ("short", "long", "bun", "bangs", "curly", "buzz")


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> list[float]:
    return [x + (y - x) * t for x, y in zip(a, b, strict=True)]


def _hsv(rng: random.Random, s: tuple[float, float], v: tuple[float, float]) -> list[float]:
    return list(colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v)))


def _sample_identity(rng: random.Random) -> dict[str, object]:
    """Draws every parameter of one identity, in image units (the image is [0, 1]^2)."""
    p: dict[str, object] = {}
    u = rng.uniform
    # Background: a two-colour gradient, two octaves of smooth noise and a few shapes.
    p["bg0"] = _hsv(rng, (0.35, 0.8), (0.55, 0.95))
    p["bg1"] = _hsv(rng, (0.35, 0.8), (0.45, 0.95))
    p["bg_angle"] = u(0, 2 * math.pi)
    p["noise_lo"] = [u(-1, 1) for _ in range(3 * 4 * 4)]
    p["noise_hi"] = [u(-1, 1) for _ in range(3 * 9 * 9)]
    p["noise_amp"] = u(0.06, 0.16)
    for k in range(4):
        p[f"disc{k}_on"] = float(rng.random() < 0.75)
        p[f"disc{k}_xy"] = [u(0.0, 1.0), u(0.0, 1.0)]
        p[f"disc{k}_r"] = u(0.04, 0.16)
        p[f"disc{k}_ring"] = float(rng.random() < 0.35)
        p[f"disc{k}_rgb"] = _hsv(rng, (0.4, 0.9), (0.5, 1.0))
    for k in range(2):
        p[f"box{k}_on"] = float(rng.random() < 0.6)
        p[f"box{k}_xy"] = [u(0.0, 1.0), u(0.0, 1.0)]
        p[f"box{k}_hw"] = [u(0.04, 0.2), u(0.02, 0.1)]
        p[f"box{k}_angle"] = u(0, math.pi)
        p[f"box{k}_rgb"] = _hsv(rng, (0.4, 0.9), (0.5, 1.0))
    p["stripes_on"] = float(rng.random() < 0.3)
    p["stripes_angle"] = u(0, math.pi)
    p["stripes_freq"] = u(10, 22)
    p["stripes_rgb"] = _hsv(rng, (0.2, 0.6), (0.7, 1.0))

    # Head geometry.
    cx, cy = 0.5 + u(-0.05, 0.05), 0.45 + u(-0.035, 0.035)
    fa = u(0.19, 0.235)
    fbt, fbb = fa * u(1.1, 1.3), fa * u(1.05, 1.4)
    p.update(cx=cx, cy=cy, fa=fa, fbt=fbt, fbb=fbb)
    tone = u(0, len(_SKIN) - 1)
    lo = int(tone)
    skin = _mix(_SKIN[lo], _SKIN[min(lo + 1, len(_SKIN) - 1)], tone - lo)
    p["skin"] = skin
    p["outline"] = [c * 0.45 for c in skin]
    p["blush"] = _mix(skin, (0.95, 0.35, 0.40), u(0.35, 0.6))
    p["lip"] = _mix(skin, (0.55, 0.12, 0.15), u(0.55, 0.8))

    # Hair.
    palette = _FANCY_HAIR if rng.random() < 0.15 else _HAIR
    hair = list(rng.choice(palette))
    p["hair"] = [min(max(c + u(-0.05, 0.05), 0.0), 1.0) for c in hair]
    style = rng.choice(_HAIR_STYLES)
    p.update({f"style_{s}": float(style == s) for s in _HAIR_STYLES})
    p["hairline"] = u(0.42, 0.6) if style != "buzz" else u(0.62, 0.72)
    p["hair_puff"] = u(1.06, 1.16) if style != "buzz" else u(1.02, 1.05)
    p["part"] = u(-0.5, 0.5)
    p["bangs_side"] = rng.choice((-1.0, 1.0))
    p["long_len"] = u(0.12, 0.3)
    p["brow"] = [c * 0.7 for c in p["hair"]]  # type: ignore[union-attr]

    # Eyes, brows, nose, cheeks, mouth (positions relative to the face).
    p["eye_dx"] = fa * u(0.36, 0.44)
    p["eye_dy"] = fbt * u(-0.1, 0.02)
    p["eye_rx"] = fa * u(0.15, 0.2)
    p["eye_ry"] = u(0.65, 0.9)
    p["iris"] = list(rng.choice(_EYES))
    p["brow_dy"] = u(0.045, 0.065)
    p["brow_len"] = u(0.9, 1.3)
    p["brow_t"] = u(0.012, 0.024)
    p["brow_tilt"] = u(-0.25, 0.25)
    p["brow_arch"] = u(0.0, 0.02)
    p["nose_dy"] = fbb * u(0.2, 0.3)
    p["nose_r"] = fa * u(0.08, 0.13)
    p["cheek_dx"] = fa * u(0.52, 0.62)
    p["cheek_dy"] = fbb * u(0.32, 0.42)
    p["cheek_r"] = fa * u(0.18, 0.24)
    p["cheek_alpha"] = u(0.35, 0.7)
    p["mouth_dy"] = fbb * u(0.55, 0.65)
    p["mouth_w"] = fa * u(0.3, 0.42)
    p["mouth_t"] = u(0.011, 0.016)
    p["mouth_curve"] = fa * u(-0.02, 0.05)
    p["smile_lift"] = fbb * u(0.1, 0.14)
    p["smile_open"] = fbb * u(0.16, 0.24)

    p["glasses"] = float(rng.random() < 0.3)
    p["glasses_rgb"] = rng.choice(([0.1, 0.1, 0.1], [0.5, 0.1, 0.1], [0.1, 0.2, 0.5]))
    p["glasses_r"] = u(1.45, 1.75)
    p["glasses_square"] = float(rng.random() < 0.5)

    # Clothing.
    p["cloth"] = _hsv(rng, (0.3, 0.9), (0.25, 0.9))
    p["cloth2"] = _hsv(rng, (0.3, 0.9), (0.25, 0.9))
    p["cloth_stripes"] = float(rng.random() < 0.3)
    p["cloth_w"] = u(0.36, 0.46)
    p["collar_v"] = float(rng.random() < 0.5)
    return p


#: The expressions :func:`render` draws; "smile" is the two-domain data set's.
EXPRESSIONS = ("smile", "surprise", "sad")


def _batch(
    ids: Sequence[dict[str, object]], amount: Sequence[float], expression: str
) -> dict[str, Tensor]:
    """Stacks identity parameters into (b,) or (b, k) float32 tensors, plus the amount
    of each expression (zero for all but ``expression``)."""
    out: dict[str, Tensor] = {}
    for key in ids[0]:
        out[key] = torch.tensor([p[key] for p in ids], dtype=torch.float32)
    amounts = torch.tensor(list(amount), dtype=torch.float32)
    for name in EXPRESSIONS:
        out[name] = amounts if name == expression else torch.zeros_like(amounts)
    return out


# -------------------------------------------------------------------------- rendering


class _Window(NamedTuple):
    x: Tensor  # (1, 1, w)
    y: Tensor  # (1, h, 1)
    rows: slice
    cols: slice


class _Canvas:
    """A batch of supersampled RGB canvases painted back to front."""

    def __init__(self, n: int, size: int, supersample: int, rows: tuple[int, int]) -> None:
        self.s = size * supersample
        self.coords = (torch.arange(self.s, dtype=torch.float32) + 0.5) / self.s
        # Only the band of fine rows [r0, r1) is held and painted.
        self.r0, self.r1 = rows
        self.img = torch.zeros(n, 3, self.r1 - self.r0, self.s)

    def window(self, x0: Tensor, x1: Tensor, y0: Tensor, y1: Tensor) -> _Window | None:
        """The grid window covering every sample's box [x0, x1] x [y0, y1]."""
        s = self.s
        j0 = max(math.floor(float(x0.min()) * s) - 2, 0)
        j1 = min(math.ceil(float(x1.max()) * s) + 2, s)
        i0 = max(math.floor(float(y0.min()) * s) - 2, self.r0)
        i1 = min(math.ceil(float(y1.max()) * s) + 2, self.r1)
        if j0 >= j1 or i0 >= i1:
            return None
        x = self.coords[j0:j1].view(1, 1, -1)
        y = self.coords[i0:i1].view(1, -1, 1)
        return _Window(x, y, slice(i0 - self.r0, i1 - self.r0), slice(j0, j1))

    def full(self) -> _Window:
        x = self.coords.view(1, 1, -1)
        y = self.coords[self.r0 : self.r1].view(1, -1, 1)
        return _Window(x, y, slice(0, self.r1 - self.r0), slice(0, self.s))

    def coverage(self, d: Tensor) -> Tensor:
        """Coverage of a shape with signed distance ``d``: a one-fine-pixel ramp."""
        return (0.5 - d * self.s).clamp_(0.0, 1.0)

    def paint(self, win: _Window, cover: Tensor, color: Tensor) -> None:
        """Composites ``color`` with per-pixel opacity ``cover`` (b, h, w)."""
        region = self.img[:, :, win.rows, win.cols]
        # lerp computes region + cover * (color - region) where cover < 0.5: at
        # cover == 0 it adds exactly zero, so untouched pixels stay bit-identical.
        region.lerp_(color.expand_as(region), cover.unsqueeze(1))


_LINE = 0.012  # outline width, image units
_WHITE = torch.ones(1, 3, 1, 1)
_PUPIL = torch.full((1, 3, 1, 1), 0.03)
_MOUTH = torch.tensor([0.35, 0.05, 0.08]).view(1, 3, 1, 1)
_TEETH = torch.tensor([0.98, 0.98, 0.95]).view(1, 3, 1, 1)
_LENS = torch.tensor([0.8, 0.9, 1.0]).view(1, 3, 1, 1)


def _col(v: Tensor) -> Tensor:
    """(b, 3) colour -> (b, 3, 1, 1)."""
    return v.view(-1, 3, 1, 1)


def _sc(v: Tensor) -> Tensor:
    """(b,) scalar -> (b, 1, 1)."""
    return v.view(-1, 1, 1)


def _ellipse(x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, rx: Tensor, ry: Tensor) -> Tensor:
    """Approximate signed distance to an axis-aligned ellipse (first-order, f/|grad f|)."""
    dx = (x - cx) / rx
    dy = (y - cy) / ry
    f = dx * dx + dy * dy - 1.0
    g = 2.0 * torch.sqrt((dx / rx) ** 2 + (dy / ry) ** 2) + 1e-6
    return f / g


def _circle(x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, r: Tensor) -> Tensor:
    return torch.sqrt((x - cx) ** 2 + (y - cy) ** 2) - r


def _box(
    x: Tensor, y: Tensor, cx: Tensor, cy: Tensor, hw: Tensor, hh: Tensor, angle: Tensor | None
) -> Tensor:
    """Signed distance to a (rotated) rectangle with half sizes ``hw``, ``hh``."""
    dx, dy = x - cx, y - cy
    if angle is not None:
        c, s = torch.cos(angle), torch.sin(angle)
        dx, dy = dx * c + dy * s, dy * c - dx * s
    qx, qy = dx.abs() - hw, dy.abs() - hh
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
    return outside + torch.maximum(qx, qy).clamp(max=0)


def _smooth_noise(p: dict[str, Tensor], s: int) -> Tensor:
    """Two octaves of smooth colour noise on the whole (b, 3, s, s) canvas."""
    n = p["noise_amp"].shape[0]
    # Bicubic at a coarse grid, then a cheap bilinear step up to the canvas.
    coarse = (min(s, 32), min(s, 32))
    lo = F.interpolate(p["noise_lo"].view(n, 3, 4, 4), size=coarse, mode="bicubic")
    hi = F.interpolate(p["noise_hi"].view(n, 3, 9, 9), size=coarse, mode="bicubic")
    noise = (lo + 0.5 * hi) * p["noise_amp"].view(n, 1, 1, 1)
    return F.interpolate(noise, size=(s, s), mode="bilinear")


def _draw_background(cv: _Canvas, p: dict[str, Tensor], noise: Tensor) -> None:
    win = cv.full()
    ang = _sc(p["bg_angle"])
    t = ((win.x - 0.5) * torch.cos(ang) + (win.y - 0.5) * torch.sin(ang)) / 1.4142 + 0.5
    t = t.unsqueeze(1)
    c0, c1 = _col(p["bg0"]), _col(p["bg1"])
    noise = noise[:, :, cv.r0 : cv.r1]
    cv.img.copy_((noise + c0 + t * (c1 - c0)).clamp_(0.0, 1.0))

    stripes = p["stripes_on"]
    if bool(stripes.any()):
        ang = _sc(p["stripes_angle"])
        phase = (win.x * torch.cos(ang) + win.y * torch.sin(ang)) * _sc(p["stripes_freq"])
        band = (torch.sin(phase * 2 * math.pi) - 0.3) / (2 * math.pi * _sc(p["stripes_freq"]))
        cover = cv.coverage(-band) * 0.35 * _sc(stripes)
        cv.paint(win, cover, _col(p["stripes_rgb"]))
    for k in range(2):
        on = p[f"box{k}_on"]
        if not bool(on.any()):
            continue
        xy, hw = p[f"box{k}_xy"], p[f"box{k}_hw"]
        d = _box(
            win.x,
            win.y,
            _sc(xy[:, 0]),
            _sc(xy[:, 1]),
            _sc(hw[:, 0]),
            _sc(hw[:, 1]),
            _sc(p[f"box{k}_angle"]),
        )
        cv.paint(win, cv.coverage(d) * 0.85 * _sc(on), _col(p[f"box{k}_rgb"]))
    for k in range(4):
        on = p[f"disc{k}_on"]
        if not bool(on.any()):
            continue
        xy, r = p[f"disc{k}_xy"], p[f"disc{k}_r"]
        cx, cy, rr = xy[:, 0], xy[:, 1], r
        reach = rr * 1.2  # a ring's band extends 15% past the radius
        win_k = cv.window(cx - reach, cx + reach, cy - reach, cy + reach)
        if win_k is None:
            continue
        d = _circle(win_k.x, win_k.y, _sc(cx), _sc(cy), _sc(rr))
        ring = _sc(p[f"disc{k}_ring"])
        # A ring is the disc's boundary band, 30% of the radius wide.
        d = torch.where(ring > 0, d.abs() - 0.15 * _sc(rr), d)
        cv.paint(win_k, cv.coverage(d) * 0.9 * _sc(on), _col(p[f"disc{k}_rgb"]))


def _face_distance(x: Tensor, y: Tensor, p: dict[str, Tensor]) -> Tensor:
    cx, cy, fa = _sc(p["cx"]), _sc(p["cy"]), _sc(p["fa"])
    top = _ellipse(x, y, cx, cy, fa, _sc(p["fbt"]))
    bottom = _ellipse(x, y, cx, cy, fa, _sc(p["fbb"]))
    return torch.where(y < cy, top, bottom)


def _draw_long_hair(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Long hair falls behind the shoulders."""
    cx, cy, fa, fbt, fbb = p["cx"], p["cy"], p["fa"], p["fbt"], p["fbb"]
    long = p["style_long"]
    if not bool(long.any()):
        return
    top, bottom = cy - fbt * 0.2, cy + fbb + p["long_len"]
    reach = fa * 1.18 + 0.05  # the box's half width, its rounding and a margin
    win = cv.window(cx - reach, cx + reach, top - 0.05, bottom + 0.05)
    if win is None:
        return
    mid, half_h = (top + bottom) / 2, (bottom - top) / 2
    d = _box(win.x, win.y, _sc(cx), _sc(mid), _sc(fa * 1.18), _sc(half_h), None) - 0.04
    cv.paint(win, cv.coverage(d) * _sc(long), _col(p["hair"]) * 0.85)


def _draw_body(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Shoulders and clothing (plain or striped) with a round or V collar."""
    cx, cy, fa, fbb = p["cx"], p["cy"], p["fa"], p["fbb"]
    win = cv.window(cx - 0.6, cx + 0.6, cy + fbb * 0.25, torch.ones_like(cx))
    if win is None:
        return
    ccy = _sc(cy + fbb + 0.36)
    d = _ellipse(win.x, win.y, _sc(cx), ccy, _sc(p["cloth_w"]), _sc(torch.full_like(cx, 0.34)))
    stripes = (torch.sin(win.y * 90.0) > 0.2).unsqueeze(1)
    striped = (_sc(p["cloth_stripes"]) > 0).unsqueeze(1)
    color = torch.where(striped & stripes, _col(p["cloth2"]), _col(p["cloth"]))
    cv.paint(win, cv.coverage(d - _LINE * 0.5), _col(p["cloth"]) * 0.4)
    cv.paint(win, cv.coverage(d + _LINE * 0.5), color)
    neck = _box(win.x, win.y, _sc(cx), _sc(cy + fbb * 0.8), _sc(fa * 0.42), _sc(fbb * 0.5), None)
    v_neck = (win.y - _sc(cy + fbb + 0.11)) + (win.x - _sc(cx)).abs() * 1.2
    round_neck = _ellipse(
        win.x, win.y, _sc(cx), _sc(cy + fbb + 0.02), _sc(fa * 0.55), _sc(fbb * 0.25)
    )
    collar = torch.where(_sc(p["collar_v"]) > 0, torch.maximum(v_neck, d), round_neck)
    neck_d = torch.minimum(neck, collar)
    cv.paint(win, cv.coverage(neck_d - _LINE * 0.5), _col(p["outline"]))
    cv.paint(win, cv.coverage(neck_d + _LINE * 0.5), _col(p["skin"]) * 0.88)


def _draw_head(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Ears, then the outlined face lit softly from the top left, then the nose."""
    cx, cy, fa, fbt, fbb = p["cx"], p["cy"], p["fa"], p["fbt"], p["fbb"]
    skin, outline = _col(p["skin"]), _col(p["outline"])
    win = cv.window(cx - fa * 1.25, cx + fa * 1.25, cy - fbt * 1.1, cy + fbb * 1.1)
    if win is None:
        return
    ey, erx, ery = _sc(cy + fbt * 0.08), _sc(fa * 0.2), _sc(fbt * 0.24)
    ear = torch.minimum(
        _ellipse(win.x, win.y, _sc(cx - fa * 0.97), ey, erx, ery),
        _ellipse(win.x, win.y, _sc(cx + fa * 0.97), ey, erx, ery),
    )
    cv.paint(win, cv.coverage(ear - _LINE * 0.5), outline)
    cv.paint(win, cv.coverage(ear + _LINE * 0.5), skin * 0.92)
    face = _face_distance(win.x, win.y, p)
    cv.paint(win, cv.coverage(face - _LINE * 0.5), outline)
    lx = (win.x - _sc(cx - fa * 0.35)) / _sc(fa)
    ly = (win.y - _sc(cy - fbt * 0.35)) / _sc(fbt)
    light = (1.05 - 0.07 * (lx * lx + ly * ly)).unsqueeze(1)
    cv.paint(win, cv.coverage(face + _LINE * 0.5), (skin * light).clamp(0, 1))

    ncy, nr = cy + p["nose_dy"], p["nose_r"]
    win = cv.window(cx - nr * 1.5, cx + nr * 1.5, ncy - nr * 1.5, ncy + nr * 1.5)
    if win is None:
        return
    d = _circle(win.x, win.y, _sc(cx), _sc(ncy), _sc(nr))
    arc = torch.maximum(d.abs() - 0.006, _sc(ncy + nr * 0.2) - win.y)
    cv.paint(win, cv.coverage(arc) * 0.8, outline)


def _draw_cheeks(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Blush that lifts and rounds when smiling (expression-dependent)."""
    cx, cy, smile = p["cx"], p["cy"], p["smile"]
    ccy = cy + p["cheek_dy"] - smile * p["cheek_dy"] * 0.3
    cr = p["cheek_r"]
    for side in (-1.0, 1.0):
        ccx = cx + side * p["cheek_dx"]
        win = cv.window(ccx - cr * 1.3, ccx + cr * 1.3, ccy - cr, ccy + cr)
        if win is None:
            continue
        d = _ellipse(win.x, win.y, _sc(ccx), _sc(ccy), _sc(cr), _sc(cr * (0.6 + 0.15 * smile)))
        # Blush has no outline: its edge fades over half its radius.
        cover = (0.5 - d / _sc(cr * 0.5)).clamp(0, 1) * _sc(p["cheek_alpha"])
        cv.paint(win, cover, _col(p["blush"]))


def _draw_mouth(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """A line that curves up into an open smile with teeth, down into a frown, or opens
    into a round O (expression-dependent)."""
    if bool(p["surprise"].any()):
        _draw_round_mouth(cv, p)
        return
    if bool(p["sad"].any()):
        _draw_frown(cv, p)
        return
    cx, cy, smile = p["cx"], p["cy"], p["smile"]
    mcy = cy + p["mouth_dy"]
    w = p["mouth_w"] * (1.0 + 0.2 * smile)
    lift = smile * p["smile_lift"]
    depth = smile * p["smile_open"]
    t = p["mouth_t"]
    bottom = mcy + p["mouth_curve"].clamp(min=0) + depth + t
    win = cv.window(cx - w - t, cx + w + t, mcy - lift - p["mouth_curve"].abs() - t, bottom)
    if win is None:
        return
    u = (win.x - _sc(cx)) / _sc(w)
    u2 = (u * u).clamp(max=1.0)
    # The opening lies between two parabolas that meet at the corners.
    upper = _sc(mcy) + (_sc(p["mouth_curve"]) - _sc(lift)) * u2
    lower = upper + _sc(depth) * (1.0 - u2)
    side = (win.x - _sc(cx)).abs() - _sc(w)
    inside = torch.maximum(torch.maximum(upper - win.y, win.y - lower), side)
    half = _sc(t) * 0.5
    cv.paint(win, cv.coverage(inside - half), _col(p["lip"]))
    mouth_in = inside + half
    cv.paint(win, cv.coverage(mouth_in), _MOUTH)
    teeth = torch.maximum(mouth_in, win.y - (upper + _sc(depth) * 0.38 * (1.0 - u2)))
    cv.paint(win, cv.coverage(teeth), _TEETH)


def _draw_round_mouth(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Surprise: the mouth opens into a dark oval ringed by the lip."""
    cx, cy, o = p["cx"], p["cy"], p["surprise"]
    rx = p["mouth_w"] * (1.0 - 0.45 * o)
    ry = p["mouth_t"] + o * p["smile_open"] * 0.6
    mcy = cy + p["mouth_dy"] + ry * 0.3
    t = p["mouth_t"]
    win = cv.window(cx - rx - t, cx + rx + t, mcy - ry - t, mcy + ry + t)
    if win is None:
        return
    ring = _ellipse(win.x, win.y, _sc(cx), _sc(mcy), _sc(rx), _sc(ry))
    cv.paint(win, cv.coverage(ring - _sc(t) * 0.5), _col(p["lip"]))
    cv.paint(win, cv.coverage(ring + _sc(t) * 0.5), _MOUTH)


def _draw_frown(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Sadness: a closed mouth whose corners turn down."""
    cx, cy, d = p["cx"], p["cy"], p["sad"]
    mcy = cy + p["mouth_dy"]
    w = p["mouth_w"] * (1.0 - 0.15 * d)
    drop = d * p["smile_lift"] * 0.8
    t = p["mouth_t"]
    curve = p["mouth_curve"].clamp(max=0)  # a frown has no upward curve of its own
    win = cv.window(cx - w - t, cx + w + t, mcy + curve - t, mcy + drop + t)
    if win is None:
        return
    u = (win.x - _sc(cx)) / _sc(w)
    u2 = (u * u).clamp(max=1.0)
    line = _sc(mcy) + (_sc(curve) + _sc(drop)) * u2
    side = (win.x - _sc(cx)).abs() - _sc(w)
    stroke = torch.maximum((win.y - line).abs() - _sc(t) * 0.5, side)
    cv.paint(win, cv.coverage(stroke), _col(p["lip"]))


def _draw_eyes(cv: _Canvas, p: dict[str, Tensor]) -> None:
    """Eyes whose aperture narrows and rises when smiling (expression-dependent)."""
    cx, cy, smile = p["cx"], p["cy"], p["smile"]
    outline = _col(p["outline"])
    rx = p["eye_rx"]
    ry0 = rx * p["eye_ry"]
    ry = ry0 * (1.0 - 0.3 * smile)
    ecy = cy + p["eye_dy"] - smile * ry0 * 0.12
    if bool(p["surprise"].any()):
        ry = ry0 * (1.0 + 0.25 * p["surprise"])
    if bool(p["sad"].any()):
        ry = ry0 * (1.0 - 0.2 * p["sad"])
        ecy = ecy + p["sad"] * ry0 * 0.1
    iris_r = ry0 * 0.8
    lid = 0.01
    for side in (-1.0, 1.0):
        ecx = cx + side * p["eye_dx"]
        win = cv.window(ecx - rx * 1.2, ecx + rx * 1.2, ecy - ry0 * 1.3, ecy + ry0 * 1.3)
        if win is None:
            continue
        eye = _ellipse(win.x, win.y, _sc(ecx), _sc(ecy), _sc(rx), _sc(ry))
        cv.paint(win, cv.coverage(eye - lid * 0.4), outline * 0.6)
        cv.paint(win, cv.coverage(eye + lid * 0.4), _WHITE)
        look = _sc(ecx + side * rx * 0.05)
        iris = torch.maximum(_circle(win.x, win.y, look, _sc(ecy), _sc(iris_r)), eye + lid * 0.4)
        cv.paint(win, cv.coverage(iris), _col(p["iris"]))
        pupil = torch.maximum(_circle(win.x, win.y, look, _sc(ecy), _sc(iris_r * 0.5)), iris)
        cv.paint(win, cv.coverage(pupil), _PUPIL)
        glint = _circle(
            win.x, win.y, look - _sc(iris_r * 0.35), _sc(ecy - iris_r * 0.35), _sc(iris_r * 0.25)
        )
        cv.paint(win, cv.coverage(torch.maximum(glint, iris)), _WHITE)
        # The upper lash line: a stroke on the top half of the aperture.
        lash = torch.maximum(eye.abs() - 0.008, win.y - _sc(ecy))
        cv.paint(win, cv.coverage(lash), outline * 0.4)


def _draw_brows_and_glasses(cv: _Canvas, p: dict[str, Tensor]) -> None:
    cx, cy, fa = p["cx"], p["cy"], p["fa"]
    rx = p["eye_rx"]
    ry0 = rx * p["eye_ry"]
    ecy = cy + p["eye_dy"]
    for side in (-1.0, 1.0):
        ecx = cx + side * p["eye_dx"]
        half = rx * p["brow_len"]
        bcy = ecy - ry0 - p["brow_dy"]
        reach = 0.06 + (p["surprise"] * ry0 * 0.7).max() if bool(p["surprise"].any()) else 0.06
        win = cv.window(ecx - half - 0.03, ecx + half + 0.03, bcy - reach, bcy + 0.06)
        if win is None:
            continue
        u = (win.x - _sc(ecx)) / _sc(half)
        curve = _sc(bcy) + _sc(p["brow_arch"]) * u * u + _sc(p["brow_tilt"] * side * 0.03) * u
        if bool(p["surprise"].any()):
            curve = curve - _sc(p["surprise"] * ry0 * 0.7)
        if bool(p["sad"].any()):
            # The inner ends (towards the nose, side * u = -1) rise, the outer ones drop.
            curve = curve + _sc(p["sad"] * 0.02) * (side * u)
        d = torch.maximum(
            (win.y - curve).abs() - _sc(p["brow_t"]) * 0.5 * (1.2 - 0.5 * u * u),
            (win.x - _sc(ecx)).abs() - _sc(half),
        )
        cv.paint(win, cv.coverage(d), _col(p["brow"]))

    on = p["glasses"]
    if not bool(on.any()):
        return
    gr = rx * p["glasses_r"] * 0.75
    win = cv.window(cx - fa * 1.05, cx + fa * 1.05, ecy - gr * 1.2, ecy + gr * 1.2)
    if win is None:
        return
    frames = []
    for side in (-1.0, 1.0):
        ecx = _sc(cx + side * p["eye_dx"])
        round_ = _circle(win.x, win.y, ecx, _sc(ecy), _sc(gr))
        square = _box(win.x, win.y, ecx, _sc(ecy), _sc(gr * 1.05), _sc(gr * 0.8), None) - 0.008
        frames.append(torch.where(_sc(p["glasses_square"]) > 0, square, round_))
    lens = torch.minimum(frames[0], frames[1])
    bridge = _box(win.x, win.y, _sc(cx), _sc(ecy - gr * 0.3), _sc(p["eye_dx"] - gr), 0.006, None)
    temple_y = (win.y - _sc(ecy - gr * 0.3)).abs() - 0.006
    temple = torch.maximum(temple_y, _sc(p["eye_dx"] + gr * 0.9) - (win.x - _sc(cx)).abs())
    temple = torch.maximum(temple, (win.x - _sc(cx)).abs() - _sc(fa * 1.02))
    frame = torch.minimum(torch.minimum(lens.abs() - 0.008, bridge), temple)
    cv.paint(win, cv.coverage(lens) * 0.15 * _sc(on), _LENS)
    cv.paint(win, cv.coverage(frame) * _sc(on), _col(p["glasses_rgb"]))


def _draw_hair(cv: _Canvas, p: dict[str, Tensor]) -> None:
    cx, cy, fa, fbt = p["cx"], p["cy"], p["fa"], p["fbt"]
    hair = _col(p["hair"])
    puff = p["hair_puff"]
    win = cv.window(cx - fa * 1.5, cx + fa * 1.5, cy - fbt * 1.8, cy + fbt * 0.2)
    if win is None:
        return
    x, y = win.x, win.y
    cap = _ellipse(x, y, _sc(cx), _sc(cy - fbt * 0.04), _sc(fa * puff), _sc(fbt * puff))
    # The hairline: a curve across the forehead, lower at the temples, slanted by a part.
    u = (x - _sc(cx)) / _sc(fa)
    hairline = _sc(cy - fbt * p["hairline"]) + _sc(fbt) * (0.35 * u * u + 0.08 * _sc(p["part"]) * u)
    bangs = _sc(p["style_bangs"]) > 0
    # Bangs sweep to one side but stay above the eyes (at most 0.25 fbt above the centre
    # across the face), so an expression change is never hidden under hair.
    bang_line = _sc(cy - fbt * 0.5) + _sc(fbt) * (0.15 * u * u - 0.1 * _sc(p["bangs_side"]) * u)
    hairline = torch.where(bangs, torch.maximum(hairline, bang_line), hairline)
    temples = (u.abs() > 0.92) & (y < _sc(cy + fbt * 0.05))
    line_d = torch.where(temples, torch.full_like(hairline, -1.0), (y - hairline) * 0.7)
    # Cut level with the ears, so hair never reaches below the drawing window.
    d = torch.maximum(torch.maximum(cap, line_d), y - _sc(cy + fbt * 0.12))
    curly = _sc(p["style_curly"])
    for k in range(7):
        a = math.pi * (0.08 + 0.84 * k / 6)
        bx = _sc(cx - fa * puff * math.cos(a))
        by = _sc(cy - fbt * 0.04 - fbt * puff * math.sin(a))
        bump = _circle(x, y, bx, by, _sc(fa * 0.28)) + (1 - curly) * 10.0
        d = torch.minimum(d, bump)
    bun = (
        _circle(x, y, _sc(cx), _sc(cy - fbt * 1.2), _sc(fa * 0.42)) + (1 - _sc(p["style_bun"])) * 10
    )
    d = torch.minimum(d, bun)
    cv.paint(win, cv.coverage(d - 0.006), hair * 0.45)
    cv.paint(win, cv.coverage(d + 0.006), hair)


# Back to front. Only _draw_cheeks, _draw_mouth and _draw_eyes read the expression;
# the layers above them (brows, glasses, hair) are identical in both renderings.
_LAYERS = (
    _draw_long_hair,
    _draw_body,
    _draw_head,
    _draw_cheeks,
    _draw_mouth,
    _draw_eyes,
    _draw_brows_and_glasses,
    _draw_hair,
)


def render(
    ids: Sequence[dict[str, object]],
    smile: Sequence[float],
    size: int,
    *,
    expression: str = "smile",
) -> Tensor:
    """Renders identities with the given amounts of one expression (0: neutral);
    uint8 (b, 3, size, size)."""
    if expression not in EXPRESSIONS:
        raise ValueError(f"render(): 'expression' must be one of {EXPRESSIONS}, got {expression!r}")
    p = _batch(ids, smile, expression)
    ss = SUPERSAMPLE
    s = size * ss
    noise = _smooth_noise(p, s)
    # Paint in bands of rows: many small temporaries are much cheaper than a few
    # huge ones, and every shape outside a band is skipped.
    band = max(ss, _BAND_ELEMENTS // (len(ids) * s) // ss * ss)
    out = []
    for r0 in range(0, s, band):
        cv = _Canvas(len(ids), size, ss, (r0, min(r0 + band, s)))
        _draw_background(cv, p, noise)
        for layer in _LAYERS:
            layer(cv, p)
        out.append(F.avg_pool2d(cv.img, ss))
    img = torch.cat(out, dim=2)
    return img.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
