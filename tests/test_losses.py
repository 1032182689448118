from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attnguide.losses import (
    AdversarialLoss,
    AGGANLossWeights,
    adversarial_loss,
    aggan_generator_objective,
    attention_tv_loss,
    curriculum_rate,
    cycle_consistency_loss,
    domain_classification_loss,
    mask_saturation_loss,
    pixel_loss,
)
from attnguide.ops import total_variation


def _softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def _assert_reductions(loss_fn, per_sample: list[float], device=None) -> None:
    """Checks "none", "mean" and "sum" of ``loss_fn(reduction=...)`` against per-sample goldens."""
    expected = torch.tensor(per_sample, dtype=torch.float64, device=device)
    none = loss_fn(reduction="none")
    assert none.shape == expected.shape
    torch.testing.assert_close(none, expected.to(none.dtype))
    torch.testing.assert_close(loss_fn(reduction="mean"), expected.mean().to(none.dtype))
    torch.testing.assert_close(loss_fn(reduction="sum"), expected.sum().to(none.dtype))


# ------------------------------------------------------------------------- adversarial

# Two samples with 2-pixel score maps: sample 0 scores (2, -1), sample 1 scores (0, 0.5).
SCORES = [[[[2.0, -1.0]]], [[[0.0, 0.5]]]]

# (mode, target_is_real, for_discriminator) -> per-sample means of the elementwise loss.
GOLDEN_ADVERSARIAL = {
    # (x - 1)^2: (1, 4) and (1, 0.25)
    ("lsgan", True, True): [2.5, 0.625],
    ("lsgan", True, False): [2.5, 0.625],
    # x^2: (4, 1) and (0, 0.25)
    ("lsgan", False, True): [2.5, 0.125],
    ("lsgan", False, False): [2.5, 0.125],
    # -log sigmoid(x) = softplus(-x)
    ("vanilla", True, True): [
        (_softplus(-2.0) + _softplus(1.0)) / 2,
        (_softplus(0.0) + _softplus(-0.5)) / 2,
    ],
    ("vanilla", True, False): [
        (_softplus(-2.0) + _softplus(1.0)) / 2,
        (_softplus(0.0) + _softplus(-0.5)) / 2,
    ],
    # -log(1 - sigmoid(x)) = softplus(x)
    ("vanilla", False, True): [
        (_softplus(2.0) + _softplus(-1.0)) / 2,
        (_softplus(0.0) + _softplus(0.5)) / 2,
    ],
    ("vanilla", False, False): [
        (_softplus(2.0) + _softplus(-1.0)) / 2,
        (_softplus(0.0) + _softplus(0.5)) / 2,
    ],
    # D real: relu(1 - x) = (0, 2) and (1, 0.5)
    ("hinge", True, True): [1.0, 0.75],
    # D fake: relu(1 + x) = (3, 0) and (1, 1.5)
    ("hinge", False, True): [1.5, 1.25],
    # G: -x = (-2, 1) and (0, -0.5)
    ("hinge", True, False): [-0.5, -0.25],
    # real: -x, fake: x, the same for both players
    ("wgan", True, True): [-0.5, -0.25],
    ("wgan", True, False): [-0.5, -0.25],
    ("wgan", False, True): [0.5, 0.25],
    ("wgan", False, False): [0.5, 0.25],
}


@pytest.mark.parametrize(("mode", "real", "for_d"), sorted(GOLDEN_ADVERSARIAL))
def test_adversarial_golden_values(mode, real, for_d, device) -> None:
    scores = torch.tensor(SCORES, device=device)
    per_sample = GOLDEN_ADVERSARIAL[(mode, real, for_d)]

    def functional(reduction):
        return adversarial_loss(
            scores, real, mode=mode, for_discriminator=for_d, reduction=reduction
        )

    def module(reduction):
        return AdversarialLoss(mode, reduction=reduction)(scores, real, for_discriminator=for_d)

    _assert_reductions(functional, per_sample, device)
    _assert_reductions(module, per_sample, device)


def test_hinge_generator_rejects_fake_target() -> None:
    with pytest.raises(ValueError, match=r"hinge generator loss .* only for target_is_real=True"):
        AdversarialLoss("hinge")(torch.tensor(SCORES), False, for_discriminator=False)


def test_adversarial_defaults_are_lsgan_mean_for_discriminator() -> None:
    scores = torch.tensor(SCORES)
    expected = torch.tensor((2.5 + 0.625) / 2)
    torch.testing.assert_close(adversarial_loss(scores, True), expected)
    torch.testing.assert_close(AdversarialLoss()(scores, True), expected)


def test_adversarial_matches_torch_references() -> None:
    scores = torch.randn(3, 1, 5, 4, dtype=torch.float64)
    ones, zeros = torch.ones_like(scores), torch.zeros_like(scores)
    torch.testing.assert_close(adversarial_loss(scores, True), F.mse_loss(scores, ones))
    torch.testing.assert_close(adversarial_loss(scores, False), F.mse_loss(scores, zeros))
    bce = F.binary_cross_entropy_with_logits
    torch.testing.assert_close(adversarial_loss(scores, True, mode="vanilla"), bce(scores, ones))
    torch.testing.assert_close(adversarial_loss(scores, False, mode="vanilla"), bce(scores, zeros))


def test_vanilla_is_stable_for_large_logits() -> None:
    scores = torch.tensor([[-200.0, 200.0]])
    real = adversarial_loss(scores, True, mode="vanilla", reduction="none")
    torch.testing.assert_close(real, torch.tensor([100.0]))


def test_adversarial_accepts_any_map_shape() -> None:
    # A single score per sample, (b,) or (b, 1), is its own per-sample loss.
    flat = torch.tensor([2.0, 0.5])
    torch.testing.assert_close(adversarial_loss(flat, True, reduction="none"), flat.sub(1).square())
    torch.testing.assert_close(
        adversarial_loss(flat[:, None], True, reduction="none"), flat.sub(1).square()
    )
    patch = torch.randn(2, 1, 3, 5)
    torch.testing.assert_close(
        adversarial_loss(patch, False, reduction="none"), patch.square().mean(dim=(1, 2, 3))
    )


def test_adversarial_list_averages_scales() -> None:
    big = torch.tensor(SCORES)  # lsgan fake per-sample: [2.5, 0.125]
    small = torch.tensor([[3.0], [1.0]])  # lsgan fake per-sample: [9, 1]
    expected = torch.tensor([(2.5 + 9.0) / 2, (0.125 + 1.0) / 2])
    _assert_reductions(
        lambda reduction: adversarial_loss([big, small], False, reduction=reduction),
        expected.tolist(),
    )
    criterion = AdversarialLoss()
    torch.testing.assert_close(criterion([big, small], False), expected.mean())
    # One scale is the same as no list at all.
    torch.testing.assert_close(criterion([big], False), criterion(big, False))


def test_adversarial_tuple_uses_first_element() -> None:
    src = torch.tensor(SCORES)
    cls = torch.randn(2, 5)
    for mode in ("lsgan", "vanilla", "hinge", "wgan"):
        criterion = AdversarialLoss(mode)
        torch.testing.assert_close(criterion((src, cls), True), criterion(src, True))
    # StarGAN-style outputs from a multi-scale discriminator: a list of tuples.
    criterion = AdversarialLoss()
    torch.testing.assert_close(
        criterion([(src, cls), (src[:, :, :, :1], cls)], True),
        (criterion(src, True) + criterion(src[:, :, :, :1], True)) / 2,
    )


def test_adversarial_module_has_no_parameters_and_does_not_backpropagate() -> None:
    criterion = AdversarialLoss("vanilla", reduction="sum")
    assert list(criterion.parameters()) == []
    assert list(criterion.buffers()) == []
    assert "mode='vanilla', reduction='sum'" in repr(criterion)
    scores = torch.randn(2, 1, 3, 3, requires_grad=True)
    loss = criterion(scores, True)
    assert loss.requires_grad
    assert scores.grad is None


@pytest.mark.parametrize("mode", ["lsgan", "vanilla", "hinge", "wgan"])
def test_adversarial_gradcheck(mode) -> None:
    # Random scores keep hinge away from its kink at +-1.
    big = torch.randn(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    small = torch.randn(2, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    for real in (True, False):
        assert torch.autograd.gradcheck(
            lambda a, b, real=real: adversarial_loss([a, b], real, mode=mode), (big, small)
        )
    assert torch.autograd.gradcheck(
        lambda a: adversarial_loss(a, True, mode=mode, for_discriminator=False, reduction="none"),
        (big,),
    )


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    mode=st.sampled_from(["lsgan", "vanilla", "hinge", "wgan"]),
    real=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_adversarial_reductions_agree(shape, mode, real, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(*shape, generator=g, dtype=torch.float64)
    per_sample = adversarial_loss(scores, real, mode=mode, reduction="none")
    assert per_sample.shape == (shape[0],)
    torch.testing.assert_close(adversarial_loss(scores, real, mode=mode), per_sample.mean())
    torch.testing.assert_close(
        adversarial_loss(scores, real, mode=mode, reduction="sum"), per_sample.sum()
    )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: adversarial_loss(torch.rand(2, 1), True, mode="lsq"),  # type: ignore[arg-type]
            ValueError,
            r"adversarial_loss\(\): 'mode' must be one of \('lsgan', 'vanilla', 'hinge', "
            r"'wgan'\), got 'lsq'",
        ),
        (
            lambda: AdversarialLoss("relativistic"),  # type: ignore[arg-type]
            ValueError,
            r"AdversarialLoss\(\): 'mode' must be one of .*, got 'relativistic'",
        ),
        (
            lambda: AdversarialLoss(reduction="max"),  # type: ignore[arg-type]
            ValueError,
            r"AdversarialLoss\(\): 'reduction' must be one of \('mean', 'sum', 'none'\), "
            r"got 'max'",
        ),
        (
            lambda: adversarial_loss(torch.rand(2, 1), True, reduction="avg"),  # type: ignore[arg-type]
            ValueError,
            r"adversarial_loss\(\): 'reduction' must be one of .*, got 'avg'",
        ),
        (
            lambda: adversarial_loss(torch.rand(2, 1), torch.tensor(1.0)),  # type: ignore[arg-type]
            TypeError,
            r"adversarial_loss\(\): 'target_is_real' must be a bool, got Tensor",
        ),
        (
            lambda: adversarial_loss(torch.rand(2, 1), True, for_discriminator=1),  # type: ignore[arg-type]
            TypeError,
            r"'for_discriminator' must be a bool, got int",
        ),
        (
            lambda: adversarial_loss([], True),
            ValueError,
            r"'prediction' is an empty list; expected one score map per discriminator scale",
        ),
        (
            lambda: adversarial_loss((), True),
            ValueError,
            r"'prediction' is an empty tuple; expected \(score, extras...\)",
        ),
        (
            lambda: adversarial_loss(torch.tensor(0.5), True),
            ValueError,
            r"'prediction' must have a batch dimension \(b ...\), got a 0-dimensional tensor",
        ),
        (
            lambda: adversarial_loss(torch.zeros(2, 1, 0, 0), True),
            ValueError,
            r"'prediction' has no scores per sample, got shape \(2, 1, 0, 0\)",
        ),
        (
            lambda: adversarial_loss([torch.rand(2, 1), torch.zeros(2, 0)], True),
            ValueError,
            r"'prediction\[1\]' has no scores per sample, got shape \(2, 0\)",
        ),
        (
            lambda: adversarial_loss(0.5, True),  # type: ignore[arg-type]
            TypeError,
            r"'prediction' must be a torch.Tensor, a list of them \(multi-scale\) or a tuple "
            r"whose first element is the score, got float",
        ),
        (
            lambda: adversarial_loss([torch.rand(2, 1), "x"], True),  # type: ignore[list-item]
            TypeError,
            r"'prediction\[1\]' must be a torch.Tensor, .* got str",
        ),
        (
            lambda: adversarial_loss(torch.ones(2, 1, dtype=torch.long), True),
            TypeError,
            r"'prediction' must be a floating-point tensor, got torch.int64",
        ),
        (
            lambda: adversarial_loss([torch.rand(2, 1, 4, 4), torch.rand(3, 1, 2, 2)], True),
            ValueError,
            r"'prediction\[1\]' has batch size 3 but 'prediction\[0\]' has 2; every scale "
            r"must score the same batch",
        ),
        (
            lambda: adversarial_loss(
                [torch.rand(2, 1), torch.rand(2, 1, dtype=torch.float64)], True
            ),
            TypeError,
            r"'prediction\[1\]' has dtype torch.float64 but 'prediction\[0\]' has torch.float32",
        ),
        (
            lambda: adversarial_loss((torch.ones(2, 1, dtype=torch.int32), torch.rand(2, 3)), True),
            TypeError,
            r"'prediction\[0\]' must be a floating-point tensor, got torch.int32",
        ),
    ],
)
def test_adversarial_rejects_bad_input(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------- reconstruction

L1_LOSSES = [
    pytest.param(cycle_consistency_loss, ("reconstructed", "original"), id="cycle"),
    pytest.param(pixel_loss, ("translated", "source"), id="pixel"),
]


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_golden_values(loss_fn, names, device) -> None:
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]], device=device)
    b = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]]], [[[1.0, -1.0], [0.5, 0.0]]]], device=device)
    # sample 0: (1 + 2 + 3 + 4) / 4 = 2.5; sample 1: (1 + 1 + 0.5 + 0) / 4 = 0.625
    _assert_reductions(lambda reduction: loss_fn(a, b, reduction=reduction), [2.5, 0.625], device)
    # Keyword names are part of the API.
    torch.testing.assert_close(
        loss_fn(**dict(zip(names, (a, b), strict=True))), torch.tensor(1.5625, device=device)
    )


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_mean_matches_torch(loss_fn, names) -> None:
    a, b = torch.randn(3, 3, 5, 4), torch.randn(3, 3, 5, 4)
    torch.testing.assert_close(loss_fn(a, b), F.l1_loss(a, b))
    assert loss_fn(a, a).item() == 0.0


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_gradcheck(loss_fn, names) -> None:
    # Random values avoid ties, where |.| has no derivative.
    a = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda x, y, r=reduction: loss_fn(x, y, reduction=r), (a, b)
        )


@pytest.mark.parametrize(("loss_fn", "names"), L1_LOSSES)
def test_l1_rejects_bad_input(loss_fn, names) -> None:
    fn = loss_fn.__name__
    first, second = names
    x = torch.rand(2, 3, 4, 4)
    with pytest.raises(
        ValueError,
        match=rf"{fn}\(\): '{second}' has shape \(2, 3, 4, 5\) \(b c h w\) but w=4 from "
        rf"'{first}'; got w=5",
    ):
        loss_fn(x, torch.rand(2, 3, 4, 5))
    with pytest.raises(ValueError, match=rf"'{second}' has shape \(1, 3, 4, 4\) .* got b=1"):
        loss_fn(x, torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match=rf"'{second}' has shape \(2, 1, 4, 4\) .* got c=1"):
        loss_fn(x, torch.rand(2, 1, 4, 4))
    with pytest.raises(
        ValueError, match=rf"{fn}\(\): '{first}' must have 4 dimensions \(b c h w\), got 3"
    ):
        loss_fn(x[0], x[0])
    with pytest.raises(TypeError, match=rf"'{second}' has dtype torch.float64 but '{first}'"):
        loss_fn(x, x.double())
    with pytest.raises(
        TypeError, match=rf"'{first}' must be a floating-point tensor, got torch.uint8"
    ):
        loss_fn(x.to(torch.uint8), x)
    with pytest.raises(ValueError, match=rf"{fn}\(\): 'reduction' must be one of .*, got 'mn'"):
        loss_fn(x, x, reduction="mn")


# --------------------------------------------------------------------------- attention


def _golden_mask() -> torch.Tensor:
    # sample 0: [[0, 1], [0.5, 1]] -> horizontal |1-0| + |1-0.5| = 1.5, vertical |0.5-0| + 0
    # = 0.5, so 2; sample 1: constant -> 0
    return torch.tensor([[[[0.0, 1.0], [0.5, 1.0]]], [[[0.3, 0.3], [0.3, 0.3]]]])


def test_attention_tv_golden_values(device) -> None:
    mask = _golden_mask().to(device)
    _assert_reductions(
        lambda reduction: attention_tv_loss(mask, reduction=reduction), [2.0, 0.0], device
    )
    # The default is the batch mean of per-sample sums (Eq. 6 sums over pixels).
    torch.testing.assert_close(attention_tv_loss(mask), torch.tensor(1.0, device=device))


def test_attention_tv_is_ops_total_variation() -> None:
    mask = torch.rand(3, 2, 5, 6)
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            attention_tv_loss(mask, reduction=reduction), total_variation(mask, reduction)
        )


def test_attention_tv_gradcheck() -> None:
    mask = torch.rand(2, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(attention_tv_loss, (mask,))


def test_attention_tv_rejects_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"attention_tv_loss\(\): 'mask' must have 4 dimensions \(b c h w\), got 3"
    ):
        attention_tv_loss(torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match=r"attention_tv_loss\(\): 'reduction' .* got 'none '"):
        attention_tv_loss(torch.rand(2, 1, 4, 4), reduction="none ")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'mask' must be a floating-point tensor, got torch.bool"):
        attention_tv_loss(torch.ones(2, 1, 4, 4, dtype=torch.bool))


def test_mask_saturation_golden_values(device) -> None:
    mask = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]], [[[0.25, 0.25], [0.25, 0.25]]]], device=device)
    # sample 0: (1 + 0 + 0.5 + 0.5) / 4 = 0.5; sample 1: 0.25
    _assert_reductions(
        lambda reduction: mask_saturation_loss(mask, reduction=reduction), [0.5, 0.25], device
    )
    # Several channels are averaged together: (0.5 * 4 + 1 * 4) / 8 for sample 0.
    two = torch.cat([mask, torch.ones_like(mask)], dim=1)
    torch.testing.assert_close(
        mask_saturation_loss(two, reduction="none"), torch.tensor([0.75, 0.625], device=device)
    )


def test_mask_saturation_gradcheck() -> None:
    mask = torch.rand(2, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda m, r=reduction: mask_saturation_loss(m, reduction=r), (mask,)
        )


def test_mask_saturation_rejects_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"mask_saturation_loss\(\): 'mask' must have 4 dimensions \(b c h w\)"
    ):
        mask_saturation_loss(torch.rand(4, 4))
    with pytest.raises(ValueError, match=r"mask_saturation_loss\(\): 'reduction' .* got 'max'"):
        mask_saturation_loss(torch.rand(2, 1, 4, 4), reduction="max")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ domains


def test_domain_classification_bce_golden_values(device) -> None:
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.0]], device=device)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]], device=device)
    # BCE with logits: label 1 -> softplus(-x), label 0 -> softplus(x); summed over labels.
    per_sample = [_softplus(0.0) + _softplus(2.0), _softplus(-1.0) + _softplus(0.0)]
    _assert_reductions(
        lambda reduction: domain_classification_loss(logits, labels, reduction=reduction),
        per_sample,
        device,
    )


def test_domain_classification_bce_soft_labels() -> None:
    # A soft target 0.5 on logit 0 costs log 2, the entropy of a fair coin.
    loss = domain_classification_loss(torch.zeros(1, 3), torch.full((1, 3), 0.5), reduction="none")
    torch.testing.assert_close(loss, torch.tensor([3 * math.log(2)]))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_domain_classification_ce_golden_values(dtype, device) -> None:
    logits = torch.tensor([[0.0, math.log(2.0), 0.0], [1.0, 1.0, 1.0]], device=device)
    labels = torch.tensor([1, 0], dtype=dtype, device=device)
    # sample 0: -log(2 / (1 + 2 + 1)) = log 2; sample 1: uniform over 3 classes -> log 3
    _assert_reductions(
        lambda reduction: domain_classification_loss(logits, labels, reduction=reduction),
        [math.log(2.0), math.log(3.0)],
        device,
    )


def test_domain_classification_matches_torch() -> None:
    logits = torch.randn(4, 5)
    multi = torch.randint(0, 2, (4, 5)).float()
    indices = torch.randint(0, 5, (4,))
    torch.testing.assert_close(
        domain_classification_loss(logits, multi),
        F.binary_cross_entropy_with_logits(logits, multi, reduction="sum") / 4,
    )
    torch.testing.assert_close(
        domain_classification_loss(logits, indices), F.cross_entropy(logits, indices)
    )


def test_domain_classification_gradcheck() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    soft = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(domain_classification_loss, (logits, soft))
    indices = torch.tensor([0, 3, 1])
    assert torch.autograd.gradcheck(
        lambda x: domain_classification_loss(x, indices, reduction="none"), (logits,)
    )


@pytest.mark.parametrize(
    ("logits", "labels", "error", "message"),
    [
        (
            torch.randn(2, 3),
            torch.rand(2),
            ValueError,
            r"domain_classification_loss\(\): floating 'labels' are multi-label targets and "
            r"must have shape \(b n\), got shape \(2,\); pass class indices as an integer",
        ),
        (
            torch.randn(2, 3),
            torch.zeros(2, 3, dtype=torch.long),
            ValueError,
            r"integer 'labels' are class indices and must have shape \(b\), got shape "
            r"\(2, 3\); pass multi-label targets as a floating-point tensor",
        ),
        (
            torch.randn(2, 3),
            torch.zeros(2, 3, dtype=torch.bool),
            TypeError,
            r"'labels' must be floating point \(multi-label targets\) or an integer type "
            r"\(class indices\), got torch.bool",
        ),
        (
            torch.randn(2, 3),
            torch.rand(2, 4),
            ValueError,
            r"'labels' has shape \(2, 4\) \(b n\) but n=3 from 'logits'; got n=4",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 1, 2]),
            ValueError,
            r"'labels' has shape \(3,\) \(b\) but b=2 from 'logits'; got b=3",
        ),
        (
            torch.randn(2, 3, 1, 1),
            torch.tensor([0, 1]),
            ValueError,
            r"domain_classification_loss\(\): 'logits' must have 2 dimensions \(b n\), got 4",
        ),
        (
            torch.randn(2, 3),
            torch.rand(2, 3, dtype=torch.float64),
            TypeError,
            r"'labels' has dtype torch.float64 but 'logits' has torch.float32",
        ),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([0, 1]),
            TypeError,
            r"'logits' must be a floating-point tensor, got torch.int64",
        ),
        (
            torch.randn(2, 3),
            [0, 1],
            TypeError,
            r"'labels' must be a torch.Tensor, got list",
        ),
        (  # cross_entropy's ignore_index: would silently give a loss of 0
            torch.randn(2, 3),
            torch.tensor([-100, 1]),
            ValueError,
            r"integer 'labels' are class indices in \[0, 3\), got values from -100 to 1",
        ),
        (
            torch.randn(2, 3),
            torch.tensor([0, 3]),
            ValueError,
            r"integer 'labels' are class indices in \[0, 3\), got values from 0 to 3",
        ),
    ],
)
def test_domain_classification_rejects_bad_input(logits, labels, error, message) -> None:
    with pytest.raises(error, match=message):
        domain_classification_loss(logits, labels)


def test_domain_classification_rejects_bad_reduction() -> None:
    with pytest.raises(ValueError, match=r"'reduction' must be one of .*, got 'batchmean'"):
        domain_classification_loss(torch.randn(2, 3), torch.tensor([0, 1]), reduction="batchmean")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- objective


def test_weights_defaults_are_the_papers() -> None:
    w = AGGANLossWeights()
    assert (w.gan, w.cycle, w.pixel, w.tv) == (0.5, 10.0, 1.0, 1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.gan = 1.0  # type: ignore[misc]
    assert AGGANLossWeights(cycle=5, tv=0.0).cycle == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"gan": -0.5},
            ValueError,
            r"AGGANLossWeights\(\): 'gan' must be >= 0, got -0.5",
        ),
        ({"tv": float("nan")}, ValueError, r"'tv' must be a finite number, got nan"),
        ({"cycle": float("inf")}, ValueError, r"'cycle' must be a finite number, got inf"),
        (
            {"pixel": "1.0"},
            TypeError,
            r"AGGANLossWeights\(\): 'pixel' must be a real number, got str",
        ),
        ({"pixel": True}, TypeError, r"'pixel' must be a real number, got bool"),
        ({"gan": torch.tensor(0.5)}, TypeError, r"'gan' must be a real number, got Tensor"),
    ],
)
def test_weights_are_validated(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        AGGANLossWeights(**kwargs)


def test_curriculum_rate_follows_the_paper() -> None:
    assert curriculum_rate(0) == 0.01
    assert curriculum_rate(9) == 0.01
    assert curriculum_rate(10) == 0.5
    assert curriculum_rate(50) == 0.5


def test_curriculum_rate_custom_schedule() -> None:
    assert curriculum_rate(2, warmup_epochs=3, warmup_rate=0.1, rate=0.9) == 0.1
    assert curriculum_rate(3, warmup_epochs=3, warmup_rate=0.1, rate=0.9) == 0.9
    assert curriculum_rate(0, warmup_epochs=0) == 0.5
    assert curriculum_rate(4, rate=1) == 0.01


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((-1,), {}, ValueError, r"curriculum_rate\(\): 'epoch' must be >= 0, got -1"),
        ((1.5,), {}, TypeError, r"curriculum_rate\(\): 'epoch' must be an int, got float"),
        ((True,), {}, TypeError, r"'epoch' must be an int, got bool"),
        ((0,), {"warmup_epochs": -2}, ValueError, r"'warmup_epochs' must be >= 0, got -2"),
        ((0,), {"warmup_rate": 1.5}, ValueError, r"'warmup_rate' must be in \[0, 1\], got 1.5"),
        ((0,), {"rate": -0.1}, ValueError, r"'rate' must be in \[0, 1\], got -0.1"),
        ((0,), {"rate": "0.5"}, TypeError, r"'rate' must be a real number, got str"),
    ],
)
def test_curriculum_rate_rejects_bad_input(args, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        curriculum_rate(*args, **kwargs)


def _terms(dtype=torch.float32, requires_grad=False) -> dict[str, torch.Tensor]:
    values = {"gan": 1.0, "agan": 2.0, "cycle": 0.3, "pixel": 0.4, "tv": 1000.0}
    return {k: torch.tensor(v, dtype=dtype, requires_grad=requires_grad) for k, v in values.items()}


def test_objective_golden_value() -> None:
    total, weighted = aggan_generator_objective(_terms(), AGGANLossWeights(), 0.01)
    # r * (10 * 0.3 + 1 * 0.4) = 0.03 + 0.004
    # (1 - r) * (0.5 * (1 + 2) + 1e-6 * 1000) = 0.495 + 0.99 + 0.00099
    expected = {
        "cycle": 0.03,
        "pixel": 0.004,
        "gan": 0.495,
        "agan": 0.99,
        "tv": 0.00099,
        "total": 1.51999,
    }
    assert set(weighted) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(weighted[key], torch.tensor(value), msg=key)
    assert weighted["total"] is total


def test_objective_matches_equation_9() -> None:
    t = _terms(torch.float64)
    w = AGGANLossWeights(gan=0.7, cycle=3.0, pixel=2.0, tv=0.01)
    r = 0.3
    eq9 = r * (w.cycle * t["cycle"] + w.pixel * t["pixel"]) + (1 - r) * (
        w.gan * (t["gan"] + t["agan"]) + w.tv * t["tv"]
    )
    total, weighted = aggan_generator_objective(t, w, r)
    torch.testing.assert_close(total, eq9)
    torch.testing.assert_close(sum(v for k, v in weighted.items() if k != "total"), total)
    # With r = 0.5, Eq. 9 is half of Eq. 7.
    eq7 = w.gan * (t["gan"] + t["agan"]) + w.cycle * t["cycle"] + w.pixel * t["pixel"]
    eq7 = eq7 + w.tv * t["tv"]
    torch.testing.assert_close(aggan_generator_objective(t, w, 0.5)[0], eq7 / 2)


def test_objective_ablation_drops_missing_terms() -> None:
    full, _ = aggan_generator_objective(_terms(), AGGANLossWeights(), 0.01)
    terms = _terms()
    del terms["agan"], terms["pixel"]
    total, weighted = aggan_generator_objective(terms, AGGANLossWeights(), 0.01)
    assert set(weighted) == {"gan", "cycle", "tv", "total"}
    torch.testing.assert_close(total, full - torch.tensor(0.99 + 0.004))
    only_gan, weighted = aggan_generator_objective(
        {"gan": torch.tensor(2.0)}, AGGANLossWeights(), 0.0
    )
    torch.testing.assert_close(only_gan, torch.tensor(1.0))
    assert set(weighted) == {"gan", "total"}


def test_objective_gradients_are_the_weights() -> None:
    terms = _terms(torch.float64, requires_grad=True)
    total, _ = aggan_generator_objective(terms, AGGANLossWeights(), 0.25)
    grads = torch.autograd.grad(total, list(terms.values()))
    expected = [0.75 * 0.5, 0.75 * 0.5, 0.25 * 10.0, 0.25 * 1.0, 0.75 * 1e-6]
    for grad, value in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, torch.tensor(value, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0), "cycel": torch.tensor(1.0), "idt": torch.tensor(1.0)},
                AGGANLossWeights(),
                0.5,
            ),
            ValueError,
            r"aggan_generator_objective\(\): 'terms' has unknown keys \['cycel', 'idt'\]; "
            r"expected any of \('gan', 'agan', 'cycle', 'pixel', 'tv'\)",
        ),
        (
            lambda: aggan_generator_objective({}, AGGANLossWeights(), 0.5),
            ValueError,
            r"'terms' is empty; expected any of",
        ),
        (
            lambda: aggan_generator_objective([torch.tensor(1.0)], AGGANLossWeights(), 0.5),  # type: ignore[arg-type]
            TypeError,
            r"'terms' must be a mapping of term names to tensors, got list",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.ones(2)}, AGGANLossWeights(), 0.5),
            ValueError,
            r"'terms\['gan'\]' must be a scalar \(0-dimensional\) tensor, got shape \(2,\)",
        ),
        (
            lambda: aggan_generator_objective({"gan": 1.0}, AGGANLossWeights(), 0.5),  # type: ignore[dict-item]
            TypeError,
            r"'terms\['gan'\]' must be a torch.Tensor, got float",
        ),
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0), "tv": torch.tensor(1.0, dtype=torch.float64)},
                AGGANLossWeights(),
                0.5,
            ),
            TypeError,
            r"'terms\['tv'\]' has dtype torch.float64 but 'terms\['gan'\]' has torch.float32",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.tensor(1.0)}, {"gan": 0.5}, 0.5),  # type: ignore[arg-type]
            TypeError,
            r"'weights' must be an AGGANLossWeights, got dict",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.tensor(1.0)}, AGGANLossWeights(), 1.5),
            ValueError,
            r"aggan_generator_objective\(\): 'r' must be in \[0, 1\], got 1.5",
        ),
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0)}, AGGANLossWeights(), torch.tensor(0.5)
            ),  # type: ignore[arg-type]
            TypeError,
            r"'r' must be a real number, got Tensor",
        ),
    ],
)
def test_objective_rejects_bad_input(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
