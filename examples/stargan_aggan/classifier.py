"""The domain classifier that scores translations: trained on the training split alone.

The trained discriminator's classification head is no judge of its own generator: the
generator was trained to please it. A small separate network, trained from a fixed seed
on the real training images only, is the same for every run on one data set, so its
accuracy on translations compares models; its accuracy on the real test images (the
"real test images" row of the results) says how far to trust it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from attnguide.data import DomainImageFolder
from attnguide.training import linear_decay

__all__ = ["DomainClassifier", "train_classifier"]


class DomainClassifier(nn.Module):
    """Four stride-2 convolutions with batch norm, global average pooling, a linear layer.

    Shape:
        - x: ``(b 3 h w)`` in [-1, 1]; output: ``(b, n_domains)`` logits.
    """

    def __init__(self, n_domains: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for k in range(4):
            out = width * 2**k
            layers += [nn.Conv2d(channels, out, 3, 2, 1), nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(channels, n_domains)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 64) -> Tensor:
        """Predicted class indices ``(b,)`` (eval mode)."""
        self.eval()
        return torch.cat(
            [self(x[k : k + batch_size]).argmax(1) for k in range(0, len(x), batch_size)]
        )


def train_classifier(
    root: Path,
    domains: list[str],
    size: int,
    device: torch.device,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    seed: int = 0,
) -> DomainClassifier:
    """Trains a :class:`DomainClassifier` on ``root/train/<domain>/`` from ``seed``: Adam
    1e-3, constant for the first half of the epochs and decaying linearly to zero over
    the second, random flips, no crops (faces keep the scale of the test images); in
    eval mode.

    The images are decoded once and held in memory (2,000 at 64x64 are 100 MB).
    """
    data = DomainImageFolder(
        root, "train", domains=domains, load_size=size, crop_size=size, flip=False
    )
    images = torch.stack([data[i][0] for i in range(len(data))]).to(device)
    labels = torch.tensor(data.targets, device=device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DomainClassifier(len(domains)).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sched = linear_decay(opt, constant_epochs=epochs // 2, decay_epochs=epochs - epochs // 2)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(images)).to(device)
            for k in range(0, len(images), batch_size):
                batch = order[k : k + batch_size]
                flip = (torch.rand(len(batch)) < 0.5).to(device)[:, None, None, None]
                x = torch.where(flip, images[batch].flip(-1), images[batch])
                loss = nn.functional.cross_entropy(net(x), labels[batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
    return net.eval()
