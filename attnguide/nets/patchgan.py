"""The PatchGAN discriminator of pix2pix/CycleGAN, with the paper's pooled head."""

from __future__ import annotations

from typing import Literal

import torch
from einops import rearrange
from torch import Tensor, nn

from attnguide._validation import check_choice, check_int, check_shape
from attnguide.nets._common import Norm, check_norm, factory_kwargs, norm_layer
from attnguide.nets.init import init_weights

__all__ = ["PatchDiscriminator"]

Head = Literal["patch", "pool"]


class PatchDiscriminator(nn.Module):
    """The PatchGAN discriminator (CycleGAN's ``NLayerDiscriminator``).

    ``C(ndf) - C(2ndf) - ... - C(min(2**n, 8) ndf)``: ``n_layers`` 4x4 stride-2
    Convolution-Norm-LeakyReLU(0.2) layers (no norm on the first), one more 4x4 stride-1
    layer, then the head. With ``n_layers=3`` every output of the ``"patch"`` head sees
    a 70x70 patch of the input: the 70x70 PatchGAN of pix2pix and CycleGAN. The
    paper's discriminator (``[C64, C128, C256, C512, C512]``) is this network with
    ``head="pool"``.

    Heads:
        - ``"patch"``: a 4x4 stride-1 convolution to one channel, giving a map of
          per-patch scores (CycleGAN's head; same state-dict keys as its
          ``NLayerDiscriminator``).
        - ``"pool"``: the paper's head: adaptive average pooling to 1x1, then a 1x1
          convolution to a single score per image, returned as shape ``(b,)``.

    The norm conventions follow CycleGAN (instance norm without affine parameters,
    convolution biases only with instance norm; the first and last convolutions
    always have one). Weights start from :func:`init_weights` (``N(0, 0.02)``). The
    scores are raw logits: the adversarial loss decides what they mean.

    Args:
        in_channels: Channels of the input (3 for an image; 4 for the
            attention-guided discriminator's ``[mask, image]``).
        ndf: Filters of the first layer; later layers use up to ``8 * ndf``.
        n_layers: Number of stride-2 layers (``>= 1``).
        norm: ``"instance"`` (CycleGAN's default) or ``"batch"``.
        head: ``"patch"`` or ``"pool"``, see above.
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - input: ``(b, in_channels, h, w)``, at least 24x24 for ``n_layers=3``
          (``min_size`` holds the bound for the chosen ``n_layers``)
        - output: ``(b, 1, h', w')`` for ``"patch"`` (30x30 at 256x256 input with
          ``n_layers=3``), ``(b,)`` for ``"pool"``

    Raises:
        TypeError: A size argument is not an int.
        ValueError: A size is out of range or ``norm``/``head`` is unknown; in
            ``forward``, an input smaller than ``min_size``.

    Example:
        >>> d = PatchDiscriminator(3, ndf=8)
        >>> d(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 1, 6, 6])
        >>> pooled = PatchDiscriminator(3, ndf=8, head="pool")
        >>> pooled(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        ndf: int = 64,
        n_layers: int = 3,
        norm: Norm = "instance",
        head: Head = "patch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "PatchDiscriminator"
        check_int(fn, "in_channels", in_channels, minimum=1)
        check_int(fn, "ndf", ndf, minimum=1)
        check_int(fn, "n_layers", n_layers, minimum=1)
        check_norm(fn, norm)
        check_choice(fn, "head", head, ("patch", "pool"))
        self.in_channels, self.ndf, self.n_layers = in_channels, ndf, n_layers
        self.norm, self.head = norm, head

        factory = factory_kwargs(device, dtype)
        bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1, **factory),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            conv = nn.Conv2d(ndf * prev, ndf * mult, 4, stride, padding=1, bias=bias, **factory)
            layers += [
                conv,
                norm_layer(norm, ndf * mult, factory),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        if head == "patch":
            layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1, **factory))
        else:
            layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(ndf * mult, 1, 1, **factory)]
        self.model = nn.Sequential(*layers)
        self.min_size = _min_size(n_layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        """Scores a batch of images; see the class docstring for shapes."""
        check_shape("PatchDiscriminator.forward", "x", x, "b c h w")
        h, w = x.shape[-2:]
        if h < self.min_size or w < self.min_size:
            raise ValueError(
                "PatchDiscriminator.forward(): the height and width of 'x' must be at least "
                f"{self.min_size} for n_layers={self.n_layers}, "
                f"got {h}x{w} from shape {tuple(x.shape)}"
            )
        out = self.model(x)
        if self.head == "pool":
            return rearrange(out, "b 1 1 1 -> b")
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, ndf={self.ndf}, n_layers={self.n_layers}, "
            f"norm={self.norm!r}, head={self.head!r}"
        )


def _min_size(n_layers: int) -> int:
    """Smallest input side the network takes.

    Every 4x4 convolution (padding 1) needs ``size + 2 >= 4`` and gives
    ``(size - 2) // stride + 1``; the last normalised map, after the stride-1 layer,
    needs a side of at least 2 (a norm layer cannot normalise a single value per
    channel), which also leaves the patch head a non-empty output.
    """

    def fits(size: int) -> bool:
        for stride in [2] * n_layers + [1]:
            if size < 2:
                return False
            size = (size - 2) // stride + 1
        return size >= 2

    size = 1
    while not fits(size):
        size += 1
    return size
