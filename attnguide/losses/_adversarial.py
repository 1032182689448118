"""Adversarial losses: LSGAN, vanilla, hinge and WGAN, for the generator and the
discriminator, over score maps, StarGAN-style tuples and multi-scale lists."""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide._validation import (
    Reduction,
    check_bool,
    check_choice,
    check_reduction,
    check_same_dtype_device,
    check_tensor,
    reduce,
)

__all__ = ["AdversarialLoss", "adversarial_loss"]

AdversarialMode = Literal["lsgan", "vanilla", "hinge", "wgan"]
# What a discriminator may return: a score map, a (score, extras...) tuple such as
# StarGAN's (src, cls), or a list of either from a multi-scale discriminator.
Prediction: TypeAlias = "Tensor | list[Prediction] | tuple[Prediction, ...]"

_MODES: tuple[str, ...] = ("lsgan", "vanilla", "hinge", "wgan")


def _adversarial_elementwise(
    x: Tensor, target_is_real: bool, mode: str, for_discriminator: bool
) -> Tensor:
    if mode == "lsgan":
        return (x - 1).square() if target_is_real else x.square()
    if mode == "vanilla":
        # -log(sigmoid(x)) and -log(1 - sigmoid(x)), stable for large |x|.
        return F.softplus(-x) if target_is_real else F.softplus(x)
    if mode == "wgan":
        return -x if target_is_real else x
    # hinge
    if for_discriminator:
        return F.relu(1 - x) if target_is_real else F.relu(1 + x)
    if not target_is_real:
        raise ValueError(
            "adversarial_loss(): the hinge generator loss is -mean(prediction) and is "
            "defined only for target_is_real=True, got target_is_real=False with "
            "for_discriminator=False"
        )
    return -x


def _adversarial_per_sample(
    prediction: object,
    name: str,
    target_is_real: bool,
    mode: str,
    for_discriminator: bool,
) -> Tensor:
    if isinstance(prediction, tuple):
        if len(prediction) == 0:
            raise ValueError(
                f"adversarial_loss(): '{name}' is an empty tuple; expected "
                "(score, extras...) with the real/fake score first"
            )
        return _adversarial_per_sample(
            prediction[0], f"{name}[0]", target_is_real, mode, for_discriminator
        )
    if isinstance(prediction, list):
        if len(prediction) == 0:
            raise ValueError(
                f"adversarial_loss(): '{name}' is an empty list; expected one score "
                "map per discriminator scale"
            )
        scales = [
            _adversarial_per_sample(p, f"{name}[{i}]", target_is_real, mode, for_discriminator)
            for i, p in enumerate(prediction)
        ]
        first = scales[0]
        for i, s in enumerate(scales[1:], start=1):
            if s.shape != first.shape:
                raise ValueError(
                    f"adversarial_loss(): '{name}[{i}]' has batch size {s.shape[0]} but "
                    f"'{name}[0]' has {first.shape[0]}; every scale must score the same batch"
                )
        check_same_dtype_device(
            "adversarial_loss", **{f"{name}[{i}]": s for i, s in enumerate(scales)}
        )
        return torch.stack(scales).mean(dim=0)
    if not isinstance(prediction, Tensor):
        raise TypeError(
            f"adversarial_loss(): '{name}' must be a torch.Tensor, a list of them "
            f"(multi-scale) or a tuple whose first element is the score, got "
            f"{type(prediction).__name__}"
        )
    check_tensor("adversarial_loss", name, prediction)
    if prediction.ndim == 0:
        raise ValueError(
            f"adversarial_loss(): '{name}' must have a batch dimension (b ...), got a "
            "0-dimensional tensor"
        )
    if prediction.ndim > 1 and prediction.shape[1:].numel() == 0:
        raise ValueError(
            f"adversarial_loss(): '{name}' has no scores per sample, got shape "
            f"{tuple(prediction.shape)}"
        )
    loss = _adversarial_elementwise(prediction, target_is_real, mode, for_discriminator)
    return loss.flatten(1).mean(dim=1) if loss.ndim > 1 else loss


def adversarial_loss(
    prediction: Prediction,
    target_is_real: bool,
    *,
    mode: AdversarialMode = "lsgan",
    for_discriminator: bool = True,
    reduction: Reduction = "mean",
) -> Tensor:
    """Adversarial loss of a discriminator's scores against a real or fake target.

    Per element ``x`` of the score map, with the target real / fake:

    - ``"lsgan"`` (least squares, the paper's choice): ``(x - 1)^2`` / ``x^2``.
    - ``"vanilla"`` (Eq. 2, on logits): ``-log sigmoid(x)`` / ``-log(1 - sigmoid(x))``.
      For the generator with ``target_is_real=True`` this is the non-saturating loss.
    - ``"hinge"``: for the discriminator ``relu(1 - x)`` / ``relu(1 + x)``; for the
      generator ``-x`` (so ``-mean(x)``), defined only with ``target_is_real=True``.
    - ``"wgan"`` (the critic's score): ``-x`` / ``x``.

    Only ``"hinge"`` depends on ``for_discriminator``; the other modes are the same for
    both players. Each sample's loss is the mean over its score map, so maps of any
    shape work (PatchGAN ``(b, 1, h, w)``, a single score ``(b,)`` or ``(b, 1)``).
    A list of predictions (a multi-scale discriminator) gives the mean over scales of
    the per-scale losses; a tuple is scored by its first element, the real/fake score
    of a StarGAN-style ``(src, cls)`` output. Lists and tuples nest.

    Args:
        prediction: Raw discriminator output (logits for ``"vanilla"``): a tensor, a
            list of them (one per scale) or a tuple whose first element is the score.
        target_is_real: Whether the scores should say "real".
        mode: ``"lsgan"``, ``"vanilla"``, ``"hinge"`` or ``"wgan"``.
        for_discriminator: Whether the loss trains the discriminator (matters for hinge).
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample losses, or
            ``"none"`` for the per-sample losses.

    Returns:
        The loss, averaged over scales for a list.

    Shape:
        - prediction: ``(b, ...)`` per tensor; every scale shares ``b``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: A prediction is not a floating-point tensor (or list / tuple of
            them), ``target_is_real`` is not a bool, or scales differ in dtype.
        ValueError: Unknown ``mode`` or ``reduction``, a 0-dimensional or empty
            prediction, scales that disagree in batch size or device, or the hinge
            generator loss with ``target_is_real=False``.

    Example:
        >>> scores = torch.tensor([[0.5, 1.5], [1.0, 0.0]])
        >>> adversarial_loss(scores, True, reduction="none")
        tensor([0.2500, 0.5000])
        >>> adversarial_loss([scores, scores[:, :1]], False, mode="hinge")
        tensor(1.7500)
    """
    check_choice("adversarial_loss", "mode", mode, _MODES)
    check_reduction("adversarial_loss", reduction)
    check_bool("adversarial_loss", "target_is_real", target_is_real)
    check_bool("adversarial_loss", "for_discriminator", for_discriminator)
    per_sample = _adversarial_per_sample(
        prediction, "prediction", target_is_real, mode, for_discriminator
    )
    return reduce(per_sample, reduction)


class AdversarialLoss(nn.Module):
    """Module form of :func:`adversarial_loss`; it holds no parameters.

    Hinge differs for the two players: the discriminator minimises
    ``relu(1 - x)`` on real and ``relu(1 + x)`` on fake scores, while the generator
    minimises ``-mean(x)`` (pass ``for_discriminator=False`` and
    ``target_is_real=True``). The other modes ignore ``for_discriminator``.

    Args:
        mode: ``"lsgan"`` (default, as in the paper), ``"vanilla"``, ``"hinge"`` or
            ``"wgan"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, as in :func:`adversarial_loss`.

    Shape:
        - prediction: ``(b, ...)``, or a list / tuple of them as in
          :func:`adversarial_loss`
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        ValueError: Unknown ``mode`` or ``reduction``.

    Example:
        >>> criterion = AdversarialLoss("hinge")
        >>> fake_scores = torch.tensor([[-2.0, 0.0]])
        >>> criterion(fake_scores, False)
        tensor(0.5000)
        >>> criterion(fake_scores, True, for_discriminator=False)
        tensor(1.)
    """

    def __init__(self, mode: AdversarialMode = "lsgan", *, reduction: Reduction = "mean"):
        super().__init__()
        self.mode: str = check_choice("AdversarialLoss", "mode", mode, _MODES)
        self.reduction: str = check_reduction("AdversarialLoss", reduction)

    def forward(
        self,
        prediction: Prediction,
        target_is_real: bool,
        *,
        for_discriminator: bool = True,
    ) -> Tensor:
        """Scores ``prediction`` against the target; see :func:`adversarial_loss`."""
        return adversarial_loss(
            prediction,
            target_is_real,
            mode=self.mode,  # type: ignore[arg-type]
            for_discriminator=for_discriminator,
            reduction=self.reduction,  # type: ignore[arg-type]
        )

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, reduction={self.reduction!r}"
