from __future__ import annotations

import pytest
import torch
from torch import nn

from attnguide.nets import ResnetGenerator


def _conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def _expected_parameters(cin: int, cout: int, ngf: int, n_blocks: int, norm: str) -> int:
    """Counts CycleGAN's ResNet generator layer by layer."""
    bias = norm == "instance"  # conv biases only with (non-affine) instance norm

    def norm_params(c: int) -> int:
        return 2 * c if norm == "batch" else 0

    total = _conv(cin, ngf, 7, bias) + norm_params(ngf)  # c7s1-ngf
    total += _conv(ngf, 2 * ngf, 3, bias) + norm_params(2 * ngf)  # d(2ngf)
    total += _conv(2 * ngf, 4 * ngf, 3, bias) + norm_params(4 * ngf)  # d(4ngf)
    total += n_blocks * 2 * (_conv(4 * ngf, 4 * ngf, 3, bias) + norm_params(4 * ngf))
    # Transposed convolutions hold in*out*k*k weights too.
    total += _conv(4 * ngf, 2 * ngf, 3, bias) + norm_params(2 * ngf)  # u(2ngf)
    total += _conv(2 * ngf, ngf, 3, bias) + norm_params(ngf)  # u(ngf)
    total += _conv(ngf, cout, 7, True)  # c7s1-out, always with a bias
    return total


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_generator_parameter_count() -> None:
    net = ResnetGenerator(3, 3, ngf=64, n_blocks=9)
    expected = _expected_parameters(3, 3, 64, 9, "instance")
    assert _count(net) == expected
    assert 11.3e6 < expected < 11.4e6  # "about 11.4M", as reported for CycleGAN


@pytest.mark.parametrize(
    ("cin", "cout", "ngf", "n_blocks", "norm"),
    [(3, 3, 64, 9, "batch"), (1, 4, 8, 3, "instance"), (4, 2, 5, 0, "batch")],
)
def test_parameter_count_other_configurations(cin, cout, ngf, n_blocks, norm) -> None:
    net = ResnetGenerator(cin, cout, ngf=ngf, n_blocks=n_blocks, norm=norm)
    assert _count(net) == _expected_parameters(cin, cout, ngf, n_blocks, norm)


def test_state_dict_keys_follow_cyclegan_layout() -> None:
    net = ResnetGenerator(ngf=2)
    keys = set(net.state_dict())
    convs = [1, 4, 7, 19, 22, 26]  # reflect pad, conv, norm, relu; blocks at 10..18
    blocks = [
        f"model.{i}.conv_block.{j}.{p}"
        for i in range(10, 19)
        for j in (1, 5)
        for p in ("weight", "bias")
    ]
    expected = {f"model.{i}.{p}" for i in convs for p in ("weight", "bias")} | set(blocks)
    assert keys == expected
    assert isinstance(net.model[27], nn.Tanh)


@pytest.mark.parametrize(
    ("size", "ngf", "n_blocks", "cin", "cout"),
    [(64, 8, 2, 3, 3), (128, 4, 1, 1, 4), (256, 2, 1, 3, 3)],
)
def test_output_shape_and_range(size, ngf, n_blocks, cin, cout) -> None:
    net = ResnetGenerator(cin, cout, ngf=ngf, n_blocks=n_blocks)
    with torch.no_grad():
        out = net(torch.randn(2, cin, size, size // 2))
    assert out.shape == (2, cout, size, size // 2)
    assert out.dtype == torch.float32
    assert bool(((out >= -1) & (out <= 1)).all())


@pytest.mark.parametrize(
    ("norm", "padding"), [("instance", "reflect"), ("batch", "replicate"), ("instance", "zeros")]
)
def test_every_parameter_gets_a_finite_gradient(norm, padding) -> None:
    net = ResnetGenerator(3, 3, ngf=4, n_blocks=2, norm=norm, padding=padding)
    out = net(torch.randn(2, 3, 16, 12))
    assert torch.isfinite(out).all()
    (out * torch.randn_like(out)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_padding_modes_build_the_matching_layers() -> None:
    def pads(net: nn.Module) -> set[type]:
        return {
            type(m)
            for m in net.modules()
            if isinstance(
                m, nn.modules.padding._ReflectionPadNd | nn.modules.padding._ReplicationPadNd
            )
        }

    assert pads(ResnetGenerator(ngf=2, n_blocks=1)) == {nn.ReflectionPad2d}
    assert pads(ResnetGenerator(ngf=2, n_blocks=1, padding="replicate")) == {nn.ReplicationPad2d}
    zeros = ResnetGenerator(ngf=2, n_blocks=1, padding="zeros")
    assert pads(zeros) == set()
    assert {m.padding for m in zeros.modules() if type(m) is nn.Conv2d and m.stride == (1, 1)} == {
        (3, 3),
        (1, 1),
    }


def test_padding_modes_differ_at_the_border() -> None:
    x = torch.randn(1, 3, 16, 16)
    outs = {}
    for padding in ("reflect", "replicate", "zeros"):
        torch.manual_seed(0)
        with torch.no_grad():
            outs[padding] = ResnetGenerator(ngf=2, n_blocks=1, padding=padding)(x)
    assert not torch.allclose(outs["reflect"], outs["replicate"])
    assert not torch.allclose(outs["reflect"], outs["zeros"])


def test_device_and_dtype_arguments() -> None:
    net = ResnetGenerator(ngf=2, n_blocks=1, norm="batch", dtype=torch.float64)
    assert {p.dtype for p in net.parameters()} == {torch.float64}
    assert {b.dtype for b in net.buffers() if b.is_floating_point()} == {torch.float64}
    out = net(torch.randn(1, 3, 8, 8, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert {p.device.type for p in ResnetGenerator(ngf=2, device="meta").parameters()} == {"meta"}


def test_batch_norm_convolutions_have_no_bias_but_the_last() -> None:
    net = ResnetGenerator(ngf=2, n_blocks=2, norm="batch")
    convs = [m for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    assert [m.bias is not None for m in convs] == [False] * (len(convs) - 1) + [True]
    assert all(
        m.bias is not None
        for m in ResnetGenerator(ngf=2, n_blocks=2).modules()
        if isinstance(m, nn.modules.conv._ConvNd)
    )


@pytest.mark.parametrize("shape", [(1, 3, 30, 32), (1, 3, 32, 18), (1, 3, 4, 4)])
def test_forward_rejects_sizes_it_cannot_take(shape) -> None:
    net = ResnetGenerator(ngf=2, n_blocks=1)
    h, w = shape[-2:]
    with pytest.raises(ValueError, match=rf"multiples of 4 .* at least 8 .*got {h}x{w}"):
        net(torch.randn(shape))


def test_forward_rejects_bad_tensors() -> None:
    net = ResnetGenerator(ngf=2, n_blocks=1)
    with pytest.raises(
        ValueError, match=r"ResnetGenerator.forward\(\): 'x' must have 4 dimensions"
    ):
        net(torch.randn(3, 8, 8))
    with pytest.raises(TypeError, match=r"'x' must be a floating-point tensor, got torch\.int64"):
        net(torch.zeros(1, 3, 8, 8, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ngf": 0}, ValueError, r"ResnetGenerator\(\): 'ngf' must be >= 1, got 0"),
        ({"n_blocks": -1}, ValueError, "'n_blocks' must be >= 0, got -1"),
        ({"ngf": 2.0}, TypeError, "'ngf' must be an int, got float"),
        ({"in_channels": True}, TypeError, "'in_channels' must be an int, got bool"),
        ({"out_channels": 0}, ValueError, "'out_channels' must be >= 1, got 0"),
        (
            {"norm": "group"},
            ValueError,
            r"'norm' must be one of \('instance', 'batch'\), got 'group'",
        ),
        ({"padding": "circular"}, ValueError, r"'padding' must be one of .*got 'circular'"),
    ],
)
def test_constructor_validation(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        ResnetGenerator(**kwargs)


def test_channels_last_input_gives_the_same_output() -> None:
    net = ResnetGenerator(ngf=4, n_blocks=1)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = net(x)
        out = net(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("upsample", ["transpose", "resize", "subpixel"])
def test_upsamplings_keep_size_and_the_later_layers_keys(upsample: str) -> None:
    from attnguide import AttentionHead

    net = ResnetGenerator(3, 3, ngf=4, n_blocks=1, upsample=upsample)
    assert net(torch.randn(2, 3, 16, 12)).shape == (2, 3, 16, 12)
    keys = set(net.state_dict())
    reference = set(ResnetGenerator(3, 3, ngf=4, n_blocks=1).state_dict())
    # Only the two upsampling layers' keys differ; the output conv keeps its key.
    assert {k for k in keys ^ reference if not k.startswith(("model.11.", "model.14."))} == set()
    out = AttentionHead(net)(torch.randn(1, 3, 16, 16))
    assert out.mask.shape == (1, 1, 16, 16)


def _upsamplers(upsample: str) -> list[torch.nn.Module]:
    net = ResnetGenerator(1, 1, ngf=2, n_blocks=0, upsample=upsample)
    layers = [
        m for m in net.model if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Sequential))
    ]
    for layer in layers:
        for p in layer.parameters():
            torch.nn.init.ones_(p) if p.ndim > 1 else torch.nn.init.zeros_(p)
    return layers


@pytest.mark.parametrize(("upsample", "even"), [("transpose", False), ("resize", True)])
def test_resize_upsampling_draws_no_checkerboard(upsample: str, even: bool) -> None:
    # A constant input through one upsampling with all-ones weights: the transposed
    # conv's uneven overlap gives a 2x2-periodic pattern, resize + conv an even image.
    first = _upsamplers(upsample)[0]
    inner = first(torch.ones(1, 8, 6, 6))[0, 0, 2:-2, 2:-2]
    assert (inner.unique().numel() == 1) == even


def test_unknown_upsampling_is_refused() -> None:
    with pytest.raises(ValueError, match="'upsample' must be one of"):
        ResnetGenerator(upsample="bilinear")
