"""The AGGAN model of the paper (section III), built only from attnguide's public API.

Two generators ``G_xy = AttentionHead(ResnetGenerator(...))`` and ``G_yx``, two vanilla
discriminators ``D_X``, ``D_Y`` and two attention-guided ones ``D_XA``, ``D_YA``
(``MaskConditionedDiscriminator``) judging [mask, image] pairs as in Eq. 3. With
``--no-attention-generator`` the generators are plain ResNet generators (the CycleGAN
baseline of the same backbone): no mask, so no attention-guided discriminators and no
attention loss.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.losses import (
    AdversarialLoss,
    AGGANLossWeights,
    aggan_generator_objective,
    cycle_consistency_loss,
    pixel_loss,
)
from attnguide.nets import PatchDiscriminator, ResnetGenerator, init_weights

from .config import TrainConfig

__all__ = [
    "AGGAN",
    "Discriminators",
    "Generators",
    "Translation",
    "build_model",
    "foreground",
    "generator_terms",
    "loss_weights",
]


class Translation(NamedTuple):
    """One direction of a generator pass: X -> Y and back (or Y -> X and back)."""

    image: Tensor  # the translated image, (b c h w)
    mask: Tensor | None  # attention mask(s), (b k h w); None without attention
    content: Tensor | None  # content image(s): (b c h w) for k = 1, (b k-1 c h w) else
    tv: Tensor | None  # per-sample total variation of the mask, (b,)
    reconstruction: Tensor  # the cycle back to the source domain, (b c h w)


def _generator(cfg: TrainConfig) -> nn.Module:
    net = ResnetGenerator(3, 3, ngf=cfg.ngf, n_blocks=cfg.n_blocks, norm=cfg.norm)
    init_weights(net)
    if not cfg.attention_generator:
        return net
    # Initialise the backbone before wrapping: the head's mask parameters keep the
    # initialisation AttentionHead chose for them.
    # Tracing the image-producing layer once here (not on the first forward) keeps the
    # forward free of set-up work under DistributedDataParallel and torch.compile.
    return AttentionHead(
        net,
        masks=cfg.masks,
        mask_bias=cfg.mask_bias,
        example_inputs=torch.zeros(1, 3, cfg.size, cfg.size),
    )


def _discriminator(cfg: TrainConfig, *, attention: bool) -> nn.Module:
    net = PatchDiscriminator(3, ndf=cfg.ndf, n_layers=cfg.d_layers, norm=cfg.norm, head=cfg.d_head)
    init_weights(net)
    if not attention:
        return net
    return MaskConditionedDiscriminator(net, mask_channels=cfg.masks)


def _run(generator: nn.Module, x: Tensor, attention: bool) -> tuple[Tensor, ...]:
    if not attention:
        return generator(x), None, None, None
    out = generator(x)
    return out.image, out.mask, out.content, out.tv


class Generators(nn.Module):
    """Both generators, run as one module so DistributedDataParallel sees one forward.

    ``forward(x, y)`` translates x to Y and y to X and cycles both back.
    """

    def __init__(self, G_xy: nn.Module, G_yx: nn.Module, *, attention: bool) -> None:
        super().__init__()
        self.G_xy = G_xy
        self.G_yx = G_yx
        self.attention = attention

    def forward(self, x: Tensor, y: Tensor) -> tuple[Translation, Translation]:
        image_y, mask_y, content_y, tv_y = _run(self.G_xy, x, self.attention)
        image_x, mask_x, content_x, tv_x = _run(self.G_yx, y, self.attention)
        rec_x = _run(self.G_yx, image_y, self.attention)[0]
        rec_y = _run(self.G_xy, image_x, self.attention)[0]
        return (
            Translation(image_y, mask_y, content_y, tv_y, rec_x),
            Translation(image_x, mask_x, content_x, tv_x, rec_y),
        )


class Discriminators(nn.Module):
    """The four discriminators and the halved discriminator loss of one step.

    ``forward`` returns the losses of D_X, D_Y (and D_XA, D_YA) on real images and
    pooled fakes, each already halved (the paper slows the discriminators down so).
    One module so DistributedDataParallel sees one forward per backward.
    """

    def __init__(
        self,
        D_X: nn.Module,
        D_Y: nn.Module,
        D_XA: nn.Module | None,
        D_YA: nn.Module | None,
        *,
        gan_mode: str,
    ) -> None:
        super().__init__()
        self.D_X, self.D_Y, self.D_XA, self.D_YA = D_X, D_Y, D_XA, D_YA
        self.adversarial = AdversarialLoss(mode=gan_mode)

    def _half(self, real: Tensor, fake: Tensor) -> Tensor:
        adv = self.adversarial
        return 0.5 * (adv(real.float(), True) + adv(fake.float(), False))

    def forward(
        self,
        real_x: Tensor,
        real_y: Tensor,
        fake_x: Tensor,
        fake_y: Tensor,
        real_mask_x: Tensor | None = None,
        real_mask_y: Tensor | None = None,
        fake_mask_x: Tensor | None = None,
        fake_mask_y: Tensor | None = None,
    ) -> dict[str, Tensor]:
        losses = {
            "D_X": self._half(self.D_X(real_x), self.D_X(fake_x)),
            "D_Y": self._half(self.D_Y(real_y), self.D_Y(fake_y)),
        }
        if self.D_XA is not None and self.D_YA is not None:
            # Eq. 3: the real pair is [M, real image] with the mask the generator made
            # for the current step; the fake pair is a pooled fake with its own mask.
            losses["D_XA"] = self._half(
                self.D_XA(real_x, real_mask_x), self.D_XA(fake_x, fake_mask_x)
            )
            losses["D_YA"] = self._half(
                self.D_YA(real_y, real_mask_y), self.D_YA(fake_y, fake_mask_y)
            )
        return losses


class AGGAN(nn.Module):
    """The six networks of AGGAN, named as in the paper.

    Attributes:
        G_xy, G_yx: generators X -> Y and Y -> X (``AttentionHead`` unless built with
            ``attention_generator=False``).
        D_X, D_Y: vanilla discriminators on images.
        D_XA, D_YA: attention-guided discriminators on [mask, image], or None.
    """

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.attention = cfg.attention_generator
        self.G_xy = _generator(cfg)
        self.G_yx = _generator(cfg)
        self.D_X = _discriminator(cfg, attention=False)
        self.D_Y = _discriminator(cfg, attention=False)
        use_ad = cfg.attention_generator and cfg.attention_discriminator
        self.D_XA = _discriminator(cfg, attention=True) if use_ad else None
        self.D_YA = _discriminator(cfg, attention=True) if use_ad else None

    def networks(self) -> dict[str, nn.Module]:
        """The networks that exist in this configuration, by name."""
        names = ("G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.G_xy.parameters(), *self.G_yx.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        nets = self.networks()
        return [p for n, m in nets.items() if n.startswith("D") for p in m.parameters()]

    @torch.no_grad()
    def translate(self, images: Tensor, direction: str = "AtoB") -> tuple[Tensor, ...]:
        """Translates a batch: (image, mask, content); mask and content None without attention.

        Args:
            images: Source images in [-1, 1].
            direction: ``"AtoB"`` (G_xy) or ``"BtoA"`` (G_yx).

        Shape:
            - images: ``(b 3 h w)``; image ``(b 3 h w)``; mask ``(b k h w)``.
        """
        generator = self.G_xy if direction == "AtoB" else self.G_yx
        return _run(generator, images, self.attention)[:3]


def build_model(cfg: TrainConfig) -> AGGAN:
    """The networks for ``cfg``, initialised N(0, 0.02) as CycleGAN does, seeded by
    ``cfg.seed``.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return AGGAN(cfg)


def loss_weights(cfg: TrainConfig) -> AGGANLossWeights:
    return AGGANLossWeights(
        gan=cfg.gan_weight, cycle=cfg.cycle_weight, pixel=cfg.pixel_weight, tv=cfg.tv_weight
    )


def foreground(mask: Tensor) -> Tensor:
    """Where a generator acts: the mask itself for k = 1, one minus the background mask
    (the last of k softmax masks) for k >= 2.

    Shape:
        - mask: ``(b k h w)``; output: ``(b 1 h w)``.
    """
    if mask.shape[1] == 1:
        return mask
    return 1 - mask[:, -1:]


def generator_terms(
    cfg: TrainConfig,
    discriminators: Discriminators,
    attention: bool,
    adversarial: AdversarialLoss,
    x: Tensor,
    y: Tensor,
    to_y: Translation,
    to_x: Translation,
) -> dict[str, Tensor]:
    """The unweighted terms of Eq. 9 for one step, each summed over both directions;
    an ablated term is left out (``aggan_generator_objective`` then drops it).

    ``discriminators`` is the plain module, not its DistributedDataParallel wrapper:
    the generator step needs no gradient for the discriminators.
    """
    d = discriminators

    def fooled(net: nn.Module, *args: Tensor) -> Tensor:
        return adversarial(net(*args).float(), True, for_discriminator=False)

    terms = {
        "gan": fooled(d.D_Y, to_y.image) + fooled(d.D_X, to_x.image),
        "cycle": cycle_consistency_loss(to_y.reconstruction.float(), x.float())
        + cycle_consistency_loss(to_x.reconstruction.float(), y.float()),
    }
    if cfg.pixel_loss:
        terms["pixel"] = pixel_loss(to_y.image.float(), x.float()) + pixel_loss(
            to_x.image.float(), y.float()
        )
    if attention:
        if d.D_XA is not None and d.D_YA is not None:
            terms["agan"] = fooled(d.D_YA, to_y.image, to_y.mask) + fooled(
                d.D_XA, to_x.image, to_x.mask
            )
        if cfg.tv_loss:
            # AttentionHead computes Eq. 6 per sample in the same pass as the blend.
            terms["tv"] = to_y.tv.float().mean() + to_x.tv.float().mean()
    return terms


def generator_objective(
    cfg: TrainConfig, terms: dict[str, Tensor], r: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 9 with the configured weights and curriculum rate ``r``."""
    return aggan_generator_objective(terms, loss_weights(cfg), r)
