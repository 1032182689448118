"""attnguide: make an image-to-image GAN attention-guided (AGGAN, Tang et al.)."""

from attnguide import classifier, data, losses, metrics, nets, ops, training
from attnguide.discriminators import MaskConditionedDiscriminator
from attnguide.heads import AttentionHead, AttentionOutput

__version__ = "0.1.0"

__all__ = [
    "AttentionHead",
    "AttentionOutput",
    "MaskConditionedDiscriminator",
    "__version__",
    "classifier",
    "data",
    "losses",
    "metrics",
    "nets",
    "ops",
    "training",
]
