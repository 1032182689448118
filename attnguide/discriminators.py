"""MaskConditionedDiscriminator: makes any discriminator judge [mask, image] pairs.

The paper's attention-guided discriminator D_YA (Eq. 3) sees the attention mask next
to the image, so it looks where the generator acted. Concatenating the mask to the
image would widen the discriminator's first convolution and break its checkpoints;
:class:`MaskConditionedDiscriminator` instead adds a zero-initialised *sibling* of
that convolution reading the mask, whose output is added to the convolution's output.
By linearity this is the widened convolution, with the mask's weights starting at 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from attnguide._validation import check_int, check_same_dtype_device, check_shape
from attnguide.surgery import ConvGeometry, Sibling, conv_layers, layer_input, resolve_conv, tap

__all__ = ["MaskConditionedDiscriminator"]

_FN = "MaskConditionedDiscriminator"
_FWD = "MaskConditionedDiscriminator.forward"


class MaskConditionedDiscriminator(nn.Module):
    """Wraps a discriminator so it is conditioned on an attention mask.

    ``D = MaskConditionedDiscriminator(discriminator)`` leaves ``discriminator``
    untouched (``D.discriminator.load_state_dict(...)`` loads upstream checkpoints) and
    returns exactly what it returns: a PatchGAN map, a ``(src, cls)`` tuple, a
    ``(b,)`` vector. ``D.mask_conv`` is a bias-free convolution with the geometry of the
    discriminator's first convolution, from ``mask_channels`` to that layer's output
    channels; its output is added to that layer's output at each call. Its weights
    start at zero, so at initialisation ``D(image, mask)`` equals
    ``discriminator(image)`` bit for bit, for any finite mask. (A NaN or infinite mask
    value gives NaN scores, as ``0 * nan`` is NaN: non-finite values propagate
    through arithmetic everywhere in attnguide and are never silently made finite.)

    **Which layer.** With ``layer="dotted.name"`` that convolution; otherwise the first
    ``nn.Conv2d``/``nn.ConvTranspose2d`` to *execute*, confirmed on the first forward
    (the mask conv is built for the first one registered; if the one that runs first has
    a different geometry, the first forward raises and asks for ``layer=``). The mask
    is added at that layer's first call in each forward, which must receive an input of
    the mask's spatial size.

    As with ``AttentionHead``, a resolved wrapper keeps one forward hook on the layer
    (a no-op outside its own forward), so it compiles with ``fullgraph=True`` and works
    under DDP, ``nn.DataParallel``, ``copy.deepcopy`` and non-strict ``torch.export``.

    The sibling's class is not a Conv, so CycleGAN-style ``init_weights`` and StarGAN
    v2's ``he_init`` leave it at zero; :meth:`reset_mask_parameters` restores it after
    any init that does not.

    Args:
        discriminator: Any ``nn.Module`` whose first argument is the image.
        mask_channels: Channels of the mask (``k`` for an ``AttentionHead`` with
            ``masks=k``).
        layer: Dotted name of the convolution that first sees the image; the first one
            to execute when ``None``.

    Raises:
        TypeError: An argument has the wrong type, or ``layer`` is not a convolution.
        ValueError: ``mask_channels < 1``, ``layer`` does not exist, or the
            discriminator has no convolution.

    Example:
        >>> discriminator = nn.Sequential(
        ...     nn.Conv2d(3, 8, 4, stride=2, padding=1),
        ...     nn.LeakyReLU(0.2),
        ...     nn.Conv2d(8, 1, 3),
        ... )
        >>> D = MaskConditionedDiscriminator(discriminator)
        >>> image, mask = torch.randn(2, 3, 16, 16), torch.rand(2, 1, 16, 16)
        >>> torch.equal(D(image, mask), discriminator(image))
        True
    """

    mask_conv: Sibling

    def __init__(
        self, discriminator: nn.Module, *, mask_channels: int = 1, layer: str | None = None
    ) -> None:
        super().__init__()
        if not isinstance(discriminator, nn.Module):
            raise TypeError(
                f"{_FN}(): 'discriminator' must be an nn.Module, got {type(discriminator).__name__}"
            )
        check_int(_FN, "mask_channels", mask_channels, minimum=1)
        self.discriminator = discriminator
        self.mask_channels = mask_channels
        # One frame per forward in progress: the mask to add, and whether it was added.
        self._frames: list[dict[str, Any]] = []
        self._resolved = False
        if layer is not None:
            conv = resolve_conv(_FN, discriminator, layer)
            self._layer = layer
        else:
            convs = conv_layers(discriminator)
            if not convs:
                raise ValueError(
                    f"{_FN}(): the wrapped {type(discriminator).__name__} has no nn.Conv2d "
                    "or nn.ConvTranspose2d; the mask conv copies its first convolution"
                )
            # Provisional: the first forward confirms it in execution order.
            self._layer, conv = convs[0]
        self.mask_conv = Sibling(
            ConvGeometry.of(conv),
            mask_channels,
            conv.out_channels,
            bias=False,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        if layer is not None:
            self._resolve()

    def _resolve(self) -> None:
        """Makes ``self._layer`` the layer for good and hooks it, once.

        The hook stays for the wrapper's lifetime and is a no-op outside the wrapper's
        own forward; torch.compile traces hooks that exist before it runs, which hooks
        added inside each forward are not (they break the graph).
        """
        self._resolved = True
        self.discriminator.get_submodule(self._layer).register_forward_hook(
            self._on_layer, prepend=True, with_kwargs=True
        )

    def _on_layer(self, module: nn.Module, args: Any, kwargs: Any, out: Tensor) -> Tensor | None:
        # A replica's layer (nn.DataParallel shares hook dictionaries) is not ours.
        if not self._frames or module is not self.discriminator.get_submodule(self._layer):
            return None
        return self._add_mask(self._frames[-1], self._layer, args, kwargs, out)

    def _add_mask(
        self, frame: dict[str, Any], name: str, args: Any, kwargs: Any, out: Tensor
    ) -> Tensor | None:
        """The layer's output plus the mask conv's, at the layer's first call of a forward."""
        if frame["done"]:
            return None
        frame["done"] = True
        x, mask = layer_input(args, kwargs), frame["mask"]
        if x.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                f"{_FWD}(): layer {name!r} receives an input of spatial size "
                f"{tuple(x.shape[-2:])} but the mask has {tuple(mask.shape[-2:])}; "
                "the mask is added at a convolution fed at the image's resolution. "
                "Pass layer= naming one; a discriminator that pads, crops or pools "
                "the image before every convolution cannot take the mask"
            )
        return out + self.mask_conv(mask, output_size=(out.shape[-2], out.shape[-1]))

    @torch.no_grad()
    def reset_mask_parameters(self) -> None:
        """Zeroes the mask conv again, so the wrapped D ignores the mask.

        Call it after any code that re-initialises every module.
        """
        self.mask_conv.weight.zero_()

    def extra_repr(self) -> str:
        return f"mask_channels={self.mask_channels}, layer={self._layer!r}"

    def forward(self, image: Tensor, mask: Tensor, *args: Any, **kwargs: Any) -> Any:
        """Runs the discriminator on ``image``, with ``mask`` added at its first conv.

        Args:
            image: The image to judge; passed to the discriminator first.
            mask: The attention mask(s) that produced it (use ``mask.detach()`` for
                real images scored with a generated mask, as in the paper).
            *args: Passed to the discriminator after the image (e.g. labels).
            **kwargs: Passed to the discriminator.

        Returns:
            Whatever the wrapped discriminator returns.

        Shape:
            - image: ``(b, c, h, w)``
            - mask: ``(b, mask_channels, h, w)``

        Raises:
            TypeError: ``image`` or ``mask`` is not a floating-point tensor, or their
                dtypes differ.
            ValueError: The shapes disagree, or the devices; the layer did not run,
                does not receive an input of the mask's spatial size, or (found on the
                first forward) cannot be served by the mask conv built at construction.
        """
        sizes: dict[str, tuple[int, str]] = {}
        check_shape(_FWD, "image", image, "b c h w", sizes)
        check_shape(_FWD, "mask", mask, f"b {self.mask_channels} h w", sizes)
        check_same_dtype_device(_FWD, image=image, mask=mask)
        frame: dict[str, Any] = {"mask": mask, "done": False}
        if self._resolved and not getattr(self, "_is_replica", False):
            self._frames.append(frame)
            try:
                result = self.discriminator(image, *args, **kwargs)
            finally:
                self._frames.pop()
        else:
            result = self._tapped_call(frame, image, args, kwargs)
        if not frame["done"]:
            raise ValueError(
                f"{_FWD}(): layer {self._layer!r} did not run during the discriminator's "
                "forward; pass layer= naming the convolution that first sees the image"
            )
        return result

    def _tapped_call(self, frame: dict[str, Any], image: Tensor, args: Any, kwargs: Any) -> Any:
        """The discriminator's output through hooks added for this call only: before the
        layer is resolved, and in nn.DataParallel replicas (whose layers are copies the
        lasting hook does not serve)."""

        def add_mask(name: str, _m: nn.Module, a: Any, kw: Any, out: Tensor) -> Tensor | None:
            if frame["done"]:
                return None
            if not self._resolved:
                self._adopt(name)
            return self._add_mask(frame, name, a, kw, out)

        layers = (
            {self._layer: self.discriminator.get_submodule(self._layer)}
            if self._resolved
            else dict(conv_layers(self.discriminator))
        )
        with tap(layers, add_mask):
            return self.discriminator(image, *args, **kwargs)

    def _adopt(self, name: str) -> None:
        """Makes ``name`` the layer for good, if the mask conv built at init can serve it."""
        if name != self._layer:
            conv = self.discriminator.get_submodule(name)
            geometry = ConvGeometry.of(conv)
            sibling = self.mask_conv
            if geometry != sibling.geometry or conv.out_channels != sibling.out_channels:
                raise ValueError(
                    f"{_FWD}(): the first convolution to run is {name!r} "
                    f"({geometry.describe()}, {conv.out_channels} output channels), but "
                    f"the mask conv was built at construction for {self._layer!r} "
                    f"({sibling.geometry.describe()}, {sibling.out_channels} output "
                    f"channels), the first one registered. Pass layer={name!r} to "
                    "MaskConditionedDiscriminator so the mask conv is built for it"
                )
            self._layer = name
        self._resolve()
