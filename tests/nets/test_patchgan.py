from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from attnguide.nets import PatchDiscriminator


def _conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def _expected_parameters(cin: int, ndf: int, n_layers: int, norm: str, head: str) -> int:
    """Counts CycleGAN's NLayerDiscriminator (plus the pooled head) layer by layer."""
    bias = norm == "instance"
    total = _conv(cin, ndf, 4, True)  # C64 without norm keeps its bias
    widths = [ndf * min(2**n, 8) for n in range(n_layers + 1)]
    for prev, width in itertools.pairwise(widths):
        total += _conv(prev, width, 4, bias) + (2 * width if norm == "batch" else 0)
    total += _conv(widths[-1], 1, 4 if head == "patch" else 1, True)
    return total


def _patch_side(size: int, n_layers: int) -> int:
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1  # 4x4, stride 2, padding 1
    return size - 1 - 1  # two 4x4 stride-1 convolutions with padding 1


def test_paper_discriminator_parameter_count() -> None:
    net = PatchDiscriminator(3, ndf=64, n_layers=3)
    assert sum(p.numel() for p in net.parameters()) == _expected_parameters(
        3, 64, 3, "instance", "patch"
    )


@pytest.mark.parametrize(
    ("cin", "ndf", "n_layers", "norm", "head"),
    [(4, 64, 3, "instance", "pool"), (3, 8, 5, "batch", "patch"), (1, 4, 1, "batch", "pool")],
)
def test_parameter_count_other_configurations(cin, ndf, n_layers, norm, head) -> None:
    net = PatchDiscriminator(cin, ndf=ndf, n_layers=n_layers, norm=norm, head=head)
    assert sum(p.numel() for p in net.parameters()) == _expected_parameters(
        cin, ndf, n_layers, norm, head
    )


@pytest.mark.parametrize(("size", "ndf"), [(64, 8), (128, 4), (256, 2)])
def test_patch_head_output_shape(size: int, ndf: int) -> None:
    net = PatchDiscriminator(3, ndf=ndf)
    with torch.no_grad():
        out = net(torch.randn(2, 3, size, size))
    side = _patch_side(size, 3)
    assert out.shape == (2, 1, side, side)
    if size == 256:
        assert side == 30  # CycleGAN's 30x30 map of 70x70 patches


@pytest.mark.parametrize(("size", "ndf"), [(64, 8), (128, 4), (256, 2)])
def test_pool_head_gives_one_score_per_image(size: int, ndf: int) -> None:
    net = PatchDiscriminator(4, ndf=ndf, head="pool")
    with torch.no_grad():
        out = net(torch.randn(3, 4, size, size // 2))
    assert out.shape == (3,)
    assert out.dtype == torch.float32


def test_pool_head_is_a_linear_function_of_the_pooled_features() -> None:
    net = PatchDiscriminator(3, ndf=4, head="pool")
    x = torch.randn(2, 3, 40, 32)
    with torch.no_grad():
        features = net.model[:-2](x).mean(dim=(2, 3))
        conv = net.model[-1]
        expected = features @ conv.weight.flatten(1).T + conv.bias
        torch.testing.assert_close(net(x), expected.squeeze(1))


def test_receptive_field_is_70_pixels() -> None:
    # Batch norm in eval mode acts per pixel, so the gradient of one output reaches
    # exactly its receptive field (instance norm would spread it through its statistics).
    net = PatchDiscriminator(3, ndf=2, norm="batch").eval()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    out = net(x)
    out[0, 0, 5, 6].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3))).flatten()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
    assert int(rows[-1] - rows[0]) + 1 == 70
    assert int(cols[-1] - cols[0]) + 1 == 70
    # Outputs step by 8 input pixels; the paddings shift the field by
    # 1 + 2 + 4 (stride-2 layers) + 8 + 8 (stride-1 layers) = 23 pixels.
    assert int(rows[0]) == 5 * 8 - 23 and int(cols[0]) == 6 * 8 - 23


@pytest.mark.parametrize(("norm", "head"), [("instance", "patch"), ("batch", "pool")])
def test_every_parameter_gets_a_finite_gradient(norm: str, head: str) -> None:
    net = PatchDiscriminator(3, ndf=4, norm=norm, head=head)
    out = net(torch.randn(2, 3, 32, 32))
    assert torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_state_dict_keys_follow_cyclegan_layout() -> None:
    keys = set(PatchDiscriminator(ndf=2).state_dict())
    # conv, lrelu, then (conv, norm, lrelu) x 3, then the head conv; instance norm has
    # no parameters and keeps the conv biases.
    convs = (0, 2, 5, 8, 11)
    assert keys == {f"model.{i}.{p}" for i in convs for p in ("weight", "bias")}


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_min_size_is_the_smallest_input_that_works(n_layers: int) -> None:
    net = PatchDiscriminator(3, ndf=2, n_layers=n_layers)
    m = net.min_size
    assert net(torch.randn(1, 3, m, m)).shape[-1] >= 1
    with pytest.raises(ValueError, match=rf"at least {m} for n_layers={n_layers}, got {m - 1}x{m}"):
        net(torch.randn(1, 3, m - 1, m))
    # Below the bound, the network itself fails too.
    with pytest.raises((RuntimeError, ValueError)):
        net.model(torch.randn(1, 3, m - 1, m - 1))
    if n_layers == 3:
        assert m == 24


def test_device_and_dtype_arguments() -> None:
    net = PatchDiscriminator(3, ndf=2, norm="batch", head="pool", dtype=torch.float64)
    assert {p.dtype for p in net.parameters()} == {torch.float64}
    assert net(torch.randn(2, 3, 24, 24, dtype=torch.float64)).dtype == torch.float64
    assert {p.device.type for p in PatchDiscriminator(ndf=2, device="meta").parameters()} == {
        "meta"
    }


def test_forward_rejects_bad_tensors() -> None:
    net = PatchDiscriminator(3, ndf=2)
    with pytest.raises(
        ValueError, match=r"PatchDiscriminator.forward\(\): 'x' must have 4 dimensions"
    ):
        net(torch.randn(3, 32, 32))
    with pytest.raises(TypeError, match=r"'x' must be a floating-point tensor, got torch\.uint8"):
        net(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ndf": 0}, ValueError, r"PatchDiscriminator\(\): 'ndf' must be >= 1, got 0"),
        ({"n_layers": 0}, ValueError, "'n_layers' must be >= 1, got 0"),
        ({"in_channels": 3.0}, TypeError, "'in_channels' must be an int, got float"),
        (
            {"norm": "layer"},
            ValueError,
            r"'norm' must be one of \('instance', 'batch'\), got 'layer'",
        ),
        ({"head": "avg"}, ValueError, r"'head' must be one of \('patch', 'pool'\), got 'avg'"),
    ],
)
def test_constructor_validation(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        PatchDiscriminator(**kwargs)


def test_batch_norm_layers_drop_the_redundant_biases() -> None:
    convs = [
        m for m in PatchDiscriminator(ndf=2, norm="batch").modules() if isinstance(m, nn.Conv2d)
    ]
    assert [m.bias is not None for m in convs] == [True, False, False, False, True]
