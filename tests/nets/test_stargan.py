"""StarGAN's networks: the reference code's layers and keys, wrapped as they are."""

from __future__ import annotations

import pytest
import torch
from _generators import StarDiscriminator, StarGenerator

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.losses import gradient_penalty
from attnguide.nets import StarGANDiscriminator, StarGANGenerator


def test_generator_is_the_reference_generator() -> None:
    torch.manual_seed(0)
    ours = StarGANGenerator(conv_dim=8, c_dim=4, repeat_num=2)
    theirs = StarGenerator(conv_dim=8, c_dim=4, repeat_num=2)
    # The reference code's state-dict keys and shapes: its checkpoints load as they are.
    theirs.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x, c = torch.rand(3, 3, 16, 16) * 2 - 1, torch.eye(4)[[0, 2, 3]]
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        torch.testing.assert_close(ours(x, c), theirs(x, c))


def test_discriminator_is_the_reference_discriminator() -> None:
    torch.manual_seed(0)
    ours = StarGANDiscriminator(image_size=32, conv_dim=8, c_dim=5, repeat_num=3)
    theirs = StarDiscriminator(image_size=32, conv_dim=8, c_dim=5, repeat_num=3)
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(2, 3, 32, 32)
    for a, b in zip(ours(x), theirs(x), strict=True):
        torch.testing.assert_close(a, b)
    src, cls = ours(x)
    assert src.shape == (2, 1, 4, 4) and cls.shape == (2, 5)


def test_wrapped_networks_train_with_the_gradient_penalty() -> None:
    torch.manual_seed(0)
    G = AttentionHead(StarGANGenerator(conv_dim=4, c_dim=3, repeat_num=1))
    D = MaskConditionedDiscriminator(StarGANDiscriminator(16, conv_dim=4, c_dim=3, repeat_num=2))
    x, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.eye(3)[[1, 2]]
    out = G(x, c)
    assert out.image.shape == (2, 3, 16, 16) and out.mask.shape == (2, 1, 16, 16)
    # The last layer is bias-free; the head still starts from the generator's output.
    assert G.generator.main[-2].bias is None
    src, cls = D(out.image, out.mask)
    assert src.shape == (2, 1, 4, 4) and cls.shape == (2, 3)
    # The mask weights start at zero, where the penalty is flat in them (it depends on
    # their square): move them first, as training does.
    torch.nn.init.normal_(D.mask_conv.weight, std=0.1)
    mask = out.mask.detach()
    penalty = gradient_penalty(D, x, out.image, real_mask=mask, fake_mask=mask)
    penalty.backward()
    assert D.mask_conv.weight.grad is not None and bool(D.mask_conv.weight.grad.any())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: StarGANGenerator(conv_dim=0), "'conv_dim' must be >= 1"),
        (lambda: StarGANGenerator(c_dim=2.5), "'c_dim' must be an int"),
        (
            lambda: StarGANDiscriminator(image_size=100, repeat_num=3),
            "multiple of 2\\*\\*repeat_num",
        ),
    ],
)
def test_bad_sizes_are_named(build, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_bad_inputs_are_named() -> None:
    G = StarGANGenerator(conv_dim=4, c_dim=3, repeat_num=1)
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"'c' has shape \(2, 4\).*n=3 from 'c_dim'"):
        G(x, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"'c' has shape \(3, 3\)"):
        G(x, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="multiples of 4"):
        G(torch.rand(2, 3, 18, 16), torch.zeros(2, 3))
    D = StarGANDiscriminator(image_size=16, conv_dim=4, c_dim=3, repeat_num=2)
    with pytest.raises(ValueError, match="must be 16x16"):
        D(torch.rand(2, 3, 32, 32))
