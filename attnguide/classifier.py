"""A small domain classifier that judges translations without reading pixels one by one.

PSNR against a ground truth needs paired data and rewards copying the input when the
change is small; a classifier trained on the real training images of each domain asks
instead whether a translation *looks like* its target domain. It is trained once, from
a fixed seed, on real images only, so it is the same judge for every model on one data
set; its accuracy on the real test images says how far to trust it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnguide._validation import check_int, check_real, check_shape
from attnguide.metrics import frechet_distance, kernel_inception_distance

__all__ = ["DomainClassifier", "domain_accuracy", "feature_distances", "train_domain_classifier"]


class DomainClassifier(nn.Module):
    """Four stride-2 3x3 convolutions with batch norm and ReLU, global average pooling
    and a linear layer: a few tens of thousands of parameters, quick on a CPU.

    Args:
        n_domains: Number of classes (>= 2).
        width: Filters of the first convolution; each later one doubles them.
        in_channels: Channels of the images.
        device: Where the parameters are created.
        dtype: The parameters' floating-point dtype.

    Shape:
        - Input: ``(b c h w)`` images in [-1, 1], ``h, w >= 16``.
        - Output: ``(b n)`` logits, ``n = n_domains``.

    Example:
        >>> net = DomainClassifier(2)
        >>> net(torch.zeros(3, 3, 32, 32)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        n_domains: int,
        *,
        width: int = 16,
        in_channels: int = 3,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_int("DomainClassifier", "n_domains", n_domains, minimum=2)
        check_int("DomainClassifier", "width", width, minimum=1)
        check_int("DomainClassifier", "in_channels", in_channels, minimum=1)
        factory = {"device": device, "dtype": dtype}
        layers: list[nn.Module] = []
        channels = in_channels
        for k in range(4):
            out = width * 2**k
            layers += [
                nn.Conv2d(channels, out, 3, 2, 1, **factory),
                nn.BatchNorm2d(out, **factory),
                nn.ReLU(),
            ]
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(channels, n_domains, **factory)
        self.n_domains = n_domains

    def forward(self, x: Tensor) -> Tensor:
        """Logits of each image; see the class docstring for shapes."""
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: Tensor, *, batch_size: int = 64) -> Tensor:
        """The predicted domain of each image, in eval mode (the mode is restored).

        Args:
            x: ``(b c h w)`` images in [-1, 1].
            batch_size: Images per forward.

        Returns:
            ``(b,)`` int64 class indices.
        """
        if len(self._checked("predict", x, batch_size)) == 0:
            return torch.zeros(0, dtype=torch.long, device=x.device)
        return self._batched(lambda part: self(part).argmax(1), x, batch_size)

    def embed(self, x: Tensor, *, batch_size: int = 64) -> Tensor:
        """The pooled features the head reads, in eval mode (the mode is restored).

        Args:
            x: ``(b c h w)`` images in [-1, 1], on any device (moved in batches).
            batch_size: Images per forward.

        Returns:
            ``(b, 8 * width)`` float features, on the images' device.
        """
        if len(self._checked("embed", x, batch_size)) == 0:
            return torch.zeros(0, self.head.in_features, device=x.device)
        device = self.head.weight.device
        return self._batched(
            lambda part: self.features(part.to(device)).to(x.device), x, batch_size
        )

    def _checked(self, method: str, x: Tensor, batch_size: int) -> Tensor:
        check_shape(f"DomainClassifier.{method}", "x", x, "b c h w", {})
        check_int(f"DomainClassifier.{method}", "batch_size", batch_size, minimum=1)
        return x

    @torch.no_grad()
    def _batched(self, step: Callable[[Tensor], Tensor], x: Tensor, batch_size: int) -> Tensor:
        training = self.training
        self.eval()
        try:
            return torch.cat([step(x[k : k + batch_size]) for k in range(0, len(x), batch_size)])
        finally:
            self.train(training)


def _check_labelled(fn: str, images: object, labels: object, n_domains: int | None) -> int:
    sizes: dict[str, tuple[int, str]] = {}
    check_shape(fn, "images", images, "b c h w", sizes)
    lab = check_shape(fn, "labels", labels, "b", sizes, floating=False)
    if lab.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise TypeError(f"{fn}(): 'labels' must hold integer class indices, got {lab.dtype}")
    if lab.numel() and int(lab.min()) < 0:
        raise ValueError(f"{fn}(): 'labels' must be >= 0, got {int(lab.min())}")
    top = int(lab.max()) + 1 if lab.numel() else 0
    if n_domains is None:
        n_domains = top
    elif top > n_domains:
        raise ValueError(f"{fn}(): 'labels' holds class {top - 1} but n_domains is {n_domains}")
    return n_domains


def train_domain_classifier(
    images: Tensor,
    labels: Tensor,
    n_domains: int | None = None,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    width: int = 16,
    flip: bool = True,
    seed: int = 0,
) -> DomainClassifier:
    """Trains a :class:`DomainClassifier` on labelled real images, from ``seed``.

    Adam at ``lr``, constant for the first ``epochs // 2`` epochs, then falling linearly
    by ``lr / (n + 1)`` an epoch over the other ``n`` (its last epoch trains at
    ``lr / (n + 1)``, CycleGAN's rule, not
    :func:`attnguide.training.linear_decay`'s, which ends at 0); random left-right
    flips (``flip``); no crops, so the faces keep the scale of the images it will
    judge. The global random state is untouched.

    Args:
        images: ``(b c h w)`` training images in [-1, 1], on the device to train on.
        labels: ``(b,)`` integer domain of each image.
        n_domains: Number of classes (default: the largest label + 1).
        epochs: Passes over the images.
        batch_size: Images per step.
        lr: Adam's learning rate.
        width: See :class:`DomainClassifier`.
        flip: Random left-right flips.
        seed: Seed of the weights, the order and the flips.

    Returns:
        The trained classifier, in eval mode, on the images' device.

    Raises:
        ValueError: the shapes disagree, a label is negative or ``>= n_domains``, or
            there are fewer than two classes.

    Example:
        >>> dark = torch.full((8, 3, 16, 16), -0.5)
        >>> light = torch.full((8, 3, 16, 16), 0.5)
        >>> x = torch.cat([dark, light])
        >>> y = torch.tensor([0] * 8 + [1] * 8)
        >>> net = train_domain_classifier(x, y, epochs=20, batch_size=8)
        >>> domain_accuracy(net, x, y)
        1.0
    """
    fn = "train_domain_classifier"
    n = _check_labelled(fn, images, labels, n_domains)
    if n < 2:
        raise ValueError(f"{fn}(): needs at least two domains, got n_domains={n}")
    check_int(fn, "epochs", epochs, minimum=1)
    check_int(fn, "batch_size", batch_size, minimum=1)
    check_real(fn, "lr", lr, positive=True)
    device = images.device
    labels = labels.to(device=device, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DomainClassifier(n, width=width, in_channels=images.shape[1], device=device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    half = epochs // 2
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 1.0 if e < half else max(0.0, 1.0 - (e - half + 1) / (epochs - half + 1))
    )
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=gen).to(device)
        flips = (torch.rand(len(images), generator=gen) < 0.5).to(device)
        for k in range(0, len(images), batch_size):
            batch = order[k : k + batch_size]
            if len(batch) < 2:  # batch norm needs two samples
                continue
            x = images[batch]
            if flip:
                x = torch.where(flips[batch][:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(net(x), labels[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return net.eval()


def domain_accuracy(
    classifier: DomainClassifier, images: Tensor, targets: Tensor | int, *, batch_size: int = 64
) -> float:
    """The share of ``images`` that ``classifier`` assigns to their target domain.

    Args:
        classifier: A trained :class:`DomainClassifier`.
        images: ``(b c h w)`` images in [-1, 1] (real test images, or translations).
        targets: ``(b,)`` the domain each image should show, or one domain for all.
        batch_size: Images per forward.

    Returns:
        A float in [0, 1] (NaN for an empty batch).

    Example:
        >>> net = DomainClassifier(2)
        >>> 0.0 <= domain_accuracy(net, torch.zeros(4, 3, 16, 16), 1) <= 1.0
        True
    """
    fn = "domain_accuracy"
    if isinstance(targets, bool) or not isinstance(targets, (int, Tensor)):
        raise TypeError(
            f"{fn}(): 'targets' must be an int or a (b,) tensor, got {type(targets).__name__}"
        )
    if isinstance(targets, int):
        check_shape(fn, "images", images, "b c h w", {})
        targets = torch.full((len(images),), targets, dtype=torch.long)
    _check_labelled(fn, images, targets, classifier.n_domains)
    if len(images) == 0:
        return float("nan")
    predicted = classifier.predict(images, batch_size=batch_size)
    return float((predicted.cpu() == targets.cpu().long()).float().mean())


def feature_distances(
    classifier: DomainClassifier,
    real: Tensor,
    fake: Tensor,
    *,
    num_subsets: int = 50,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, float]:
    """FID and KID of ``fake`` against ``real`` on the classifier's pooled features.

    :func:`~attnguide.metrics.frechet_distance` and
    :func:`~attnguide.metrics.kernel_inception_distance` of :meth:`DomainClassifier.embed`'s
    features: distances that need no ground truth, so they score translations on any
    data set. On this small network's features rather than Inception's, they compare
    models on one data set with each other, not with published FIDs. KID's subsets come
    from ``seed``, so the same images always give the same numbers.

    Args:
        classifier: A trained :class:`DomainClassifier`.
        real: ``(n c h w)`` real images of the target domain in [-1, 1], ``n >= 2``.
        fake: ``(m c h w)`` translations in [-1, 1], ``m >= 2``.
        num_subsets: KID's random subsets (of ``min(1000, n, m)`` images each).
        seed: Seed of KID's subsets.
        batch_size: Images per forward.

    Returns:
        ``{"fid": ..., "kid": ...}``, floats.

    Example:
        >>> net = DomainClassifier(2)
        >>> real = torch.rand(8, 3, 16, 16) * 2 - 1
        >>> fake = torch.zeros(8, 3, 16, 16)
        >>> sorted(feature_distances(net, real, fake))
        ['fid', 'kid']
    """
    fn = "feature_distances"
    for name, x in (("real", real), ("fake", fake)):
        check_shape(fn, name, x, "n c h w", {})
        if len(x) < 2:
            raise ValueError(f"{fn}(): '{name}' must hold at least 2 images, got {len(x)}")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"{fn}(): 'real' and 'fake' must hold images of one size, got "
            f"{tuple(real.shape[1:])} and {tuple(fake.shape[1:])}"
        )
    check_int(fn, "seed", seed)
    features = [classifier.embed(x, batch_size=batch_size).cpu() for x in (real, fake)]
    generator = torch.Generator().manual_seed(seed)
    kid = kernel_inception_distance(*features, num_subsets=num_subsets, generator=generator)
    return {"fid": float(frechet_distance(*features)), "kid": float(kid)}
