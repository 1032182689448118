"""The authors' networks (Ha0Tang/AttentionGAN) against reference forwards written here.

Each reference is a plain function of a state dict and the input, written from the
published description of the network (layer by layer, in the published order, with
the published composition of the output); the same random state dict goes into both.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from attnguide import AttentionHead, AttentionOutput, MaskConditionedDiscriminator
from attnguide.nets import (
    AUTHORS_GENERATORS,
    AGGANDiscriminator,
    AGGANGenerator,
    AGGANMultiGenerator,
    AttentionGANGenerator,
    StarGANDiscriminator,
    StarGANGenerator,
    attention_head_from_authors,
)
from attnguide.training import load_weights

TOL = {"rtol": 1e-5, "atol": 1e-5}
State = dict[str, Tensor]


def _randomise(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights, biases and (positive) running variances, so nothing is trivially 0/1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("norm.weight", "running_mean")) or t.ndim == 1:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2 + (1.0 if "weight" in name else 0))
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) / fan_in**0.5)
    return net


def _shapes(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]


def _pad(h: Tensor, p: int) -> Tensor:
    return F.pad(h, (p, p, p, p), mode="reflect")


# --- AttentionGAN scheme II ---------------------------------------------------------------


def reference_attentiongan(sd: State, x: Tensor, n_blocks: int) -> tuple[Tensor, Tensor, Tensor]:
    """``ResnetGenerator_our``: encoder, residual blocks, content and attention decoders;
    ``o = sum_i image_i * attention_i (i < 10) + input * attention_10``. Returns
    ``(o, attention (b, 10, h, w), image (b, 27, h, w))``."""

    def conv(h: Tensor, name: str, stride: int = 1, padding: int = 0) -> Tensor:
        return F.conv2d(h, sd[f"{name}.weight"], sd[f"{name}.bias"], stride, padding)

    def deconv(h: Tensor, name: str) -> Tensor:
        w, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
        return F.conv_transpose2d(h, w, b, stride=2, padding=1, output_padding=1)

    def block(h: Tensor, i: int) -> Tensor:
        r = F.relu(F.instance_norm(conv(_pad(h, 1), f"resnet_blocks.{i}.conv1")))
        return h + F.instance_norm(conv(_pad(r, 1), f"resnet_blocks.{i}.conv2"))

    h = F.relu(F.instance_norm(conv(_pad(x, 3), "conv1")))
    h = F.relu(F.instance_norm(conv(h, "conv2", 2, 1)))
    h = F.relu(F.instance_norm(conv(h, "conv3", 2, 1)))
    for i in range(n_blocks):
        h = block(h, i)
    c = F.relu(F.instance_norm(deconv(h, "deconv1_content")))
    c = F.relu(F.instance_norm(deconv(c, "deconv2_content")))
    image = torch.tanh(conv(_pad(c, 3), "deconv3_content"))
    a = F.relu(F.instance_norm(deconv(h, "deconv1_attention")))
    a = F.relu(F.instance_norm(deconv(a, "deconv2_attention")))
    attention = torch.softmax(conv(a, "deconv3_attention"), dim=1)
    o = x * attention[:, 9:10].repeat(1, 3, 1, 1)
    terms = [
        image[:, 3 * i : 3 * i + 3] * attention[:, i : i + 1].repeat(1, 3, 1, 1) for i in range(9)
    ]
    o = sum(terms) + o
    return o, attention, image


def _attentiongan_keys(ngf: int, n_blocks: int) -> list[tuple[str, tuple[int, ...]]]:
    """The published ``ResnetGenerator_our(3, 3, ngf, n_blocks)`` state dict, in order."""
    keys = [
        ("conv1.weight", (ngf, 3, 7, 7)),
        ("conv1.bias", (ngf,)),
        ("conv2.weight", (2 * ngf, ngf, 3, 3)),
        ("conv2.bias", (2 * ngf,)),
        ("conv3.weight", (4 * ngf, 2 * ngf, 3, 3)),
        ("conv3.bias", (4 * ngf,)),
    ]
    for i in range(n_blocks):
        for j in (1, 2):
            keys += [
                (f"resnet_blocks.{i}.conv{j}.weight", (4 * ngf, 4 * ngf, 3, 3)),
                (f"resnet_blocks.{i}.conv{j}.bias", (4 * ngf,)),
            ]
    for branch, out, k in (("content", 27, 7), ("attention", 10, 1)):
        keys += [
            (f"deconv1_{branch}.weight", (4 * ngf, 2 * ngf, 3, 3)),  # transposed: (in, out, ...)
            (f"deconv1_{branch}.bias", (2 * ngf,)),
            (f"deconv2_{branch}.weight", (2 * ngf, ngf, 3, 3)),
            (f"deconv2_{branch}.bias", (ngf,)),
            (f"deconv3_{branch}.weight", (out, ngf, k, k)),
            (f"deconv3_{branch}.bias", (out,)),
        ]
    return keys


def test_attentiongan_keys_and_shapes_are_the_published_ones() -> None:
    net = AttentionGANGenerator(device="meta")
    assert _shapes(net) == _attentiongan_keys(64, 9)
    assert len(net.state_dict()) == 6 + 9 * 4 + 12
    assert sum(p.numel() for p in net.parameters()) == 11_822_949
    assert _shapes(AttentionGANGenerator(ngf=4, n_blocks=2)) == _attentiongan_keys(4, 2)


@pytest.mark.parametrize(("ngf", "n_blocks", "size"), [(4, 2, (16, 16)), (8, 1, (24, 32))])
def test_attentiongan_is_the_reference_forward(ngf: int, n_blocks: int, size) -> None:
    net = _randomise(AttentionGANGenerator(ngf=ngf, n_blocks=n_blocks))
    x = torch.rand(2, 3, *size) * 2 - 1
    with torch.no_grad():
        out = net(x)
        image, attention, contents = reference_attentiongan(net.state_dict(), x, n_blocks)
    assert isinstance(out, AttentionOutput)
    torch.testing.assert_close(out.image, image, **TOL)
    torch.testing.assert_close(out.mask, attention, **TOL)
    torch.testing.assert_close(out.content.flatten(1, 2), contents, **TOL)
    torch.testing.assert_close(out.mask.sum(1), torch.ones(2, *size), **TOL)
    # tv: the foreground masks' total variation, as multi-mask heads report it.
    fg = attention[:, :9]
    tv = (fg.diff(dim=-1).abs().sum((1, 2, 3)) + fg.diff(dim=-2).abs().sum((1, 2, 3))).reshape(2)
    torch.testing.assert_close(out.tv, tv, rtol=1e-5, atol=1e-4)


# --- AGGAN (AttentionGAN-v1) ----------------------------------------------------------------


def _norm(sd: State, name: str, h: Tensor, norm: str, training: bool) -> Tensor:
    if norm == "instance":
        return F.instance_norm(h)
    mean, var = sd[f"{name}.running_mean"].clone(), sd[f"{name}.running_var"].clone()
    w, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
    return F.batch_norm(h, mean, var, w, b, training=training, momentum=0.1, eps=1e-5)


def reference_aggan(
    sd: State, x: Tensor, n_blocks: int, norm: str, training: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """``AttentionGAN-v1`` Generator: ``model`` = pad3, conv7, norm, relu; two (conv3 s2,
    norm, relu); blocks; two (pad1, conv3, norm, relu, conv1x1 x4, PixelShuffle(2), norm,
    relu); pad3, conv7 to 4. Returns ``(result, sigmoid(out[:, :1]), out[:, 1:])``."""

    def conv(h: Tensor, i: int, stride: int = 1, padding: int = 0) -> Tensor:
        return F.conv2d(h, sd[f"model.{i}.weight"], sd[f"model.{i}.bias"], stride, padding)

    def nrm(h: Tensor, name: str) -> Tensor:
        return _norm(sd, name, h, norm, training)

    h = F.relu(nrm(conv(_pad(x, 3), 1), "model.2"))
    h = F.relu(nrm(conv(h, 4, 2, 1), "model.5"))
    h = F.relu(nrm(conv(h, 7, 2, 1), "model.8"))
    i = 10
    for _ in range(n_blocks):
        p = f"model.{i}.conv_block"
        r = F.conv2d(_pad(h, 1), sd[f"{p}.1.weight"], sd[f"{p}.1.bias"])
        r = F.relu(nrm(r, f"{p}.2"))
        r = nrm(F.conv2d(_pad(r, 1), sd[f"{p}.5.weight"], sd[f"{p}.5.bias"]), f"{p}.6")
        h, i = h + r, i + 1
    for _ in range(2):  # i: the pad of each sub-pixel upsampling
        h = F.relu(nrm(conv(_pad(h, 1), i + 1), f"model.{i + 2}"))
        h = F.pixel_shuffle(conv(h, i + 4), 2)
        h = F.relu(nrm(h, f"model.{i + 6}"))
        i += 8
    out = conv(_pad(h, 3), i + 1)
    mask = torch.sigmoid(out[:, :1]).repeat(1, 3, 1, 1)
    content = out[:, 1:]
    return content * mask + x * (1 - mask), mask[:, :1], content


def _bn_keys(name: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (f"{name}.weight", (c,)),
        (f"{name}.bias", (c,)),
        (f"{name}.running_mean", (c,)),
        (f"{name}.running_var", (c,)),
        (f"{name}.num_batches_tracked", ()),
    ]


def _aggan_keys(ngf: int, n_blocks: int, norm: str = "batch") -> list[tuple[str, tuple[int, ...]]]:
    """The published ``Generator(3, 4, ngf, nn.BatchNorm2d, n_blocks=n_blocks)`` state dict
    (``nn.InstanceNorm2d`` for ``norm="instance"``: no norm entries)."""

    def _bn(name: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
        return _bn_keys(name, c) if norm == "batch" else []

    keys = [("model.1.weight", (ngf, 3, 7, 7)), ("model.1.bias", (ngf,)), *_bn("model.2", ngf)]
    keys += [("model.4.weight", (2 * ngf, ngf, 3, 3)), ("model.4.bias", (2 * ngf,))]
    keys += _bn("model.5", 2 * ngf)
    keys += [("model.7.weight", (4 * ngf, 2 * ngf, 3, 3)), ("model.7.bias", (4 * ngf,))]
    keys += _bn("model.8", 4 * ngf)
    i = 10
    for _ in range(n_blocks):
        for j in (1, 5):
            keys += [
                (f"model.{i}.conv_block.{j}.weight", (4 * ngf, 4 * ngf, 3, 3)),
                (f"model.{i}.conv_block.{j}.bias", (4 * ngf,)),
            ]
            keys += _bn(f"model.{i}.conv_block.{j + 1}", 4 * ngf)
        i += 1
    for c in (4 * ngf, 2 * ngf):
        half = c // 2
        keys += [(f"model.{i + 1}.weight", (half, c, 3, 3)), (f"model.{i + 1}.bias", (half,))]
        keys += _bn(f"model.{i + 2}", half)
        keys += [(f"model.{i + 4}.weight", (4 * half, half, 1, 1))]
        keys += [(f"model.{i + 4}.bias", (4 * half,))]
        keys += _bn(f"model.{i + 6}", half)
        i += 8
    keys += [(f"model.{i + 1}.weight", (4, ngf, 7, 7)), (f"model.{i + 1}.bias", (4,))]
    return keys


def test_aggan_keys_and_shapes_are_the_published_ones() -> None:
    net = AGGANGenerator(device="meta")
    expected = _aggan_keys(64, 6)
    assert _shapes(net) == expected
    assert expected[-2][0] == "model.33.weight"  # pad3 at 32, the output conv at 33
    assert sum(p.numel() for p in net.parameters()) == 7_931_332
    assert _shapes(AGGANGenerator(ngf=4, n_blocks=2)) == _aggan_keys(4, 2)
    # With instance norm (PyTorch's defaults: no affine, no statistics) only convs remain.
    inorm = AGGANGenerator(ngf=4, n_blocks=2, norm="instance")
    assert _shapes(inorm) == _aggan_keys(4, 2, norm="instance")


@pytest.mark.parametrize("norm", ["batch", "instance"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_aggan_is_the_reference_forward(norm: str, mode: str) -> None:
    net = _randomise(AGGANGenerator(ngf=4, n_blocks=2, norm=norm))
    getattr(net, mode)()
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(3, 3, 16, 20) * 2 - 1
    with torch.no_grad():
        out = net(x)
        image, mask, content = reference_aggan(sd, x, 2, norm, training=mode == "train")
    torch.testing.assert_close(out.image, image, **TOL)
    torch.testing.assert_close(out.mask, mask, **TOL)
    torch.testing.assert_close(out.content, content, **TOL)
    assert out.mask.shape == (3, 1, 16, 20) and out.tv.shape == (3,)


def reference_aggan_discriminator(sd: State, x: Tensor, training: bool) -> Tensor:
    """``conv_tower``: 4 x (conv4 s2 unpadded, BN, LeakyReLU 0.01), conv4, LeakyReLU,
    average pool, conv1x1."""
    h = x
    for conv, bn in ((0, 1), (3, 4), (6, 7), (9, 10)):
        w, b = sd[f"conv_tower.{conv}.weight"], sd[f"conv_tower.{conv}.bias"]
        h = F.conv2d(h, w, b, stride=2)
        h = F.leaky_relu(_norm(sd, f"conv_tower.{bn}", h, "batch", training), 0.01)
    h = F.leaky_relu(F.conv2d(h, sd["conv_tower.12.weight"], sd["conv_tower.12.bias"]), 0.01)
    h = F.adaptive_avg_pool2d(h, 1)
    return F.conv2d(h, sd["conv_tower.15.weight"], sd["conv_tower.15.bias"])


def test_aggan_discriminator_keys_and_reference_forward() -> None:
    expected = [("conv_tower.0.weight", (64, 3, 4, 4)), ("conv_tower.0.bias", (64,))]
    expected += _bn_keys("conv_tower.1", 64)
    for i, (cin, cout) in zip((3, 6, 9), ((64, 128), (128, 256), (256, 512)), strict=True):
        expected += [
            (f"conv_tower.{i}.weight", (cout, cin, 4, 4)),
            (f"conv_tower.{i}.bias", (cout,)),
        ]
        expected += _bn_keys(f"conv_tower.{i + 1}", cout)
    expected += [("conv_tower.12.weight", (512, 512, 4, 4)), ("conv_tower.12.bias", (512,))]
    expected += [("conv_tower.15.weight", (1, 512, 1, 1)), ("conv_tower.15.bias", (1,))]
    assert _shapes(AGGANDiscriminator(device="meta")) == expected
    assert sum(p.numel() for p in AGGANDiscriminator(device="meta").parameters()) == 6_953_793

    D = _randomise(AGGANDiscriminator(ndf=4))
    x = torch.rand(2, 3, 96, 100)
    for mode in ("train", "eval"):
        getattr(D, mode)()
        sd = {k: v.clone() for k, v in D.state_dict().items()}
        with torch.no_grad():
            torch.testing.assert_close(
                D(x), reference_aggan_discriminator(sd, x, mode == "train").flatten(), **TOL
            )
    with pytest.raises(ValueError, match=r"at least 94 .*got shape \(2, 3, 64, 96\)"):
        D(torch.rand(2, 3, 64, 96))
    wrapped = MaskConditionedDiscriminator(D)
    assert wrapped(x, torch.rand(2, 1, 96, 100)).shape == (2,)


# --- AGGAN multi-domain (AttentionGAN-v1-multi) ---------------------------------------------


def reference_aggan_multi(
    sd: State, x: Tensor, c: Tensor, repeat_num: int, training: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """``AttentionGAN-v1-multi`` Generator: StarGAN's ``main`` with a 4-channel bias-free
    output conv and no tanh; sigmoid mask from channel 0."""

    def inorm(h: Tensor, i: int) -> Tensor:
        p = f"main.{i}"
        return F.instance_norm(
            h,
            sd[f"{p}.running_mean"].clone(),
            sd[f"{p}.running_var"].clone(),
            sd[f"{p}.weight"],
            sd[f"{p}.bias"],
            use_input_stats=training,
        )

    h = torch.cat([x, c[:, :, None, None].repeat(1, 1, *x.shape[-2:])], dim=1)
    h = F.relu(inorm(F.conv2d(h, sd["main.0.weight"], padding=3), 1))
    h = F.relu(inorm(F.conv2d(h, sd["main.3.weight"], stride=2, padding=1), 4))
    h = F.relu(inorm(F.conv2d(h, sd["main.6.weight"], stride=2, padding=1), 7))
    for i in range(9, 9 + repeat_num):
        p = f"main.{i}.main"

        def bnorm(t: Tensor, j: int, p: str = p) -> Tensor:
            return F.instance_norm(
                t,
                sd[f"{p}.{j}.running_mean"].clone(),
                sd[f"{p}.{j}.running_var"].clone(),
                sd[f"{p}.{j}.weight"],
                sd[f"{p}.{j}.bias"],
                use_input_stats=training,
            )

        r = F.relu(bnorm(F.conv2d(h, sd[f"{p}.0.weight"], padding=1), 1))
        h = h + bnorm(F.conv2d(r, sd[f"{p}.3.weight"], padding=1), 4)
    i = 9 + repeat_num
    for _ in range(2):
        h = F.conv_transpose2d(h, sd[f"main.{i}.weight"], stride=2, padding=1)
        h = F.relu(inorm(h, i + 1))
        i += 3
    out = F.conv2d(h, sd[f"main.{i}.weight"], padding=3)
    mask = torch.sigmoid(out[:, :1]).repeat(1, 3, 1, 1)
    return out[:, 1:] * mask + x * (1 - mask), mask[:, :1], out[:, 1:]


def _in(name: str, c: int) -> list[tuple[str, tuple[int, ...]]]:
    return _bn_keys(name, c)  # affine instance norm with running statistics: the same five


def _multi_keys(conv_dim: int, c_dim: int, repeat_num: int) -> list[tuple[str, tuple[int, ...]]]:
    d = conv_dim
    keys = [("main.0.weight", (d, 3 + c_dim, 7, 7)), *_in("main.1", d)]
    keys += [("main.3.weight", (2 * d, d, 4, 4)), *_in("main.4", 2 * d)]
    keys += [("main.6.weight", (4 * d, 2 * d, 4, 4)), *_in("main.7", 4 * d)]
    for i in range(9, 9 + repeat_num):
        keys += [(f"main.{i}.main.0.weight", (4 * d, 4 * d, 3, 3)), *_in(f"main.{i}.main.1", 4 * d)]
        keys += [(f"main.{i}.main.3.weight", (4 * d, 4 * d, 3, 3)), *_in(f"main.{i}.main.4", 4 * d)]
    i = 9 + repeat_num
    keys += [(f"main.{i}.weight", (4 * d, 2 * d, 4, 4)), *_in(f"main.{i + 1}", 2 * d)]
    keys += [(f"main.{i + 3}.weight", (2 * d, d, 4, 4)), *_in(f"main.{i + 4}", d)]
    keys += [(f"main.{i + 6}.weight", (4, d, 7, 7))]
    return keys


def test_aggan_multi_keys_and_shapes_are_the_published_ones() -> None:
    net = AGGANMultiGenerator(c_dim=8, device="meta")  # RaFD: 8 expressions
    assert _shapes(net) == _multi_keys(64, 8, 6)
    assert sum(p.numel() for p in net.parameters()) == 8_443_072
    assert _shapes(AGGANMultiGenerator(8, 3, 1)) == _multi_keys(8, 3, 1)
    # Its discriminator is StarGAN's: the same module, keys and all.
    stargan_keys = [(k, s) for k, s in _shapes(StarGANGenerator(8, 3, 1))]
    assert [k for k, _ in stargan_keys] == [k for k, _ in _multi_keys(8, 3, 1)]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_aggan_multi_is_the_reference_forward(mode: str) -> None:
    net = _randomise(AGGANMultiGenerator(conv_dim=8, c_dim=3, repeat_num=2))
    getattr(net, mode)()
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    x, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.eye(3)[[0, 2]]
    with torch.no_grad():
        out = net(x, c)
        image, mask, content = reference_aggan_multi(sd, x, c, 2, training=mode == "train")
    torch.testing.assert_close(out.image, image, **TOL)
    torch.testing.assert_close(out.mask, mask, **TOL)
    torch.testing.assert_close(out.content, content, **TOL)


# --- checkpoints ------------------------------------------------------------------------------


def _small(arch: str) -> torch.nn.Module:
    return {
        "attentiongan": lambda: AttentionGANGenerator(ngf=4, n_blocks=1),
        "aggan": lambda: AGGANGenerator(ngf=4, n_blocks=1),
        "aggan-multi": lambda: AGGANMultiGenerator(conv_dim=4, c_dim=3, repeat_num=1),
    }[arch]()


def _call(net: torch.nn.Module, x: Tensor) -> AttentionOutput:
    if isinstance(net, AGGANMultiGenerator):
        return net(x, torch.eye(3)[[1, 2]])
    return net(x)


@pytest.mark.parametrize("arch", sorted(AUTHORS_GENERATORS))
def test_a_torch_save_checkpoint_in_the_authors_layout_loads_by_name(
    arch: str, tmp_path: Path
) -> None:
    saved = _randomise(_small(arch), seed=3).eval()
    # What the authors' code writes: torch.save of the bare state dict (CPU tensors).
    path = tmp_path / "latest_net_G.pth"
    torch.save(saved.state_dict(), path)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for weights in (torch.load(path, weights_only=True), load_weights(path)):
        fresh = _small(arch).eval()
        assert isinstance(fresh, AUTHORS_GENERATORS[arch])
        fresh.load_state_dict(weights)  # strict: every key by name
        with torch.no_grad():
            for a, b in zip(_call(fresh, x), _call(saved, x), strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_pickle_with_a_code_payload_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    state = dict(AGGANGenerator(ngf=2, n_blocks=1).state_dict())
    state["model.1.weight"] = Payload()  # type: ignore[assignment]
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="holds objects that would run code to load"):
        load_weights(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()


# --- conversion into AttentionHead ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_multi_conversion_is_exact_over_stargan_generator(mode: str) -> None:
    net = getattr(_randomise(AGGANMultiGenerator(conv_dim=8, c_dim=3, repeat_num=2)), mode)()
    head = attention_head_from_authors(net)
    assert isinstance(head, AttentionHead) and head.training == (mode == "train")
    assert isinstance(head.generator, StarGANGenerator)
    # The authors' content has no tanh: the converted generator ends without one.
    assert isinstance(head.generator.main[-1], torch.nn.Identity)
    assert head.generator.main[-2].weight.shape[0] == 3
    x, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.eye(3)[[2, 0]]
    with torch.no_grad():
        expected, got = net(x, c), head(x, c)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    # net is untouched and still emits 4 channels.
    assert net.main[-1].weight.shape[0] == 4


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_aggan_conversion_is_exact(norm: str) -> None:
    net = _randomise(AGGANGenerator(ngf=4, n_blocks=2, norm=norm)).eval()
    head = attention_head_from_authors(net)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        for a, b in zip(head(x), net(x), strict=True):
            torch.testing.assert_close(a, b, **TOL)
    assert torch.equal(head.mask_conv.bias, net.model[-1].bias[:1])
    assert list(head.generator.state_dict())[-1] == "model.29.bias"  # 10 + 2 blocks + 16 + 1
    # The head trains: every parameter gets a gradient.
    head.train()
    out = head(x)
    (out.image.sum() + out.tv.sum()).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_scheme_ii_and_other_modules_are_not_converted() -> None:
    with pytest.raises(
        TypeError, match=r"'net' must be an AGGANGenerator .*got AttentionGANGenerator"
    ):
        attention_head_from_authors(AttentionGANGenerator(ngf=2, n_blocks=0))  # type: ignore[arg-type]


# --- arguments and inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: AttentionGANGenerator(ngf=0),
            ValueError,
            r"AttentionGANGenerator\(\): 'ngf' must be >= 1, got 0",
        ),
        (lambda: AGGANGenerator(n_blocks=1.5), TypeError, "'n_blocks' must be an int"),
        (
            lambda: AGGANGenerator(norm="group"),
            ValueError,
            r"'norm' must be one of \('batch', 'instance'\), got 'group'",
        ),
        (lambda: AGGANMultiGenerator(c_dim=0), ValueError, "'c_dim' must be >= 1"),
        (lambda: AGGANDiscriminator(ndf=-1), ValueError, "'ndf' must be >= 1"),
    ],
)
def test_bad_arguments_are_named(build, error, match: str) -> None:
    with pytest.raises(error, match=match):
        build()


def test_bad_inputs_are_named() -> None:
    G = AttentionGANGenerator(ngf=2, n_blocks=0)
    with pytest.raises(ValueError, match=r"multiples of 4 .*got 18x16"):
        G(torch.rand(1, 3, 18, 16))
    with pytest.raises(ValueError, match=r"'x' must have shape \(b 3 h w\)"):
        G(torch.rand(1, 1, 16, 16))
    with pytest.raises(TypeError, match="'x' must be a floating-point tensor"):
        AGGANGenerator(ngf=2, n_blocks=0)(torch.zeros(1, 3, 16, 16, dtype=torch.long))
    M = AGGANMultiGenerator(conv_dim=2, c_dim=3, repeat_num=0)
    with pytest.raises(ValueError, match=r"'c' has shape \(1, 4\).*n=3 from 'c_dim'"):
        M(torch.rand(1, 3, 16, 16), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"'x' has shape \(1, 4, 96, 96\).*c=3 from 'in_channels'"):
        AGGANDiscriminator(ndf=2)(torch.rand(1, 4, 96, 96))


def test_paper_discriminator_of_scheme_ii_is_our_patchgan_and_stargans_is_ours() -> None:
    """Scheme II trains CycleGAN's NLayerDiscriminator (our PatchDiscriminator, keys
    tested in test_patchgan.py); the multi-domain AGGAN trains StarGAN's."""
    D = StarGANDiscriminator(image_size=128, conv_dim=64, c_dim=8, repeat_num=6, device="meta")
    assert sum(p.numel() for p in D.parameters()) == 44_786_624
    # Table III (RaFD, m=8): StarGAN 53.2M, matched; the authors' multi-domain AGGAN adds
    # one output channel (64 * 7 * 7 weights), so 53.2M too, where the table says 52.6M.
    G = StarGANGenerator(conv_dim=64, c_dim=8, repeat_num=6, device="meta")
    assert sum(p.numel() for p in G.parameters()) == 8_439_936
    M = AGGANMultiGenerator(c_dim=8, device="meta")
    assert sum(p.numel() for p in M.parameters()) - 8_439_936 == 64 * 7 * 7


def test_the_forward_benchmark_runs_and_writes_json(tmp_path: Path, capsys) -> None:
    import importlib.util
    import json

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "bench", root / "benchmarks/bench_authors_forward.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "out.json"
    args = f"--size 16 --ngf 4 --n-blocks 1 --repeats 2 --output {out}"
    threads = torch.get_num_threads()
    try:
        assert bench.main(args.split()) == 0
    finally:
        torch.set_num_threads(threads)
    report = json.loads(out.read_text())
    assert report["environment"]["torch"] == torch.__version__
    assert [r["provider"] for r in report["rows"]] == ["authors", "attnguide"]
    assert all(r["max_abs_diff_to_authors"] <= 1e-5 for r in report["rows"])
    assert "| attnguide | 16² |" in capsys.readouterr().out


@pytest.mark.parametrize("arch", sorted(AUTHORS_GENERATORS))
def test_every_parameter_gets_a_finite_gradient(arch: str) -> None:
    net = _small(arch).train()
    out = _call(net, torch.rand(2, 3, 16, 16) * 2 - 1)
    (out.image * torch.randn_like(out.image)).sum().add(out.tv.sum()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
