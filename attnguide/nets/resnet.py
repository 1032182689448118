"""CycleGAN's ResNet generator, the generator AGGAN builds on."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from attnguide._validation import check_choice, check_int, check_shape
from attnguide.nets._common import (
    PADDINGS,
    Norm,
    Padding,
    check_norm,
    factory_kwargs,
    norm_layer,
)
from attnguide.nets.init import init_weights

__all__ = ["ResnetGenerator"]

Upsample = Literal["transpose", "resize", "subpixel"]
# How ResnetGenerator can double the size: CycleGAN's transposed convolution,
# nearest-neighbour resize then a 3x3 convolution, or a 3x3 convolution to four times
# the channels then a pixel shuffle (sub-pixel convolution).
UPSAMPLINGS: tuple[str, ...] = ("transpose", "resize", "subpixel")

_PAD_LAYERS: dict[str, type[nn.Module]] = {
    "reflect": nn.ReflectionPad2d,
    "replicate": nn.ReplicationPad2d,
}


def _padded_conv(
    in_ch: int,
    out_ch: int,
    kernel_size: int,
    *,
    padding: str,
    bias: bool,
    factory: dict[str, Any],
) -> list[nn.Module]:
    """A stride-1 conv that keeps the size: a pad layer then the conv, as CycleGAN builds it."""
    pad = kernel_size // 2
    if padding == "zeros":
        return [nn.Conv2d(in_ch, out_ch, kernel_size, padding=pad, bias=bias, **factory)]
    return [
        _PAD_LAYERS[padding](pad),
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=0, bias=bias, **factory),
    ]


def _upsampling(
    kind: str, in_ch: int, out_ch: int, *, bias: bool, factory: dict[str, Any]
) -> nn.Module:
    """One 2x upsampling layer; the resize and sub-pixel kinds are one ``Sequential`` so
    every later layer keeps its index (and state-dict key) whatever the kind."""
    if kind == "transpose":
        return nn.ConvTranspose2d(
            in_ch, out_ch, 3, stride=2, padding=1, output_padding=1, bias=bias, **factory
        )
    if kind == "resize":
        # Every output pixel sees the same number of input pixels: no checkerboard.
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=bias, **factory),
        )
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch * 4, 3, padding=1, bias=bias, **factory), nn.PixelShuffle(2)
    )


class _ResnetBlock(nn.Module):
    """``x + [pad, conv3x3, norm, relu, pad, conv3x3, norm](x)`` (CycleGAN's ResnetBlock)."""

    def __init__(
        self, channels: int, *, norm: str, padding: str, bias: bool, factory: dict[str, Any]
    ) -> None:
        super().__init__()
        # The attribute name matches CycleGAN's so its checkpoints load key for key.
        self.conv_block = nn.Sequential(
            *_padded_conv(channels, channels, 3, padding=padding, bias=bias, factory=factory),
            norm_layer(norm, channels, factory),
            nn.ReLU(inplace=True),
            *_padded_conv(channels, channels, 3, padding=padding, bias=bias, factory=factory),
            norm_layer(norm, channels, factory),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The ResNet generator of CycleGAN and AGGAN.

    ``[c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-out]``
    followed by ``tanh``: a 7x7 stride-1 convolution, two 3x3 stride-2 downsamplings,
    ``n_blocks`` residual blocks, two 3x3 fractionally strided (transposed)
    upsamplings and a 7x7 convolution to ``out_channels``; every layer but the last is
    Convolution-Norm-ReLU. With ``ngf=64, n_blocks=9`` this is the paper's network
    (about 11.4M parameters at 3 -> 3 channels).

    It emits an image only; :class:`attnguide.AttentionHead` adds the attention-mask
    channel to its last convolution, which gives the paper's ``c7s1-4`` output.

    As in CycleGAN, instance norm has no affine parameters and no running statistics,
    the convolutions before a norm layer carry a bias only with instance norm (batch
    norm's shift makes it redundant), and the last convolution always has one. With
    the default ``padding="reflect"`` the module is layer for layer CycleGAN's
    ``ResnetGenerator(use_dropout=False)``, with the same state-dict keys, so its
    trained weights load directly. ``padding`` applies to every stride-1
    convolution here (CycleGAN's own option covers the residual blocks only and always
    reflect-pads the 7x7 ones). Weights start from :func:`init_weights` (``N(0, 0.02)``).

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        ngf: Filters of the first layer; later layers use multiples of it.
        n_blocks: Number of residual blocks at the bottleneck (``>= 0``).
        norm: ``"instance"`` (CycleGAN's default) or ``"batch"``.
        padding: How stride-1 convolutions pad: ``"reflect"``, ``"replicate"`` or
            ``"zeros"``.
        upsample: How the two upsamplings double the size: ``"transpose"`` (CycleGAN's
            transposed convolutions, whose uneven overlap draws a checkerboard early in
            training), ``"resize"`` (nearest-neighbour resize, then a 3x3 convolution) or
            ``"subpixel"`` (a 3x3 convolution to 4x the channels, then a pixel shuffle,
            as the AGGAN authors' own generator). Only ``"transpose"`` has CycleGAN's
            state-dict keys.
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - input: ``(b, in_channels, h, w)`` with ``h`` and ``w`` multiples of 4 (the two
          downsamplings must be undone exactly) and at least 8 (the bottleneck, at a
          quarter of the size, needs more than one pixel to normalise)
        - output: ``(b, out_channels, h, w)``, in ``[-1, 1]``

    Raises:
        TypeError: A size argument is not an int.
        ValueError: A size is out of range, or ``norm``/``padding`` is unknown; in
            ``forward``, an input whose height or width the network cannot take.

    Example:
        >>> net = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
        >>> net(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        *,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: Norm = "instance",
        padding: Padding = "reflect",
        upsample: Upsample = "transpose",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "ResnetGenerator"
        check_int(fn, "in_channels", in_channels, minimum=1)
        check_int(fn, "out_channels", out_channels, minimum=1)
        check_int(fn, "ngf", ngf, minimum=1)
        check_int(fn, "n_blocks", n_blocks, minimum=0)
        check_norm(fn, norm)
        check_choice(fn, "padding", padding, PADDINGS)
        check_choice(fn, "upsample", upsample, UPSAMPLINGS)
        self.upsample = upsample
        self.in_channels, self.out_channels = in_channels, out_channels
        self.ngf, self.n_blocks, self.norm, self.padding = ngf, n_blocks, norm, padding

        factory = factory_kwargs(device, dtype)
        bias = norm == "instance"
        layers: list[nn.Module] = [
            *_padded_conv(in_channels, ngf, 7, padding=padding, bias=bias, factory=factory),
            norm_layer(norm, ngf, factory),
            nn.ReLU(inplace=True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias, **factory),
                norm_layer(norm, ngf * mult * 2, factory),
                nn.ReLU(inplace=True),
            ]
        layers += [
            _ResnetBlock(ngf * 4, norm=norm, padding=padding, bias=bias, factory=factory)
            for _ in range(n_blocks)
        ]
        for mult in (4, 2):
            layers += [
                _upsampling(upsample, ngf * mult, ngf * mult // 2, bias=bias, factory=factory),
                norm_layer(norm, ngf * mult // 2, factory),
                nn.ReLU(inplace=True),
            ]
        layers += [
            *_padded_conv(ngf, out_channels, 7, padding=padding, bias=True, factory=factory),
            nn.Tanh(),
        ]
        # One Sequential named "model", as in CycleGAN, keeps the state-dict keys equal.
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """Translates a batch of images; see the class docstring for shapes."""
        check_shape("ResnetGenerator.forward", "x", x, "b c h w")
        h, w = x.shape[-2:]
        if h % 4 or w % 4 or h < 8 or w < 8:
            raise ValueError(
                "ResnetGenerator.forward(): the height and width of 'x' must be multiples "
                "of 4 (two stride-2 downsamplings are undone by two upsamplings) and at "
                "least 8 (the bottleneck needs more than one pixel to normalise), got "
                f"{h}x{w} from shape {tuple(x.shape)}"
            )
        return self.model(x)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, ngf={self.ngf}, "
            f"n_blocks={self.n_blocks}, norm={self.norm!r}, padding={self.padding!r}"
            + ("" if self.upsample == "transpose" else f", upsample={self.upsample!r}")
        )
