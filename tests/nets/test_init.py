from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attnguide.nets import PatchDiscriminator, ResnetGenerator, init_weights


def _model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(32, 64, 5),
        nn.BatchNorm2d(4096),
        nn.ConvTranspose2d(64, 32, 5),
        nn.Sequential(nn.Linear(256, 128), nn.GroupNorm(4, 4096)),
        nn.LayerNorm(4096),
        nn.InstanceNorm2d(4096, affine=True),
        nn.InstanceNorm2d(8),  # no affine parameters: nothing to initialise
    )


def _assert_normal(t: torch.Tensor, mean: float, std: float) -> None:
    # Sample mean and std of n normal draws are within a few std / sqrt(n) of the truth.
    t, n = t.detach(), t.numel()
    assert n >= 4096
    assert abs(float(t.mean()) - mean) < 5 * std / math.sqrt(n)
    assert abs(float(t.std()) - std) < 5 * std / math.sqrt(2 * n)


def test_weight_statistics() -> None:
    net = init_weights(_model(), std=0.02)
    conv, bn, convt, (linear, gn), ln, inorm, _ = net
    for layer in (conv, convt, linear):
        _assert_normal(layer.weight, 0.0, 0.02)
        assert torch.count_nonzero(layer.bias) == 0
    for layer in (bn, gn, ln, inorm):
        _assert_normal(layer.weight, 1.0, 0.02)
        assert torch.count_nonzero(layer.bias) == 0


def test_other_std_and_zero_std() -> None:
    net = init_weights(_model(), std=0.1)
    _assert_normal(net[0].weight, 0.0, 0.1)
    _assert_normal(net[1].weight, 1.0, 0.1)
    net = init_weights(_model(), std=0)
    assert torch.count_nonzero(net[2].weight) == 0
    assert bool((net[4].weight == 1).all())


def test_returns_the_module_and_leaves_buffers_alone() -> None:
    net = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    net[1].running_mean.fill_(3.0)
    assert init_weights(net) is net
    assert bool((net[1].running_mean == 3.0).all())


def test_uses_the_global_generator() -> None:
    torch.manual_seed(7)
    a = init_weights(nn.Linear(8, 8)).weight.clone()
    torch.manual_seed(7)
    b = init_weights(nn.Linear(8, 8)).weight.clone()
    assert torch.equal(a, b)


def test_skips_lazy_parameters() -> None:
    net = init_weights(nn.Sequential(nn.LazyLinear(4), nn.Linear(4, 4)))
    assert torch.count_nonzero(net[1].bias) == 0
    net(torch.randn(2, 3))  # the lazy layer still materialises
    assert net[0].weight.shape == (4, 3)


def test_reference_networks_start_initialised() -> None:
    torch.manual_seed(0)
    g = ResnetGenerator(ngf=16, n_blocks=1)
    _assert_normal(g.model[10].conv_block[1].weight, 0.0, 0.02)
    assert torch.count_nonzero(g.model[10].conv_block[1].bias) == 0
    d = PatchDiscriminator(ndf=16, norm="batch")
    _assert_normal(d.model[5].weight, 0.0, 0.02)
    assert torch.count_nonzero(d.model[3].bias) == 0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (nn.Linear(2, 2), -0.1),
            ValueError,
            r"init_weights\(\): 'std' must be >= 0, got -0\.1",
        ),
        ((nn.Linear(2, 2), float("nan")), ValueError, "'std' must be a finite number, got nan"),
        ((nn.Linear(2, 2), "0.02"), TypeError, "'std' must be a real number, got str"),
        ((nn.Linear(2, 2), True), TypeError, "'std' must be a real number, got bool"),
        ((torch.zeros(2),), TypeError, "'module' must be a torch.nn.Module, got Tensor"),
    ],
)
def test_validation(args, error, match) -> None:
    with pytest.raises(error, match=match):
        init_weights(*args)
