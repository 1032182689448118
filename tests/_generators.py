"""Small generators and discriminators written the way CycleGAN and StarGAN write theirs.

They are the models the adapter tests wrap: the point is their *shape* (where the last
convolution sits, what follows it, what they return, how they take labels), not their
size, so every one is tiny.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# --------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------


def sequential_tanh(in_nc: int = 3, out_nc: int = 3, nf: int = 8, *, bias: bool = True):
    """Final conv + Tanh inside an nn.Sequential (bias=False: a bias-free last conv)."""
    return nn.Sequential(
        nn.Conv2d(in_nc, nf, 3, padding=1),
        nn.ReLU(True),
        nn.Conv2d(nf, out_nc, 3, padding=1, bias=bias),
        nn.Tanh(),
    )


class ResnetBlock(nn.Module):
    """CycleGAN's residual block (reflection padding)."""

    def __init__(self, dim: int, norm_layer: type[nn.Module], use_bias: bool) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
            norm_layer(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias),
            norm_layer(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResnetGenerator: ... ReflectionPad2d(3), Conv2d(ngf, out, 7), Tanh."""

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 4,
        n_blocks: int = 1,
        norm_layer: type[nn.Module] = nn.InstanceNorm2d,
    ) -> None:
        super().__init__()
        use_bias = norm_layer == nn.InstanceNorm2d
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            norm_layer(ngf),
            nn.ReLU(True),
        ]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        mult = 2**n_downsampling
        model += [ResnetBlock(ngf * mult, norm_layer, use_bias) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [
                nn.ConvTranspose2d(
                    ngf * mult,
                    ngf * mult // 2,
                    3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=use_bias,
                ),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input: Tensor) -> Tensor:
        return self.model(input)


class UnetSkipConnectionBlock(nn.Module):
    """CycleGAN's U-Net block; the outermost one ends in ConvTranspose2d + Tanh."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        use_bias = norm_layer == nn.InstanceNorm2d
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=use_bias
            )
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
        self.model = nn.Sequential(*model)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """CycleGAN's UnetGenerator: its last layer is a ConvTranspose2d from half resolution."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 3, ngf: int = 4):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 2, innermost=True)
        for _ in range(num_downs - 3):
            block = UnetSkipConnectionBlock(ngf * 2, ngf * 2, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(
            output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True
        )

    def forward(self, input: Tensor) -> Tensor:
        return self.model(input)


class HalfResHeadGenerator(nn.Module):
    """Its last conv emits the image at half resolution; an upsample follows it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 4, stride=2, padding=1), nn.ReLU(True))
        self.head = nn.Conv2d(8, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.up(self.head(self.body(x))))


class TupleGenerator(nn.Module):
    """Returns (image, features), or (features, image); the features conv runs last."""

    def __init__(self, image_first: bool = True) -> None:
        super().__init__()
        self.image_first = image_first
        self.encoder = nn.Conv2d(3, 8, 3, padding=1)
        self.to_image = nn.Conv2d(8, 3, 3, padding=1)
        self.to_features = nn.Conv2d(8, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.encoder(x))
        image = torch.tanh(self.to_image(h))
        features = self.to_features(h)
        return (image, features) if self.image_first else (features, image)


class TwoHeadGenerator(nn.Module):
    """Registers its image head before its auxiliary head, but runs the image head last.

    Returns (image, aux); aux is (b, aux_channels, h, w).
    """

    def __init__(self, aux_channels: int = 1, aux_kernel: int = 3) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 8, 3, padding=1)
        self.image_head = nn.Conv2d(8, 3, 3, padding=1)
        self.aux_head = nn.Conv2d(8, aux_channels, aux_kernel, padding=aux_kernel // 2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.body(x))
        aux = torch.sigmoid(self.aux_head(h))
        return torch.tanh(self.image_head(h)), aux


class DictInputGenerator(nn.Module):
    """Takes a dict batch, as some training loops pass it."""

    def __init__(self) -> None:
        super().__init__()
        self.net = sequential_tanh()

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.net(batch["image"])


class Barrier(nn.Module):
    """Identity that first waits on ``self.barrier`` when set, so parallel replicas overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier: threading.Barrier | None = None

    def forward(self, x: Tensor) -> Tensor:
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        return x


class StarResidualBlock(nn.Module):
    """StarGAN's residual block (bias-free convs, affine instance norm)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


class StarGenerator(nn.Module):
    """StarGAN's G(x, c): tiles the label into the input; ends in a bias-free conv + Tanh."""

    def __init__(self, conv_dim: int = 8, c_dim: int = 3, repeat_num: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(conv_dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
        ]
        curr = conv_dim
        for _ in range(2):
            layers += [
                nn.Conv2d(curr, curr * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(curr * 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            curr *= 2
        layers += [StarResidualBlock(curr) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(curr, curr // 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(curr // 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            curr //= 2
        layers += [nn.Conv2d(curr, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


# --------------------------------------------------------------------------------------
# Discriminators
# --------------------------------------------------------------------------------------


class NLayerDiscriminator(nn.Module):
    """CycleGAN's PatchGAN: a (b, 1, h', w') map."""

    def __init__(self, input_nc: int = 3, ndf: int = 8, n_layers: int = 2) -> None:
        super().__init__()
        norm_layer = nn.InstanceNorm2d
        kw, padw = 4, 1
        sequence: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True),
        ]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
            sequence += [
                nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=2, padding=padw),
                norm_layer(ndf * nf_mult),
                nn.LeakyReLU(0.2, True),
            ]
        nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        sequence += [
            nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, stride=1, padding=padw),
            norm_layer(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * nf_mult, 1, kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*sequence)

    def forward(self, input: Tensor) -> Tensor:
        return self.model(input)


class StarDiscriminator(nn.Module):
    """StarGAN's D: returns (out_src, out_cls)."""

    def __init__(
        self, image_size: int = 16, conv_dim: int = 8, c_dim: int = 3, repeat_num: int = 3
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        curr = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(curr, curr * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            curr *= 2
        kernel_size = image_size // 2**repeat_num
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(curr, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(curr, c_dim, kernel_size, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.main(x)
        out_src = self.conv1(h)
        out_cls = self.conv2(h)
        return out_src, out_cls.view(out_cls.size(0), out_cls.size(1))


class VectorDiscriminator(nn.Module):
    """Returns one score per sample, (b,); with n_classes, a projection term on labels y."""

    def __init__(self, nf: int = 8, n_classes: int | None = None) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, nf, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(nf, 2 * nf, 3, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.fc = nn.Linear(2 * nf, 1)
        self.embed = nn.Embedding(n_classes, 2 * nf) if n_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.features(x).sum(dim=(2, 3))
        out = self.fc(h).squeeze(1)
        if y is not None:
            assert self.embed is not None
            out = out + (self.embed(y) * h).sum(dim=1)
        return out


class HeadFirstDiscriminator(nn.Module):
    """Registers its 1x1 output head before its stem; the stem runs first."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(8, 1, 1)
        self.stem = nn.Conv2d(3, 8, 4, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.leaky_relu(self.stem(x), 0.2))


class PooledInputDiscriminator(nn.Module):
    """Downsamples the image before its first convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.conv = nn.Conv2d(3, 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.pool(x))


# --------------------------------------------------------------------------------------
# Upstream initialisations, written the way those projects write them
# --------------------------------------------------------------------------------------


def cyclegan_init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02):
    """CycleGAN's networks.init_weights (class-name matching)."""

    def init_func(m: nn.Module) -> None:
        classname = m.__class__.__name__
        if hasattr(m, "weight") and (
            classname.find("Conv") != -1 or classname.find("Linear") != -1
        ):
            if init_type == "normal":
                nn.init.normal_(m.weight.data, 0.0, init_gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(m.weight.data, gain=init_gain)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif classname.find("BatchNorm2d") != -1:
            nn.init.normal_(m.weight.data, 1.0, init_gain)
            nn.init.constant_(m.bias.data, 0.0)

    net.apply(init_func)


def he_init(module: nn.Module) -> None:
    """StarGAN v2's he_init (isinstance matching)."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)


def init_everything_with_weight(net: nn.Module) -> None:
    """A blunter init that reaches every module with a weight, siblings included."""
    for m in net.modules():
        weight = getattr(m, "weight", None)
        if isinstance(weight, Tensor):
            nn.init.normal_(weight, 0.0, 0.02)
        bias = getattr(m, "bias", None)
        if isinstance(bias, Tensor):
            nn.init.normal_(bias, 0.0, 0.02)


# --------------------------------------------------------------------------------------
# A CPU stand-in for nn.DataParallel's replicate / parallel_apply / gather
# --------------------------------------------------------------------------------------


def replicate_like_data_parallel(network: nn.Module, n: int) -> list[nn.Module]:
    """Replicates ``network`` as ``torch.nn.parallel.replicate`` does, on one device.

    Each module is copied with ``_replicate_for_data_parallel`` (a shallow copy of its
    ``__dict__``: the replicas share hook dictionaries with the original), and each
    parameter becomes a non-leaf view of the original, so gradients flow back to it as
    they do from broadcast copies.
    """
    modules = list(network.modules())
    index = {m: i for i, m in enumerate(modules)}
    copies = [[m._replicate_for_data_parallel() for m in modules] for _ in range(n)]
    for i, module in enumerate(modules):
        for key, child in module._modules.items():
            for j in range(n):
                copies[j][i]._modules[key] = None if child is None else copies[j][index[child]]
        for key, param in module._parameters.items():
            for j in range(n):
                replica = copies[j][i]
                if param is None:
                    replica._parameters[key] = None
                else:
                    setattr(replica, key, param.view_as(param))
        for key, buf in module._buffers.items():
            for j in range(n):
                copies[j][i]._buffers[key] = buf
    return [copies[j][0] for j in range(n)]


def run_on_replicas(
    module: nn.Module, chunks: list[tuple[Tensor, ...]], fn: Callable[..., object] | None = None
) -> list[object]:
    """Runs one replica per chunk, in parallel threads, as ``parallel_apply`` does."""
    replicas = replicate_like_data_parallel(module, len(chunks))
    call = fn or (lambda m, *a: m(*a))
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        futures = [pool.submit(call, r, *c) for r, c in zip(replicas, chunks, strict=True)]
        return [f.result(timeout=60) for f in futures]


def images(b: int = 2, c: int = 3, h: int = 16, w: int = 16, *, seed: int = 0) -> Tensor:
    """Random images in [-1, 1], as CycleGAN normalises them."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g) * 2 - 1


def one_hot_labels(b: int, c_dim: int = 3, *, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(c_dim, (b,), generator=g), c_dim).float()


def max_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).detach().abs().max()) if a.numel() else 0.0
