"""The paper's reference networks: CycleGAN's ResNet generator and the PatchGAN, and
StarGAN's generator and discriminator.

Nothing else in attnguide imports these; they are the networks AGGAN was trained with,
ready to be wrapped by :class:`attnguide.AttentionHead` and
:class:`attnguide.MaskConditionedDiscriminator`.
"""

from attnguide.nets.init import init_weights
from attnguide.nets.patchgan import PatchDiscriminator
from attnguide.nets.resnet import ResnetGenerator
from attnguide.nets.stargan import StarGANDiscriminator, StarGANGenerator

__all__ = [
    "PatchDiscriminator",
    "ResnetGenerator",
    "StarGANDiscriminator",
    "StarGANGenerator",
    "init_weights",
]
