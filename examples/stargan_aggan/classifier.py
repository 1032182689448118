"""The domain classifier that scores translations: trained on the training split alone.

The trained discriminator's classification head is no judge of its own generator: the
generator was trained to please it. :class:`attnguide.classifier.DomainClassifier`,
trained from a fixed seed on the real training images only, is the same for every run
on one data set, so its accuracy on translations compares models; its accuracy on the
real test images (the "real test images" row of the results) says how far to trust it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from attnguide.classifier import DomainClassifier, train_domain_classifier
from attnguide.data import DomainImageFolder

__all__ = ["DomainClassifier", "train_classifier"]


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
    """:func:`attnguide.classifier.train_domain_classifier` on ``root/train/<domain>/``
    (the images decoded once and held in memory: 2,000 at 64x64 are 100 MB)."""
    data = DomainImageFolder(
        root, "train", domains=domains, load_size=size, crop_size=size, flip=False
    )
    images = torch.stack([data[i][0] for i in range(len(data))]).to(device)
    labels = torch.tensor(data.targets, device=device)
    return train_domain_classifier(
        images, labels, len(domains), epochs=epochs, batch_size=batch_size, seed=seed
    )
