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

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide._validation import (
    Reduction,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_reduction,
    check_same_dtype_device,
    check_shape,
    check_tensor,
    reduce,
)
from attnguide.ops import total_variation

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

AdversarialMode = Literal["lsgan", "vanilla", "hinge", "wgan"]
# What a discriminator may return: a score map, a (score, extras...) tuple such as
# StarGAN's (src, cls), or a list of either from a multi-scale discriminator.
Prediction: TypeAlias = "Tensor | list[Prediction] | tuple[Prediction, ...]"

_MODES: tuple[str, ...] = ("lsgan", "vanilla", "hinge", "wgan")
_OBJECTIVE_TERMS: tuple[str, ...] = ("gan", "agan", "cycle", "pixel", "tv")


# --------------------------------------------------------------------------- adversarial


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


# ---------------------------------------------------------------------- reconstruction


def _l1(fn: str, names: tuple[str, str], a: Tensor, b: Tensor, reduction: str) -> Tensor:
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, names[0], a, "b c h w", sizes)
    check_shape(fn, names[1], b, "b c h w", sizes)
    check_same_dtype_device(fn, **{names[0]: a, names[1]: b})
    check_reduction(fn, reduction)
    return reduce((a - b).abs().flatten(1).mean(dim=1), reduction)


def cycle_consistency_loss(
    reconstructed: Tensor, original: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """L1 cycle-consistency loss (Eq. 4): ``mean |reconstructed - original|``.

    Call it once per direction, e.g. with ``G_yx(G_xy(x))`` and ``x``; the paper's
    ``L_cycle`` is the sum of both directions.

    Args:
        reconstructed: The image after a round trip through both generators.
        original: The image the round trip started from.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mean absolute
            errors, or ``"none"`` for those per-sample errors.

    Returns:
        The loss.

    Shape:
        - reconstructed: ``(b, c, h, w)``
        - original: ``(b, c, h, w)``, exactly the shape of ``reconstructed``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: The inputs are not 4-D, their shapes or devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> x = torch.zeros(2, 1, 2, 2)
        >>> shift = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
        >>> cycle_consistency_loss(x + shift, x)
        tensor(2.)
    """
    return _l1(
        "cycle_consistency_loss", ("reconstructed", "original"), reconstructed, original, reduction
    )


def pixel_loss(translated: Tensor, source: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """L1 pixel loss (Eq. 5): ``mean |translated - source|``.

    Keeps the translation close to its input, so the generator changes only what the
    target domain requires. Call it once per direction; the paper's ``L_pixel`` is the
    sum of both.

    Args:
        translated: The generator's output ``G_xy(x)``.
        source: The generator's input ``x``.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mean absolute
            errors, or ``"none"`` for those per-sample errors.

    Returns:
        The loss.

    Shape:
        - translated: ``(b, c, h, w)``
        - source: ``(b, c, h, w)``, exactly the shape of ``translated``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, or the dtypes differ.
        ValueError: The inputs are not 4-D, their shapes or devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> x = torch.zeros(1, 3, 2, 2)
        >>> pixel_loss(x + 0.5, x)
        tensor(0.5000)
    """
    return _l1("pixel_loss", ("translated", "source"), translated, source, reduction)


# --------------------------------------------------------------------------- attention


def attention_tv_loss(mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Attention loss (Eq. 6): the total variation of the mask, summed over pixels.

    ``tv[b] = sum_{c,h,w} |M[b,c,h,w+1] - M[b,c,h,w]| + |M[b,c,h+1,w] - M[b,c,h,w]|``,
    computed by :func:`attnguide.ops.total_variation`. It keeps masks smooth; being a
    sum over pixels it grows with the image size, which the paper's tiny weight
    (``λtv = 1e-6``) accounts for.

    Args:
        mask: Attention mask(s) in [0, 1]; all channels are summed.
        reduction: ``"mean"`` for the batch mean of per-sample sums, ``"sum"`` for
            their total, ``"none"`` for the per-sample sums.

    Returns:
        The loss.

    Shape:
        - mask: ``(b, c, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not a floating-point tensor.
        ValueError: ``mask`` is not 4-D, or ``reduction`` is unknown.

    Example:
        >>> mask = torch.zeros(2, 1, 4, 4)
        >>> mask[0, ..., 2:] = 1.0
        >>> attention_tv_loss(mask)
        tensor(2.)
    """
    check_shape("attention_tv_loss", "mask", mask, "b c h w")
    check_reduction("attention_tv_loss", reduction)
    return total_variation(mask, reduction=reduction)


def mask_saturation_loss(mask: Tensor, *, reduction: Reduction = "mean") -> Tensor:
    """Mask saturation penalty (GANimation): the mean of the mask.

    Without it a mask can saturate to 1 everywhere, at which point the generator
    repaints the whole image and the attention does nothing. Penalising the mask's
    mean pushes it to attend only where the translation needs it.

    Args:
        mask: Attention mask(s) in [0, 1]; all channels are averaged.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample mask means, or
            ``"none"`` for those per-sample means.

    Returns:
        The loss.

    Shape:
        - mask: ``(b, c, h, w)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``mask`` is not a floating-point tensor.
        ValueError: ``mask`` is not 4-D, or ``reduction`` is unknown.

    Example:
        >>> mask = torch.zeros(2, 1, 2, 2)
        >>> mask[0, 0, 0] = 1.0
        >>> mask_saturation_loss(mask, reduction="none")
        tensor([0.5000, 0.0000])
    """
    check_shape("mask_saturation_loss", "mask", mask, "b c h w")
    check_reduction("mask_saturation_loss", reduction)
    return reduce(mask.flatten(1).mean(dim=1), reduction)


# ------------------------------------------------------------------------------ domains


def domain_classification_loss(
    logits: Tensor, labels: Tensor, *, reduction: Reduction = "mean"
) -> Tensor:
    """StarGAN domain-classification loss, chosen by the labels' dtype.

    - Floating ``labels`` of shape ``(b, n)`` are multi-label targets in [0, 1]
      (CelebA attributes): binary cross-entropy with logits, summed over the ``n``
      labels of a sample, as StarGAN does.
    - Integer ``labels`` of shape ``(b,)`` are class indices in ``[0, n)`` (RaFD
      expressions): cross-entropy over the ``n`` classes.

    Args:
        logits: The discriminator's classification logits (StarGAN's ``out_cls``).
        labels: Float multi-label targets or integer class indices.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample losses, or
            ``"none"`` for the per-sample losses.

    Returns:
        The loss.

    Shape:
        - logits: ``(b, n)``
        - labels: ``(b, n)`` floating, or ``(b,)`` integer
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: ``logits`` is not floating point; ``labels`` is neither floating
            point nor integer, or its dtype differs from the logits' when floating.
        ValueError: Shapes disagree (float labels not ``(b, n)``, integer labels not
            ``(b,)``), a class index is outside ``[0, n)``, the devices differ, or
            ``reduction`` is unknown.

    Example:
        >>> logits = torch.zeros(2, 3)
        >>> domain_classification_loss(logits, torch.tensor([0, 2]))  # log 3
        tensor(1.0986)
        >>> domain_classification_loss(logits, torch.ones(2, 3))  # 3 log 2
        tensor(2.0794)
    """
    fn = "domain_classification_loss"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "logits", logits, "b n", sizes)
    check_tensor(fn, "labels", labels, floating=False)
    check_reduction(fn, reduction)
    if labels.is_floating_point():
        if labels.ndim != 2:
            raise ValueError(
                f"{fn}(): floating 'labels' are multi-label targets and must have shape "
                f"(b n), got shape {tuple(labels.shape)}; pass class indices as an "
                "integer tensor of shape (b)"
            )
        check_shape(fn, "labels", labels, "b n", sizes)
        check_same_dtype_device(fn, logits=logits, labels=labels)
        per_sample = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1)
    elif labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(
            f"{fn}(): 'labels' must be floating point (multi-label targets) or an "
            f"integer type (class indices), got {labels.dtype}"
        )
    else:
        if labels.ndim != 1:
            raise ValueError(
                f"{fn}(): integer 'labels' are class indices and must have shape (b), "
                f"got shape {tuple(labels.shape)}; pass multi-label targets as a "
                "floating-point tensor of shape (b n)"
            )
        check_shape(fn, "labels", labels, "b", sizes, floating=False)
        if labels.device != logits.device:
            raise ValueError(
                f"{fn}(): 'labels' is on {labels.device} but 'logits' is on "
                f"{logits.device}; all inputs must be on one device"
            )
        n = logits.shape[1]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n):
            # Checked here, not left to cross_entropy: it would read -100 as its
            # ignore_index and give that sample a loss of 0.
            raise ValueError(
                f"{fn}(): integer 'labels' are class indices in [0, {n}), got values "
                f"from {int(labels.min())} to {int(labels.max())}"
            )
        per_sample = F.cross_entropy(logits, labels.long(), reduction="none")
    return reduce(per_sample, reduction)


# ----------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class AGGANLossWeights:
    """The λ weights of the AGGAN objective (Eq. 7); defaults are the paper's values.

    Args:
        gan: ``λgan``, shared by the vanilla and the attention-guided adversarial terms.
        cycle: ``λcycle``, the cycle-consistency weight.
        pixel: ``λpixel``, the pixel-loss weight.
        tv: ``λtv``, the attention (total variation) weight.

    Raises:
        TypeError: A weight is not a real number.
        ValueError: A weight is negative, infinite or NaN.

    Example:
        >>> AGGANLossWeights(pixel=0.0)
        AGGANLossWeights(gan=0.5, cycle=10.0, pixel=0.0, tv=1e-06)
    """

    gan: float = 0.5
    cycle: float = 10.0
    pixel: float = 1.0
    tv: float = 1e-6

    def __post_init__(self) -> None:
        for field in fields(self):
            check_real("AGGANLossWeights", field.name, getattr(self, field.name), minimum=0)


def curriculum_rate(
    epoch: int, *, warmup_epochs: int = 10, warmup_rate: float = 0.01, rate: float = 0.5
) -> float:
    """The curriculum parameter ``r`` of Eq. 9 for a (0-based) epoch.

    The paper sets ``r = 0.01`` for the first 10 epochs, so the adversarial and
    attention terms dominate early training, then ``r = 0.5``.

    Args:
        epoch: The current epoch, counting from 0.
        warmup_epochs: How many epochs (0 to ``warmup_epochs - 1``) use ``warmup_rate``.
        warmup_rate: ``r`` during the curriculum period.
        rate: ``r`` afterwards.

    Returns:
        ``warmup_rate`` while ``epoch < warmup_epochs``, else ``rate``.

    Raises:
        TypeError: ``epoch`` or ``warmup_epochs`` is not an int, or a rate is not a
            real number.
        ValueError: ``epoch`` or ``warmup_epochs`` is negative, or a rate lies
            outside [0, 1].

    Example:
        >>> curriculum_rate(9), curriculum_rate(10)
        (0.01, 0.5)
    """
    fn = "curriculum_rate"
    epoch = check_int(fn, "epoch", epoch, minimum=0)
    warmup_epochs = check_int(fn, "warmup_epochs", warmup_epochs, minimum=0)
    warmup_rate = check_real(fn, "warmup_rate", warmup_rate, minimum=0, maximum=1)
    rate = check_real(fn, "rate", rate, minimum=0, maximum=1)
    return warmup_rate if epoch < warmup_epochs else rate


def aggan_generator_objective(
    terms: Mapping[str, Tensor], weights: AGGANLossWeights, r: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """The generators' AGGAN objective with its curriculum (Eq. 9).

    ``total = r * (λcycle*cycle + λpixel*pixel)
    + (1 - r) * (λgan*(gan + agan) + λtv*tv)``.

    Each term is a scalar the caller has already summed over both translation
    directions (e.g. ``gan = L_GAN(G_xy, D_y) + L_GAN(G_yx, D_x)``). A term missing
    from ``terms`` contributes nothing, which is how an ablation drops it; with
    ``r = 0.5`` the objective is Eq. 7 scaled by one half.

    Args:
        terms: Maps any of ``"gan"``, ``"agan"``, ``"cycle"``, ``"pixel"``, ``"tv"`` to
            its unweighted loss.
        weights: The λ weights.
        r: The curriculum parameter in [0, 1], see :func:`curriculum_rate`.

    Returns:
        ``(total, weighted)``: the objective, and a dict holding every given term
        multiplied by its λ and its curriculum factor (``r`` or ``1 - r``) plus
        ``"total"``; the weighted terms sum to the total, ready for logging.

    Shape:
        - terms: each ``()``
        - total: ``()``

    Raises:
        TypeError: ``terms`` is not a mapping, a term is not a floating-point tensor,
            the terms differ in dtype, ``weights`` is not an :class:`AGGANLossWeights`
            or ``r`` is not a real number.
        ValueError: ``terms`` is empty or has unknown keys, a term is not a scalar,
            the terms are on different devices, or ``r`` lies outside [0, 1].

    Example:
        >>> terms = {"gan": torch.tensor(1.0), "cycle": torch.tensor(0.2)}
        >>> weights = AGGANLossWeights()
        >>> total, weighted = aggan_generator_objective(terms, weights, 0.5)
        >>> total, weighted["gan"], weighted["cycle"]
        (tensor(1.2500), tensor(0.2500), tensor(1.))
    """
    fn = "aggan_generator_objective"
    if not isinstance(terms, Mapping):
        raise TypeError(
            f"{fn}(): 'terms' must be a mapping of term names to tensors, got "
            f"{type(terms).__name__}"
        )
    unknown = [key for key in terms if key not in _OBJECTIVE_TERMS]
    if unknown:
        raise ValueError(
            f"{fn}(): 'terms' has unknown keys {unknown}; expected any of {_OBJECTIVE_TERMS}"
        )
    if not terms:
        raise ValueError(f"{fn}(): 'terms' is empty; expected any of {_OBJECTIVE_TERMS}")
    if not isinstance(weights, AGGANLossWeights):
        raise TypeError(
            f"{fn}(): 'weights' must be an AGGANLossWeights, got {type(weights).__name__}"
        )
    r = check_real(fn, "r", r, minimum=0, maximum=1)
    for key, value in terms.items():
        check_tensor(fn, f"terms[{key!r}]", value)
        if value.ndim != 0:
            raise ValueError(
                f"{fn}(): 'terms[{key!r}]' must be a scalar (0-dimensional) tensor, got "
                f"shape {tuple(value.shape)}; reduce it first"
            )
    check_same_dtype_device(fn, **{f"terms[{key!r}]": value for key, value in terms.items()})

    factors = {
        "gan": (1 - r) * weights.gan,
        "agan": (1 - r) * weights.gan,
        "cycle": r * weights.cycle,
        "pixel": r * weights.pixel,
        "tv": (1 - r) * weights.tv,
    }
    weighted = {key: terms[key] * factors[key] for key in _OBJECTIVE_TERMS if key in terms}
    total = torch.stack(list(weighted.values())).sum()
    weighted["total"] = total
    return total, weighted


# --------------------------------------------------------------------------- gradient penalty


def _score_sum(prediction: object, name: str) -> Tensor:
    """The sum of a prediction's real/fake scores (tuples: the first element; lists:
    every scale), whose gradient is each sample's score gradient."""
    if isinstance(prediction, tuple):
        if len(prediction) == 0:
            raise ValueError(
                f"gradient_penalty(): the critic's output '{name}' is an empty tuple; "
                "expected (score, extras...) with the real/fake score first"
            )
        return _score_sum(prediction[0], f"{name}[0]")
    if isinstance(prediction, list):
        if len(prediction) == 0:
            raise ValueError(
                f"gradient_penalty(): the critic's output '{name}' is an empty list; "
                "expected one score map per scale"
            )
        return torch.stack([_score_sum(p, f"{name}[{i}]") for i, p in enumerate(prediction)]).sum()
    if not isinstance(prediction, Tensor) or not prediction.is_floating_point():
        raise TypeError(
            f"gradient_penalty(): the critic's output '{name}' must be a floating-point "
            "tensor, a list of them (multi-scale) or a tuple whose first element is the "
            f"score, got {type(prediction).__name__}"
        )
    if not prediction.requires_grad:
        raise ValueError(
            f"gradient_penalty(): the critic's output '{name}' does not depend on its "
            "input (it has no gradient); was it computed under torch.no_grad()?"
        )
    return prediction.sum()


def gradient_penalty(
    critic: Callable[..., Prediction],
    real: Tensor,
    fake: Tensor,
    *,
    real_mask: Tensor | None = None,
    fake_mask: Tensor | None = None,
    alpha: Tensor | None = None,
    target: float = 1.0,
    generator: torch.Generator | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """WGAN-GP's gradient penalty (Gulrajani et al.), as StarGAN trains its critic.

    At random points between real and fake samples, ``x = a * real + (1 - a) * fake``
    with one ``a ~ U(0, 1)`` per sample, the penalty is ``(||grad_x D(x)||_2 - target)^2``
    per sample. ``fake`` is detached; the result keeps the graph of the gradient
    (``create_graph``), so its backward trains the critic's parameters.

    A mask-conditioned critic (:class:`~attnguide.MaskConditionedDiscriminator`) judges
    an (image, mask) pair: pass ``real_mask`` and ``fake_mask`` and the masks are
    interpolated with the same ``a``, the critic is called as ``critic(x, m)`` and the
    norm is taken over the gradient of the pair, images and masks together, since the
    critic's input is the pair. The critic's output may be a score map, a tuple whose
    first element is the score (StarGAN's ``(src, cls)``) or a list of score maps (a
    multi-scale critic, whose scales' gradients add up). A sample's gradient is that of
    its own score only when the critic treats samples independently (instance norm,
    no batch norm), as WGAN-GP asks of a critic.

    Args:
        critic: The discriminator, called as ``critic(x)`` or ``critic(x, m)``.
        real: Real images.
        fake: Generated images (detached here).
        real_mask: The masks that go with ``real``, for a mask-conditioned critic.
        fake_mask: The masks that go with ``fake``; given together with ``real_mask``.
        alpha: The interpolation weights in [0, 1], one per sample; drawn uniformly
            (from ``generator``) when None.
        target: The gradient norm the penalty pulls towards (WGAN-GP: 1).
        generator: The random generator that draws ``alpha``.
        reduction: ``"mean"`` / ``"sum"`` over the batch of per-sample penalties, or
            ``"none"`` for the per-sample penalties.

    Returns:
        The penalty (multiply by lambda_gp, StarGAN: 10, and add to the critic's loss).

    Shape:
        - real, fake: ``(b, c, h, w)``
        - real_mask, fake_mask: ``(b, k, h, w)``
        - alpha: ``(b,)``
        - output: ``(b,)`` for ``reduction="none"``, ``()`` otherwise

    Raises:
        TypeError: An input is not a floating-point tensor, the inputs' dtypes differ,
            or the critic returns something other than tensors.
        ValueError: Shapes or devices disagree, only one of the masks is given,
            ``alpha`` is outside [0, 1], ``target`` is negative or not finite, the
            critic's output has no gradient, or ``reduction`` is unknown.

    Example:
        >>> w = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
        >>> critic = lambda x: (x * w).flatten(1).sum(1)  # gradient w: norm 5
        >>> real, fake = torch.rand(2, 2, 1, 1), torch.rand(2, 2, 1, 1)
        >>> gradient_penalty(critic, real, fake)  # (5 - 1)^2
        tensor(16.)
        >>> # gradient norm sqrt(26)
        >>> mask_critic = lambda x, m: critic(x) + m.flatten(1).sum(1)
        >>> ones = torch.ones(2, 1, 1, 1)
        >>> masks = {"real_mask": ones, "fake_mask": ones}
        >>> gradient_penalty(mask_critic, real, fake, **masks, target=0)
        tensor(26.)
    """
    fn = "gradient_penalty"
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "real", real, "b c h w", sizes)
    check_shape(fn, "fake", fake, "b c h w", sizes)
    check_same_dtype_device(fn, real=real, fake=fake)
    target = check_real(fn, "target", target, minimum=0.0)
    check_reduction(fn, reduction)
    if (real_mask is None) != (fake_mask is None):
        given = "real_mask" if real_mask is not None else "fake_mask"
        raise ValueError(
            f"{fn}(): '{given}' was given without the other mask; a mask-conditioned "
            "critic needs both 'real_mask' and 'fake_mask', a plain one neither"
        )
    if real_mask is not None and fake_mask is not None:
        check_shape(fn, "real_mask", real_mask, "b k h w", sizes)
        check_shape(fn, "fake_mask", fake_mask, "b k h w", sizes)
        check_same_dtype_device(fn, real=real, real_mask=real_mask, fake_mask=fake_mask)
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, generator=generator, dtype=real.dtype, device=real.device)
    else:
        check_shape(fn, "alpha", alpha, "b", sizes)
        check_same_dtype_device(fn, real=real, alpha=alpha)
        if bool(((alpha < 0) | (alpha > 1) | alpha.isnan()).any()):
            raise ValueError(
                f"{fn}(): 'alpha' must lie in [0, 1], got values from "
                f"{float(alpha.min())} to {float(alpha.max())}"
            )
    a = alpha.view(b, 1, 1, 1)
    inputs = [(a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)]
    if real_mask is not None and fake_mask is not None:
        inputs.append((a * real_mask.detach() + (1 - a) * fake_mask.detach()).requires_grad_(True))
    with torch.enable_grad():
        score = _score_sum(critic(*inputs), "critic(...)")
        grads = torch.autograd.grad(score, inputs, create_graph=True)
    squared = sum(g.flatten(1).pow(2).sum(1) for g in grads)
    return reduce((squared.sqrt() - target).pow(2), reduction)
