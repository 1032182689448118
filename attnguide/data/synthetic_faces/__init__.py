"""Synthetic cartoon faces: neutral (domain A) and smiling (domain B), with ground truth;
and the same identities in four expressions (:func:`make_expression_faces`).

Each identity is drawn from its own random stream, so an identity looks the same
whatever else is rendered with it. The two expressions of one identity are rendered
from the same parameters; only the mouth, the cheeks and the eyes depend on the
expression, so every other pixel is bit-identical between the two renderings and
the ground-truth change mask is exactly the set of pixels that differ.

Rendered anti-aliased (analytic shapes on a supersampled grid, averaged down) at every
size from 32 to 512 pixels, with torch only; Pillow is needed just to write PNG files.
Run ``python -m attnguide.data.synthetic_faces --root datasets/faces --size 64`` to
write the data set, ``--preview out.png`` to look at it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import NamedTuple, TypeVar

import torch
from torch import Tensor

from attnguide._validation import check_int
from attnguide.data._pillow import require_pillow
from attnguide.data.io import save_image
from attnguide.data.synthetic_faces._render import BATCH_PIXELS, SUPERSAMPLE, identity, render

__all__ = [
    "EXPRESSIONS",
    "MAX_SIZE",
    "MIN_SIZE",
    "FacePairs",
    "make_expression_faces",
    "make_synthetic_faces",
    "render_expressions",
    "render_face_pairs",
]

MIN_SIZE = 32
"""The smallest image size the faces are rendered at."""
MAX_SIZE = 512
"""The largest image size the faces are rendered at."""

T = TypeVar("T")

#: The expressions of :func:`make_expression_faces`, in label order: the name of each
#: domain and the expression (and amount) it is rendered with.
EXPRESSIONS: dict[str, tuple[str, float]] = {
    "neutral": ("smile", 0.0),
    "smiling": ("smile", 1.0),
    "surprised": ("surprise", 1.0),
    "sad": ("sad", 1.0),
}


class FacePairs(NamedTuple):
    """Both expressions of a set of identities and where they differ.

    Attributes:
        neutral: Domain A renderings, uint8, ``(n, 3, size, size)``.
        smiling: Domain B renderings, uint8, ``(n, 3, size, size)``.
        mask: Change masks, bool, ``(n, 1, size, size)``: True where any channel of
            ``neutral`` and ``smiling`` differs.

    Example:
        >>> pairs = render_face_pairs(1, size=32)
        >>> differs = (pairs.neutral != pairs.smiling).any(1, keepdim=True)
        >>> bool((differs == pairs.mask).all())
        True
    """

    neutral: Tensor
    smiling: Tensor
    mask: Tensor


def _check_int(fn: str, name: str, value: object, low: int, high: int | None = None) -> int:
    return check_int(fn, name, value, minimum=low, maximum=high)


def _batch_size(size: int) -> int:
    return max(1, BATCH_PIXELS // (size * SUPERSAMPLE) ** 2)


def render_face_pairs(n: int, *, size: int = 64, seed: int = 0, start: int = 0) -> FacePairs:
    """Renders test identities ``start .. start + n - 1`` in both expressions.

    These are exactly the images :func:`make_synthetic_faces` writes to ``testA``,
    ``testB`` and ``gt/mask`` for the same ``size`` and ``seed``; no Pillow needed.

    Args:
        n: Number of identities.
        size: Image side in pixels, 32 to 512.
        seed: Data set seed.
        start: Index of the first test identity.

    Returns:
        :class:`FacePairs` with the neutral and smiling renderings and change masks.

    Shape:
        - neutral, smiling: ``(n, 3, size, size)``, uint8
        - mask: ``(n, 1, size, size)``, bool

    Raises:
        TypeError: An argument is not an int.
        ValueError: ``n < 1``, ``start < 0`` or ``size`` outside [32, 512].

    Example:
        >>> pairs = render_face_pairs(2, size=32)
        >>> pairs.neutral.shape, pairs.mask.dtype
        (torch.Size([2, 3, 32, 32]), torch.bool)
    """
    fn = "render_face_pairs"
    _check_int(fn, "n", n, 1)
    _check_int(fn, "size", size, MIN_SIZE, MAX_SIZE)
    _check_int(fn, "seed", seed, 0)
    _check_int(fn, "start", start, 0)
    step = max(1, _batch_size(size) // 2)
    starts = range(start, start + n, step)
    parts = _parallel(
        [
            partial(_render_pairs, first, min(step, start + n - first), size, seed)
            for first in starts
        ]
    )
    return FacePairs(*(torch.cat([part[k] for part in parts]) for k in range(3)))


def _render_pairs(start: int, n: int, size: int, seed: int) -> FacePairs:
    ids = [identity(seed, "test", i) for i in range(start, start + n)]
    both = render(ids + ids, [0.0] * n + [1.0] * n, size)
    a, b = both[:n], both[n:]
    return FacePairs(a, b, (a != b).any(dim=1, keepdim=True))


def _parallel(jobs: list[Callable[[], T]]) -> list[T]:
    """Runs independent rendering jobs on threads, one intra-op thread each.

    The drawing operations are small: spread over intra-op threads they spend much of
    their time synchronising, and far more when the cores are busy with other work.
    Whole batches on separate threads (torch releases the GIL) scale better. The
    intra-op thread count is restored afterwards.
    """
    workers = min(torch.get_num_threads(), len(jobs))
    if workers <= 1:
        return [job() for job in jobs]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda job: job(), jobs))
    finally:
        torch.set_num_threads(previous)


_MANIFEST = "synthetic_faces.json"
_FORMAT = 1


def _checked_arguments(
    fn: str, root: object, n_train: object, n_test: object, size: object, seed: object
) -> tuple[Path, dict]:
    """Checks the arguments of a data set writer (Pillow too, since it writes PNG files).

    Returns:
        ``root`` as a :class:`~pathlib.Path` and the config recorded in the manifest.
    """
    if not isinstance(root, (str, Path)):
        raise TypeError(f"{fn}(): 'root' must be a str or Path, got {type(root).__name__}")
    _check_int(fn, "n_train", n_train, 1)
    _check_int(fn, "n_test", n_test, 1)
    _check_int(fn, "size", size, MIN_SIZE, MAX_SIZE)
    _check_int(fn, "seed", seed, 0)
    require_pillow(f"{fn}()")
    config = {"format": _FORMAT, "n_train": n_train, "n_test": n_test, "size": size, "seed": seed}
    return Path(root), config


def make_synthetic_faces(
    root: str | Path, *, n_train: int = 1000, n_test: int = 200, size: int = 64, seed: int = 0
) -> Path:
    """Writes the synthetic faces data set (neutral -> smiling) in the CycleGAN layout.

    Layout, with ``NNNNN`` a zero-padded index::

        root/trainA/NNNNN.png     n_train neutral faces
        root/trainB/NNNNN.png     n_train smiling faces of other identities (unpaired)
        root/testA/NNNNN.png      n_test neutral faces
        root/testB/NNNNN.png      the same n_test identities, smiling (paired by name)
        root/gt/testA/NNNNN.png   true domain-B counterpart of testA/NNNNN.png
        root/gt/testB/NNNNN.png   true domain-A counterpart of testB/NNNNN.png
        root/gt/mask/NNNNN.png    change mask of identity NNNNN (L, 255 = differs)

    Each identity draws skin tone, face shape and position, hair colour and style, eye
    colour and size, eyebrows, glasses, clothing and a textured background from its own
    random stream. Only the mouth (line -> open smile with teeth), the cheeks (lift)
    and the eyes (narrow) depend on the expression; every other pixel of a test pair
    is identical, and the mask marks exactly the pixels that differ.

    The same arguments give the same pixels on every run (float32 CPU arithmetic; a
    different CPU architecture or torch build could at most move rare anti-aliased
    edge pixels by one level). ``root`` records the arguments in
    ``synthetic_faces.json``: calling again with the same ones returns at once if
    every image is there; with other ones the previous images are replaced. A
    non-empty folder that this function did not write is refused, never mixed into.

    Args:
        root: Output folder (created if missing).
        n_train: Images per training domain.
        n_test: Test identities.
        size: Image side in pixels, 32 to 512.
        seed: Data set seed.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: A count is below 1 or ``size`` is outside [32, 512].
        FileExistsError: ``root`` holds files that this function did not write.
        ImportError: Pillow is not installed (``pip install "attnguide[examples]"``).

    Example:
        >>> root = make_synthetic_faces("faces", n_train=8, n_test=4, size=32)
        >>> sorted(p.name for p in root.iterdir())
        ['gt', 'synthetic_faces.json', 'testA', 'testB', 'trainA', 'trainB']
    """
    fn = "make_synthetic_faces"
    root, config = _checked_arguments(fn, root, n_train, n_test, size, seed)
    folders = {
        name: root / name
        for name in ("trainA", "trainB", "testA", "testB", "gt/testA", "gt/testB", "gt/mask")
    }
    manifest = root / _MANIFEST
    expected = {name: n_train if name.startswith("train") else n_test for name in folders}
    if _prepare(fn, root, manifest, config, folders, expected):
        return root

    step = _batch_size(size)
    jobs = [
        partial(_write_train, folders[split], split, smile, first, step, n_train, size, seed)
        for split, smile in (("trainA", 0.0), ("trainB", 1.0))
        for first in range(0, n_train, step)
    ]
    half = max(1, step // 2)
    jobs += [
        partial(_write_test, folders, first, min(half, n_test - first), size, seed)
        for first in range(0, n_test, half)
    ]
    _parallel(jobs)
    manifest.write_text(json.dumps({**config, "complete": True}))
    return root


def _prepare(
    fn: str,
    root: Path,
    manifest: Path,
    config: dict,
    folders: dict[str, Path],
    expected: dict[str, int],
) -> bool:
    """Readies ``root`` for writing; True when it already holds this very data set.

    A manifest written by ``fn`` with other arguments (or an interrupted run) gets its
    numbered images removed; a non-empty folder without a manifest is refused.
    """
    if manifest.is_file():
        try:
            previous = json.loads(manifest.read_text())
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise FileExistsError(
                f"{fn}(): '{manifest}' is not a manifest {fn} wrote (not valid JSON), so "
                "nothing in that folder is overwritten: choose an empty or new folder"
            ) from None
        if previous == {**config, "complete": True} and all(
            _count_numbered(folders[name]) == n for name, n in expected.items()
        ):
            return True
        _remove_previous(folders)
    elif root.is_dir() and any(root.iterdir()):
        raise FileExistsError(
            f"{fn}(): '{root}' is not empty and has no {manifest.name}; it was not written "
            f"by {fn}, so nothing is overwritten: choose an empty or new folder"
        )
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({**config, "complete": False}))
    return False


def render_expressions(
    n: int, *, size: int = 64, seed: int = 0, start: int = 0, split: str = "test"
) -> dict[str, Tensor]:
    """Renders identities ``start .. start + n - 1`` in every expression of
    :data:`EXPRESSIONS`, from the same identity parameters.

    Only the mouth, the cheeks, the eyes and the brows depend on the expression, so two
    renderings of one identity differ exactly where the expressions differ: the change
    mask of a pair is ``(a != b).any(1, keepdim=True)``. The neutral and smiling
    renderings of the test split are the two-domain data set's ``testA`` and ``testB``.

    Args:
        n: Number of identities.
        size: Image side in pixels, 32 to 512.
        seed: Data set seed.
        start: Index of the first identity.
        split: ``"test"`` or ``"train"``: which identities.

    Returns:
        Expression name -> uint8 renderings, ``(n, 3, size, size)``.

    Example:
        >>> faces = render_expressions(2, size=32)
        >>> list(faces), tuple(faces["sad"].shape)
        (['neutral', 'smiling', 'surprised', 'sad'], (2, 3, 32, 32))
        >>> pairs = render_face_pairs(2, size=32)
        >>> bool(torch.equal(faces["smiling"], pairs.smiling))
        True
    """
    fn = "render_expressions"
    _check_int(fn, "n", n, 1)
    _check_int(fn, "size", size, MIN_SIZE, MAX_SIZE)
    _check_int(fn, "seed", seed, 0)
    _check_int(fn, "start", start, 0)
    if split not in ("train", "test"):
        raise ValueError(f"{fn}(): 'split' must be 'train' or 'test', got {split!r}")
    step = _batch_size(size)
    firsts = range(start, start + n, step)

    def one(first: int) -> dict[str, Tensor]:
        ids = [identity(seed, split, i) for i in range(first, min(first + step, start + n))]
        return {
            name: render(ids, [amount] * len(ids), size, expression=expression)
            for name, (expression, amount) in EXPRESSIONS.items()
        }

    parts = _parallel([partial(one, first) for first in firsts])
    return {name: torch.cat([part[name] for part in parts]) for name in EXPRESSIONS}


_EXPRESSION_MANIFEST = "expression_faces.json"


def _pairs() -> list[tuple[str, str]]:
    names = list(EXPRESSIONS)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]


def make_expression_faces(
    root: str | Path, *, n_train: int = 500, n_test: int = 100, size: int = 64, seed: int = 0
) -> Path:
    """Writes the multi-expression faces (neutral, smiling, surprised, sad), RaFD-style.

    Layout, with ``NNNNN`` a zero-padded index and one folder per domain::

        root/train/<expression>/NNNNN.png  n_train identities, every expression
        root/test/<expression>/NNNNN.png   n_test other identities, the same way
        root/gt/mask/<a>-<b>/NNNNN.png     where test/<a>/NNNNN.png and
                                           test/<b>/NNNNN.png differ (L, 255 =
                                           differs), for every pair a, b in
                                           EXPRESSIONS order

    The true counterpart of ``test/<a>/NNNNN.png`` in expression ``b`` is
    ``test/<b>/NNNNN.png``. Smiling and surprised change the mouth, cheeks, eyes and
    (surprised) brows; sad turns the mouth down and tilts the brows; every other pixel
    of an identity is identical across its expressions. Determinism, the manifest
    (``expression_faces.json``) and the refusal to write into a folder this function
    did not write are as for :func:`make_synthetic_faces`.

    Args:
        root: Output folder (created if missing).
        n_train: Training identities (each written in all four expressions).
        n_test: Test identities.
        size: Image side in pixels, 32 to 512.
        seed: Data set seed.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: A count is below 1 or ``size`` is outside [32, 512].
        FileExistsError: ``root`` holds files that this function did not write.
        ImportError: Pillow is not installed (``pip install "attnguide[examples]"``).

    Example:
        >>> root = make_expression_faces("moods", n_train=2, n_test=2, size=32)
        >>> sorted(p.name for p in (root / "train").iterdir())
        ['neutral', 'sad', 'smiling', 'surprised']
        >>> len(list((root / "gt" / "mask").iterdir()))  # one folder per pair
        6
    """
    fn = "make_expression_faces"
    root, config = _checked_arguments(fn, root, n_train, n_test, size, seed)
    folders = {
        f"{split}/{name}": root / split / name
        for split in ("train", "test")
        for name in EXPRESSIONS
    }
    folders.update({f"gt/mask/{a}-{b}": root / "gt" / "mask" / f"{a}-{b}" for a, b in _pairs()})
    expected = {key: n_train if key.startswith("train") else n_test for key in folders}
    if _prepare(fn, root, root / _EXPRESSION_MANIFEST, config, folders, expected):
        return root
    step = _batch_size(size)
    jobs = [
        partial(_write_expressions, folders, split, first, min(step, n - first), size, seed)
        for split, n in (("train", n_train), ("test", n_test))
        for first in range(0, n, step)
    ]
    _parallel(jobs)
    (root / _EXPRESSION_MANIFEST).write_text(json.dumps({**config, "complete": True}))
    return root


def _write_expressions(
    folders: dict[str, Path], split: str, start: int, n: int, size: int, seed: int
) -> None:
    faces = render_expressions(n, size=size, seed=seed, start=start, split=split)
    for k in range(n):
        name = f"{start + k:05d}.png"
        for expression, images in faces.items():
            save_image(images[k], folders[f"{split}/{expression}"] / name)
        if split == "test":
            for a, b in _pairs():
                mask = (faces[a][k] != faces[b][k]).any(0, keepdim=True).to(torch.uint8) * 255
                save_image(mask, folders[f"gt/mask/{a}-{b}"] / name)


def _write_train(
    folder: Path, split: str, smile: float, start: int, step: int, total: int, size: int, seed: int
) -> None:
    ids = [identity(seed, split, i) for i in range(start, min(start + step, total))]
    for k, image in enumerate(render(ids, [smile] * len(ids), size)):
        save_image(image, folder / f"{start + k:05d}.png")


def _write_test(folders: dict[str, Path], start: int, n: int, size: int, seed: int) -> None:
    pairs = _render_pairs(start, n, size, seed)
    masks = pairs.mask.to(torch.uint8) * 255
    for k in range(n):
        name = f"{start + k:05d}.png"
        for image, targets in (
            (pairs.neutral[k], ("testA", "gt/testB")),
            (pairs.smiling[k], ("testB", "gt/testA")),
            (masks[k], ("gt/mask",)),
        ):
            for target in targets:
                save_image(image, folders[target] / name)


def _numbered(folder: Path) -> list[Path]:
    """The NNNNN.png files of ``folder``: the only files this module writes there."""
    if not folder.is_dir():
        return []
    return [p for p in folder.glob("*.png") if p.stem.isdigit()]


def _count_numbered(folder: Path) -> int:
    return len(_numbered(folder))


def _remove_previous(folders: dict[str, Path]) -> None:
    """Deletes the images an earlier call wrote, so no stale image survives."""
    for folder in folders.values():
        for path in _numbered(folder):
            path.unlink()
