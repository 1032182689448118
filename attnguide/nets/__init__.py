"""The paper's reference networks: CycleGAN's ResNet generator and the PatchGAN, and
StarGAN's generator and discriminator; and the paper authors' own networks, with
their checkpoints' keys.

Nothing else in attnguide imports these; they are the networks AGGAN was trained with,
ready to be wrapped by :class:`attnguide.AttentionHead` and
:class:`attnguide.MaskConditionedDiscriminator`.
"""

from attnguide.nets.authors import (
    AUTHORS_GENERATORS,
    AGGANDiscriminator,
    AGGANGenerator,
    AGGANMultiGenerator,
    AttentionGANGenerator,
    attention_head_from_authors,
)
from attnguide.nets.init import init_weights
from attnguide.nets.patchgan import PatchDiscriminator
from attnguide.nets.resnet import ResnetGenerator
from attnguide.nets.stargan import StarGANDiscriminator, StarGANGenerator

__all__ = [
    "AUTHORS_GENERATORS",
    "AGGANDiscriminator",
    "AGGANGenerator",
    "AGGANMultiGenerator",
    "AttentionGANGenerator",
    "PatchDiscriminator",
    "ResnetGenerator",
    "StarGANDiscriminator",
    "StarGANGenerator",
    "attention_head_from_authors",
    "init_weights",
]
