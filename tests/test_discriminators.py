from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from _generators import (
    Barrier,
    HeadFirstDiscriminator,
    NLayerDiscriminator,
    PooledInputDiscriminator,
    StarDiscriminator,
    VectorDiscriminator,
    cyclegan_init_weights,
    he_init,
    images,
    init_everything_with_weight,
    run_on_replicas,
)
from torch import Tensor, nn

from attnguide import MaskConditionedDiscriminator

Factory = Callable[[], nn.Module]
Extra = Callable[[int], tuple[Tensor, ...]]

# Each case: a discriminator in an upstream shape, and its extra arguments for batch b.
CASES: dict[str, tuple[Factory, Extra]] = {
    "patchgan_map": (NLayerDiscriminator, lambda b: ()),
    "stargan_src_cls": (StarDiscriminator, lambda b: ()),
    "vector": (VectorDiscriminator, lambda b: ()),
    "vector_with_labels": (
        lambda: VectorDiscriminator(n_classes=3),
        lambda b: (torch.arange(b) % 3,),
    ),
}
case_names = pytest.mark.parametrize("case", list(CASES))


def flat(result: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return result if isinstance(result, tuple) else (result,)


def randomise_mask_conv(D: MaskConditionedDiscriminator) -> None:
    with torch.no_grad():
        D.mask_conv.weight.normal_(0, 0.3)


def widened_reference(
    D: MaskConditionedDiscriminator, image: Tensor, mask: Tensor, *extra: Tensor
) -> Tensor | tuple[Tensor, ...]:
    """The paper's D on cat([image, mask]): the first conv widened with the mask weights."""
    plain = copy.deepcopy(D.discriminator)
    name = D.extra_repr().split("layer=")[1].strip("'")
    first = plain.get_submodule(name)
    wide = nn.Conv2d(
        first.in_channels + D.mask_channels,
        first.out_channels,
        first.kernel_size,
        first.stride,
        first.padding,
        first.dilation,
        bias=first.bias is not None,
    )
    with torch.no_grad():
        wide.weight.copy_(torch.cat([first.weight, D.mask_conv.weight], dim=1))
        if first.bias is not None:
            wide.bias.copy_(first.bias)
    state = {"x": torch.cat([image, mask], dim=1)}

    def swap_input(module, args):
        # Feed the widened conv [image, mask] in place of the image, once.
        x = state.pop("x", None)
        return None if x is None else (x,)

    first.forward = wide.forward  # the plain copy's first conv becomes the widened one
    handle = first.register_forward_pre_hook(swap_input)
    try:
        return plain(image, *extra)
    finally:
        handle.remove()


# -- outputs --------------------------------------------------------------------------


@case_names
def test_at_init_the_output_is_the_plain_discriminators_bit_for_bit(case: str) -> None:
    factory, extra = CASES[case]
    discriminator = factory()
    D = MaskConditionedDiscriminator(discriminator)
    image = images(2)
    expected = discriminator(image, *extra(2))
    for mask in (
        torch.rand(2, 1, 16, 16),
        torch.full((2, 1, 16, 16), 1e6),
        -torch.ones(2, 1, 16, 16),
    ):
        got = D(image, mask, *extra(2))
        assert type(got) is type(expected)
        for a, b in zip(flat(got), flat(expected), strict=True):
            assert a.shape == b.shape
            assert torch.equal(a, b)


def test_returns_what_the_wrapped_discriminator_returns() -> None:
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    assert MaskConditionedDiscriminator(NLayerDiscriminator())(image, mask).shape == (2, 1, 2, 2)
    src, cls = MaskConditionedDiscriminator(StarDiscriminator())(image, mask)
    assert src.shape == (2, 1, 2, 2) and cls.shape == (2, 3)
    assert MaskConditionedDiscriminator(VectorDiscriminator())(image, mask).shape == (2,)


@case_names
def test_the_mask_conv_is_the_first_conv_widened_to_take_the_mask(case: str) -> None:
    factory, extra = CASES[case]
    D = MaskConditionedDiscriminator(factory())
    randomise_mask_conv(D)
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    got = D(image, mask, *extra(2))
    expected = widened_reference(D, image, mask, *extra(2))
    for a, b in zip(flat(got), flat(expected), strict=True):
        torch.testing.assert_close(a, b)
    plain = D.discriminator(image, *extra(2))
    assert all(not torch.allclose(a, b) for a, b in zip(flat(got), flat(plain), strict=True))


def test_several_mask_channels() -> None:
    D = MaskConditionedDiscriminator(NLayerDiscriminator(), mask_channels=3)
    assert D.mask_conv.weight.shape == (8, 3, 4, 4)
    randomise_mask_conv(D)
    image, masks = images(2), torch.rand(2, 3, 16, 16).softmax(dim=1)
    torch.testing.assert_close(D(image, masks), widened_reference(D, image, masks))


@case_names
def test_state_dict_keys_and_round_trips(case: str) -> None:
    factory, extra = CASES[case]
    upstream = factory()
    checkpoint = copy.deepcopy(upstream.state_dict())
    D = MaskConditionedDiscriminator(factory())
    assert set(D.state_dict()) == {f"discriminator.{k}" for k in checkpoint} | {"mask_conv.weight"}
    D.discriminator.load_state_dict(checkpoint)
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    for a, b in zip(flat(D(image, mask, *extra(2))), flat(upstream(image, *extra(2))), strict=True):
        assert torch.equal(a, b)
    randomise_mask_conv(D)
    fresh = MaskConditionedDiscriminator(factory())
    fresh.load_state_dict(D.state_dict())
    for a, b in zip(
        flat(fresh(image, mask, *extra(2))), flat(D(image, mask, *extra(2))), strict=True
    ):
        assert torch.equal(a, b)


@case_names
def test_gradients_reach_the_mask_conv_the_discriminator_and_the_inputs(case: str) -> None:
    factory, extra = CASES[case]
    D = MaskConditionedDiscriminator(factory())
    image = images(2).requires_grad_()
    mask = torch.rand(2, 1, 16, 16, requires_grad=True)
    sum(t.square().sum() for t in flat(D(image, mask, *extra(2)))).backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
    assert D.mask_conv.weight.grad.abs().sum() > 0
    assert image.grad.abs().sum() > 0
    assert not mask.grad.any()  # zero mask weights: the mask has no effect yet
    randomise_mask_conv(D)
    mask.grad = None
    sum(t.square().sum() for t in flat(D(image, mask, *extra(2)))).backward()
    assert mask.grad.abs().sum() > 0


# -- which layer ----------------------------------------------------------------------


def test_an_unservable_first_registered_conv_raises_and_layer_fixes_it() -> None:
    discriminator = HeadFirstDiscriminator()  # head registered first, runs last
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    with pytest.raises(
        ValueError,
        match=r"MaskConditionedDiscriminator.forward\(\): the first convolution to run is "
        r"'stem' \(Conv2d\(kernel_size=\(4, 4\), stride=\(2, 2\), padding=\(1, 1\), "
        r"dilation=\(1, 1\)\), 8 output channels\), but the mask conv was built at "
        r"construction for 'head' \(Conv2d\(kernel_size=\(1, 1\), .*1 output channels\), "
        r"the first one registered. Pass layer='stem' to MaskConditionedDiscriminator",
    ):
        MaskConditionedDiscriminator(discriminator)(image, mask)
    D = MaskConditionedDiscriminator(discriminator, layer="stem")
    assert torch.equal(D(image, mask), discriminator(image))
    randomise_mask_conv(D)
    torch.testing.assert_close(D(image, mask), widened_reference(D, image, mask))


def test_a_compatible_first_conv_is_adopted_on_the_first_forward() -> None:
    class Twin(nn.Module):
        """Registers b before a, runs a first; both have one geometry."""

        def __init__(self) -> None:
            super().__init__()
            self.b = nn.Conv2d(8, 8, 3, padding=1)
            self.a = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return self.b(F.relu(self.a(x))).mean(dim=(1, 2, 3))

    D = MaskConditionedDiscriminator(Twin())
    assert "layer='b'" in D.extra_repr()
    randomise_mask_conv(D)
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    got = D(image, mask)
    assert "layer='a'" in D.extra_repr()
    torch.testing.assert_close(got, widened_reference(D, image, mask))


def test_layer_errors() -> None:
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    with pytest.raises(
        ValueError,
        match=r"MaskConditionedDiscriminator.forward\(\): layer 'conv' receives an input of "
        r"spatial size \(8, 8\) but the mask has \(16, 16\); the mask is added at a "
        r"convolution fed at the image's resolution. Pass layer= naming one; a "
        r"discriminator that pads, crops or pools the image before every convolution",
    ):
        MaskConditionedDiscriminator(PooledInputDiscriminator())(image, mask)
    discriminator = NLayerDiscriminator()
    discriminator.spare = nn.Conv2d(3, 8, 4, 2, 1)
    with pytest.raises(
        ValueError,
        match=r"MaskConditionedDiscriminator.forward\(\): layer 'spare' did not run during "
        r"the discriminator's forward; pass layer= naming the convolution that first sees",
    ):
        MaskConditionedDiscriminator(discriminator, layer="spare")(image, mask)
    with pytest.raises(
        ValueError,
        match=r"MaskConditionedDiscriminator\(\): layer='model.9' is not a submodule of the "
        r"wrapped NLayerDiscriminator; its convolutions are \['model.0', 'model.2'",
    ):
        MaskConditionedDiscriminator(discriminator, layer="model.9")
    with pytest.raises(
        TypeError,
        match=r"MaskConditionedDiscriminator\(\): layer='model.1' is LeakyReLU, expected",
    ):
        MaskConditionedDiscriminator(discriminator, layer="model.1")


def test_constructor_errors() -> None:
    cases = [
        ({"discriminator": "D"}, TypeError, r"'discriminator' must be an nn.Module, got str"),
        ({"mask_channels": 1.0}, TypeError, r"'mask_channels' must be an int, got float"),
        ({"mask_channels": 0}, ValueError, r"'mask_channels' must be >= 1, got 0"),
        (
            {"discriminator": nn.Linear(2, 2)},
            ValueError,
            r"the wrapped Linear has no nn.Conv2d or nn.ConvTranspose2d",
        ),
    ]
    for kwargs, error, message in cases:
        discriminator = kwargs.pop("discriminator", NLayerDiscriminator())
        with pytest.raises(error, match=r"MaskConditionedDiscriminator\(\): " + message):
            MaskConditionedDiscriminator(discriminator, **kwargs)


def test_input_errors() -> None:
    D = MaskConditionedDiscriminator(NLayerDiscriminator(), mask_channels=2)
    image = images(2)
    prefix = r"MaskConditionedDiscriminator.forward\(\): "
    cases = [
        (
            image,
            torch.rand(2, 1, 16, 16),
            ValueError,
            r"'mask' must have shape \(b 2 h w\) with 2 at dimension 1, got shape \(2, 1, 16, 16\)",
        ),
        (
            image,
            torch.rand(2, 2, 8, 16),
            ValueError,
            r"'mask' has shape \(2, 2, 8, 16\) \(b 2 h w\) but h=16 from 'image'; got h=8",
        ),
        (
            image,
            torch.rand(3, 2, 16, 16),
            ValueError,
            r"'mask' has shape \(3, 2, 16, 16\) \(b 2 h w\) but b=2 from 'image'; got b=3",
        ),
        (
            image,
            torch.rand(2, 2, 16, 16, dtype=torch.float64),
            TypeError,
            r"'mask' has dtype torch.float64 but 'image' has torch.float32",
        ),
        (image[0], torch.rand(2, 2, 16, 16), ValueError, r"'image' must have 4 dimensions"),
        (image, None, TypeError, r"'mask' must be a torch.Tensor, got NoneType"),
    ]
    for img, mask, error, message in cases:
        with pytest.raises(error, match=prefix + message):
            D(img, mask)


# -- initialisation, parallelism ------------------------------------------------------


def test_upstream_inits_and_reset_mask_parameters() -> None:
    D = MaskConditionedDiscriminator(NLayerDiscriminator())
    before = D.discriminator.model[0].weight.clone()
    cyclegan_init_weights(D)
    D.apply(he_init)
    assert not torch.equal(D.discriminator.model[0].weight, before)
    assert not D.mask_conv.weight.any()
    init_everything_with_weight(D)
    assert D.mask_conv.weight.any()
    D.reset_mask_parameters()
    assert not D.mask_conv.weight.any()
    image = images(2)
    assert torch.equal(D(image, torch.rand(2, 1, 16, 16)), D.discriminator(image))


def test_data_parallel_and_replicas_in_parallel_threads() -> None:
    barrier = Barrier()
    discriminator = nn.Sequential(
        barrier,
        nn.Conv2d(3, 8, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(8, 1, 4, 1, 1),
    )
    D = MaskConditionedDiscriminator(discriminator)
    randomise_mask_conv(D)
    reference = copy.deepcopy(D)
    image, mask = images(4, seed=1), torch.rand(4, 1, 16, 16)
    expected = reference(image, mask)
    expected.square().sum().backward()
    assert torch.equal(nn.DataParallel(D)(image, mask), expected)
    # Both replicas pass the barrier with their hooks registered on shared dictionaries.
    barrier.barrier = threading.Barrier(2)
    try:
        outs = run_on_replicas(D, [(image[:2], mask[:2]), (image[2:], mask[2:])])
    finally:
        barrier.barrier = None
    got = torch.cat(outs)
    torch.testing.assert_close(got, expected)
    got.square().sum().backward()
    for (name, p), q in zip(D.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_torch_export() -> None:
    D = MaskConditionedDiscriminator(StarDiscriminator())
    randomise_mask_conv(D)
    image, mask = images(2), torch.rand(2, 1, 16, 16)
    D(image, mask)
    exported = torch.export.export(D.eval(), (image, mask))
    image2, mask2 = images(2, seed=4), torch.rand(2, 1, 16, 16)
    for a, b in zip(exported.module()(image2, mask2), D(image2, mask2), strict=True):
        torch.testing.assert_close(a, b)
