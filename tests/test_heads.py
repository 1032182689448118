from __future__ import annotations

import copy
import doctest
import math
import threading
from collections.abc import Callable

import pytest
import torch
from _generators import (
    Barrier,
    DictInputGenerator,
    HalfResHeadGenerator,
    NLayerDiscriminator,
    ResnetGenerator,
    StarGenerator,
    TupleGenerator,
    TwoHeadGenerator,
    UnetGenerator,
    cyclegan_init_weights,
    he_init,
    images,
    init_everything_with_weight,
    max_error,
    one_hot_labels,
    run_on_replicas,
    sequential_tanh,
)
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn

import attnguide
import attnguide.heads
from attnguide import AttentionHead, AttentionOutput, MaskConditionedDiscriminator
from attnguide.ops import blend, multi_blend, total_variation

Factory = Callable[[], nn.Module]
Inputs = Callable[[int], tuple[Tensor, ...]]

# Each case: a generator in an upstream shape, and its forward's arguments for batch b.
CASES: dict[str, tuple[Factory, Inputs]] = {
    "sequential_tanh": (sequential_tanh, lambda b: (images(b),)),
    "resnet_reflection_pad": (ResnetGenerator, lambda b: (images(b),)),
    "resnet_batchnorm": (
        lambda: ResnetGenerator(norm_layer=nn.BatchNorm2d),
        lambda b: (images(b),),
    ),
    "unet_transposed_last": (UnetGenerator, lambda b: (images(b),)),
    "bias_free_last_conv": (lambda: sequential_tanh(bias=False), lambda b: (images(b),)),
    "returns_tuple": (TupleGenerator, lambda b: (images(b),)),
    "stargan_g_x_c": (StarGenerator, lambda b: (images(b), one_hot_labels(b))),
    "registration_order_differs": (
        lambda: TwoHeadGenerator(aux_channels=3),
        lambda b: (images(b),),
    ),
}
case_names = pytest.mark.parametrize("case", list(CASES))
OFF_IMAGE_PATH = {
    "returns_tuple": "generator.to_features.",
    "registration_order_differs": "generator.aux_head.",
}


def plain_image(generator: nn.Module, args: tuple[Tensor, ...]) -> Tensor:
    out = generator(*args)
    return out if isinstance(out, Tensor) else out[0]


def randomise_mask_conv(head: nn.Module, std: float = 0.1) -> None:
    with torch.no_grad():
        head.mask_conv.weight.normal_(0, std)
        if head.mask_conv.bias is not None:
            head.mask_conv.bias.normal_(0, std)


# -- outputs --------------------------------------------------------------------------


@case_names
def test_output_fields_shapes_and_composition(case: str) -> None:
    factory, inputs = CASES[case]
    generator = factory()
    args = inputs(2)
    G = AttentionHead(generator)
    randomise_mask_conv(G)
    out = G(*args)
    assert isinstance(out, AttentionOutput)
    source = args[0]
    assert out.image.shape == out.content.shape == source.shape == (2, 3, 16, 16)
    assert out.mask.shape == (2, 1, 16, 16)
    assert out.tv.shape == (2,)
    assert all(t.dtype == torch.float32 for t in out)
    assert bool(((out.mask > 0) & (out.mask < 1)).all())
    # The content is the generator's own output, untouched.
    assert torch.equal(out.content, plain_image(generator, args))
    assert torch.equal(out.image, blend(out.mask, out.content, source))
    assert torch.equal(out.tv, total_variation(out.mask))
    assert bool((out.tv > 0).all())


@case_names
def test_large_mask_bias_keeps_the_generators_output_and_negative_keeps_the_source(
    case: str,
) -> None:
    factory, inputs = CASES[case]
    generator = factory()
    args = inputs(2)
    expected = plain_image(generator, args)
    assert max_error(AttentionHead(generator, mask_bias=12.0)(*args).image, expected) <= 1e-4
    assert max_error(AttentionHead(generator, mask_bias=-12.0)(*args).image, args[0]) <= 1e-4


def test_default_mask_bias_starts_at_one_half(device: torch.device) -> None:
    G = AttentionHead(ResnetGenerator()).to(device)
    x = images(2).to(device)
    out = G(x)
    assert G.mask_bias == 0.0
    assert bool((out.mask == 0.5).all())
    torch.testing.assert_close(out.image, (out.content + x) / 2)
    assert torch.equal(out.tv, torch.zeros(2, device=device))


@case_names
def test_state_dict_keys_and_round_trips(case: str) -> None:
    factory, inputs = CASES[case]
    args = inputs(2)
    upstream = factory()
    checkpoint = copy.deepcopy(upstream.state_dict())
    G = AttentionHead(factory())
    assert set(G.state_dict()) == {f"generator.{k}" for k in checkpoint} | {
        "mask_conv.weight",
        "mask_conv.bias",
    }
    # An upstream checkpoint loads unchanged into the wrapped generator.
    G.generator.load_state_dict(checkpoint)
    assert torch.equal(G(*args).content, plain_image(upstream, args))
    # The wrapped model's own state dict round-trips, mask conv included.
    randomise_mask_conv(G)
    fresh = AttentionHead(factory())
    fresh.load_state_dict(G.state_dict())
    for a, b in zip(fresh(*args), G(*args), strict=True):
        assert torch.equal(a, b)


@case_names
def test_gradients_reach_the_mask_conv_and_the_generator(case: str) -> None:
    factory, inputs = CASES[case]
    G = AttentionHead(factory())
    args = inputs(2)
    out = G(*args)
    loss = (out.image - 0.3).square().mean() + 1e-3 * out.tv.mean()
    loss.backward()
    for name, p in G.named_parameters():
        if name.startswith(OFF_IMAGE_PATH.get(case, "-")):
            assert p.grad is None  # an auxiliary output's branch, not the image's
            continue
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()), name
    assert G.mask_conv.weight.grad.abs().sum() > 0
    assert G.mask_conv.bias.grad.abs().sum() > 0
    layer = G.generator.get_submodule(repr_layer(G))
    assert layer.weight.grad.abs().sum() > 0


def repr_layer(G: AttentionHead) -> str:
    """The layer the head copies, as its repr reports it."""
    return G.extra_repr().split("layer=")[1].strip("'")


def test_channels_last_input_matches_contiguous() -> None:
    G = AttentionHead(ResnetGenerator())
    randomise_mask_conv(G)
    x = images(2)
    expected = G(x)
    got = G(x.to(memory_format=torch.channels_last))
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_autocast_computes_in_the_promoted_dtype() -> None:
    G = AttentionHead(sequential_tanh())
    randomise_mask_conv(G)
    x = images(2)
    expected = G(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = G(x)
    assert out.image.dtype == torch.float32  # bf16 content promoted to the fp32 source
    torch.testing.assert_close(out.image, expected.image, rtol=0, atol=0.05)


# -- multiple masks -------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("case", ["resnet_reflection_pad", "stargan_g_x_c"])
def test_multi_mask_outputs(case: str, k: int) -> None:
    factory, inputs = CASES[case]
    generator = factory()
    args = inputs(2)
    G = AttentionHead(generator, masks=k)
    assert G.mask_conv.out_channels == k + (k - 2) * 3
    randomise_mask_conv(G)
    out = G(*args)
    source = args[0]
    assert out.mask.shape == (2, k, 16, 16)
    assert out.content.shape == (2, k - 1, 3, 16, 16)
    torch.testing.assert_close(out.mask.sum(dim=1), torch.ones(2, 16, 16))
    assert torch.equal(out.content[:, 0], plain_image(generator, args))
    assert bool((out.content.abs() <= 1).all())  # the extra contents went through tanh
    expected = sum(out.mask[:, i : i + 1] * out.content[:, i] for i in range(k - 1))
    expected = expected + out.mask[:, -1:] * source
    torch.testing.assert_close(out.image, expected)
    assert torch.equal(out.image, multi_blend(out.mask, out.content, source))
    assert torch.equal(out.tv, total_variation(out.mask[:, :-1]))


@given(
    k=st.integers(2, 4),
    b=st.integers(1, 2),
    h=st.integers(2, 6),
    w=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_multi_masks_sum_to_one_and_the_image_is_a_convex_combination(k, b, h, w, seed) -> None:
    torch.manual_seed(seed)
    G = AttentionHead(sequential_tanh(nf=4), masks=k).double()
    randomise_mask_conv(G, std=3.0)
    x = torch.rand(b, 3, h, w, dtype=torch.float64) * 2 - 1
    out = G(x)
    torch.testing.assert_close(out.mask.sum(dim=1), torch.ones(b, h, w, dtype=torch.float64))
    assert bool((out.mask >= 0).all())
    everything = torch.cat([out.content, x.unsqueeze(1)], dim=1)
    assert bool((out.image >= everything.amin(dim=1) - 1e-12).all())
    assert bool((out.image <= everything.amax(dim=1) + 1e-12).all())


def test_two_masks_start_like_one_mask() -> None:
    generator = ResnetGenerator()
    x = images(2)
    single, double = (AttentionHead(generator, masks=k, mask_bias=1.5)(x) for k in (1, 2))
    torch.testing.assert_close(double.mask[:, :1], single.mask)
    torch.testing.assert_close(double.image, single.image)
    torch.testing.assert_close(double.tv, single.tv)


def test_three_masks_initialisation() -> None:
    generator = ResnetGenerator()
    x = images(2)
    G = AttentionHead(generator, masks=3, mask_bias=12.0)
    weight, bias = G.mask_conv.weight, G.mask_conv.bias
    assert not weight[:3].any()  # mask logits: zero weights ...
    assert torch.equal(bias, torch.tensor([12.0, 0, 0, 0, 0, 0]))  # ... and mask_bias first
    # The extra content's weights are random so the extra masks can tell apart.
    assert bool((weight[3:] != 0).all())
    out = G(x)
    assert max_error(out.image, plain_image(generator, (x,))) <= 1e-4
    assert max_error(out.content[:, 1], torch.zeros_like(x)) > 0


# -- which layer ----------------------------------------------------------------------


def test_registration_order_is_corrected_by_the_first_forward() -> None:
    generator = TwoHeadGenerator(aux_channels=3)
    G = AttentionHead(generator)
    assert repr_layer(G) == "aux_head"  # the provisional guess: the last registered
    randomise_mask_conv(G)
    x = images(2)
    out = G(x)
    assert repr_layer(G) == "image_head"
    explicit = AttentionHead(generator, layer="image_head")
    explicit.mask_conv.load_state_dict(G.mask_conv.state_dict())
    for a, b in zip(explicit(x), out, strict=True):
        assert torch.equal(a, b)


def test_an_unservable_provisional_guess_raises_and_layer_or_example_inputs_fix_it() -> None:
    generator = TwoHeadGenerator(aux_channels=3, aux_kernel=1)
    x = images(2)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): the image comes from layer 'image_head' \(Conv2d\("
        r"kernel_size=\(3, 3\), stride=\(1, 1\), padding=\(1, 1\), dilation=\(1, 1\)\), "
        r"8 -> 3 channels\), the last convolution to run with the image's shape, but the "
        r"mask conv was built at construction for 'aux_head' \(Conv2d\(kernel_size=\(1, 1\), "
        r".*8 input channels\), the provisional guess. Pass layer='image_head' \(or "
        r"example_inputs=\) to AttentionHead",
    ):
        AttentionHead(generator)(x)
    for G in (
        AttentionHead(generator, layer="image_head"),
        AttentionHead(generator, example_inputs=x),
    ):
        assert repr_layer(G) == "image_head"
        assert G.mask_conv.geometry.kernel_size == (3, 3)
        assert max_error(G(x).content, plain_image(generator, (x,))) == 0


def test_the_image_conv_is_found_even_when_another_conv_runs_after_it() -> None:
    for masks in (1, 3):
        G = AttentionHead(TupleGenerator(), masks=masks)  # to_features runs last
        G(images(2))
        assert repr_layer(G) == "to_image"


def test_a_half_resolution_last_conv_is_refused_with_a_hint() -> None:
    generator = HalfResHeadGenerator()
    x = images(2)
    message = (
        r"no convolution of the generator emits the image's shape \(2, 3, 16, 16\) "
        r"\(convolutions that ran, last first: 'head' -> \(2, 3, 8, 8\), 'body.0' -> "
        r"\(2, 8, 8, 8\)\); the mask conv must copy the convolution that produces the "
        r"image \(its channels, at full resolution\). Pass layer= naming that convolution"
    )
    with pytest.raises(ValueError, match=r"AttentionHead.forward\(\): " + message):
        AttentionHead(generator)(x)
    with pytest.raises(ValueError, match=r"AttentionHead\(\): " + message):
        AttentionHead(generator, example_inputs=x)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): layer 'head' emits shape \(2, 3, 8, 8\) but the "
        r"generator's image has shape \(2, 3, 16, 16\); the mask conv must copy the "
        r"convolution that produces the image .* Pass layer= naming that convolution",
    ):
        AttentionHead(generator, layer="head")(x)


def test_layer_argument_errors() -> None:
    generator = TwoHeadGenerator()
    generator.spare = nn.Conv2d(8, 3, 3, padding=1)  # registered but never called
    with pytest.raises(
        ValueError,
        match=r"AttentionHead\(\): layer='heads' is not a submodule of the wrapped "
        r"TwoHeadGenerator; its convolutions are \['body', 'image_head', 'aux_head', 'spare'\]",
    ):
        AttentionHead(generator, layer="heads")
    with pytest.raises(
        TypeError,
        match=r"AttentionHead\(\): layer='' is TwoHeadGenerator, expected an nn.Conv2d or "
        r"nn.ConvTranspose2d",
    ):
        AttentionHead(generator, layer="")
    with pytest.raises(TypeError, match=r"AttentionHead\(\): 'layer' must be a dotted module"):
        AttentionHead(generator, layer=generator.body)
    message = (
        r"layer 'spare' did not run during the generator's forward; pass layer= naming "
        r"the convolution that produces the image"
    )
    with pytest.raises(ValueError, match=r"AttentionHead.forward\(\): " + message):
        AttentionHead(generator, layer="spare")(images(2))
    with pytest.raises(ValueError, match=r"AttentionHead\(\): " + message):
        AttentionHead(generator, layer="spare", example_inputs=images(2))


def test_example_inputs_trace_in_eval_mode_without_side_effects() -> None:
    generator = ResnetGenerator(norm_layer=nn.BatchNorm2d)
    before = copy.deepcopy(generator.state_dict())
    x = images(2)
    G = AttentionHead(generator, example_inputs=(x,))
    assert repr_layer(G) == "model.18"
    assert generator.training
    for key, value in generator.state_dict().items():
        assert torch.equal(value, before[key]), key
    labels = one_hot_labels(2)
    star = AttentionHead(StarGenerator(), example_inputs=[x, labels])
    assert repr_layer(star) == "main.16"
    assert star(x, labels).image.shape == x.shape


def test_one_lasting_hook_on_the_layer_and_nothing_else_on_the_generator() -> None:
    generator = ResnetGenerator()
    state = {m: set(vars(m)) for m in generator.modules()}
    G = AttentionHead(generator, example_inputs=images(1))
    G(images(2))
    with pytest.raises(RuntimeError, match="channels"):
        G(images(2, c=4))  # fails inside the generator, while a frame is open
    assert G._frames == []  # every forward's frame is closed, even on error
    layer = generator.get_submodule(G._layer)
    for m in generator.modules():
        assert set(vars(m)) == state[m]
        assert not m._forward_pre_hooks
        assert len(m._forward_hooks) == (1 if m is layer else 0)
    # Outside the head's forward the hook does nothing: the generator runs as before.
    x = images(2, seed=5)
    out = generator(x)
    hooks = dict(layer._forward_hooks)
    layer._forward_hooks.clear()
    try:
        assert torch.equal(out, generator(x))
    finally:
        layer._forward_hooks.update(hooks)


def test_deep_copies_keep_working_on_their_own_generator() -> None:
    G = AttentionHead(ResnetGenerator(ngf=8, n_blocks=1), example_inputs=images(1))
    twin = copy.deepcopy(G)
    with torch.no_grad():
        twin.mask_conv.bias.fill_(-30.0)  # the copy keeps its source everywhere
    x = images(2, seed=2)
    assert torch.equal(twin(x).image, x)
    assert not torch.equal(G(x).image, x)


# -- source and output ----------------------------------------------------------------


def test_source_callable_for_a_dict_input() -> None:
    generator = DictInputGenerator()
    batch = {"image": images(2), "path": ["a.png", "b.png"]}
    G = AttentionHead(generator, source=lambda batch: batch["image"], mask_bias=-12.0)
    assert max_error(G(batch).image, batch["image"]) <= 1e-4
    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): the source is the first positional argument, "
        r"which is a dict, not a tensor; pass source= to AttentionHead a callable",
    ):
        AttentionHead(generator)(batch)


def test_input_nc_different_from_output_nc_needs_a_source_callable() -> None:
    generator = sequential_tanh(in_nc=3, out_nc=1)
    x = images(2)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): the generator's image has shape \(2, 1, 16, 16\) "
        r"but the source has shape \(2, 3, 16, 16\); they must match to be blended. If the "
        r"generator maps input_nc channels to a different output_nc, pass source= to "
        r"AttentionHead a callable",
    ):
        AttentionHead(generator)(x)
    with pytest.raises(ValueError, match=r"AttentionHead\(\): the generator's image has shape"):
        AttentionHead(generator, example_inputs=x)
    gray = AttentionHead(generator, source=lambda x: x.mean(dim=1, keepdim=True))
    out = gray(x)
    assert out.image.shape == (2, 1, 16, 16)
    torch.testing.assert_close(out.image, (out.content + x.mean(dim=1, keepdim=True)) / 2)


def test_source_errors() -> None:
    G = AttentionHead(sequential_tanh())
    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): the source is the first positional argument, but "
        r"none was given; pass source= to AttentionHead a callable",
    ):
        G(input=images(2))
    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): the 'source' callable must return a tensor, got list",
    ):
        AttentionHead(sequential_tanh(), source=lambda x: [x])(images(2))
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): 'source' must have 4 dimensions \(b c h w\), got 3",
    ):
        AttentionHead(sequential_tanh(), source=lambda x: x[0])(images(2))


def test_output_picks_the_image_from_a_tuple() -> None:
    x = images(2)
    generator = TupleGenerator(image_first=False)
    expected = generator(x)[1]
    for output in (1, -1, lambda out: out[1]):
        G = AttentionHead(generator, output=output, mask_bias=12.0)
        assert torch.equal(G(x).content, expected)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): the generator's image has shape \(2, 4, 16, 16\) "
        r"but the source has shape \(2, 3, 16, 16\); .* The image was taken as the first "
        r"tensor of the generator's tuple; if another element is the image, pass output= to "
        r"AttentionHead",
    ):
        AttentionHead(generator)(x)  # picks the features, (2, 4, 16, 16)


def test_output_errors() -> None:
    x = images(2)

    class DictOut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = sequential_tanh()

        def forward(self, x):
            return {"image": self.net(x)}

    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): the generator returned a dict holding no tensor "
        r"where the image is looked for .* pass output= to AttentionHead",
    ):
        AttentionHead(DictOut())(x)
    assert AttentionHead(DictOut(), output=lambda o: o["image"])(x).image.shape == x.shape
    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): output=0 indexes a tuple or list, but the "
        r"generator returned a Tensor",
    ):
        AttentionHead(sequential_tanh(), output=0)(x)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): output=2 is out of range for the generator's "
        r"2-element tuple",
    ):
        AttentionHead(TupleGenerator(), output=2)(x)
    with pytest.raises(
        TypeError,
        match=r"AttentionHead.forward\(\): the generator's image must be a tensor, got str",
    ):
        AttentionHead(TupleGenerator(), output=lambda o: "image")(x)
    with pytest.raises(
        ValueError,
        match=r"AttentionHead.forward\(\): 'generator output' must have 4 dimensions "
        r"\(b c h w\), got 2 with shape \(2, 768\)",
    ):
        AttentionHead(TupleGenerator(), output=lambda o: o[0].flatten(1))(x)


def test_constructor_errors() -> None:
    g = sequential_tanh()
    cases = [
        ({"generator": lambda x: x}, TypeError, r"'generator' must be an nn.Module, got function"),
        ({"masks": 1.0}, TypeError, r"'masks' must be an int, got float"),
        ({"masks": True}, TypeError, r"'masks' must be an int, got bool"),
        ({"masks": 0}, ValueError, r"'masks' must be >= 1, got 0"),
        ({"mask_bias": "high"}, TypeError, r"'mask_bias' must be a real number, got str"),
        ({"mask_bias": math.inf}, ValueError, r"'mask_bias' must be a finite number, got inf"),
        ({"source": "x"}, TypeError, r"'source' must be None or a callable .* got str"),
        ({"output": "image"}, TypeError, r"'output' must be None, an int index or a callable"),
        ({"output": False}, TypeError, r"'output' must be None, an int index .* got bool"),
        (
            {"example_inputs": {"x": images(1)}},
            TypeError,
            r"'example_inputs' must be a tuple of positional arguments or a tensor, got dict",
        ),
        (
            {"generator": nn.Sequential(nn.Linear(2, 2))},
            ValueError,
            r"the wrapped Sequential has no nn.Conv2d or nn.ConvTranspose2d",
        ),
    ]
    for kwargs, error, message in cases:
        generator = kwargs.pop("generator", g)
        with pytest.raises(error, match=r"AttentionHead\(\): " + message):
            AttentionHead(generator, **kwargs)


# -- initialisation -------------------------------------------------------------------


@pytest.mark.parametrize("masks", [1, 3])
def test_upstream_init_functions_leave_the_mask_conv_alone(masks: int) -> None:
    for init in (cyclegan_init_weights, lambda net: net.apply(he_init)):
        G = AttentionHead(ResnetGenerator(), masks=masks, mask_bias=2.0)
        mask_state = copy.deepcopy(G.mask_conv.state_dict())
        last = G.generator.model[18].weight.clone()
        init(G)  # as the upstream code would, on the wrapped model
        assert not torch.equal(G.generator.model[18].weight, last)  # it did run
        for key, value in G.mask_conv.state_dict().items():
            assert torch.equal(value, mask_state[key]), key


@pytest.mark.parametrize("masks", [1, 3])
def test_reset_mask_parameters_undoes_an_init_that_reaches_the_mask_conv(masks: int) -> None:
    G = AttentionHead(ResnetGenerator(), masks=masks, mask_bias=2.0)
    init_everything_with_weight(G)
    assert G.mask_conv.weight[:masks].any()
    G.reset_mask_parameters()
    weight, bias = G.mask_conv.weight, G.mask_conv.bias
    assert not weight[:masks].any()
    assert torch.equal(bias, torch.tensor([2.0] + [0.0] * (G.mask_conv.out_channels - 1)))
    assert bool((weight[masks:] != 0).all())
    out = G(images(2))
    first = torch.sigmoid(torch.tensor(2.0)) if masks == 1 else None
    if first is not None:
        torch.testing.assert_close(out.mask, torch.full_like(out.mask, float(first)))
    else:
        logits = torch.tensor([2.0, 0.0, 0.0]).softmax(0).view(1, 3, 1, 1)
        torch.testing.assert_close(out.mask, logits.expand_as(out.mask))


# -- parallelism, compile, export -----------------------------------------------------


def test_data_parallel_on_cpu_and_deepcopy() -> None:
    G = AttentionHead(ResnetGenerator())
    randomise_mask_conv(G)
    x = images(4)
    expected = G(x)
    for model in (nn.DataParallel(G), copy.deepcopy(G)):
        for a, b in zip(model(x), expected, strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("resolved", [False, True])
def test_replicas_running_in_parallel_threads(resolved: bool) -> None:
    barrier = Barrier()
    generator = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), barrier, nn.Conv2d(8, 3, 3, padding=1), nn.Tanh()
    )
    G = AttentionHead(generator, example_inputs=images(1) if resolved else None)
    randomise_mask_conv(G)
    reference = copy.deepcopy(G)
    x = images(4, seed=1)
    expected = reference(x)
    (expected.image.sum() + expected.tv.sum()).backward()
    # Both replicas wait at the barrier with their hooks registered on the hook
    # dictionaries they share, so each hook also sees the other replica's layer run.
    barrier.barrier = threading.Barrier(2)
    try:
        outs = run_on_replicas(G, [(x[:2],), (x[2:],)])
    finally:
        barrier.barrier = None
    for field in AttentionOutput._fields:
        got = torch.cat([getattr(o, field) for o in outs])
        torch.testing.assert_close(got, getattr(expected, field), msg=field)
    (sum(o.image.sum() + o.tv.sum() for o in outs)).backward()
    for (name, p), q in zip(G.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


# aot_eager traces the same graph (fullgraph: any break fails) and runs it without
# generating code, in seconds; inductor's generated kernels take ~30 s on two cores.
BACKENDS = ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)]


# Inductor imports torch.utils.mkldnn, which uses a deprecated torch.jit decorator.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_torch_compile_parity_with_a_mask_conditioned_discriminator(backend: str) -> None:
    G = AttentionHead(sequential_tanh(nf=4))
    D = MaskConditionedDiscriminator(NLayerDiscriminator(ndf=4, n_layers=1))
    with torch.no_grad():
        G.mask_conv.weight.normal_(0, 0.1)
        D.mask_conv.weight.normal_(0, 0.1)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    x = images(2)

    def step(G, D, x):
        out = G(x)
        score = D(out.image, out.mask)
        return out, score, score.square().mean() + out.tv.mean()

    # Compiled from fresh, unresolved heads: the first call also traces the layers.
    compiled = torch.compile(step, backend=backend)
    got, want = compiled(G, D, x), step(G_ref, D_ref, x)
    got[2].backward()
    want[2].backward()
    for a, b in zip(got[0], want[0], strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(got[1], want[1])
    for (name, p), q in zip(
        [*G.named_parameters(), *D.named_parameters()],
        [*G_ref.parameters(), *D_ref.parameters()],
        strict=True,
    ):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    again = compiled(G, D, images(2, seed=3))
    torch.testing.assert_close(again[1], step(G_ref, D_ref, images(2, seed=3))[1])


def test_torch_export_of_the_inference_path() -> None:
    x, labels = images(2), one_hot_labels(2)
    G = AttentionHead(StarGenerator(), example_inputs=(x, labels)).eval()
    randomise_mask_conv(G)
    exported = torch.export.export(G, (x, labels))
    x2, labels2 = images(2, seed=5), one_hot_labels(2, seed=5)
    got = exported.module()(x2, labels2)
    assert isinstance(got, AttentionOutput)
    for a, b in zip(got, G(x2, labels2), strict=True):
        torch.testing.assert_close(a, b)


# -- package --------------------------------------------------------------------------


def test_exported_names_and_docstring_examples() -> None:
    assert {"AttentionHead", "AttentionOutput", "MaskConditionedDiscriminator"} <= set(
        attnguide.__all__
    )
    for module in (attnguide.heads, attnguide.discriminators):
        result = doctest.testmod(module, extraglobs={"torch": torch, "nn": nn})
        assert result.attempted > 0 and result.failed == 0, module.__name__


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_resolved_head_and_discriminator_compile_with_fullgraph(backend: str) -> None:
    from attnguide.nets import PatchDiscriminator
    from attnguide.nets import ResnetGenerator as LibraryGenerator

    x = images(2, h=32, w=32)
    G = AttentionHead(LibraryGenerator(ngf=4, n_blocks=1), masks=3, example_inputs=x[:1])
    D = MaskConditionedDiscriminator(PatchDiscriminator(ndf=4), mask_channels=3, layer="model.0")
    with torch.no_grad():
        D.mask_conv.weight.normal_()  # so the mask matters to the score

    def step(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = G(x)
        return out.image, out.mask, out.tv, D(out.image, out.mask)

    compiled = torch.compile(step, fullgraph=True, dynamic=False, backend=backend)
    for got, want in zip(compiled(x), step(x), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    sum(t.sum() for t in compiled(x)).backward()
    assert G.mask_conv.weight.grad.abs().sum() > 0 and D.mask_conv.weight.grad.abs().sum() > 0
