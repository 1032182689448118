"""Make a StarGAN generator G(x, c) and its (src, cls) discriminator attention-guided.

The upstream models below are StarGAN's ``Generator`` (the target label is tiled into
the input; the last conv is bias-free) and ``Discriminator`` (returns the real/fake map
and the domain logits), shrunk to run in seconds on a CPU. Extra forward arguments pass
straight through the wrappers. The script runs one training step on random data:

    python examples/wrap_stargan.py
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.losses import adversarial_loss, cycle_consistency_loss, domain_classification_loss

# -- upstream code, as StarGAN writes it ----------------------------------------------


class ResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.main(x)


class Generator(nn.Module):
    def __init__(self, conv_dim: int = 8, c_dim: int = 3, repeat_num: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(conv_dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
        ]
        curr = conv_dim
        for _ in range(2):
            layers += [
                nn.Conv2d(curr, curr * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(curr * 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            curr *= 2
        layers += [ResidualBlock(curr) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(curr, curr // 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(curr // 2, affine=True, track_running_stats=True),
                nn.ReLU(inplace=True),
            ]
            curr //= 2
        layers += [nn.Conv2d(curr, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    def __init__(
        self, image_size: int = 32, conv_dim: int = 8, c_dim: int = 3, repeat_num: int = 3
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        curr = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(curr, curr * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            curr *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(curr, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(curr, c_dim, image_size // 2**repeat_num, bias=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.main(x)
        out_cls = self.conv2(h)
        return self.conv1(h), out_cls.view(out_cls.size(0), out_cls.size(1))


# -- wrapping -------------------------------------------------------------------------


def main() -> None:
    torch.manual_seed(0)
    size, batch, c_dim = 32, 2, 3
    G = AttentionHead(Generator(c_dim=c_dim))  # G(x, c): the source is x, c passes through
    D = MaskConditionedDiscriminator(Discriminator(size, c_dim=c_dim))
    opt_G = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))

    x = torch.rand(batch, 3, size, size) * 2 - 1
    label_org = torch.randint(0, 2, (batch, c_dim)).float()
    label_trg = label_org[torch.randperm(batch)]

    # Discriminator step (WGAN critic, as StarGAN): real images are judged with the
    # generated mask, detached. D returns (src, cls); the adversarial loss reads src.
    with torch.no_grad():
        fake = G(x, label_trg)
    real_scores = D(x, fake.mask)
    loss_D = (
        adversarial_loss(real_scores, True, mode="wgan")
        + adversarial_loss(D(fake.image, fake.mask), False, mode="wgan")
        + domain_classification_loss(real_scores[1], label_org)
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
