"""Image files: one listing rule, one loader, one saver for the library and the examples.

- :func:`list_images`: the image files under a folder, recursively (symbolic links to
  folders followed, loops cut), sorted by their path relative to it.
- :func:`load_rgb`: any image file as an 8-bit RGB Pillow image (EXIF, alpha,
  palette, 16-bit handled); :func:`read_image` as a ``(3, h, w)`` tensor in [-1, 1];
  :func:`read_mask` a grayscale change mask as a ``(1, h, w)`` bool tensor.
- :func:`to_uint8` and :func:`save_image`: tensors to 8-bit PNG files.

Reading and writing files needs Pillow (and numpy for writing):
``pip install "attnguide[examples]"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnguide._validation import check_int, check_real, check_shape, check_tensor
from attnguide.data._pillow import EXAMPLES_HINT, require_pillow

__all__ = [
    "IMG_EXTENSIONS",
    "list_images",
    "load_rgb",
    "read_image",
    "read_mask",
    "save_image",
    "to_uint8",
]

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
"""File suffixes read as images (compared lower-cased)."""

_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_INT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")

PathLike = str | os.PathLike[str]


def list_images(folder: PathLike) -> list[Path]:
    """The image files under ``folder``, recursively, sorted by their relative path.

    A file counts when its suffix (lower-cased) is one of :data:`IMG_EXTENSIONS`.
    Symbolic links to files and to folders are followed, as torchvision's
    ``ImageFolder`` does; a link back to a folder already being walked (a loop) is
    not walked again. Hidden files and folders are included like any other.

    Args:
        folder: The folder to search.

    Returns:
        The paths (``folder / relative path``), sorted by the relative path in POSIX
        form, so the order is the same on every platform.

    Raises:
        TypeError: ``folder`` is not a str or path.
        NotADirectoryError: ``folder`` does not exist or is not a folder.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for name in ("b.png", "a.JPG", "sub/c.bmp", "notes.txt"):
        ...         Path(root, name).parent.mkdir(exist_ok=True)
        ...         Path(root, name).touch()
        ...     [p.relative_to(root).as_posix() for p in list_images(root)]
        ['a.JPG', 'b.png', 'sub/c.bmp']
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(
            f"list_images(): 'folder' must be a str or os.PathLike, got {type(folder).__name__}"
        )
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"list_images(): '{root}' does not exist or is not a folder")
    found: list[Path] = []
    # os.walk with followlinks cannot see loops; the real paths of the folders on the
    # way down from the root can.
    for here, dirs, files in os.walk(root, followlinks=True):
        chain = {os.path.realpath(p) for p in _ancestors(Path(here), root)}
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(here, d)) not in chain]
        for name in files:
            path = Path(here, name)
            if path.suffix.lower() in IMG_EXTENSIONS and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _ancestors(path: Path, root: Path) -> list[Path]:
    """``path`` and the folders between it and ``root``, ``root`` included."""
    out = [path]
    while path != root:
        path = path.parent
        out.append(path)
    return out


def load_rgb(path: PathLike) -> Any:
    """Opens an image file as an 8-bit RGB Pillow image, whatever it holds.

    EXIF orientation is applied; grayscale, bilevel, palette, CMYK and 16-bit images
    are converted to RGB (16-bit values scaled by 255/65535); images with an alpha
    channel (RGBA, LA, palette with transparency) are composited on white.

    Args:
        path: The image file.

    Returns:
        A ``PIL.Image.Image`` in mode ``"RGB"``.

    Raises:
        OSError: The file cannot be read or decoded (missing, corrupt, truncated, not a
            regular file); the message names the file.
        ImportError: Pillow is not installed (``pip install "attnguide[examples]"``).

    Example:
        >>> from PIL import Image
        >>> Image.new("LA", (4, 2), (0, 0)).save("clear.png")  # gray, transparent
        >>> im = load_rgb("clear.png")
        >>> im.mode, im.size, im.getpixel((0, 0))  # composited on white
        ('RGB', (4, 2), (255, 255, 255))
    """
    Image, ImageOps = require_pillow("load_rgb()")
    if not Path(path).is_file():
        # Pillow would block forever on a FIFO; a folder or a device is no image either.
        what = "missing" if not Path(path).exists() else "not a regular file"
        raise OSError(f"cannot read image '{path}': {what}")
    try:
        with Image.open(path) as opened:
            opened.load()  # decode now: a truncated or corrupt file fails here
            im = ImageOps.exif_transpose(opened)
        if im.mode in _INT_MODES:
            # 16-bit (and 32-bit integer) grayscale: scale 0..65535 to 0..255 (rounded),
            # since convert("L") would clip everything above 255 to white.
            im = im.convert("I").point(lambda v: v * (255 / 65535) + 0.5).convert("L")
        if "transparency" in im.info and im.mode in ("P", "L", "RGB"):
            im = im.convert("RGBA")
        if im.mode in _ALPHA_MODES:
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, rgba)
        return im.convert("RGB")
    except Exception as e:
        # Pillow raises OSError, SyntaxError, ValueError, EOFError, ... for bad files.
        raise OSError(f"cannot read image '{path}': {type(e).__name__}: {e}") from e


def _to_tensor(im: Any) -> Tensor:
    """8-bit RGB Pillow image -> float32 ``(3, h, w)`` in [-1, 1], without numpy."""
    w, h = im.size
    data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    return data.view(h, w, 3).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def _size(fn: str, size: object) -> int | None:
    return None if size is None else check_int(fn, "size", size, minimum=1)


def read_image(path: PathLike, *, size: int | None = None) -> Tensor:
    """Reads an image file as a float tensor in [-1, 1], as the generators take it.

    The file is read by :func:`load_rgb` and, when ``size`` is given and differs,
    resized to ``size`` x ``size`` (bicubic).

    Args:
        path: The image file.
        size: The side to resize to, or None to keep the file's size.

    Returns:
        A float32 tensor in [-1, 1].

    Shape:
        - output: ``(3, h, w)``; ``(3, size, size)`` with ``size``

    Raises:
        OSError: The file cannot be read (the message names it).
        TypeError, ValueError: ``size`` is not a positive int.
        ImportError: Pillow is not installed.

    Example:
        >>> save_image(torch.full((3, 4, 6), 255, dtype=torch.uint8), "white.png")
        >>> x = read_image("white.png", size=8)
        >>> x.shape, float(x.min()), float(x.max())
        (torch.Size([3, 8, 8]), 1.0, 1.0)
    """
    size = _size("read_image", size)
    im = load_rgb(path)
    if size is not None and im.size != (size, size):
        Image, _ = require_pillow("read_image()")
        im = im.resize((size, size), Image.Resampling.BICUBIC)
    return _to_tensor(im)


def read_mask(path: PathLike, *, size: int | None = None) -> Tensor:
    """Reads a grayscale change mask (255 = changed) as a bool tensor.

    Pixels above 127 count as changed; with ``size`` the mask is resized with
    nearest-neighbour sampling, so it stays binary.

    Args:
        path: The mask file (any mode; converted to 8-bit grayscale).
        size: The side to resize to, or None to keep the file's size.

    Returns:
        A bool tensor, True where the image changes.

    Shape:
        - output: ``(1, h, w)``; ``(1, size, size)`` with ``size``

    Raises:
        OSError: The file cannot be read (the message names it).
        TypeError, ValueError: ``size`` is not a positive int.
        ImportError: Pillow is not installed.

    Example:
        >>> mask = torch.zeros(1, 2, 2, dtype=torch.uint8)
        >>> mask[0, 0, 1] = 255
        >>> save_image(mask, "mask.png")
        >>> read_mask("mask.png").tolist()
        [[[False, True], [False, False]]]
    """
    size = _size("read_mask", size)
    Image, _ = require_pillow("read_mask()")
    gray = load_rgb(path).convert("L")
    if size is not None and gray.size != (size, size):
        gray = gray.resize((size, size), Image.Resampling.NEAREST)
    w, h = gray.size
    data = torch.frombuffer(bytearray(gray.tobytes()), dtype=torch.uint8)
    return data.view(1, h, w) > 127


def to_uint8(images: Tensor, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> Tensor:
    """Float images to 8-bit values, clamped to ``value_range`` and rounded.

    Args:
        images: Float images of any shape; ``(-1, 1)`` for generator outputs,
            ``value_range=(0, 1)`` for masks.
        value_range: The values that map to 0 and 255.

    Returns:
        A uint8 tensor of the same shape, on the same device, detached.

    Raises:
        TypeError: ``images`` is not a floating-point tensor.
        ValueError: ``value_range`` is not an increasing pair of finite numbers.

    Example:
        >>> to_uint8(torch.tensor([-1.0, 0.0, 1.0, 3.0]))
        tensor([  0, 128, 255, 255], dtype=torch.uint8)
    """
    check_tensor("to_uint8", "images", images)
    if not isinstance(value_range, tuple) or len(value_range) != 2:
        raise TypeError(
            f"to_uint8(): 'value_range' must be a (low, high) tuple, got {value_range!r}"
        )
    lo = check_real("to_uint8", "value_range[0]", value_range[0])
    hi = check_real("to_uint8", "value_range[1]", value_range[1])
    if not lo < hi:
        raise ValueError(f"to_uint8(): 'value_range' must have low < high, got {value_range!r}")
    x = (images.detach().float().clamp(lo, hi) - lo) * (255.0 / (hi - lo))
    return x.round().to(torch.uint8)


def save_image(image: Tensor, path: PathLike) -> None:
    """Writes an 8-bit image tensor to a file (PNG for ``.png``; Pillow picks by suffix).

    Parent folders are created. Convert float images with :func:`to_uint8` first: a
    float tensor is refused rather than guessed at (is it in [-1, 1] or [0, 1]?).

    Args:
        image: A uint8 image, RGB or grayscale.
        path: Where to write it; an existing file there is replaced.

    Shape:
        - image: ``(3, h, w)`` or ``(1, h, w)``

    Raises:
        TypeError: ``image`` is not a uint8 tensor.
        ValueError: ``image`` has another shape.
        ImportError: Pillow or numpy is not installed.

    Example:
        >>> image = torch.rand(3, 8, 8) * 2 - 1  # a generator's output
        >>> save_image(to_uint8(image), "out/image.png")
        >>> torch.equal(to_uint8(read_image("out/image.png")), to_uint8(image))
        True
    """
    fn = "save_image"
    check_shape(fn, "image", image, "c h w", floating=False)
    if image.dtype != torch.uint8:
        raise TypeError(
            f"{fn}(): 'image' must be a uint8 tensor, got {image.dtype}; convert float "
            "images with to_uint8() first"
        )
    if image.shape[0] not in (1, 3):
        raise ValueError(
            f"{fn}(): 'image' must have 1 or 3 channels, got shape {tuple(image.shape)}"
        )
    Image, _ = require_pillow(f"{fn}()")
    try:
        import numpy  # noqa: F401  (Tensor.numpy needs it)
    except ImportError as e:
        raise ImportError(
            f"{fn}() needs numpy, which is not installed; install it with {EXAMPLES_HINT}"
        ) from e
    array = image.detach().cpu().permute(1, 2, 0).contiguous().numpy()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if array.shape[-1] == 1:
        Image.fromarray(array[..., 0], "L").save(path, compress_level=6)
    else:
        Image.fromarray(array, "RGB").save(path, compress_level=6)
