"""adversarial_loss and AdversarialLoss: every mode against golden values and torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _reductions import assert_reductions, softplus
from hypothesis import given
from hypothesis import strategies as st

from attnguide.losses import (
    AdversarialLoss,
    adversarial_loss,
)

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
        (softplus(-2.0) + softplus(1.0)) / 2,
        (softplus(0.0) + softplus(-0.5)) / 2,
    ],
    ("vanilla", True, False): [
        (softplus(-2.0) + softplus(1.0)) / 2,
        (softplus(0.0) + softplus(-0.5)) / 2,
    ],
    # -log(1 - sigmoid(x)) = softplus(x)
    ("vanilla", False, True): [
        (softplus(2.0) + softplus(-1.0)) / 2,
        (softplus(0.0) + softplus(0.5)) / 2,
    ],
    ("vanilla", False, False): [
        (softplus(2.0) + softplus(-1.0)) / 2,
        (softplus(0.0) + softplus(0.5)) / 2,
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

    assert_reductions(functional, per_sample, device)
    assert_reductions(module, per_sample, device)


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
    assert_reductions(
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
