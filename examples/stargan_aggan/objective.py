"""StarGAN's objective (Choi et al., Eq. 1-7 as its ``solver.py`` computes them), with
the attention terms when the model is attention-guided.

Discriminator (a WGAN-GP critic with a classification head), every iteration::

    L_D = -E[D_src(x)] + E[D_src(G(x, c))] + λcls * CE(D_cls(x), c') + λgp * GP

Generator, every ``n_critic``-th iteration::

    L_G = -E[D_src(G(x, c))] + λcls * CE(D_cls(G(x, c)), c) + λrec * |x - G(G(x, c), c')|_1
        + λtv * TV(M) + λmask * mean(M)          (attention only; M both passes' masks)

with ``c'`` the image's own domain and ``c`` a target drawn for it. The critic judges
[mask, image]; a real image is paired with the mask its translation of this iteration
got (detached), its translation with the same mask, and the gradient penalty
interpolates the pairs (:func:`attnguide.losses.gradient_penalty`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from attnguide.losses import (
    adversarial_loss,
    cycle_consistency_loss,
    domain_classification_loss,
    gradient_penalty,
    mask_saturation_loss,
)

from .config import TrainConfig
from .model import StarGANModel, one_hot

__all__ = ["discriminator_loss", "generator_loss"]


def discriminator_loss(
    cfg: TrainConfig, model: StarGANModel, x: Tensor, labels: Tensor, targets: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """The critic's loss on a batch ``x`` of domains ``labels`` translated to ``targets``
    (class indices, ``(b,)``), and its terms (for logging)."""
    with torch.no_grad():
        fake, mask, _ = model.generate(x, one_hot(targets, model.n_domains).to(x))
    src_real, cls_real = model.judge(x, mask)
    src_fake, _ = model.judge(fake, mask)
    masks = {"real_mask": mask, "fake_mask": mask} if mask is not None else {}
    terms = {
        "real": adversarial_loss(src_real, True, mode="wgan"),
        "fake": adversarial_loss(src_fake, False, mode="wgan"),
        "cls": cfg.cls_weight * domain_classification_loss(cls_real, labels),
        "gp": cfg.gp_weight * gradient_penalty(model.D, x, fake, **masks),
    }
    total = sum(terms.values())
    return total, {**terms, "total": total}


def generator_loss(
    cfg: TrainConfig, model: StarGANModel, x: Tensor, labels: Tensor, targets: Tensor
) -> tuple[Tensor, dict[str, Tensor], Tensor | None]:
    """The generator's loss, its terms and the mask of the translation (None without
    attention)."""
    n = model.n_domains
    fake, mask, tv = model.generate(x, one_hot(targets, n).to(x))
    src, cls = model.judge(fake, mask)
    rec, rec_mask, rec_tv = model.generate(fake, one_hot(labels, n).to(x))
    terms = {
        "fake": adversarial_loss(src, True, mode="wgan", for_discriminator=False),
        "cls": cfg.cls_weight * domain_classification_loss(cls, targets),
        "rec": cfg.rec_weight * cycle_consistency_loss(rec, x),
    }
    if mask is not None:
        if cfg.tv_weight:
            terms["tv"] = cfg.tv_weight * (tv.mean() + rec_tv.mean())
        if cfg.mask_weight:
            terms["mask"] = cfg.mask_weight * (
                mask_saturation_loss(mask) + mask_saturation_loss(rec_mask)
            )
    total = sum(terms.values())
    return total, {**terms, "total": total}, mask
