"""Losses of AGGAN and its relatives: adversarial, reconstruction, attention, objective.

Every loss is pure: tensors in, a tensor out. Nothing here calls ``backward()`` or
steps an optimizer. Losses that are defined per sample take
``reduction="mean"|"sum"|"none"`` with one rule throughout: ``"none"`` returns the
per-sample losses, shape ``(b,)``; ``"mean"`` and ``"sum"`` reduce those over the
batch. A per-sample L1 loss is the mean over a sample's elements, so ``"mean"`` equals
the familiar ``F.l1_loss`` value; the attention loss is a sum over pixels (Eq. 6), so
its ``"mean"`` is the batch mean of per-sample sums.

The paper's full generator objective (Eq. 7 with the curriculum of Eq. 9) is
:func:`aggan_generator_objective`, weighted by :class:`AGGANLossWeights` and scheduled
by :func:`curriculum_rate`.
"""

from attnguide.losses._adversarial import AdversarialLoss, adversarial_loss
from attnguide.losses._attention import attention_tv_loss, mask_saturation_loss
from attnguide.losses._domains import domain_classification_loss
from attnguide.losses._objective import AGGANLossWeights, aggan_generator_objective, curriculum_rate
from attnguide.losses._penalty import gradient_penalty
from attnguide.losses._reconstruction import cycle_consistency_loss, pixel_loss

__all__ = [
    "AGGANLossWeights",
    "AdversarialLoss",
    "adversarial_loss",
    "aggan_generator_objective",
    "attention_tv_loss",
    "curriculum_rate",
    "cycle_consistency_loss",
    "domain_classification_loss",
    "gradient_penalty",
    "mask_saturation_loss",
    "pixel_loss",
]
