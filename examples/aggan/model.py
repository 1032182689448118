"""The six networks of AGGAN (section III), built only from attnguide's public API.

Two generators ``G_xy = AttentionHead(ResnetGenerator(...))`` and ``G_yx``, two vanilla
discriminators ``D_X``, ``D_Y`` and two attention-guided ones ``D_XA``, ``D_YA``
(``MaskConditionedDiscriminator``) judging [mask, image] pairs as in Eq. 3. With
``--no-attention-generator`` the generators are plain ResNet generators (the CycleGAN
baseline of the same backbone): no mask, so no attention-guided discriminators.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.nets import PatchDiscriminator, ResnetGenerator
from attnguide.training import augment_pair

from .config import TrainConfig

__all__ = [
    "AGGAN",
    "NAMES",
    "Augmented",
    "Discriminators",
    "Generators",
    "Translation",
    "build_model",
    "foreground",
]

NAMES = ("G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA", "G_xy_ema", "G_yx_ema")


class Translation(NamedTuple):
    """One direction of a generator pass: X -> Y and back (or Y -> X and back)."""

    image: Tensor  # the translated image, (b c h w)
    mask: Tensor | None  # attention mask(s), (b k h w); None without attention
    content: Tensor | None  # content image(s): (b c h w) for k = 1, (b k-1 c h w) else
    tv: Tensor | None  # per-sample total variation of the mask, (b,)
    reconstruction: Tensor  # the cycle back to the source domain, (b c h w)
    identity: Tensor | None  # G(target-domain image), for CycleGAN's identity loss


def _generator(cfg: TrainConfig) -> nn.Module:
    # ResnetGenerator initialises itself N(0, 0.02) as CycleGAN does; the head's mask
    # conv then starts at zero with the bias cfg.mask_bias.
    net = ResnetGenerator(
        3, 3, ngf=cfg.ngf, n_blocks=cfg.n_blocks, norm=cfg.norm, upsample=cfg.upsample
    )
    if not cfg.attention_generator:
        return net
    # Tracing the image-producing layer here, not on the first forward, keeps the
    # forward free of set-up work under DistributedDataParallel and torch.compile.
    return AttentionHead(
        net,
        masks=cfg.masks,
        mask_bias=cfg.mask_bias,
        example_inputs=torch.zeros(1, 3, cfg.size, cfg.size),
    )


def _discriminator(cfg: TrainConfig, *, attention: bool) -> nn.Module:
    net = PatchDiscriminator(3, ndf=cfg.ndf, n_layers=cfg.d_layers, norm=cfg.norm, head=cfg.d_head)
    if not attention:
        return net
    return MaskConditionedDiscriminator(net, mask_channels=cfg.masks, layer="model.0")


def _run(generator: nn.Module, x: Tensor, attention: bool) -> tuple[Tensor, ...]:
    if not attention:
        return generator(x), None, None, None
    out = generator(x)
    return out.image, out.mask, out.content, out.tv


def _split(t: Tensor | None, sizes: list[int]) -> list[Tensor | None]:
    return [None] * len(sizes) if t is None else list(t.split(sizes))


def _run_split(generator: nn.Module, parts: list[Tensor], attention: bool) -> list[tuple]:
    """``generator`` on several batches as one: per-sample results, split back."""
    sizes = [p.shape[0] for p in parts]
    outs = _run(generator, torch.cat(parts) if len(parts) > 1 else parts[0], attention)
    return list(zip(*(_split(t, sizes) for t in outs), strict=True))


class Generators(nn.Module):
    """Both generators, run as one module so DistributedDataParallel sees one forward.

    ``forward(x, y)`` translates x to Y and y to X and cycles both back; with
    ``identity`` it also maps each domain's real image through the generator into that
    domain (CycleGAN's identity loss).

    With ``batched`` (instance norm only: every sample is normalised on its own, so the
    result is the same), the passes through one generator that do not depend on each
    other run as one batch: ``G_yx`` on ``y`` (and ``x``), then ``G_xy`` on ``x``,
    ``G_yx(y)`` (and ``y``), then ``G_yx`` on ``G_xy(x)``: three calls instead of four,
    each bigger, which costs less per image.
    """

    def __init__(
        self,
        G_xy: nn.Module,
        G_yx: nn.Module,
        *,
        attention: bool,
        identity: bool = False,
        batched: bool = False,
    ) -> None:
        super().__init__()
        self.G_xy, self.G_yx = G_xy, G_yx
        self.attention, self.identity, self.batched = attention, identity, batched

    def forward(self, x: Tensor, y: Tensor) -> tuple[Translation, Translation]:
        a = self.attention
        if not self.batched:
            image_y, mask_y, content_y, tv_y = _run(self.G_xy, x, a)
            image_x, mask_x, content_x, tv_x = _run(self.G_yx, y, a)
            rec_x = _run(self.G_yx, image_y, a)[0]
            rec_y = _run(self.G_xy, image_x, a)[0]
            idt_y = _run(self.G_xy, y, a)[0] if self.identity else None
            idt_x = _run(self.G_yx, x, a)[0] if self.identity else None
        else:
            first = _run_split(self.G_yx, [y, x] if self.identity else [y], a)
            image_x, mask_x, content_x, tv_x = first[0]
            idt_x = first[1][0] if self.identity else None
            second = _run_split(self.G_xy, [x, image_x, y] if self.identity else [x, image_x], a)
            image_y, mask_y, content_y, tv_y = second[0]
            rec_y = second[1][0]
            idt_y = second[2][0] if self.identity else None
            rec_x = _run(self.G_yx, image_y, a)[0]
        return (
            Translation(image_y, mask_y, content_y, tv_y, rec_x, idt_y),
            Translation(image_x, mask_x, content_x, tv_x, rec_y, idt_x),
        )


class Discriminators(nn.Module):
    """The scores of one discriminator step, as one module so that
    DistributedDataParallel sees one forward per backward.

    ``forward`` returns ``{"D_X": (real scores, fake scores), ...}`` for D_X, D_Y and,
    given masks, D_XA and D_YA (the real pair ``[M, image]`` with the generator's mask
    of this step, the fake pair with the pooled fake's own mask, as in Eq. 3). With
    ``batched`` (instance norm only, so the result is the same), each discriminator
    scores its real and fake batch in one forward.
    """

    def __init__(self, nets: dict[str, nn.Module], *, batched: bool = False) -> None:
        super().__init__()
        self.nets = nn.ModuleDict({k: v for k, v in nets.items() if k.startswith("D")})
        self.batched = batched

    def _score(
        self, name: str, real: Tensor, fake: Tensor, *masks: Tensor
    ) -> tuple[Tensor, Tensor]:
        net = self.nets[name]
        if not self.batched:
            return net(real, *masks[:1]), net(fake, *masks[1:])
        both = net(torch.cat([real, fake]), *([torch.cat(masks)] if masks else []))
        return both[: real.shape[0]], both[real.shape[0] :]

    def forward(
        self,
        real_x: Tensor,
        real_y: Tensor,
        fake_x: Tensor,
        fake_y: Tensor,
        masks: dict[str, Tensor] | None = None,
    ) -> dict[str, tuple[Tensor, Tensor]]:
        scores = {
            "D_X": self._score("D_X", real_x, fake_x),
            "D_Y": self._score("D_Y", real_y, fake_y),
        }
        if masks is not None and "D_XA" in self.nets:
            scores["D_XA"] = self._score("D_XA", real_x, fake_x, masks["real_x"], masks["fake_x"])
            scores["D_YA"] = self._score("D_YA", real_y, fake_y, masks["real_y"], masks["fake_y"])
        return scores


class Augmented(nn.Module):
    """A discriminator that sees its input through :func:`attnguide.training.augment_pair`
    (``--d-augment``): real and fake alike, the mask moved with its image. A view for
    the training step only; the wrapped network's weights and keys are untouched. The
    draws come from ``generator``, which the checkpoint keeps (the global stream is
    also drawn by every DataLoader iterator, so it would not resume exactly).
    """

    def __init__(self, net: nn.Module, *, color: bool, generator: torch.Generator) -> None:
        super().__init__()
        self.net, self.color, self.generator = net, color, generator

    def forward(self, image: Tensor, mask: Tensor | None = None) -> Tensor:
        image, mask = augment_pair(image, mask, color=self.color, generator=self.generator)
        return self.net(image) if mask is None else self.net(image, mask)


class AGGAN(nn.Module):
    """The six networks of AGGAN, named as in the paper.

    Attributes:
        G_xy, G_yx: generators X -> Y and Y -> X (``AttentionHead`` unless built with
            ``attention_generator=False``).
        D_X, D_Y: vanilla discriminators on images.
        D_XA, D_YA: attention-guided discriminators on [mask, image], or None.
        G_xy_ema, G_yx_ema: with ``--ema``, moving averages of the generators' weights
            (what :meth:`translate` uses), or None.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.attention = cfg.attention_generator
        self.G_xy = _generator(cfg)
        self.G_yx = _generator(cfg)
        self.D_X = _discriminator(cfg, attention=False)
        self.D_Y = _discriminator(cfg, attention=False)
        use_ad = cfg.attention_generator and cfg.attention_discriminator
        self.D_XA = _discriminator(cfg, attention=True) if use_ad else None
        self.D_YA = _discriminator(cfg, attention=True) if use_ad else None
        self.ema = cfg.ema
        self.G_xy_ema = self.G_yx_ema = None
        if cfg.ema:
            self.G_xy_ema, self.G_yx_ema = _generator(cfg), _generator(cfg)
            self.reset_ema()

    def reset_ema(self) -> None:
        """Starts the averages at the generators' current weights."""
        for name in ("G_xy", "G_yx"):
            average = getattr(self, f"{name}_ema")
            if average is not None:
                average.load_state_dict(getattr(self, name).state_dict())
                average.requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """One step of the averages: ``avg += (1 - d) * (weights - avg)``, with the decay
        ``d = min(ema, (1 + step) / (10 + step))`` so the first steps' random weights
        fade quickly from a short run's average."""
        if not self.ema:
            return
        decay = min(self.ema, (1 + step) / (10 + step))
        for name in ("G_xy", "G_yx"):
            average = getattr(self, f"{name}_ema")
            live = dict(getattr(self, name).named_parameters())
            params = [(p, live[n]) for n, p in average.named_parameters()]
            torch._foreach_lerp_([a for a, _ in params], [w for _, w in params], 1 - decay)
            for b, w in zip(average.buffers(), getattr(self, name).buffers(), strict=True):
                b.copy_(w)

    def networks(self) -> dict[str, nn.Module]:
        """The networks that exist in this configuration, by name."""
        return {n: getattr(self, n) for n in NAMES if getattr(self, n) is not None}

    def training_networks(self) -> dict[str, nn.Module]:
        """The networks that train (everything but the averages)."""
        return {n: m for n, m in self.networks().items() if not n.endswith("_ema")}

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.G_xy.parameters(), *self.G_yx.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        nets = self.training_networks()
        return [p for n, m in nets.items() if n.startswith("D") for p in m.parameters()]

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str = "AtoB") -> tuple[Tensor, ...]:
        """Translates a batch: (image, mask, content); mask and content None without
        attention. With ``--ema`` the averaged generators translate.

        Shape:
            - images: ``(b 3 h w)`` in [-1, 1]; image ``(b 3 h w)``; mask ``(b k h w)``.
        """
        name = "G_xy" if direction == "AtoB" else "G_yx"
        generator = getattr(self, f"{name}_ema") or getattr(self, name)
        return _run(generator, images, self.attention)[:3]


def build_model(cfg: TrainConfig) -> AGGAN:
    """The networks for ``cfg``, initialised N(0, 0.02) as CycleGAN does (each network
    once, by its own constructor), with draws seeded by ``cfg.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return AGGAN(cfg)


def foreground(mask: Tensor) -> Tensor:
    """Where a generator acts: the mask itself for k = 1, one minus the background mask
    (the last of k softmax masks) for k >= 2.

    Shape:
        - mask: ``(b k h w)``; output: ``(b 1 h w)``.
    """
    if mask.shape[1] == 1:
        return mask
    return 1 - mask[:, -1:]
