"""gradient_penalty: WGAN-GP's penalty for plain and mask-conditioned critics."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from attnguide import MaskConditionedDiscriminator
from attnguide.losses import gradient_penalty
from attnguide.nets import PatchDiscriminator


def _stargan_reference(critic: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """StarGAN's solver.gradient_penalty, on StarGAN's x_hat and out_src."""
    x_hat = (alpha.view(-1, 1, 1, 1) * real + (1 - alpha.view(-1, 1, 1, 1)) * fake).requires_grad_(
        True
    )
    out_src = critic(x_hat)[0]
    weight = torch.ones(out_src.size())
    dydx = torch.autograd.grad(out_src, x_hat, weight, retain_graph=True, create_graph=True)[0]
    dydx = dydx.view(dydx.size(0), -1)
    return ((torch.sqrt(torch.sum(dydx**2, dim=1)) - 1) ** 2).mean()


class _SrcCls(nn.Module):
    """A StarGAN-shaped critic: (src map, cls logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.01))
        self.src = nn.Conv2d(4, 1, 3, 1, 1, bias=False)
        self.cls = nn.Conv2d(4, 3, 4, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.src(h), self.cls(h).flatten(1)


def test_equals_stargans_own_penalty() -> None:
    torch.manual_seed(0)
    critic = _SrcCls()
    real, fake, alpha = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), torch.rand(3)
    ours = gradient_penalty(critic, real, fake, alpha=alpha)
    torch.testing.assert_close(ours, _stargan_reference(critic, real, fake, alpha))
    # Its backward reaches the critic's weights (the gradient's graph is kept).
    ours.backward()
    assert critic.src.weight.grad is not None and critic.src.weight.grad.abs().sum() > 0


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 4),
    c=st.integers(1, 3),
    k=st.integers(1, 3),
    target=st.floats(0, 3),
    seed=st.integers(0, 2**16),
)
def test_linear_critics_have_the_norm_of_their_weights(
    b: int, c: int, k: int, target: float, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    w_x, w_m = torch.randn(1, c, 5, 5, generator=g), torch.randn(1, k, 5, 5, generator=g)
    real, fake = torch.rand(b, c, 5, 5, generator=g), torch.rand(b, c, 5, 5, generator=g)
    masks = torch.rand(b, k, 5, 5, generator=g), torch.rand(b, k, 5, 5, generator=g)

    def critic(x: Tensor, m: Tensor) -> Tensor:
        return (x * w_x).flatten(1).sum(1) + (m * w_m).flatten(1).sum(1)

    # A linear critic's gradient is its weights at every point, whatever alpha is.
    norm = torch.cat([w_x.flatten(), w_m.flatten()]).norm()
    per_sample = gradient_penalty(
        critic,
        real,
        fake,
        real_mask=masks[0],
        fake_mask=masks[1],
        target=target,
        generator=g,
        reduction="none",
    )
    torch.testing.assert_close(per_sample, ((norm - target) ** 2).expand(b))


def test_mask_conditioned_discriminator_penalises_the_pair() -> None:
    torch.manual_seed(0)
    critic = MaskConditionedDiscriminator(PatchDiscriminator(ndf=4, n_layers=2))
    real, fake = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    mask_real, mask_fake = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    alpha = torch.tensor([0.25, 0.75])
    pair = gradient_penalty(
        critic, real, fake, real_mask=mask_real, fake_mask=mask_fake, alpha=alpha, reduction="none"
    )
    # By hand: the gradient of the pair, image and mask together.
    a = alpha.view(2, 1, 1, 1)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    m = (a * mask_real + (1 - a) * mask_fake).requires_grad_(True)
    gx, gm = torch.autograd.grad(critic(x, m).sum(), [x, m])
    norm = (gx.flatten(1).pow(2).sum(1) + gm.flatten(1).pow(2).sum(1)).sqrt()
    torch.testing.assert_close(pair, (norm - 1) ** 2)
    pair.sum().backward()
    assert critic.mask_conv.weight.grad is not None


def test_multi_scale_critics_add_their_scales() -> None:
    w = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    real, fake = torch.rand(2, 2, 1, 1), torch.rand(2, 2, 1, 1)

    def scales(x: Tensor) -> list[Tensor]:
        return [(x * w).flatten(1).sum(1), (x * w).flatten(1).sum(1)]

    # Two scales of gradient w each: a gradient of 2w, norm 2 sqrt(5).
    expected = (2 * torch.tensor(5.0).sqrt() - 1) ** 2
    torch.testing.assert_close(gradient_penalty(scales, real, fake), expected)


def test_gradcheck_in_float64() -> None:
    torch.manual_seed(0)
    real = torch.rand(2, 2, 4, 4, dtype=torch.float64)
    fake = torch.rand(2, 2, 4, 4, dtype=torch.float64)
    alpha = torch.tensor([0.3, 0.6], dtype=torch.float64)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)

    def penalty(w: Tensor) -> Tensor:
        # A nonlinear critic, so the penalty depends on where the gradient is taken.
        def critic(x: Tensor) -> Tensor:
            return torch.tanh(F.conv2d(x, w)).pow(2).flatten(1).sum(1)

        return gradient_penalty(critic, real, fake, alpha=alpha, reduction="none")

    assert torch.autograd.gradcheck(penalty, (weight,))


def test_alpha_is_drawn_from_the_generator() -> None:
    critic = _SrcCls()
    real, fake = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    first = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    again = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, again)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fake": torch.rand(2, 3, 8, 4)}, ValueError, r"'fake' has shape \(2, 3, 8, 4\)"),
        ({"real_mask": torch.rand(2, 1, 8, 8)}, ValueError, "'real_mask' was given without"),
        ({"alpha": torch.tensor([0.5, 1.5])}, ValueError, r"'alpha' must lie in \[0, 1\]"),
        ({"alpha": torch.rand(3)}, ValueError, "'alpha' has shape"),
        ({"target": -1.0}, ValueError, "'target' must be >= 0"),
        ({"reduction": "max"}, ValueError, "reduction"),
        ({"fake": torch.rand(2, 3, 8, 8, dtype=torch.float64)}, TypeError, "'fake' has dtype"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, message: str) -> None:
    args = {"real": torch.rand(2, 3, 8, 8), "fake": torch.rand(2, 3, 8, 8), **kwargs}
    real, fake = args.pop("real"), args.pop("fake")
    with pytest.raises(error, match=message):
        gradient_penalty(_SrcCls(), real, fake, **args)


def test_critics_that_return_no_scores_are_refused() -> None:
    real, fake = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    with pytest.raises(TypeError, match="must be a floating-point tensor"):
        gradient_penalty(lambda x: "score", real, fake)
    with pytest.raises(ValueError, match="empty tuple"):
        gradient_penalty(lambda x: (), real, fake)
    with pytest.raises(ValueError, match="does not depend on its input"):
        gradient_penalty(lambda x: torch.zeros(1), real, fake)
