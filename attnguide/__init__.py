"""attnguide: make an image-to-image GAN attention-guided (AGGAN, Tang et al.)."""

from attnguide import losses, nets, ops, training

__version__ = "0.1.0"

__all__ = ["__version__", "losses", "nets", "ops", "training"]
