"""The paper authors' own networks (the public repository Ha0Tang/AttentionGAN).

Three generators and one discriminator, built with the authors' layers, defaults and
``state_dict`` keys, so that the checkpoints they publish (plain ``torch.save`` of a
state dict) load by name::

    net = AttentionGANGenerator()
    net.load_state_dict(load_weights("latest_net_G_A.pth"))

- :class:`AttentionGANGenerator`: AttentionGAN scheme II (``models/networks.py``,
  ``netG='our'``): one encoder, a content decoder emitting 9 images and an attention
  decoder emitting 10 softmax masks, the last one for the input.
- :class:`AGGANGenerator` and :class:`AGGANDiscriminator`: the AGGAN paper's script
  (``AttentionGAN-v1/models.py``): a ResNet generator with sub-pixel upsampling and one
  4-channel output convolution (mask = sigmoid of channel 0, content = channels 1-3 as
  they are, without tanh), and its pooled discriminator.
- :class:`AGGANMultiGenerator`: the multi-domain AGGAN (``AttentionGAN-v1-multi``):
  StarGAN's generator with a 4-channel output. Its discriminator is StarGAN's,
  :class:`~attnguide.nets.StarGANDiscriminator`; scheme II's is CycleGAN's PatchGAN,
  :class:`~attnguide.nets.PatchDiscriminator` with ``head="patch"``.

Every generator returns :class:`attnguide.AttentionOutput` and blends through
:func:`attnguide.ops.blend_tv` / :func:`attnguide.ops.multi_blend_tv`, so the result is
the same as the authors' forward while the masks and contents come back by name.
:func:`attention_head_from_authors` turns a single-mask one into an
:class:`attnguide.AttentionHead`, exactly, to keep training it as attnguide's networks
are trained.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide import ops
from attnguide._validation import check_choice, check_int, check_shape
from attnguide.heads import AttentionHead, AttentionOutput
from attnguide.nets._common import factory_kwargs
from attnguide.nets.stargan import StarGANGenerator, _generator_layers, _with_label

__all__ = [
    "AUTHORS_GENERATORS",
    "AGGANDiscriminator",
    "AGGANGenerator",
    "AGGANMultiGenerator",
    "AttentionGANGenerator",
    "attention_head_from_authors",
]


def _check_image(fn: str, x: object) -> Tensor:
    """A 3-channel image batch whose sides are multiples of 4 and at least 8."""
    x = check_shape(fn, "x", x, "b 3 h w")
    h, w = x.shape[-2:]
    if h % 4 or w % 4 or h < 8 or w < 8:
        raise ValueError(
            f"{fn}(): the height and width of 'x' must be multiples of 4 (two stride-2 "
            "downsamplings are undone by two upsamplings) and at least 8 (the bottleneck "
            f"is reflect-padded and normalised), got {h}x{w} from shape {tuple(x.shape)}"
        )
    return x


# --- AttentionGAN scheme II ---------------------------------------------------------------


class _ReflectBlock(nn.Module):
    """``x + IN(conv(pad(relu(IN(conv(pad(x)))))))``: the residual block of scheme II,
    with its attribute names (``conv1``, ``conv1_norm``, ``conv2``, ``conv2_norm``)."""

    def __init__(self, channels: int, f: dict[str, Any]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, **f)
        self.conv1_norm = nn.InstanceNorm2d(channels, **f)
        self.conv2 = nn.Conv2d(channels, channels, 3, **f)
        self.conv2_norm = nn.InstanceNorm2d(channels, **f)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv1_norm(self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        return x + self.conv2_norm(self.conv2(F.pad(h, (1, 1, 1, 1), mode="reflect")))


class AttentionGANGenerator(nn.Module):
    """AttentionGAN's scheme II generator, with the authors' ``state_dict`` keys.

    A shared encoder (reflect-padded 7x7 convolution, two 3x3 stride-2 convolutions,
    ``n_blocks`` reflect-padded residual blocks at ``4 ngf`` channels) feeds two
    decoders of two 3x3 transposed convolutions each: the content decoder ends in a
    reflect-padded 7x7 convolution to 27 channels and ``tanh``, read as 9 RGB contents;
    the attention decoder in a 1x1 convolution to 10 channels and a softmax over them,
    10 masks. The image is ``sum_i contents[i] * masks[i] + x * masks[9]``. Every layer
    but the two last is Convolution-InstanceNorm-ReLU, instance norm without affine
    parameters, every convolution with a bias. This is ``ResnetGenerator_our`` of
    ``models/networks.py`` (``--netG our``, whatever ``--norm`` says), which the
    published ``latest_net_G*.pth`` checkpoints hold.

    It returns the masks and contents stacked by name instead of the authors' 30-item
    tuple; ``masks[:, i]`` is their ``attention{i+1}`` (one channel, not repeated to
    three) and ``content[:, i]`` their ``image{i+1}``.

    Args:
        ngf: Filters of the first layer (the authors': 64).
        n_blocks: Residual blocks (the authors': 9).
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, 3, h, w)`` in [-1, 1], ``h`` and ``w`` multiples of 4, at least 8
        - output: :class:`~attnguide.AttentionOutput` with image ``(b, 3, h, w)``, mask
          ``(b, 10, h, w)`` (summing to one over dimension 1), content
          ``(b, 9, 3, h, w)`` and tv ``(b,)`` (of the 9 foreground masks)

    Raises:
        TypeError: A size argument is not an int, or ``x`` not a float tensor.
        ValueError: A size is out of range, or ``x`` has a shape the network cannot take.

    Example:
        >>> G = AttentionGANGenerator(ngf=4, n_blocks=1)
        >>> out = G(torch.rand(2, 3, 16, 16) * 2 - 1)
        >>> out.image.shape, out.mask.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 10, 16, 16]))
        >>> out.content.shape
        torch.Size([2, 9, 3, 16, 16])
        >>> "deconv3_attention.weight" in G.state_dict()  # the authors' keys
        True
    """

    masks: int = 10

    def __init__(
        self,
        ngf: int = 64,
        n_blocks: int = 9,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "AttentionGANGenerator"
        self.ngf = check_int(fn, "ngf", ngf, minimum=1)
        self.n_blocks = check_int(fn, "n_blocks", n_blocks, minimum=0)
        f = factory_kwargs(device, dtype)
        k = self.masks
        # Registered in the authors' order, so the state dict lists its keys as theirs.
        self.conv1 = nn.Conv2d(3, ngf, 7, **f)
        self.conv1_norm = nn.InstanceNorm2d(ngf, **f)
        self.conv2 = nn.Conv2d(ngf, ngf * 2, 3, 2, 1, **f)
        self.conv2_norm = nn.InstanceNorm2d(ngf * 2, **f)
        self.conv3 = nn.Conv2d(ngf * 2, ngf * 4, 3, 2, 1, **f)
        self.conv3_norm = nn.InstanceNorm2d(ngf * 4, **f)
        self.resnet_blocks = nn.Sequential(*(_ReflectBlock(ngf * 4, f) for _ in range(n_blocks)))
        for branch, out_channels, kernel in (("content", 3 * (k - 1), 7), ("attention", k, 1)):
            up1 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, 1, **f)
            up2 = nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, 1, **f)
            setattr(self, f"deconv1_{branch}", up1)
            setattr(self, f"deconv1_norm_{branch}", nn.InstanceNorm2d(ngf * 2, **f))
            setattr(self, f"deconv2_{branch}", up2)
            setattr(self, f"deconv2_norm_{branch}", nn.InstanceNorm2d(ngf, **f))
            setattr(self, f"deconv3_{branch}", nn.Conv2d(ngf, out_channels, kernel, **f))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)  # the authors' N(0, 0.02), zero bias
                nn.init.zeros_(m.bias)

    def _decode(self, h: Tensor, branch: str) -> Tensor:
        for i in (1, 2):
            up = self.get_submodule(f"deconv{i}_{branch}")
            h = F.relu(self.get_submodule(f"deconv{i}_norm_{branch}")(up(h)))
        if branch == "content":
            h = F.pad(h, (3, 3, 3, 3), mode="reflect")
        return self.get_submodule(f"deconv3_{branch}")(h)

    def forward(self, x: Tensor) -> AttentionOutput:
        """Translates ``x``; see the class docstring for shapes."""
        _check_image("AttentionGANGenerator.forward", x)
        h = F.relu(self.conv1_norm(self.conv1(F.pad(x, (3, 3, 3, 3), mode="reflect"))))
        h = F.relu(self.conv2_norm(self.conv2(h)))
        h = self.resnet_blocks(F.relu(self.conv3_norm(self.conv3(h))))
        contents = torch.tanh(self._decode(h, "content")).unflatten(1, (self.masks - 1, 3))
        masks = torch.softmax(self._decode(h, "attention"), dim=1)
        image, tv = ops.multi_blend_tv(masks, contents, x)
        return AttentionOutput(image, masks, contents, tv)

    def extra_repr(self) -> str:
        return f"ngf={self.ngf}, n_blocks={self.n_blocks}"


# --- AGGAN (AttentionGAN-v1) ----------------------------------------------------------------

AGGANNorm = Literal["batch", "instance"]


def _v1_norm(norm: str, channels: int, f: dict[str, Any]) -> nn.Module:
    # The script passes the norm class itself: PyTorch's defaults, affine batch norm with
    # running statistics, or instance norm with neither.
    if norm == "batch":
        return nn.BatchNorm2d(channels, **f)
    return nn.InstanceNorm2d(channels, **f)


class _V1Block(nn.Module):
    """``x + [pad, conv3x3, norm, relu, pad, conv3x3, norm](x)``, as ``conv_block``."""

    def __init__(self, channels: int, norm: str, f: dict[str, Any]) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, **f),
            _v1_norm(norm, channels, f),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, **f),
            _v1_norm(norm, channels, f),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


def _blend_single(raw: Tensor, source: Tensor) -> AttentionOutput:
    """AGGAN's output stage: mask = sigmoid(channel 0), content = channels 1-3 as they are."""
    mask, content = torch.sigmoid(raw[:, :1]), raw[:, 1:]
    image, tv = ops.blend_tv(mask, content, source)
    return AttentionOutput(image, mask, content, tv)


class AGGANGenerator(nn.Module):
    """The AGGAN paper script's generator (``AttentionGAN-v1``), with its ``state_dict`` keys.

    ``[pad3, c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), s(2ngf), s(ngf), pad3,
    c7s1-4]`` in one ``nn.Sequential`` named ``model``: a reflect-padded 7x7 convolution,
    two 3x3 stride-2 convolutions, reflect-padded residual blocks, and two sub-pixel
    upsamplings, each a reflect-padded 3x3 convolution halving the channels, norm, ReLU,
    a 1x1 convolution to 4 times as many channels, ``PixelShuffle(2)``, norm, ReLU.
    The last 7x7 convolution emits 4 channels: the mask is the sigmoid of channel 0 and
    the content channels 1-3 *as they are* (no tanh, so the content is unbounded), and
    the image ``content * mask + x * (1 - mask)``. Every convolution has a bias; the
    norm is PyTorch's ``BatchNorm2d`` (the script's default) or ``InstanceNorm2d``, each
    with PyTorch's defaults.

    Args:
        ngf: Filters of the first layer (the script's: 64).
        n_blocks: Residual blocks (the script's: 6).
        norm: ``"batch"`` (the script's) or ``"instance"``.
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, 3, h, w)`` in [-1, 1], ``h`` and ``w`` multiples of 4, at least 8
        - output: :class:`~attnguide.AttentionOutput` with image ``(b, 3, h, w)``, mask
          ``(b, 1, h, w)``, content ``(b, 3, h, w)`` and tv ``(b,)``

    Raises:
        TypeError: A size argument is not an int, or ``x`` not a float tensor.
        ValueError: A size is out of range, ``norm`` is unknown, or ``x`` has a shape
            the network cannot take.

    Example:
        >>> G = AGGANGenerator(ngf=4, n_blocks=1)
        >>> out = G(torch.rand(2, 3, 16, 16) * 2 - 1)
        >>> out.image.shape, out.mask.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 1, 16, 16]))
        >>> out.content.shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        ngf: int = 64,
        n_blocks: int = 6,
        *,
        norm: AGGANNorm = "batch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "AGGANGenerator"
        self.ngf = check_int(fn, "ngf", ngf, minimum=1)
        self.n_blocks = check_int(fn, "n_blocks", n_blocks, minimum=0)
        self.norm = check_choice(fn, "norm", norm, ("batch", "instance"))
        f = factory_kwargs(device, dtype)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7, **f),
            _v1_norm(norm, ngf, f),
            nn.ReLU(inplace=True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, **f),
                _v1_norm(norm, ngf * mult * 2, f),
                nn.ReLU(inplace=True),
            ]
        layers += [_V1Block(ngf * 4, norm, f) for _ in range(n_blocks)]
        for mult in (4, 2):
            half = ngf * mult // 2
            layers += [
                nn.ReflectionPad2d(1),
                nn.Conv2d(ngf * mult, half, 3, **f),
                _v1_norm(norm, half, f),
                nn.ReLU(inplace=True),
                nn.Conv2d(half, half * 4, 1, **f),
                nn.PixelShuffle(2),
                _v1_norm(norm, half, f),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 4, 7, **f)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> AttentionOutput:
        """Translates ``x``; see the class docstring for shapes."""
        _check_image("AGGANGenerator.forward", x)
        return _blend_single(self.model(x), x)

    def extra_repr(self) -> str:
        return f"ngf={self.ngf}, n_blocks={self.n_blocks}, norm={self.norm!r}"


class AGGANDiscriminator(nn.Module):
    """The AGGAN paper script's discriminator (``AttentionGAN-v1``), with its keys.

    ``conv_tower``: four unpadded 4x4 stride-2 convolutions (``ndf``, ``2 ndf``,
    ``4 ndf``, ``8 ndf`` filters), each followed by ``BatchNorm2d`` and LeakyReLU(0.01),
    an unpadded 4x4 stride-1 convolution at ``8 ndf`` with LeakyReLU(0.01), adaptive
    average pooling to 1x1 and a 1x1 convolution to one score. It differs from
    :class:`~attnguide.nets.PatchDiscriminator` with ``head="pool"`` (padding 1, no norm
    on the first layer, LeakyReLU(0.2)), hence its own class. Wrapped by
    :class:`attnguide.MaskConditionedDiscriminator` it judges ``[mask, image]``.

    Args:
        in_channels: Channels of the input (the script's: 3).
        ndf: Filters of the first layer (the script's: 64).
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, in_channels, h, w)``, ``h`` and ``w`` at least 94 (the unpadded
          layers shrink the map to ``11x11`` at 256)
        - output: ``(b,)``, one raw score per image (the script's ``(b, 1, 1, 1)``
          flattened)

    Raises:
        TypeError: A size argument is not an int, or ``x`` not a float tensor.
        ValueError: A size is out of range, or ``x`` is too small.

    Example:
        >>> D = AGGANDiscriminator(ndf=4)
        >>> D(torch.rand(2, 3, 96, 96)).shape
        torch.Size([2])
    """

    min_size: int = 94

    def __init__(
        self,
        in_channels: int = 3,
        ndf: int = 64,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        fn = "AGGANDiscriminator"
        self.in_channels = check_int(fn, "in_channels", in_channels, minimum=1)
        self.ndf = check_int(fn, "ndf", ndf, minimum=1)
        f = factory_kwargs(device, dtype)
        layers: list[nn.Module] = []
        prev = in_channels
        for mult in (1, 2, 4, 8):
            layers += [
                nn.Conv2d(prev, ndf * mult, 4, 2, **f),
                nn.BatchNorm2d(ndf * mult, **f),
                nn.LeakyReLU(0.01),
            ]
            prev = ndf * mult
        layers += [
            nn.Conv2d(prev, prev, 4, **f),
            nn.LeakyReLU(0.01),
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(prev, 1, 1, **f),
        ]
        self.conv_tower = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Scores ``x``; see the class docstring for shapes."""
        fn = "AGGANDiscriminator.forward"
        check_shape(fn, "x", x, "b c h w", {"c": (self.in_channels, "in_channels")})
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"{fn}(): the height and width of 'x' must be at least {self.min_size} (five "
                f"unpadded 4x4 convolutions), got shape {tuple(x.shape)}"
            )
        return self.conv_tower(x).flatten()

    def extra_repr(self) -> str:
        return f"{self.in_channels}, ndf={self.ndf}"


# --- AGGAN multi-domain (AttentionGAN-v1-multi) ---------------------------------------------


class AGGANMultiGenerator(nn.Module):
    """The multi-domain AGGAN generator (``AttentionGAN-v1-multi``), with its keys.

    :class:`~attnguide.nets.StarGANGenerator`'s layers (the label tiled onto the image,
    a 7x7 convolution, two 4x4 stride-2 convolutions, ``repeat_num`` residual blocks,
    two 4x4 transposed convolutions, affine instance norm with running statistics, no
    convolution bias) up to the last bias-free 7x7 convolution, which emits 4 channels
    and no tanh: mask = sigmoid of channel 0, content = channels 1-3 as they are, image
    ``content * mask + x * (1 - mask)``. Its discriminator is StarGAN's,
    :class:`~attnguide.nets.StarGANDiscriminator`.

    Args:
        conv_dim: Filters of the first layer (64).
        c_dim: Length of the label (RaFD: 8 expressions; CelebA: 5 attributes).
        repeat_num: Residual blocks (6).
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - x: ``(b, 3, h, w)`` in [-1, 1], ``h`` and ``w`` multiples of 4
        - c: ``(b, c_dim)``, the target labels
        - output: :class:`~attnguide.AttentionOutput` with image ``(b, 3, h, w)``, mask
          ``(b, 1, h, w)``, content ``(b, 3, h, w)`` and tv ``(b,)``

    Raises:
        TypeError: A size argument is not an int, or an input not a float tensor.
        ValueError: A size is out of range, or the inputs' shapes disagree.

    Example:
        >>> G = AGGANMultiGenerator(conv_dim=8, c_dim=4, repeat_num=1)
        >>> out = G(torch.rand(2, 3, 16, 16) * 2 - 1, torch.eye(4)[[0, 3]])
        >>> out.image.shape, out.mask.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 1, 16, 16]))
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
        fn = "AGGANMultiGenerator"
        self.conv_dim = check_int(fn, "conv_dim", conv_dim, minimum=1)
        self.c_dim = check_int(fn, "c_dim", c_dim, minimum=1)
        self.repeat_num = check_int(fn, "repeat_num", repeat_num, minimum=0)
        f = factory_kwargs(device, dtype)
        self.main = nn.Sequential(*_generator_layers(conv_dim, c_dim, repeat_num, 4, f))

    def forward(self, x: Tensor, c: Tensor) -> AttentionOutput:
        """Translates ``x`` to the domains ``c``; see the class docstring for shapes."""
        raw = self.main(_with_label("AGGANMultiGenerator.forward", x, c, self.c_dim))
        return _blend_single(raw, x)

    def extra_repr(self) -> str:
        return f"conv_dim={self.conv_dim}, c_dim={self.c_dim}, repeat_num={self.repeat_num}"


AUTHORS_GENERATORS: dict[str, type[nn.Module]] = {
    "attentiongan": AttentionGANGenerator,
    "aggan": AGGANGenerator,
    "aggan-multi": AGGANMultiGenerator,
}
"""The authors' generators by architecture name (``attentiongan``: scheme II,
``aggan``: ``AttentionGAN-v1``, ``aggan-multi``: ``AttentionGAN-v1-multi``), the names
the examples' ``--arch`` takes."""


# --- conversion into an AttentionHead ---------------------------------------------------------


class _Body(nn.Module):
    """A generator made of one ``model`` Sequential (keeps the authors' key prefix)."""

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


@torch.no_grad()
def attention_head_from_authors(net: AGGANGenerator | AGGANMultiGenerator) -> AttentionHead:
    """Rebuilds an authors' single-mask generator as an :class:`~attnguide.AttentionHead`.

    The 4-channel output convolution is split exactly: its channels 1-3 become the
    wrapped generator's last convolution (the content), channel 0 the head's
    ``mask_conv`` (the mask logit; a zero bias where the authors' convolution has
    none). The authors apply no tanh to the content, so the wrapped generator has
    none either: for :class:`AGGANMultiGenerator` the result wraps a
    :class:`~attnguide.nets.StarGANGenerator` whose final ``Tanh`` is replaced by
    ``nn.Identity`` (``generator.main[-1]``), with every other weight and running
    statistic copied; for :class:`AGGANGenerator`, whose sub-pixel body has no
    counterpart among attnguide's reference networks, it wraps a copy of that body
    with a 3-channel last convolution (keys ``model.*`` as the authors'). The head
    then computes the authors' function (same image, mask and content), and trains
    as any :class:`~attnguide.AttentionHead`. ``net`` is not modified. (The head's
    ``reset_mask_parameters`` would discard the converted mask weights, as it does any
    trained ones.)

    Scheme II (:class:`AttentionGANGenerator`) has no such mapping: its masks come
    from a decoder of their own, not from a sibling of the content convolution.

    Args:
        net: The authors' generator, with its trained weights loaded.

    Returns:
        The head, on ``net``'s device and dtype, in ``net``'s train/eval mode.

    Raises:
        TypeError: ``net`` is not an :class:`AGGANGenerator` or
            :class:`AGGANMultiGenerator`.

    Example:
        >>> net = AGGANMultiGenerator(conv_dim=4, c_dim=3, repeat_num=1).eval()
        >>> head = attention_head_from_authors(net)
        >>> x, c = torch.rand(1, 3, 16, 16) * 2 - 1, torch.eye(3)[[2]]
        >>> torch.allclose(head(x, c).image, net(x, c).image, atol=1e-6)
        True
    """
    fn = "attention_head_from_authors"
    if isinstance(net, AGGANMultiGenerator):
        ref = next(net.parameters())
        body: nn.Module = StarGANGenerator(
            net.conv_dim, net.c_dim, net.repeat_num, device=ref.device, dtype=ref.dtype
        )
        # The authors' content has no tanh: say so in the module, not by approximation.
        body.main[-1] = nn.Identity()
        state = net.main.state_dict()
        last = len(net.main) - 1
        layer = f"main.{last}"
    elif isinstance(net, AGGANGenerator):
        body = _Body(copy.deepcopy(net.model))
        last = len(net.model) - 1
        old = net.model[last]
        body.model[last] = nn.Conv2d(
            old.in_channels, 3, 7, device=old.weight.device, dtype=old.weight.dtype
        )
        state = net.model.state_dict()
        layer = f"model.{last}"
    else:
        raise TypeError(
            f"{fn}(): 'net' must be an AGGANGenerator or AGGANMultiGenerator (a single "
            f"4-channel output convolution), got {type(net).__name__}"
        )
    weight, bias = state.pop(f"{last}.weight"), state.pop(f"{last}.bias", None)
    state[f"{last}.weight"] = weight[1:]
    if bias is not None:
        state[f"{last}.bias"] = bias[1:]
    inner = body.main if isinstance(body, StarGANGenerator) else body.model
    inner.load_state_dict(state)
    head = AttentionHead(body, layer=layer)
    head.mask_conv.weight.copy_(weight[:1])
    assert head.mask_conv.bias is not None
    if bias is None:
        head.mask_conv.bias.zero_()
    else:
        head.mask_conv.bias.copy_(bias[:1])
    head.train(net.training)
    return head
