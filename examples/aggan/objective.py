"""The objective of one training step, in one place: Eq. 9 for the generators, Eq. 2-3
for the discriminators (and CycleGAN's own objective for the baseline).

Generators (``objective="aggan"``), each term summed over both directions::

    L_G = r * (λcycle * L_cycle + λpixel * L_pixel)
        + (1 - r) * (λgan * (L_GAN + L_AGAN) + λtv * L_tv)            (Eq. 9)

Generators (``objective="cyclegan"``, Zhu et al.)::

    L_G = λgan * L_GAN + λcycle * L_cycle + λidentity * λcycle * L_identity

Discriminators: each of D_X, D_Y (and D_XA, D_YA) minimises half its adversarial loss
on a real image and a pooled fake (the paper "divides the objective by 2"); D_YA sees
the real pair ``[M_y, y]`` with the mask of the current step and the pooled fake pair
``[M_y, G_y]`` with its own mask (Eq. 3).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from attnguide.losses import (
    AGGANLossWeights,
    adversarial_loss,
    aggan_generator_objective,
    cycle_consistency_loss,
    pixel_loss,
)

from .config import TrainConfig
from .model import Translation

__all__ = ["discriminator_loss", "generator_loss", "loss_weights"]


def _fooled(cfg: TrainConfig, score: Tensor) -> Tensor:
    """The generator's adversarial loss: its fake is to be scored as real."""
    return adversarial_loss(score.float(), True, mode=cfg.gan_mode, for_discriminator=False)


def generator_loss(
    cfg: TrainConfig,
    d: Mapping[str, nn.Module],
    x: Tensor,
    y: Tensor,
    to_y: Translation,
    to_x: Translation,
    r: float,
    weights: AGGANLossWeights | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The generators' objective of one step and its weighted terms (for logging).

    ``weights`` are the λ of Eq. 9 (:func:`loss_weights` of ``cfg`` when None; pass them
    built once to keep their checks out of a compiled step).

    ``d`` maps ``"D_X"``, ``"D_Y"`` (and ``"D_XA"``, ``"D_YA"``) to the discriminators,
    not their DistributedDataParallel views: the generator step needs no gradient for
    their parameters.

    Returns:
        ``(total, terms)``: the scalar loss and every weighted term plus ``"total"``.
    """
    x, y = x.float(), y.float()
    gan = _fooled(cfg, d["D_Y"](to_y.image)) + _fooled(cfg, d["D_X"](to_x.image))
    cycle = cycle_consistency_loss(to_y.reconstruction.float(), x) + cycle_consistency_loss(
        to_x.reconstruction.float(), y
    )
    if cfg.objective == "cyclegan":
        terms = {"gan": cfg.gan_weight * gan, "cycle": cfg.cycle_weight * cycle}
        if cfg.identity_weight:
            assert to_y.identity is not None and to_x.identity is not None
            identity = pixel_loss(to_y.identity.float(), y) + pixel_loss(to_x.identity.float(), x)
            terms["identity"] = cfg.identity_weight * cfg.cycle_weight * identity
        total = sum(terms.values())
        return total, {**terms, "total": total}

    terms = {"gan": gan, "cycle": cycle}
    if cfg.pixel_loss:
        terms["pixel"] = pixel_loss(to_y.image.float(), x) + pixel_loss(to_x.image.float(), y)
    if to_y.mask is not None and to_x.mask is not None:
        if "D_XA" in d and "D_YA" in d:
            terms["agan"] = _fooled(cfg, d["D_YA"](to_y.image, to_y.mask)) + _fooled(
                cfg, d["D_XA"](to_x.image, to_x.mask)
            )
        if cfg.tv_loss:
            # AttentionHead computed Eq. 6 per sample in the same pass as the blend.
            terms["tv"] = to_y.tv.float().mean() + to_x.tv.float().mean()
    return aggan_generator_objective(terms, weights or loss_weights(cfg), r)


def loss_weights(cfg: TrainConfig) -> AGGANLossWeights:
    """The λ of Eq. 9 that ``cfg`` sets."""
    return AGGANLossWeights(
        gan=cfg.gan_weight, cycle=cfg.cycle_weight, pixel=cfg.pixel_weight, tv=cfg.tv_weight
    )


def discriminator_loss(
    cfg: TrainConfig, scores: dict[str, tuple[Tensor, Tensor]]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Half of each discriminator's adversarial loss on its (real, fake) scores.

    Args:
        scores: ``{"D_X": (real scores, fake scores), ...}`` from
            :class:`~aggan.model.Discriminators`.

    Returns:
        ``(total, losses)``: their sum and each discriminator's loss.
    """
    losses = {
        name: 0.5
        * (
            adversarial_loss(real.float(), True, mode=cfg.gan_mode)
            + adversarial_loss(fake.float(), False, mode=cfg.gan_mode)
        )
        for name, (real, fake) in scores.items()
    }
    return sum(losses.values()), losses
