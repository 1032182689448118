from __future__ import annotations

import copy

import pytest
import torch
from _generators import ResnetGenerator, TwoHeadGenerator, replicate_like_data_parallel
from torch import nn

from attnguide.surgery import (
    ConvGeometry,
    Sibling,
    conv_layers,
    describe_calls,
    resolve_conv,
    tap,
    trace_convs,
)

CONVS = [
    nn.Conv2d(3, 5, 3, padding=1),
    nn.Conv2d(3, 5, 7, padding=0),
    nn.Conv2d(3, 5, 4, stride=2, padding=1),
    nn.Conv2d(3, 5, (3, 5), stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
    nn.Conv2d(3, 5, 3, padding="same", dilation=2),
    nn.Conv2d(3, 5, 4, padding="same"),
    nn.Conv2d(3, 5, 3, padding="valid"),
    nn.Conv2d(3, 5, 3, padding=1, padding_mode="reflect"),
    nn.Conv2d(3, 5, (3, 5), padding=(1, 2), padding_mode="replicate"),
    nn.Conv2d(3, 5, 4, padding="same", padding_mode="circular"),
    nn.Conv2d(6, 4, 3, padding=1, groups=2),
    nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1),
    nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1),
    nn.ConvTranspose2d(3, 5, (3, 2), stride=(3, 2), dilation=(1, 2), output_padding=(2, 1)),
]


def _dense_copy(conv: nn.Module) -> Sibling:
    """A sibling with conv's channels and weights (groups expanded to a dense weight)."""
    sibling = Sibling(
        ConvGeometry.of(conv),
        conv.in_channels,
        conv.out_channels,
        bias=True,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        weight = sibling.weight
        weight.zero_()
        g = conv.groups
        if isinstance(conv, nn.ConvTranspose2d):
            # (in, out/g, kh, kw) -> dense (in, out, kh, kw)
            i, o = conv.in_channels // g, conv.out_channels // g
            for k in range(g):
                weight[k * i : (k + 1) * i, k * o : (k + 1) * o] = conv.weight[k * i : (k + 1) * i]
        else:
            i, o = conv.in_channels // g, conv.out_channels // g
            for k in range(g):
                weight[k * o : (k + 1) * o, k * i : (k + 1) * i] = conv.weight[k * o : (k + 1) * o]
        sibling.bias.copy_(conv.bias)
    return sibling


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("conv", CONVS, ids=lambda c: ConvGeometry.of(c).describe())
@pytest.mark.parametrize("size", [(9, 9), (12, 7)])
def test_sibling_computes_what_the_copied_conv_computes(conv: nn.Module, size) -> None:
    x = torch.randn(2, conv.in_channels, *size, dtype=torch.float64)
    conv = copy.deepcopy(conv).double()
    sibling = _dense_copy(conv)
    expected = conv(x)
    torch.testing.assert_close(sibling(x, output_size=expected.shape[-2:]), expected)
    if not isinstance(conv, nn.ConvTranspose2d) or conv.output_padding == (0, 0):
        torch.testing.assert_close(sibling(x), expected)


def test_sibling_follows_a_transposed_convs_output_size_argument() -> None:
    conv = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1).double()
    sibling = _dense_copy(conv)
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64)
    for size in [(9, 11), (10, 12), (9, 12)]:
        expected = conv(x, output_size=size)
        assert expected.shape[-2:] == size
        torch.testing.assert_close(sibling(x, output_size=size), expected)


def test_sibling_weight_layout_and_zero_start() -> None:
    conv = Sibling(ConvGeometry.of(nn.Conv2d(4, 8, 3)), 4, 2, bias=True)
    transposed = Sibling(ConvGeometry.of(nn.ConvTranspose2d(4, 8, 3)), 4, 2, bias=False)
    assert conv.weight.shape == (2, 4, 3, 3) and conv.bias is not None
    assert transposed.weight.shape == (4, 2, 3, 3) and transposed.bias is None
    assert not conv.weight.any() and not conv.bias.any() and not transposed.weight.any()
    # Upstream inits match "Conv" in the class name or isinstance(nn.Conv2d): neither.
    assert "Conv" not in type(conv).__name__
    assert not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d))


def test_sibling_reset_uniform_touches_only_the_given_rows() -> None:
    for template, rows_of in [
        (nn.Conv2d(4, 1, 3), lambda w: w),
        (nn.ConvTranspose2d(4, 1, 3), lambda w: w.transpose(0, 1)),
    ]:
        sibling = Sibling(ConvGeometry.of(template), 4, 6, bias=True)
        torch.manual_seed(0)
        sibling.reset_uniform_(slice(2, None))
        rows = rows_of(sibling.weight)
        assert not rows[:2].any()
        assert bool((rows[2:] != 0).all())
        # The bound PyTorch's default init gives a layer of the sibling's full shape
        # (for a transposed conv, fan_in counts all six output channels).
        full = type(template)(4, 6, 3)
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(full.weight)
        bound = 1 / fan_in**0.5
        largest = float(rows[2:].detach().abs().max())
        assert 0.9 * bound < largest <= bound, (type(template).__name__, largest, bound)


def test_sibling_dtype_and_device_and_repr() -> None:
    sibling = Sibling(
        ConvGeometry.of(nn.Conv2d(2, 2, 3)), 2, 1, bias=False, dtype=torch.float64, device="cpu"
    )
    assert sibling.weight.dtype == torch.float64
    assert repr(sibling) == (
        "Sibling(2, 1, Conv2d(kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), "
        "dilation=(1, 1)), bias=False)"
    )


def test_geometry_ignores_channels_and_groups_but_not_shape_parameters() -> None:
    of = ConvGeometry.of
    assert of(nn.Conv2d(3, 5, 3, padding=1)) == of(nn.Conv2d(8, 1, 3, padding=1, groups=1))
    assert of(nn.Conv2d(4, 4, 3, padding=1, groups=2)) == of(nn.Conv2d(4, 4, 3, padding=1))
    assert of(nn.Conv2d(3, 5, 3, padding=1)) != of(nn.Conv2d(3, 5, 3, padding=0))
    assert of(nn.Conv2d(3, 5, 3, padding=1)) != of(
        nn.Conv2d(3, 5, 3, padding=1, padding_mode="reflect")
    )
    assert of(nn.Conv2d(3, 5, 3, stride=2)) != of(nn.ConvTranspose2d(3, 5, 3, stride=2))
    assert of(nn.Conv2d(3, 5, 3, padding="same")).describe() == (
        "Conv2d(kernel_size=(3, 3), stride=(1, 1), padding='same', dilation=(1, 1))"
    )
    assert of(nn.ConvTranspose2d(3, 5, 3, 2, 1, 1)).describe() == (
        "ConvTranspose2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "dilation=(1, 1), output_padding=(1, 1))"
    )
    with pytest.raises(TypeError, match=r"ConvGeometry.of\(\): expected an nn.Conv2d .*Linear"):
        of(nn.Linear(2, 2))


def test_conv_layers_in_registration_order() -> None:
    names = [n for n, _ in conv_layers(TwoHeadGenerator())]
    assert names == ["body", "image_head", "aux_head"]
    conv = nn.Conv2d(1, 1, 1)
    assert conv_layers(conv) == [("", conv)]
    assert conv_layers(nn.Sequential(nn.ReLU())) == []


def test_resolve_conv_errors() -> None:
    g = TwoHeadGenerator()
    assert resolve_conv("f", g, "aux_head") is g.aux_head
    with pytest.raises(
        ValueError,
        match=r"f\(\): layer='head' is not a submodule of the wrapped TwoHeadGenerator; "
        r"its convolutions are \['body', 'image_head', 'aux_head'\]",
    ):
        resolve_conv("f", g, "head")
    with pytest.raises(
        TypeError, match=r"f\(\): layer='' is TwoHeadGenerator, expected an nn.Conv2d"
    ):
        resolve_conv("f", g, "")
    with pytest.raises(TypeError, match=r"f\(\): 'layer' must be a dotted module name .* got int"):
        resolve_conv("f", g, 3)


def test_trace_convs_records_execution_order_and_leaves_no_trace() -> None:
    g = ResnetGenerator(norm_layer=nn.BatchNorm2d)
    g.model[2].eval()  # a mixed train/eval model must come back mixed
    before = {k: v.clone() for k, v in g.state_dict().items()}
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    calls, out = trace_convs(g, (x,))
    names = [n for n, _, _ in calls]
    assert names == [n for n, _ in conv_layers(g)]  # a Sequential runs in order
    assert calls[-1][1:] == (torch.Size([2, 4, 22, 22]), torch.Size([2, 3, 16, 16]))
    assert out.shape == (2, 3, 16, 16) and not out.requires_grad
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert g.training and not g.model[2].training and g.model[5].training
    assert all(not m._forward_hooks for m in g.modules())


def test_tap_removes_hooks_even_when_the_forward_raises() -> None:
    conv = nn.Conv2d(1, 1, 1)

    def boom(*_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), tap({"": conv}, boom):
        conv(torch.randn(1, 1, 2, 2))
    assert not conv._forward_hooks and not conv._forward_hooks_with_kwargs


def test_tap_replaces_the_output_and_ignores_replicas_sharing_its_hooks() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 1))
    (replica,) = replicate_like_data_parallel(net, 1)
    # The replica's conv shares the original's hook dictionaries...
    assert replica[0]._forward_hooks is net[0]._forward_hooks
    seen = []

    def plus_one(name, module, args, kwargs, out):
        seen.append(name)
        return out + 1

    x = torch.randn(1, 1, 3, 3)
    with tap({"0": net[0]}, plus_one):
        torch.testing.assert_close(replica(x), net[0](x) - 1)  # ...but is not hooked
        assert seen == ["0"]
        torch.testing.assert_close(net(x), replica(x) + 1)
    assert seen == ["0", "0"]


def test_tap_hook_called_for_a_replica_without_kwargs_is_a_no_op() -> None:
    # Module.__call__ copies the hook list, then asks per hook whether it takes kwargs;
    # a hook that a parallel replica's thread adds or removes in between is called for
    # this replica as hook(module, args, output). It must ignore that call, not raise.
    net = nn.Sequential(nn.Conv2d(1, 1, 1))
    (replica,) = replicate_like_data_parallel(net, 1)
    x = torch.randn(1, 1, 3, 3)
    with tap({"0": net[0]}, lambda name, module, args, kwargs, out: out + 1):
        (on_forward,) = net[0]._forward_hooks.values()
        assert on_forward(replica[0], (x,), replica[0](x)) is None
        assert on_forward(replica[0], (x,), {}, replica[0](x)) is None


def test_describe_calls() -> None:
    calls = [("a", torch.Size([1, 2])), ("b", torch.Size([3]))]
    assert describe_calls(calls) == "'b' -> (3,), 'a' -> (1, 2)"
    assert describe_calls([]) == "none"
