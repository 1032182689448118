"""Module surgery shared by the adapters: find a convolution, copy its geometry, tap it.

The adapters never edit the wrapped model. They add a *sibling*: a new convolution
with the geometry of one of the model's layers, fed the same input (for a generator)
or adding into the same output (for a discriminator). The model's modules, forward
and ``state_dict`` keys stay exactly as they were, so upstream checkpoints still load.

Once an adapter knows its layer, it keeps one forward hook there, which only acts
inside the adapter's own forward and writes only into that call's frame: torch.compile
traces hooks that exist before it runs. Hooks for a single call (see :func:`tap`)
serve what cannot use a lasting one: the first forward that finds the layer, and
``nn.DataParallel`` replicas, whose hook dictionaries are shared with the original
module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CONV_TYPES",
    "ConvGeometry",
    "Sibling",
    "conv_layers",
    "describe_calls",
    "layer_input",
    "resolve_conv",
    "tap",
    "trace_convs",
]

CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.ConvTranspose2d)
"""The layer types the adapters can attach a sibling to."""

Pair = tuple[int, int]


def _pair(value: int | tuple[int, ...]) -> Pair:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ConvGeometry:
    """Everything that fixes how a 2-D convolution maps spatial sizes, but not channels.

    Two layers with equal geometry, fed inputs of one spatial size, emit outputs of one
    spatial size. Groups are deliberately left out: a sibling is always dense
    (``groups=1``), whatever the layer it copies.

    Example:
        >>> conv = nn.Conv2d(3, 8, 4, stride=2, padding=1)
        >>> print(ConvGeometry.of(conv).describe())
        Conv2d(kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), dilation=(1, 1))
    """

    transposed: bool
    kernel_size: Pair
    stride: Pair
    padding: Pair | str
    dilation: Pair
    output_padding: Pair
    padding_mode: str

    @classmethod
    def of(cls, conv: nn.Module) -> ConvGeometry:
        """Reads the geometry of an ``nn.Conv2d`` or ``nn.ConvTranspose2d``."""
        if not isinstance(conv, CONV_TYPES):
            raise TypeError(
                f"ConvGeometry.of(): expected an nn.Conv2d or nn.ConvTranspose2d, "
                f"got {type(conv).__name__}"
            )
        padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
        return cls(
            transposed=isinstance(conv, nn.ConvTranspose2d),
            kernel_size=_pair(conv.kernel_size),
            stride=_pair(conv.stride),
            padding=padding,
            dilation=_pair(conv.dilation),
            output_padding=_pair(conv.output_padding),
            padding_mode=conv.padding_mode,
        )

    def describe(self) -> str:
        """A short human-readable form for error messages."""
        kind = "ConvTranspose2d" if self.transposed else "Conv2d"
        parts = [
            f"kernel_size={self.kernel_size}",
            f"stride={self.stride}",
            f"padding={self.padding!r}"
            if isinstance(self.padding, str)
            else f"padding={self.padding}",
            f"dilation={self.dilation}",
        ]
        if self.transposed:
            parts.append(f"output_padding={self.output_padding}")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode!r}")
        return f"{kind}({', '.join(parts)})"

    def reversed_padding(self) -> tuple[int, int, int, int]:
        """The ``F.pad`` amounts (left, right, top, bottom) for a non-zero padding mode."""
        if isinstance(self.padding, str):
            if self.padding == "valid":
                return (0, 0, 0, 0)
            # "same", as nn.Conv2d splits it: the extra pixel goes right/bottom.
            pads: list[int] = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size), strict=True):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return (pads[0], pads[1], pads[2], pads[3])
        ph, pw = self.padding
        return (pw, pw, ph, ph)


class Sibling(nn.Module):
    """A convolution with another layer's geometry and its own channel counts.

    The class name deliberately avoids "Conv": upstream training code re-initialises
    modules whose class name contains "Conv" (CycleGAN's ``init_weights``) or that are
    instances of ``nn.Conv2d`` (StarGAN v2's ``he_init``), and a sibling must keep its
    zero initialisation through that.

    Args:
        geometry: The geometry to copy (see :class:`ConvGeometry`).
        in_channels: Channels of the input the sibling reads.
        out_channels: Channels it emits.
        bias: Whether it has a bias.
        device: Where to create the parameters.
        dtype: Their dtype.

    Shape:
        - input: ``(b, in_channels, h, w)``
        - output: ``(b, out_channels, h', w')``, ``h', w'`` as the copied layer computes
          them for an input of size ``h, w``.

    Example:
        >>> conv = nn.Conv2d(8, 3, 7, padding=3, padding_mode="reflect")
        >>> sibling = Sibling(ConvGeometry.of(conv), 8, 1, bias=True)
        >>> x = torch.randn(2, 8, 16, 16)
        >>> sibling(x).shape == conv(x)[:, :1].shape  # zero weights: all zeros
        True
    """

    weight: Tensor
    bias: Tensor | None

    def __init__(
        self,
        geometry: ConvGeometry,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.geometry = geometry
        self.in_channels = in_channels
        self.out_channels = out_channels
        kh, kw = geometry.kernel_size
        # nn.ConvTranspose2d stores its weight as (in, out, kh, kw); keep that layout so
        # a sibling's weight reads like the layer it copies.
        shape = (
            (in_channels, out_channels, kh, kw)
            if geometry.transposed
            else (out_channels, in_channels, kh, kw)
        )
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.zeros(shape, **factory))
        self.bias = nn.Parameter(torch.zeros(out_channels, **factory)) if bias else None

    def forward(self, x: Tensor, output_size: tuple[int, int] | None = None) -> Tensor:
        """Applies the convolution.

        Args:
            x: The input, as the copied layer would receive it.
            output_size: For a transposed geometry, the spatial size to produce (the
                copied layer's actual output size, which may have been chosen by an
                ``output_size`` argument at its call); ignored otherwise.

        Returns:
            The sibling's output.
        """
        g = self.geometry
        if g.transposed:
            output_padding = g.output_padding
            if output_size is not None:
                output_padding = self._output_padding(x, output_size)
            assert not isinstance(g.padding, str)  # nn.ConvTranspose2d has no string padding
            return F.conv_transpose2d(
                x, self.weight, self.bias, g.stride, g.padding, output_padding, 1, g.dilation
            )
        if g.padding_mode != "zeros":
            x = F.pad(x, g.reversed_padding(), mode=g.padding_mode)
            return F.conv2d(x, self.weight, self.bias, g.stride, 0, g.dilation)
        return F.conv2d(x, self.weight, self.bias, g.stride, g.padding, g.dilation)

    def _output_padding(self, x: Tensor, output_size: tuple[int, int]) -> Pair:
        g = self.geometry
        assert not isinstance(g.padding, str)
        pads = []
        for axis in range(2):
            natural = (
                (x.shape[axis - 2] - 1) * g.stride[axis]
                - 2 * g.padding[axis]
                + g.dilation[axis] * (g.kernel_size[axis] - 1)
                + 1
            )
            pads.append(int(output_size[axis]) - natural)
        return (pads[0], pads[1])

    def reset_uniform_(self, rows: slice) -> None:
        """Gives output channels ``rows`` PyTorch's default conv initialisation."""
        with torch.no_grad():
            # As nn.Conv2d.reset_parameters: kaiming_uniform_(a=sqrt(5)), with the fan
            # of the whole weight (a transposed weight's fan_in counts every output
            # channel, not only those of ``rows``).
            fresh = torch.empty_like(self.weight)
            nn.init.kaiming_uniform_(fresh, a=math.sqrt(5))
            if self.geometry.transposed:
                self.weight[:, rows] = fresh[:, rows]
            else:
                self.weight[rows] = fresh[rows]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, {self.geometry.describe()}, "
            f"bias={self.bias is not None}"
        )


def conv_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``nn.Conv2d`` / ``nn.ConvTranspose2d`` inside ``module``, in registration order.

    The name ``""`` stands for ``module`` itself when it is a convolution.

    Example:
        >>> net = nn.Sequential(
        ...     nn.Conv2d(3, 8, 3), nn.ReLU(), nn.ConvTranspose2d(8, 3, 3)
        ... )
        >>> [name for name, _ in conv_layers(net)]
        ['0', '2']
    """
    return [(name, m) for name, m in module.named_modules() if isinstance(m, CONV_TYPES)]


def resolve_conv(fn: str, module: nn.Module, name: object) -> nn.Module:
    """Looks up the convolution ``name`` (a dotted path) inside ``module``.

    Raises:
        TypeError: ``name`` is not a string, or names a module that is not a convolution.
        ValueError: No submodule has that name.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        >>> resolve_conv("wrap", net, "0")
        Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
    """
    if not isinstance(name, str):
        raise TypeError(
            f"{fn}(): 'layer' must be a dotted module name such as 'model.26', "
            f"got {type(name).__name__}"
        )
    try:
        layer = module.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in conv_layers(module)]
        raise ValueError(
            f"{fn}(): layer={name!r} is not a submodule of the wrapped "
            f"{type(module).__name__}; its convolutions are {names}"
        ) from None
    if not isinstance(layer, CONV_TYPES):
        raise TypeError(
            f"{fn}(): layer={name!r} is {type(layer).__name__}, expected an nn.Conv2d "
            "or nn.ConvTranspose2d"
        )
    return layer


Hook = Callable[[str, nn.Module, tuple[Any, ...], dict[str, Any], Any], Any]


@contextmanager
def tap(layers: Mapping[str, nn.Module], hook: Hook) -> Iterator[None]:
    """Calls ``hook(name, module, args, kwargs, output)`` after each of ``layers`` runs.

    A non-``None`` return value replaces the layer's output, as with
    ``register_forward_hook``. The hooks are removed on exit, even on error.

    Replicas made by ``nn.DataParallel`` share their hook dictionaries with the module
    they were copied from, so a hook registered on one replica also fires when another
    replica's layer runs in a parallel thread. Each hook therefore checks that the
    module it was called for is the very layer it was registered on. Such a foreign
    call may even come without ``kwargs``: ``Module.__call__`` looks up whether a hook
    takes them only after it has copied the hook list, so a hook that another thread
    is adding or removing meanwhile is called as ``hook(module, args, output)``.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        >>> seen = []
        >>> def hook(name, module, args, kwargs, out):
        ...     seen.append((name, out.shape))
        >>> with tap({"0": net[0]}, hook):
        ...     _ = net(torch.zeros(1, 3, 5, 5))
        >>> seen, len(net[0]._forward_hooks)  # the hook is gone again
        ([('0', torch.Size([1, 4, 3, 3]))], 0)
    """
    handles = []

    def make(name: str, layer: nn.Module) -> Callable[..., Any]:
        def on_forward(module: nn.Module, args: tuple[Any, ...], *rest: Any) -> Any:
            if module is not layer:
                return None
            kwargs, output = rest
            return hook(name, module, args, kwargs, output)

        return on_forward

    try:
        for name, layer in layers.items():
            # prepend: see (and condition) the layer's own output before any hook the
            # user may have registered on it.
            handles.append(
                layer.register_forward_hook(make(name, layer), prepend=True, with_kwargs=True)
            )
        yield
    finally:
        for handle in handles:
            handle.remove()


def layer_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """The input tensor a convolution was called with, positional or ``input=``.

    Example:
        >>> x = torch.zeros(1)
        >>> layer_input((x,), {}) is x and layer_input((), {"input": x}) is x
        True
    """
    return args[0] if args else kwargs["input"]


@contextmanager
def _inference_mode_for_trace(module: nn.Module) -> Iterator[None]:
    # Eval mode so a tracing forward never updates BatchNorm running statistics; each
    # module's own flag is restored, since models may mix train and eval submodules.
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in flags:
            m.training = training


def trace_convs(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None
) -> tuple[list[tuple[str, torch.Size, torch.Size]], Any]:
    """Runs ``module`` once and records which convolutions execute, in order.

    The run is in eval mode under ``torch.no_grad()`` and leaves no trace on the module
    (training flags restored, hooks removed, no running statistics updated).

    Returns:
        ``([(name, input_shape, output_shape), ...], output)`` with one entry per call.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
        >>> calls, out = trace_convs(net, (torch.zeros(1, 3, 5, 5),))
        >>> [(name, tuple(o)) for name, _, o in calls]
        [('0', (1, 4, 3, 3)), ('1', (1, 2, 3, 3))]
    """
    calls: list[tuple[str, torch.Size, torch.Size]] = []

    def record(name: str, _m: nn.Module, a: tuple[Any, ...], kw: dict[str, Any], out: Any) -> None:
        calls.append((name, layer_input(a, kw).shape, out.shape))

    with _inference_mode_for_trace(module), tap(dict(conv_layers(module)), record):
        output = module(*args, **(kwargs or {}))
    return calls, output


def describe_calls(calls: list[tuple[str, torch.Size]]) -> str:
    """Formats ``[(name, output_shape), ...]`` for error messages, most recent first.

    Example:
        >>> describe_calls([("a", torch.Size([1, 4])), ("b", torch.Size([1, 2]))])
        "'b' -> (1, 2), 'a' -> (1, 4)"
    """
    if not calls:
        return "none"
    return ", ".join(f"{name!r} -> {tuple(shape)}" for name, shape in reversed(calls))
