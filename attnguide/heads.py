"""AttentionHead: makes any image-to-image generator attention-guided.

The paper's generator ends in ``c7s1-4``: one convolution emitting 3 content channels
(through tanh) and 1 mask channel (through a sigmoid). :class:`AttentionHead` gets the
same function from an existing generator without touching it: it adds a *sibling* of
the generator's last image-producing convolution, fed that layer's input, and reads
the mask logits from the sibling. The generator's own output is the content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from attnguide import ops
from attnguide._validation import check_int, check_real, check_shape
from attnguide.surgery import (
    ConvGeometry,
    Sibling,
    conv_layers,
    describe_calls,
    layer_input,
    resolve_conv,
    tap,
    trace_convs,
)

__all__ = ["AttentionHead", "AttentionOutput"]

_FN = "AttentionHead"
_FWD = "AttentionHead.forward"


class AttentionOutput(NamedTuple):
    """What an :class:`AttentionHead` returns.

    A NamedTuple, so it unpacks (``image, mask, content, tv = G(x)``) and passes through
    ``torch.compile`` and ``torch.export``.

    Attributes:
        image: The translated image, ``content * mask + source * (1 - mask)``.
        mask: The attention mask(s) in [0, 1]; 1 takes the content.
        content: The wrapped generator's own output (for ``masks=k >= 2``, stacked with
            the ``k - 2`` extra contents).
        tv: Per-sample total variation of the mask (of the ``k - 1`` foreground masks
            when ``masks=k >= 2``), ready for the attention loss.

    Shape:
        - image: ``(b, c, h, w)``
        - mask: ``(b, 1, h, w)``, or ``(b, k, h, w)`` with ``masks=k >= 2``
        - content: ``(b, c, h, w)``, or ``(b, k-1, c, h, w)`` with ``masks=k >= 2``
        - tv: ``(b,)``

    Example:
        >>> out = AttentionOutput(torch.zeros(2, 3, 8, 8), torch.ones(2, 1, 8, 8),
        ...                       torch.zeros(2, 3, 8, 8), torch.zeros(2))
        >>> image, mask, content, tv = out
        >>> out.mask.shape
        torch.Size([2, 1, 8, 8])
    """

    image: Tensor
    mask: Tensor
    content: Tensor
    tv: Tensor


def _blend_and_tv(mask: Tensor, content: Tensor, source: Tensor) -> tuple[Tensor, Tensor]:
    # One fused pass on CUDA (Triton); the reference blend and TV elsewhere.
    return ops.blend_tv(mask, content, source)


class AttentionHead(nn.Module):
    """Wraps a generator so it emits an attention mask and blends with the source.

    ``G = AttentionHead(generator)`` leaves ``generator`` untouched (its modules,
    forward, output and ``state_dict`` keys): ``G.generator.load_state_dict(...)``
    loads upstream checkpoints. The mask comes from ``G.mask_conv``, a new convolution
    with the geometry (kernel, stride, padding, dilation, padding mode, transposed or
    not) of the generator's last image-producing convolution, fed that layer's input.
    For a generator ending in ``conv -> tanh`` this is the paper's ``c7s1-4`` layer
    split in two: the generator's output is the content, the sibling's the mask logits.

    The layer is the one named by ``layer``, or else the last convolution to execute
    whose output has the image's shape, traced from ``example_inputs`` or the first
    forward. Once resolved, the head keeps one hook on it (a no-op outside its forward),
    so it compiles with ``fullgraph=True`` and works under DDP and ``nn.DataParallel``.

    The sibling starts at zero, so the initial mask is ``sigmoid(mask_bias)``: 0 (mask
    0.5) learns fastest from scratch; a large bias (10: mask 0.99995) keeps a
    *pretrained* generator's translations at step 0 but scales the mask's gradient by
    about ``exp(-mask_bias)``, so it learns slowly; a moderate bias trades the two. With
    ``masks=k >= 2`` the sibling also emits ``k - 2`` extra contents (AttentionGAN
    scheme II). The guide "How AttentionHead works" has the details of each.

    Args:
        generator: Any ``nn.Module`` mapping its inputs to an image (or a tuple holding
            one).
        masks: Number of attention masks ``k``; 1 is AGGAN's sigmoid mask.
        mask_bias: Initial mask logit (finite); see above.
        layer: Dotted name of the convolution that produces the image (as in
            ``generator.named_modules()``); found by tracing when ``None``.
        example_inputs: Positional arguments (a tuple, or one tensor) for a tracing
            forward at construction, in eval mode and without gradients; it also checks
            the shapes early.
        source: ``source(*args, **kwargs) -> Tensor`` picks the source image from the
            forward's arguments; default: the first positional argument.
        output: Index into a tuple/list output, or ``output(generator_output) ->
            Tensor``, picking the image; default: the output itself if a tensor, else
            its first tensor element.

    Shape:
        - source: ``(b, c, h, w)``, equal to the generator's image.
        - output: see :class:`AttentionOutput`.

    Raises:
        TypeError: An argument has the wrong type, or ``layer`` is not a convolution.
        ValueError: ``masks < 1``, ``mask_bias`` is not finite, ``layer`` does not
            exist, the generator has no convolution, or (from ``example_inputs``) the
            shapes do not fit; see :meth:`forward` for errors found at call time.

    Example:
        >>> generator = nn.Sequential(
        ...     nn.Conv2d(3, 8, 3, padding=1),
        ...     nn.ReLU(),
        ...     nn.Conv2d(8, 3, 3, padding=1),
        ...     nn.Tanh(),
        ... )
        >>> G = AttentionHead(generator)
        >>> out = G(torch.randn(2, 3, 16, 16))
        >>> out.image.shape, out.mask.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 1, 16, 16]))
        >>> out.tv.shape
        torch.Size([2])
        >>> bool((out.mask == 0.5).all())  # sigmoid(mask_bias=0.0)
        True
    """

    mask_conv: Sibling

    def __init__(
        self,
        generator: nn.Module,
        *,
        masks: int = 1,
        mask_bias: float = 0.0,
        layer: str | None = None,
        example_inputs: tuple[Any, ...] | Tensor | None = None,
        source: Callable[..., Tensor] | None = None,
        output: int | Callable[[Any], Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(generator, nn.Module):
            raise TypeError(
                f"{_FN}(): 'generator' must be an nn.Module, got {type(generator).__name__}"
            )
        check_int(_FN, "masks", masks, minimum=1)
        check_real(_FN, "mask_bias", mask_bias)
        if source is not None and not callable(source):
            raise TypeError(
                f"{_FN}(): 'source' must be None or a callable (*args, **kwargs) -> Tensor, "
                f"got {type(source).__name__}"
            )
        if not (output is None or callable(output)) and (
            not isinstance(output, int) or isinstance(output, bool)
        ):
            raise TypeError(
                f"{_FN}(): 'output' must be None, an int index or a callable "
                f"(generator output) -> Tensor, got {type(output).__name__}"
            )
        if isinstance(example_inputs, Tensor):
            example_inputs = (example_inputs,)
        if example_inputs is not None and not isinstance(example_inputs, (tuple, list)):
            raise TypeError(
                f"{_FN}(): 'example_inputs' must be a tuple of positional arguments or a "
                f"tensor, got {type(example_inputs).__name__}"
            )

        self.generator = generator
        self.masks = masks
        self.mask_bias = float(mask_bias)
        self._source = source
        self._output = output
        # One list per forward in progress, filled by the hook on the resolved layer.
        self._frames: list[list[tuple[Tensor, torch.Size]]] = []
        self._resolved = False
        if layer is not None:
            conv = resolve_conv(_FN, generator, layer)
            self._layer = layer
            self._resolve()
        else:
            convs = conv_layers(generator)
            if not convs:
                raise ValueError(
                    f"{_FN}(): the wrapped {type(generator).__name__} has no nn.Conv2d or "
                    "nn.ConvTranspose2d; the mask conv copies the convolution that "
                    "produces the image"
                )
            # Provisional until a trace confirms it: an image-to-image generator usually
            # ends with as many channels as it starts with.
            image_like = [c for c in convs if c[1].out_channels == convs[0][1].in_channels]
            self._layer, conv = (image_like or convs)[-1]
        self._build_mask_conv(conv)
        if example_inputs is not None:
            self._trace_at_construction(tuple(example_inputs))

    # -- construction helpers ---------------------------------------------------------

    def _mask_conv_channels(self, image_channels: int) -> int:
        k = self.masks
        return 1 if k == 1 else k + (k - 2) * image_channels

    def _build_mask_conv(self, conv: nn.Module) -> None:
        weight = conv.weight
        self.mask_conv = Sibling(
            ConvGeometry.of(conv),
            conv.in_channels,
            self._mask_conv_channels(conv.out_channels),
            bias=True,
            device=weight.device,
            dtype=weight.dtype,
        )
        self.reset_mask_parameters()

    def _trace_at_construction(self, example_inputs: tuple[Any, ...]) -> None:
        traced, raw = trace_convs(self.generator, example_inputs)
        content = self._content_of(raw, _FN)
        self._check_source(content, self._source_of(example_inputs, {}, _FN), raw, _FN)
        calls = [(n, None, out) for n, _, out in traced if not self._resolved or n == self._layer]
        name, _, _ = self._pick(calls, content, _FN)
        if name != self._layer:
            # Nothing can hold the mask conv yet, so rebuild it for the traced layer.
            self._layer = name
            self._build_mask_conv(self.generator.get_submodule(name))
        self._resolve()

    def _resolve(self) -> None:
        """Makes ``self._layer`` the layer for good and hooks it, once.

        The hook stays for the head's lifetime and is a no-op outside the head's own
        forward; torch.compile traces hooks that exist before it runs, which hooks
        added inside each forward are not (they break the graph).
        """
        self._resolved = True
        self.generator.get_submodule(self._layer).register_forward_hook(
            self._on_layer, prepend=True, with_kwargs=True
        )

    def _on_layer(self, module: nn.Module, args: Any, kwargs: Any, output: Tensor) -> None:
        # A replica's layer (nn.DataParallel shares hook dictionaries) is not ours.
        if self._frames and module is self.generator.get_submodule(self._layer):
            self._frames[-1].append((layer_input(args, kwargs), output.shape))

    @torch.no_grad()
    def reset_mask_parameters(self) -> None:
        """Restores the mask conv's initialisation.

        Zero weights and biases except the bias of the first mask logit, ``mask_bias``;
        so the initial mask is ``sigmoid(mask_bias)`` (``softmax`` with ``masks >= 2``).
        With ``masks >= 3`` the extra content channels get PyTorch's default conv
        initialisation. Call it after any code that re-initialises every module, e.g.
        ``net.apply(init_func)``.
        """
        self.mask_conv.weight.zero_()
        bias = self.mask_conv.bias
        assert bias is not None
        bias.zero_()
        bias[0] = self.mask_bias
        if self.masks >= 3:
            self.mask_conv.reset_uniform_(slice(self.masks, None))

    def extra_repr(self) -> str:
        return f"masks={self.masks}, mask_bias={self.mask_bias}, layer={self._layer!r}"

    # -- forward ------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> AttentionOutput:
        """Runs the generator and blends its output with the source through the mask.

        Args:
            *args: Passed to the generator; the first is the source by default.
            **kwargs: Passed to the generator.

        Returns:
            ``AttentionOutput(image, mask, content, tv)``. Computed in the promoted dtype
            of the content and the source (they differ under autocast).

        Shape:
            - source: ``(b, c, h, w)``
            - see :class:`AttentionOutput` for the outputs.

        Raises:
            TypeError: No source can be found (no positional argument, or not a
                tensor), or the generator's output holds no tensor where expected.
            ValueError: The chosen layer did not run or does not emit the image's
                shape; no convolution emits the image's shape; the traced layer cannot
                be served by the mask conv built at construction; the image and the
                source differ in shape.
        """
        source = self._source_of(args, kwargs, _FWD)
        if self._resolved and not getattr(self, "_is_replica", False):
            frame: list[tuple[Tensor, torch.Size]] = []
            self._frames.append(frame)
            try:
                raw = self.generator(*args, **kwargs)
            finally:
                self._frames.pop()
            calls = [(self._layer, features, shape) for features, shape in frame]
        else:
            raw, calls = self._traced_call(args, kwargs)
        content = self._content_of(raw, _FWD)
        self._check_source(content, source, raw, _FWD)
        name, features, out_shape = self._pick(calls, content, _FWD)
        if not self._resolved:
            self._adopt(name)

        logits = self.mask_conv(features, output_size=(out_shape[-2], out_shape[-1]))
        dtype = torch.promote_types(torch.promote_types(logits.dtype, content.dtype), source.dtype)
        content, source, logits = content.to(dtype), source.to(dtype), logits.to(dtype)
        k = self.masks
        if k == 1:
            mask = torch.sigmoid(logits)
            image, tv = _blend_and_tv(mask, content, source)
            return AttentionOutput(image, mask, content, tv)
        masks = torch.softmax(logits[:, :k], dim=1)
        extra = torch.tanh(logits[:, k:]).unflatten(1, (k - 2, content.shape[1]))
        contents = torch.cat([content.unsqueeze(1), extra], dim=1)
        # The background mask is 1 minus the others, so penalising the k-1 foreground
        # masks suffices; with k=2 this equals the single-mask TV.
        image, tv = ops.multi_blend_tv(masks, contents, source)
        return AttentionOutput(image, masks, contents, tv)

    def _traced_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, list[tuple[str, Tensor, torch.Size]]]:
        """The generator's output and its convolution calls, through hooks added for this
        call only: before the layer is resolved, and in nn.DataParallel replicas (whose
        layers are copies the lasting hook does not serve)."""
        calls: list[tuple[str, Tensor, torch.Size]] = []

        def record(name: str, _m: nn.Module, a: Any, kw: Any, out: Tensor) -> None:
            calls.append((name, layer_input(a, kw), out.shape))

        layers = (
            {self._layer: self.generator.get_submodule(self._layer)}
            if self._resolved
            else dict(conv_layers(self.generator))
        )
        with tap(layers, record):
            raw = self.generator(*args, **kwargs)
        return raw, calls

    def _source_of(self, args: tuple[Any, ...], kwargs: dict[str, Any], fn: str) -> Tensor:
        if self._source is not None:
            source = self._source(*args, **kwargs)
            if not isinstance(source, Tensor):
                raise TypeError(
                    f"{fn}(): the 'source' callable must return a tensor, "
                    f"got {type(source).__name__}"
                )
        else:
            if not args:
                raise TypeError(
                    f"{fn}(): the source is the first positional argument, but none was "
                    "given; pass source= to AttentionHead a callable (*args, **kwargs) -> "
                    "Tensor that picks it"
                )
            source = args[0]
            if not isinstance(source, Tensor):
                raise TypeError(
                    f"{fn}(): the source is the first positional argument, which is a "
                    f"{type(source).__name__}, not a tensor; pass source= to AttentionHead "
                    "a callable (*args, **kwargs) -> Tensor that picks it"
                )
        return check_shape(fn, "source", source, "b c h w")

    def _content_of(self, raw: Any, fn: str) -> Tensor:
        pick = self._output
        if pick is None:
            if isinstance(raw, Tensor):
                content = raw
            elif isinstance(raw, (tuple, list)) and any(isinstance(t, Tensor) for t in raw):
                content = next(t for t in raw if isinstance(t, Tensor))
            else:
                raise TypeError(
                    f"{fn}(): the generator returned a {type(raw).__name__} holding no "
                    "tensor where the image is looked for (the output itself, or the "
                    "first tensor of a tuple/list); pass output= to AttentionHead an "
                    "index or a callable that picks the image"
                )
        elif isinstance(pick, int):
            if not isinstance(raw, (tuple, list)):
                raise TypeError(
                    f"{fn}(): output={pick} indexes a tuple or list, but the generator "
                    f"returned a {type(raw).__name__}"
                )
            if not -len(raw) <= pick < len(raw):
                raise ValueError(
                    f"{fn}(): output={pick} is out of range for the generator's "
                    f"{len(raw)}-element {type(raw).__name__}"
                )
            content = raw[pick]
        else:
            content = pick(raw)
        if not isinstance(content, Tensor):
            raise TypeError(
                f"{fn}(): the generator's image must be a tensor, got "
                f"{type(content).__name__}; pass output= to AttentionHead to pick it"
            )
        return check_shape(fn, "generator output", content, "b c h w")

    def _pick(
        self, calls: list[tuple[str, Any, torch.Size]], content: Tensor, fn: str
    ) -> tuple[str, Any, torch.Size]:
        """Chooses the call of the image-producing convolution among ``calls``.

        ``calls`` holds ``(name, input, output_shape)`` per convolution call, in order.
        """
        shape = tuple(content.shape)
        if self._resolved:
            if not calls:
                raise ValueError(
                    f"{fn}(): layer {self._layer!r} did not run during the generator's "
                    "forward; pass layer= naming the convolution that produces the image"
                )
            name, features, out = calls[-1]
            if tuple(out) != shape:
                raise ValueError(
                    f"{fn}(): layer {name!r} emits shape {tuple(out)} but the "
                    f"generator's image has shape {shape}; the mask conv must copy the "
                    "convolution that produces the image (its channels, at full "
                    "resolution). Pass layer= naming that convolution"
                )
            return name, features, out
        matches = [call for call in calls if tuple(call[2]) == shape]
        if not matches:
            ran = describe_calls([(n, out) for n, _, out in calls])
            raise ValueError(
                f"{fn}(): no convolution of the generator emits the image's shape {shape} "
                f"(convolutions that ran, last first: {ran}); the mask conv must copy "
                "the convolution that produces the image (its channels, at full "
                "resolution). Pass layer= naming that convolution"
            )
        return matches[-1]

    def _adopt(self, name: str) -> None:
        """Makes ``name`` the layer for good, if the mask conv built at init can serve it."""
        if name != self._layer:
            conv = self.generator.get_submodule(name)
            geometry = ConvGeometry.of(conv)
            sibling = self.mask_conv
            if (
                geometry != sibling.geometry
                or conv.in_channels != sibling.in_channels
                or self._mask_conv_channels(conv.out_channels) != sibling.out_channels
            ):
                raise ValueError(
                    f"{_FWD}(): the image comes from layer {name!r} ({geometry.describe()}, "
                    f"{conv.in_channels} -> {conv.out_channels} channels), the last "
                    "convolution to run with the image's shape, but the mask conv was "
                    f"built at construction for {self._layer!r} "
                    f"({sibling.geometry.describe()}, {sibling.in_channels} input "
                    "channels), the provisional guess. Pass layer="
                    f"{name!r} (or example_inputs=) to AttentionHead so the mask conv "
                    "is built for the right layer"
                )
            self._layer = name
        self._resolve()

    def _check_source(self, content: Tensor, source: Tensor, raw: Any, fn: str) -> None:
        if content.shape != source.shape:
            hint = ""
            if self._output is None and not isinstance(raw, Tensor):
                hint = (
                    f". The image was taken as the first tensor of the generator's "
                    f"{type(raw).__name__}; if another element is the image, pass output= "
                    "to AttentionHead"
                )
            raise ValueError(
                f"{fn}(): the generator's image has shape {tuple(content.shape)} but the "
                f"source has shape {tuple(source.shape)}; they must match to be blended. "
                "If the generator maps input_nc channels to a different output_nc, pass "
                "source= to AttentionHead a callable (*args, **kwargs) -> Tensor giving a "
                "source of the image's shape (e.g. the input converted to output_nc "
                f"channels){hint}"
            )
