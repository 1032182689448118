"""Lazy access to Pillow, the one optional package the data tools need."""

from __future__ import annotations

from types import ModuleType

EXAMPLES_HINT = 'pip install "attnguide[examples]"'


def require_pillow(what: str) -> tuple[ModuleType, ModuleType]:
    """Imports Pillow's ``Image`` and ``ImageOps``, or says which extra provides them.

    Args:
        what: What needs Pillow, for the message (e.g. ``"UnpairedImageFolder"``).

    Raises:
        ImportError: Pillow is not installed.
    """
    try:
        from PIL import Image, ImageOps
    except ImportError as e:
        raise ImportError(
            f"{what} needs Pillow, which is not installed; install it with {EXAMPLES_HINT}"
        ) from e
    return Image, ImageOps
