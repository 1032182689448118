"""StarGAN's generator and discriminator (Choi et al., ``model.py`` of the reference code).

The networks of the paper's RaFD experiment (Sec. IV-B), with the reference code's
layers, defaults and ``state_dict`` keys, so its checkpoints load as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnguide._validation import check_int, check_shape
from attnguide.nets._common import factory_kwargs

__all__ = ["StarGANDiscriminator", "StarGANGenerator"]


class _ResidualBlock(nn.Module):
    """StarGAN's residual block: conv-IN-ReLU-conv-IN plus the input."""

    def __init__(self, dim: int, factory: dict) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, **factory),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True, **factory),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, **factory),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True, **factory),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


def _generator_layers(
    conv_dim: int, c_dim: int, repeat_num: int, out_channels: int, f: dict
) -> list[nn.Module]:
    """StarGAN's generator up to its last convolution (to ``out_channels``), no output
    activation: StarGAN appends ``Tanh``; AGGAN's multi-domain generator uses 4 raw
    channels."""
    layers: list[nn.Module] = [
        nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False, **f),
        nn.InstanceNorm2d(conv_dim, affine=True, track_running_stats=True, **f),
        nn.ReLU(inplace=True),
    ]
    curr = conv_dim
    for _ in range(2):
        layers += [
            nn.Conv2d(curr, curr * 2, 4, 2, 1, bias=False, **f),
            nn.InstanceNorm2d(curr * 2, affine=True, track_running_stats=True, **f),
            nn.ReLU(inplace=True),
        ]
        curr *= 2
    layers += [_ResidualBlock(curr, f) for _ in range(repeat_num)]
    for _ in range(2):
        layers += [
            nn.ConvTranspose2d(curr, curr // 2, 4, 2, 1, bias=False, **f),
            nn.InstanceNorm2d(curr // 2, affine=True, track_running_stats=True, **f),
            nn.ReLU(inplace=True),
        ]
        curr //= 2
    layers.append(nn.Conv2d(curr, out_channels, 7, 1, 3, bias=False, **f))
    return layers


def _with_label(fn: str, x: Tensor, c: Tensor, c_dim: int) -> Tensor:
    """Checks ``x`` and ``c`` and returns ``x`` with ``c`` tiled on as extra channels."""
    sizes: dict[str, tuple[int, str]] = {"n": (c_dim, "c_dim")}
    check_shape(fn, "x", x, "b 3 h w", sizes)
    check_shape(fn, "c", c, "b n", sizes)
    if x.shape[-2] % 4 or x.shape[-1] % 4:
        raise ValueError(
            f"{fn}(): the height and width of 'x' must be multiples of 4 (two stride-2 "
            f"layers down and two up), got shape {tuple(x.shape)}"
        )
    tiled = c.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
    return torch.cat([x, tiled], dim=1)


class StarGANGenerator(nn.Module):
    """StarGAN's conditional generator ``G(x, c)``.

    The target label ``c`` is tiled over the image and concatenated to it as
    ``c_dim`` extra input channels; then a 7x7 convolution, two 4x4 stride-2
    downsampling convolutions, ``repeat_num`` residual blocks, two 4x4 stride-2
    transposed convolutions and a bias-free 7x7 convolution to RGB with ``Tanh``. Every
    layer but the last is followed by affine instance norm (with running statistics,
    as the reference code) and ReLU; convolutions have no bias. Wrapped by
    :class:`attnguide.AttentionHead`, ``c`` passes through the head to this forward.

    Args:
        conv_dim: Filters of the first layer (StarGAN: 64).
        c_dim: Length of the label: domains for one-hot labels (RaFD: 8 expressions).
        repeat_num: Residual blocks (StarGAN: 6).
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, 3, h, w)`` in [-1, 1], ``h`` and ``w`` multiples of 4
        - c: ``(b, c_dim)``, the target labels (one-hot or multi-label)
        - output: ``(b, 3, h, w)`` in [-1, 1]

    Raises:
        TypeError: A size argument is not an int, or an input not a float tensor.
        ValueError: A size is out of range, or the inputs' shapes disagree.

    Example:
        >>> G = StarGANGenerator(conv_dim=8, c_dim=4, repeat_num=1)
        >>> x, c = torch.rand(2, 3, 32, 32) * 2 - 1, torch.eye(4)[[0, 3]]
        >>> G(x, c).shape
        torch.Size([2, 3, 32, 32])
        >>> from attnguide import AttentionHead
        >>> out = AttentionHead(G)(x, c)  # the label passes through the head
        >>> out.image.shape, out.mask.shape
        (torch.Size([2, 3, 32, 32]), torch.Size([2, 1, 32, 32]))
    """

    def __init__(
        self,
        conv_dim: int = 64,
        c_dim: int = 5,
        repeat_num: int = 6,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "StarGANGenerator"
        self.conv_dim = check_int(fn, "conv_dim", conv_dim, minimum=1)
        self.c_dim = check_int(fn, "c_dim", c_dim, minimum=1)
        self.repeat_num = check_int(fn, "repeat_num", repeat_num, minimum=0)
        layers = _generator_layers(conv_dim, c_dim, repeat_num, 3, factory_kwargs(device, dtype))
        layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """Translates ``x`` to the domains ``c``; see the class docstring for shapes."""
        return self.main(_with_label("StarGANGenerator.forward", x, c, self.c_dim))

    def extra_repr(self) -> str:
        return f"conv_dim={self.conv_dim}, c_dim={self.c_dim}, repeat_num={self.repeat_num}"


class StarGANDiscriminator(nn.Module):
    """StarGAN's discriminator: a PatchGAN real/fake map and domain logits, ``(src, cls)``.

    ``repeat_num`` 4x4 stride-2 convolutions with LeakyReLU(0.01) and no norm, then two
    bias-free heads on the last feature map: a 3x3 convolution to one channel (``src``,
    WGAN critic scores per patch) and a convolution as large as the feature map to
    ``c_dim`` logits (``cls``). Wrapped by :class:`attnguide.MaskConditionedDiscriminator`
    the tuple comes back unchanged, and the losses read ``src`` from it.

    Args:
        image_size: The side of the square images it judges (fixes the ``cls`` head).
        conv_dim: Filters of the first layer (StarGAN: 64).
        c_dim: Number of domain logits.
        repeat_num: Stride-2 layers (StarGAN: 6); ``image_size`` must be a multiple
            of ``2**repeat_num``.
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, in_channels, image_size, image_size)``, ``in_channels`` 3
        - output: ``src`` ``(b, 1, s, s)`` with ``s = image_size / 2**repeat_num``, and
          ``cls`` ``(b, c_dim)``

    Raises:
        TypeError: A size argument is not an int, or the input not a float tensor.
        ValueError: A size is out of range, ``image_size`` is not a multiple of
            ``2**repeat_num``, or the input is not ``image_size`` square.

    Example:
        >>> D = StarGANDiscriminator(
        ...     image_size=32, conv_dim=8, c_dim=4, repeat_num=3
        ... )
        >>> src, cls = D(torch.rand(2, 3, 32, 32))
        >>> src.shape, cls.shape
        (torch.Size([2, 1, 4, 4]), torch.Size([2, 4]))
    """

    def __init__(
        self,
        image_size: int = 128,
        conv_dim: int = 64,
        c_dim: int = 5,
        repeat_num: int = 6,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "StarGANDiscriminator"
        self.image_size = check_int(fn, "image_size", image_size, minimum=2)
        self.conv_dim = check_int(fn, "conv_dim", conv_dim, minimum=1)
        self.c_dim = check_int(fn, "c_dim", c_dim, minimum=1)
        self.repeat_num = check_int(fn, "repeat_num", repeat_num, minimum=1, maximum=16)
        if image_size % 2**repeat_num:
            raise ValueError(
                f"{fn}(): 'image_size' must be a multiple of 2**repeat_num = "
                f"{2**repeat_num}, got {image_size}"
            )
        f = factory_kwargs(device, dtype)
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1, **f), nn.LeakyReLU(0.01)]
        curr = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(curr, curr * 2, 4, 2, 1, **f), nn.LeakyReLU(0.01)]
            curr *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(curr, 1, 3, 1, 1, bias=False, **f)
        self.conv2 = nn.Conv2d(curr, c_dim, image_size // 2**repeat_num, bias=False, **f)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Scores and classifies ``x``; see the class docstring for shapes."""
        fn = "StarGANDiscriminator.forward"
        check_shape(fn, "x", x, "b c h w")
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"{fn}(): 'x' must be {self.image_size}x{self.image_size} (the image_size "
                f"the cls head was built for), got shape {tuple(x.shape)}"
            )
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)

    def extra_repr(self) -> str:
        return (
            f"image_size={self.image_size}, conv_dim={self.conv_dim}, c_dim={self.c_dim}, "
            f"repeat_num={self.repeat_num}"
        )
