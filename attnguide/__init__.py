"""attnguide: make an image-to-image GAN attention-guided (AGGAN, Tang et al.)."""

from attnguide import losses, ops

__version__ = "0.1.0"

__all__ = ["__version__", "losses", "ops"]
