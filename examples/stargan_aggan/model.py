"""The two networks of the attention-guided StarGAN, built only from attnguide's public API.

``G = AttentionHead(StarGANGenerator(...))``: one conditional generator for every
domain, whose label passes through the head, and ``D =
MaskConditionedDiscriminator(StarGANDiscriminator(...))`` judging [mask, image] and
returning StarGAN's ``(src, cls)``. With ``--no-attention`` (``--baseline stargan``)
both are StarGAN's networks as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.nets import StarGANDiscriminator, StarGANGenerator

from .config import TrainConfig

__all__ = ["NAMES", "StarGANModel", "build_model", "one_hot"]

NAMES = ("G", "D")


def one_hot(labels: Tensor, n: int) -> Tensor:
    """Class indices ``(b,)`` as StarGAN's one-hot target vectors ``(b, n)``, float32."""
    return torch.nn.functional.one_hot(labels.long(), n).float()


class StarGANModel(nn.Module):
    """StarGAN's generator and discriminator, attention-guided unless ``cfg.attention``
    is off.

    Attributes:
        G: ``G(x, c)`` -> ``AttentionOutput`` (image, mask, content, tv) with attention,
            an image without.
        D: ``D(x, mask)`` (or ``D(x)``) -> ``(src, cls)``.
    """

    def __init__(self, cfg: TrainConfig, n_domains: int) -> None:
        super().__init__()
        self.attention = cfg.attention
        self.n_domains = n_domains
        g = StarGANGenerator(cfg.ngf, n_domains, cfg.n_blocks)
        d = StarGANDiscriminator(cfg.size, cfg.ndf, n_domains, cfg.d_layers)
        if cfg.attention:
            example = (torch.zeros(1, 3, cfg.size, cfg.size), torch.zeros(1, n_domains))
            # Traced here, not on the first forward: no set-up work inside DDP's forward.
            g = AttentionHead(g, mask_bias=cfg.mask_bias, example_inputs=example)
            d = MaskConditionedDiscriminator(d, layer="main.0")
        self.G, self.D = g, d

    def networks(self) -> dict[str, nn.Module]:
        """The networks by name."""
        return {"G": self.G, "D": self.D}

    def generate(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``G(x, c)`` as (image, mask, per-sample TV of the mask); mask and TV are None
        without attention.

        Shape:
            - x: ``(b 3 h w)`` in [-1, 1]; c: ``(b n)`` one-hot; image ``(b 3 h w)``;
              mask ``(b 1 h w)``; tv ``(b,)``.
        """
        if not self.attention:
            return self.G(x, c), None, None
        out = self.G(x, c)
        return out.image, out.mask, out.tv

    def judge(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """``D``'s ``(src, cls)`` on ``x`` (with its mask when attention-guided)."""
        return self.D(x, mask) if self.attention else self.D(x)

    @torch.no_grad()
    def translate(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor | None]:
        """Translates a batch to the target domains (class indices): (image, mask).

        Shape:
            - images: ``(b 3 h w)`` in [-1, 1]; targets: ``(b,)`` int; image
              ``(b 3 h w)``; mask ``(b 1 h w)`` or None.
        """
        image, mask, _ = self.generate(images, one_hot(targets, self.n_domains).to(images))
        return image, mask


def build_model(cfg: TrainConfig, n_domains: int) -> StarGANModel:
    """The networks for ``cfg``, initialised as StarGAN's code leaves them (PyTorch's
    default initialisation), with draws seeded by ``cfg.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return StarGANModel(cfg, n_domains)
