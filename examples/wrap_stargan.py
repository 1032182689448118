"""Make a StarGAN generator G(x, c) and its (src, cls) discriminator attention-guided.

The models are StarGAN's ``Generator`` (the target label is tiled into the input; the
last conv is bias-free) and ``Discriminator`` (returns the real/fake map and the domain
logits), as ``attnguide.nets`` ships them with the reference code's layers and keys,
shrunk to run in seconds on a CPU; your own copy of StarGAN's ``model.py`` wraps the
same way. Extra forward arguments pass straight through the wrappers. The script runs
one training step on random data:

    python examples/wrap_stargan.py
"""

from __future__ import annotations

import torch

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.losses import (
    adversarial_loss,
    cycle_consistency_loss,
    domain_classification_loss,
    gradient_penalty,
)
from attnguide.nets import StarGANDiscriminator, StarGANGenerator

# -- wrapping -------------------------------------------------------------------------


def main() -> None:
    torch.manual_seed(0)
    size, batch, c_dim = 32, 2, 3
    # G(x, c): the source is x, c passes through the head to the generator.
    G = AttentionHead(StarGANGenerator(conv_dim=8, c_dim=c_dim, repeat_num=2))
    D = MaskConditionedDiscriminator(
        StarGANDiscriminator(size, conv_dim=8, c_dim=c_dim, repeat_num=3)
    )
    opt_G = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))

    x = torch.rand(batch, 3, size, size) * 2 - 1
    label_org = torch.randint(0, 2, (batch, c_dim)).float()
    label_trg = label_org[torch.randperm(batch)]

    # Discriminator step (WGAN-GP critic, as StarGAN): real images are judged with the
    # generated mask, detached. D returns (src, cls); the losses read src. The gradient
    # penalty interpolates the (image, mask) pairs the critic judges.
    with torch.no_grad():
        fake = G(x, label_trg)
    real_scores = D(x, fake.mask)
    loss_D = (
        adversarial_loss(real_scores, True, mode="wgan")
        + adversarial_loss(D(fake.image, fake.mask), False, mode="wgan")
        + domain_classification_loss(real_scores[1], label_org)
        + 10.0 * gradient_penalty(D, x, fake.image, real_mask=fake.mask, fake_mask=fake.mask)
    )
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()

    # Generator step: adversarial, domain classification, reconstruction and TV terms.
    fake = G(x, label_trg)
    src_fake, cls_fake = D(fake.image, fake.mask)
    reconstructed = G(fake.image, label_org)
    loss_G = (
        adversarial_loss(src_fake, True, mode="wgan")
        + domain_classification_loss(cls_fake, label_trg)
        + 10.0 * cycle_consistency_loss(reconstructed.image, x)
        + 1e-6 * fake.tv.mean()
    )
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()

    print(f"image {tuple(fake.image.shape)}, mask {tuple(fake.mask.shape)}")
    print(f"src {tuple(src_fake.shape)}, cls {tuple(cls_fake.shape)}")
    print(f"loss_G {loss_G.item():.4f}  loss_D {loss_D.item():.4f}")


if __name__ == "__main__":
    main()
