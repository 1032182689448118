"""Make a CycleGAN generator and PatchGAN discriminator attention-guided.

The upstream models below are CycleGAN's ``ResnetGenerator`` and ``NLayerDiscriminator``
(shrunk so this runs in seconds on a CPU). They are wrapped, not edited: a trained
generator checkpoint still loads into ``G.generator``. The script then runs one AGGAN
training step (X -> Y with its cycle back) on random data:

    python examples/wrap_cyclegan.py
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from attnguide import AttentionHead, MaskConditionedDiscriminator
from attnguide.losses import (
    AdversarialLoss,
    AGGANLossWeights,
    aggan_generator_objective,
    curriculum_rate,
    cycle_consistency_loss,
    pixel_loss,
)

# -- upstream code, as CycleGAN writes it ---------------------------------------------


class ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8, n_blocks: int = 2):
        super().__init__()
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, 7),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                nn.InstanceNorm2d(ngf * mult * 2),
                nn.ReLU(True),
            ]
        model += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            model += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input: Tensor) -> Tensor:
        return self.model(input)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int = 3, ndf: int = 8) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, stride=2, padding=1),
            nn.InstanceNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 4, stride=1, padding=1),
        )

    def forward(self, input: Tensor) -> Tensor:
        return self.model(input)


def init_weights(net: nn.Module, init_gain: float = 0.02) -> None:
    def init_func(m: nn.Module) -> None:
        classname = m.__class__.__name__
        if hasattr(m, "weight") and classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, init_gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias.data, 0.0)

    net.apply(init_func)


# -- wrapping -------------------------------------------------------------------------


def main() -> None:
    torch.manual_seed(0)
    size, batch = 32, 2

    # A "pretrained" X -> Y generator: its checkpoint loads unchanged into the wrapper.
    pretrained = ResnetGenerator()
    checkpoint = pretrained.state_dict()
    # mask_bias=6 starts with a mask of 0.998, so the pretrained translation is kept at
    # step 0; the default 0.0 (mask 0.5) suits training from scratch, as G_yx below.
    G_xy = AttentionHead(ResnetGenerator(), mask_bias=6.0)
    G_xy.generator.load_state_dict(checkpoint)
    G_yx = AttentionHead(ResnetGenerator())
    init_weights(G_yx)  # CycleGAN re-initialises after building; the mask conv survives it
    D_y = NLayerDiscriminator()  # the vanilla discriminator
    D_ya = MaskConditionedDiscriminator(NLayerDiscriminator())  # D_YA on [mask, image]
    init_weights(D_y)
    init_weights(D_ya)

    opt_G = torch.optim.Adam(itertools.chain(G_xy.parameters(), G_yx.parameters()), 2e-4)
    opt_D = torch.optim.Adam(itertools.chain(D_y.parameters(), D_ya.parameters()), 2e-4)
    x = torch.rand(batch, 3, size, size) * 2 - 1
    y = torch.rand(batch, 3, size, size) * 2 - 1

    with torch.no_grad():
        kept = (G_xy(x).image - pretrained(x)).abs().max()
    print(f"step 0: the wrapped G_xy is within {kept:.4f} of the pretrained generator")

    # Generator step: the AGGAN objective (Eq. 9) at epoch 0 of the curriculum.
    gan = AdversarialLoss("lsgan")
    fake_y = G_xy(x)
    cycled_x = G_yx(fake_y.image)
    terms = {
        "gan": gan(D_y(fake_y.image), True, for_discriminator=False),
        "agan": gan(D_ya(fake_y.image, fake_y.mask), True, for_discriminator=False),
        "cycle": cycle_consistency_loss(cycled_x.image, x),
        "pixel": pixel_loss(fake_y.image, x),
        "tv": fake_y.tv.mean(),  # the attention loss (Eq. 6), computed with the blend
    }
    loss_G, _ = aggan_generator_objective(terms, AGGANLossWeights(), curriculum_rate(0))
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()

    # Discriminator step: real y is judged with the generated mask, detached.
    mask, fake = fake_y.mask.detach(), fake_y.image.detach()
    loss_D = 0.5 * (gan(D_y(y), True) + gan(D_y(fake), False))
    loss_D = loss_D + 0.5 * (gan(D_ya(y, mask), True) + gan(D_ya(fake, mask), False))
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()

    print(f"image {tuple(fake_y.image.shape)}, mask {tuple(fake_y.mask.shape)}")
    print(f"mean mask: G_xy {fake_y.mask.mean():.4f}, G_yx {cycled_x.mask.mean():.4f}")
    print(f"loss_G {loss_G.item():.4f}  loss_D {loss_D.item():.4f}")


if __name__ == "__main__":
    main()
