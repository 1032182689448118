"""Image folders: unpaired in the CycleGAN layout (trainA, trainB, testA, testB) and
multi-domain with one folder per domain (RaFD/StarGAN: train/<domain>, test/<domain>)."""

from __future__ import annotations

import bisect
import hashlib
import operator
import os
import random
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.utils.data import Dataset

from attnguide._validation import check_bool, check_choice, check_int
from attnguide.data._pillow import require_pillow
from attnguide.data.io import IMG_EXTENSIONS, _to_tensor, list_images, load_rgb

__all__ = ["DomainImageFolder", "UnpairedImageFolder"]

_IMAGES = f"each holding images ({', '.join(IMG_EXTENSIONS)}; sub-folders are searched)"
_LAYOUT = (
    f"expected the CycleGAN layout root/trainA, root/trainB, root/testA, root/testB, {_IMAGES}"
)
_DOMAIN_LAYOUT = (
    "expected the layout root/<phase>/<domain>/ (e.g. root/train/neutral, "
    "root/train/smiling), one folder per domain (every sub-folder of root/<phase> unless "
    f"'domains' names them), {_IMAGES}"
)


def _find_images(fn: str, folder: Path, layout: str) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{fn}(): folder '{folder}' does not exist or is not a folder; {layout}"
        )
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"{fn}(): no images found in '{folder}'; {layout}")
    return paths


def _shared(t: Tensor) -> Tensor:
    """Moves ``t`` to shared memory so DataLoader workers see the main process's writes."""
    try:
        return t.share_memory_()
    except RuntimeError:  # no shared memory (e.g. a locked-down /dev/shm): stay local
        return t


def _check_arguments(
    fn: str,
    root: object,
    phase: object,
    load_size: object,
    crop_size: object,
    bools: dict[str, object],
    seed: object,
    limit: object,
) -> None:
    """The checks both folders make, in this order (``bools`` in its order)."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{fn}(): 'root' must be a str or Path, got {type(root).__name__}")
    check_choice(fn, "phase", phase, ("train", "test"))
    load = check_int(fn, "load_size", load_size, minimum=1)
    crop = check_int(fn, "crop_size", crop_size, minimum=1)
    if phase == "train" and load < crop:
        raise ValueError(
            f"{fn}(): 'load_size' ({load}) must be >= 'crop_size' ({crop}) to crop from"
        )
    for name, value in bools.items():
        check_bool(fn, name, value)
    if seed is not None:
        check_int(fn, "seed", seed)
    if limit is not None:
        check_int(fn, "limit", limit, minimum=1)


def _check_transform(fn: str, transform: object) -> Callable[[Tensor], Tensor] | None:
    if transform is not None and not callable(transform):
        raise TypeError(
            f"{fn}(): 'transform' must be a callable that takes and returns an image "
            f"tensor, or None, got {type(transform).__name__} {transform!r}"
        )
    return transform  # type: ignore[return-value]


class _ImageFolder(Dataset):
    """What both folders share: the transform, seeded randomness, the epoch, bad files.

    A subclass sets ``_fn`` (its name, for messages) and calls :meth:`_setup` with its
    domains' folders and image paths; image ``j`` of domain ``d`` has the flat index
    ``_offsets[d] + j`` in ``_bad``.
    """

    _fn: ClassVar[str]

    def _setup(
        self,
        root: str | os.PathLike[str],
        phase: str,
        load_size: int,
        crop_size: int,
        flip: bool,
        seed: int | None,
        skip_bad: bool,
        limit: int | None,
        folders: list[Path],
        paths: list[list[str]],
    ) -> None:
        self.root = Path(root)
        self.phase = phase
        self.load_size = load_size
        self.crop_size = crop_size
        self.flip = flip
        self.seed = seed
        self.skip_bad = skip_bad
        self.limit = limit
        self._folders = folders
        self._paths = paths
        self._offsets = [0]
        for group in paths[:-1]:
            self._offsets.append(self._offsets[-1] + len(group))
        self._epoch = _shared(torch.zeros(1, dtype=torch.int64))
        self._bad = _shared(torch.zeros(sum(map(len, paths)), dtype=torch.bool))
        self._warned: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch that seeded randomness depends on (no effect with ``seed=None``)."""
        self._epoch[0] = check_int(f"{self._fn}.set_epoch", "epoch", epoch, minimum=0)

    @property
    def epoch(self) -> int:
        """The epoch last given to :meth:`set_epoch` (0 before any call)."""
        return int(self._epoch[0])

    @property
    def skipped(self) -> list[str]:
        """Files skipped as unreadable so far (``skip_bad=True``), in any worker."""
        paths = [path for group in self._paths for path in group]
        return [paths[i] for i in self._bad.nonzero().flatten().tolist()]

    def _check_index(self, index: int) -> int:
        index = operator.index(index)
        if not 0 <= index < len(self):
            raise IndexError(f"{self._fn}: index {index} out of range for {len(self)} items")
        return index

    def _rng(self, index: int) -> random.Random | None:
        if self.seed is None:
            return None
        key = f"{self.seed}/{self.epoch}/{index}".encode()
        return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little"))

    @staticmethod
    def _randint(rng: random.Random | None, n: int) -> int:
        """Uniform in [0, n)."""
        if rng is None:
            return int(torch.randint(n, ()).item())
        return rng.randrange(n)

    def _load(self, domain: int, index: int, rng: random.Random | None) -> tuple[Tensor, str]:
        """Loads and transforms image ``index`` of ``domain``, or the next readable one."""
        paths, offset = self._paths[domain], self._offsets[domain]
        for attempt in range(len(paths)):
            i = (index + attempt) % len(paths)
            if self._bad[offset + i]:
                continue
            try:
                im = load_rgb(paths[i])
            except OSError as e:
                if not self.skip_bad:
                    raise OSError(f"{self._fn}: {e}") from e
                self._bad[offset + i] = True
                if paths[i] not in self._warned:
                    self._warned.add(paths[i])
                    # 3: the caller of __getitem__, which calls this.
                    warnings.warn(f"{self._fn}: skipping {e}", stacklevel=3)
                continue
            return self._user_transform(self._transform(im, rng), paths[i]), paths[i]
        raise OSError(f"{self._fn}: every image in '{self._folders[domain]}' failed to load")

    def _user_transform(self, image: Tensor, path: str) -> Tensor:
        if self.transform is None:
            return image
        out = self.transform(image)
        if not isinstance(out, Tensor) or out.dim() != 3 or not out.is_floating_point():
            got = (
                f"a {out.dtype} tensor of shape {tuple(out.shape)}"
                if isinstance(out, Tensor)
                else type(out).__name__
            )
            raise TypeError(
                f"{self._fn}: 'transform' must return a floating-point (C, H, W) image "
                f"tensor, got {got} for '{path}'"
            )
        return out

    def _transform(self, im: Any, rng: random.Random | None) -> Tensor:
        Image, _ = require_pillow(self._fn)
        if self.phase == "test":
            size = (self.crop_size, self.crop_size)
            return _to_tensor(im.resize(size, Image.Resampling.BICUBIC))
        load, crop = self.load_size, self.crop_size
        im = im.resize((load, load), Image.Resampling.BICUBIC)
        x = self._randint(rng, load - crop + 1)
        y = self._randint(rng, load - crop + 1)
        image = _to_tensor(im.crop((x, y, x + crop, y + crop)))
        if self.flip and self._randint(rng, 2):
            image = image.flip(-1)
        return image


class UnpairedImageFolder(_ImageFolder):
    """Unpaired images from ``root/{phase}A`` and ``root/{phase}B``, as CycleGAN loads them.

    Images are found by :func:`~attnguide.data.list_images` (recursively, symbolic links
    followed; png, jpg, jpeg, bmp, webp, case-insensitive) and sorted by path. Item
    ``i`` holds ``A[i % |A|]`` and a ``B`` image that is drawn at random, or
    ``B[i % |B|]`` when ``serial=True``; the length is ``max(|A|, |B|)``.

    Preprocessing follows CycleGAN's ``resize_and_crop``: in the train phase each image
    is resized to ``load_size`` x ``load_size`` (bicubic), cropped at a random position
    to ``crop_size`` and flipped horizontally with probability 1/2 when ``flip``; in the
    test phase it is resized to ``crop_size`` x ``crop_size``, with no crop and no flip.
    Any file is read robustly (see :func:`load_rgb`).

    Randomness (B draw, crop offsets, flips):

    - ``seed=None``: drawn from torch's global generator, like torchvision transforms.
      ``DataLoader`` reseeds every worker each epoch, so results are fresh every epoch
      but depend on the number of workers.
    - ``seed=<int>``: a pure function of ``(seed, epoch, index)``. The same item comes
      out whichever process, worker or ``DistributedSampler`` rank loads it, so runs
      are reproducible across worker counts and machines. Call :meth:`set_epoch` at the
      start of every epoch (as with ``DistributedSampler``) to get new crops; the epoch
      lives in shared memory, so this reaches running workers too
      (``persistent_workers=True``).

    Unreadable files: by default the first one loaded raises an ``OSError`` that names
    it. With ``skip_bad=True`` it is skipped with a warning and the next image of the
    same domain is used instead; files are checked as they are loaded (checking every
    file up front would decode the whole data set before the first batch).
    :attr:`skipped` lists the files skipped so far by this dataset in any worker.

    Args:
        root: Data set folder.
        phase: ``"train"`` or ``"test"``: which pair of folders to read.
        load_size: Side that train images are resized to before cropping.
        crop_size: Side of the returned images.
        flip: Random horizontal flips in the train phase.
        serial: Pair ``A[i]`` with ``B[i % |B|]`` instead of a random B.
        seed: Seed for reproducible randomness, or None for torch's global generator.
        skip_bad: Skip unreadable files with a warning instead of raising.
        limit: Use only the first ``limit`` images of each domain (in the sorted
            order), or all of them with None.
        transform: Called on every image after the preprocessing above, as
            ``transform(image)`` with a ``(3, crop_size, crop_size)`` float32 tensor in
            [-1, 1]; it returns a floating-point ``(C, H, W)`` tensor. Tensor
            augmentations (torchvision.transforms.v2, kornia) plug in here; their
            randomness is theirs, not ``seed``'s. A and B get independent calls.

    Returns:
        Items ``{"A": Tensor, "B": Tensor, "A_path": str, "B_path": str}``, images
        float32 in [-1, 1].

    Shape:
        - A, B: ``(3, crop_size, crop_size)``

    Raises:
        TypeError, ValueError: An argument has a wrong type or value; ``transform``
            returns something other than a floating-point ``(C, H, W)`` tensor.
        FileNotFoundError: A phase folder is missing or holds no images.
        ImportError: Pillow is not installed (``pip install "attnguide[examples]"``).

    Example:
        >>> from attnguide.data import make_synthetic_faces
        >>> root = make_synthetic_faces("faces", n_train=8, n_test=2, size=32)
        >>> data = UnpairedImageFolder(root, load_size=36, crop_size=32, seed=0)
        >>> loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)
        >>> for epoch in range(2):
        ...     data.set_epoch(epoch)
        ...     for batch in loader:
        ...         real_a, real_b = batch["A"], batch["B"]
        >>> real_a.shape, real_b.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 3, 32, 32]))
    """

    _fn = "UnpairedImageFolder"

    def __init__(
        self,
        root: str | Path,
        phase: str = "train",
        *,
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        serial: bool = False,
        seed: int | None = None,
        skip_bad: bool = False,
        limit: int | None = None,
        transform: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        fn = self._fn
        bools = {"flip": flip, "serial": serial, "skip_bad": skip_bad}
        _check_arguments(fn, root, phase, load_size, crop_size, bools, seed, limit)
        self.transform = _check_transform(fn, transform)
        require_pillow(f"{fn}")
        folders = [Path(root) / f"{phase}A", Path(root) / f"{phase}B"]
        paths = [[str(p) for p in _find_images(fn, f, _LAYOUT)[:limit]] for f in folders]
        self._setup(root, phase, load_size, crop_size, flip, seed, skip_bad, limit, folders, paths)
        self.serial = serial
        self.A_paths, self.B_paths = paths

    def __len__(self) -> int:
        return max(len(self.A_paths), len(self.B_paths))

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._check_index(index)
        rng = self._rng(index)
        n_a, n_b = len(self.A_paths), len(self.B_paths)
        b_index = index % n_b if self.serial else self._randint(rng, n_b)
        a, a_path = self._load(0, index % n_a, rng)
        b, b_path = self._load(1, b_index, rng)
        return {"A": a, "B": b, "A_path": a_path, "B_path": b_path}

    def __repr__(self) -> str:
        return (
            f"UnpairedImageFolder(root='{self.root}', phase={self.phase!r}, "
            f"|A|={len(self.A_paths)}, |B|={len(self.B_paths)}, load_size={self.load_size}, "
            f"crop_size={self.crop_size}, flip={self.flip}, serial={self.serial}, "
            f"seed={self.seed}, skip_bad={self.skip_bad}, limit={self.limit}"
            f"{_transform_repr(self.transform)})"
        )


class DomainImageFolder(_ImageFolder):
    """Labelled images from one folder per domain, ``root/{phase}/{domain}``, as StarGAN
    loads RaFD.

    Each sub-folder of ``root/{phase}`` is a domain (an expression, an attribute
    value); its images are found by :func:`~attnguide.data.list_images` (recursively,
    symbolic links followed; png, jpg, jpeg, bmp, webp, case-insensitive) and sorted by
    path. The domains are the sub-folders in sorted order, as torchvision's
    ``ImageFolder`` finds classes, or the folders named by ``domains`` in that order;
    the label of an image is the index of its domain. Items run through the domains in
    label order, each domain's images in sorted order, so the length is the number of
    images of all domains together.

    Preprocessing and randomness are those of :class:`UnpairedImageFolder`: in the
    train phase each image is resized to ``load_size`` (bicubic), cropped at a random
    position to ``crop_size`` and flipped horizontally with probability 1/2 when
    ``flip``; in the test phase it is resized to ``crop_size``, with no crop and no
    flip. With ``seed=None`` crops and flips come from torch's global generator; with a
    seed they are a pure function of ``(seed, epoch, index)``, the same in any worker,
    process or ``DistributedSampler`` rank; call :meth:`set_epoch` every epoch for new
    ones (the epoch lives in shared memory, so persistent workers see it).

    Unreadable files: by default the first one loaded raises an ``OSError`` that names
    it. With ``skip_bad=True`` it is skipped with a warning and the next image of the
    same domain is used instead, so the label never changes; :attr:`skipped` lists the
    files skipped so far by this dataset in any worker.

    Args:
        root: Data set folder.
        phase: ``"train"`` or ``"test"``: which folder of domains to read.
        domains: The domain folder names in label order, or None for every sub-folder
            of ``root/{phase}`` in sorted order. For :func:`make_expression_faces`,
            ``list(EXPRESSIONS)`` gives its order (neutral first).
        load_size: Side that train images are resized to before cropping.
        crop_size: Side of the returned images.
        flip: Random horizontal flips in the train phase.
        seed: Seed for reproducible randomness, or None for torch's global generator.
        skip_bad: Skip unreadable files with a warning instead of raising.
        limit: Use only the first ``limit`` images of each domain (in the sorted
            order), or all of them with None.
        transform: Called on every image after the preprocessing above, as
            ``transform(image)`` with a ``(3, crop_size, crop_size)`` float32 tensor in
            [-1, 1]; it returns a floating-point ``(C, H, W)`` tensor. Tensor
            augmentations (torchvision.transforms.v2, kornia) plug in here; their
            randomness is theirs, not ``seed``'s.

    Attributes:
        domains: The domain names in label order.
        samples: ``(path, label)`` of every item, in item order.
        targets: The label of every item.

    Returns:
        Items ``(image, label)``: the image float32 in [-1, 1], the label an ``int``
        (a ``(b,)`` int64 tensor once a ``DataLoader`` collates a batch).

    Shape:
        - image: ``(3, crop_size, crop_size)``

    Raises:
        TypeError, ValueError: An argument has a wrong type or value (a repeated
            domain, a domain that is not a folder name); ``transform`` returns something
            other than a floating-point ``(C, H, W)`` tensor.
        FileNotFoundError: The phase folder or a domain folder is missing or holds no
            images.
        ImportError: Pillow is not installed (``pip install "attnguide[examples]"``).

    Example:
        >>> from attnguide.data import make_expression_faces
        >>> root = make_expression_faces("moods", n_train=2, n_test=1, size=32)
        >>> data = DomainImageFolder(root, load_size=36, crop_size=32, seed=0)
        >>> data.domains, len(data)
        (['neutral', 'sad', 'smiling', 'surprised'], 8)
        >>> loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=True)
        >>> for epoch in range(2):
        ...     data.set_epoch(epoch)
        ...     for x_real, label_org in loader:
        ...         pass
        >>> x_real.shape, label_org.shape, label_org.dtype
        (torch.Size([4, 3, 32, 32]), torch.Size([4]), torch.int64)
        >>> order = ["smiling", "neutral"]
        >>> two = DomainImageFolder(root, "test", domains=order, crop_size=32)
        >>> two.targets, two[0][0].shape
        ([0, 1], torch.Size([3, 32, 32]))
    """

    _fn = "DomainImageFolder"

    def __init__(
        self,
        root: str | Path,
        phase: str = "train",
        *,
        domains: Sequence[str] | None = None,
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        seed: int | None = None,
        skip_bad: bool = False,
        limit: int | None = None,
        transform: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        fn = self._fn
        bools = {"flip": flip, "skip_bad": skip_bad}
        _check_arguments(fn, root, phase, load_size, crop_size, bools, seed, limit)
        self.transform = _check_transform(fn, transform)
        names = None if domains is None else _check_domains(fn, domains)
        require_pillow(fn)
        base = Path(root) / phase
        if not base.is_dir():
            raise FileNotFoundError(
                f"{fn}(): folder '{base}' does not exist or is not a folder; {_DOMAIN_LAYOUT}"
            )
        found = sorted(p.name for p in base.iterdir() if p.is_dir())
        if names is None:
            if not found:
                raise FileNotFoundError(
                    f"{fn}(): no domain folders found in '{base}'; {_DOMAIN_LAYOUT}"
                )
            names = found
        for name in names:
            if name not in found:
                raise FileNotFoundError(
                    f"{fn}(): 'domains' names {name!r}, but folder '{base / name}' does not "
                    f"exist or is not a folder; the domain folders there are {found}"
                )
        folders = [base / name for name in names]
        paths = [[str(p) for p in _find_images(fn, f, _DOMAIN_LAYOUT)[:limit]] for f in folders]
        self._setup(root, phase, load_size, crop_size, flip, seed, skip_bad, limit, folders, paths)
        self.domains = names
        self.samples = [(path, label) for label, group in enumerate(paths) for path in group]
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        index = self._check_index(index)
        label = bisect.bisect_right(self._offsets, index) - 1
        image, _ = self._load(label, index - self._offsets[label], self._rng(index))
        return image, label

    def __repr__(self) -> str:
        counts = ", ".join(
            f"{name!r}: {len(group)}" for name, group in zip(self.domains, self._paths, strict=True)
        )
        return (
            f"DomainImageFolder(root='{self.root}', phase={self.phase!r}, "
            f"domains={{{counts}}}, load_size={self.load_size}, crop_size={self.crop_size}, "
            f"flip={self.flip}, seed={self.seed}, skip_bad={self.skip_bad}, limit={self.limit}"
            f"{_transform_repr(self.transform)})"
        )


def _transform_repr(transform: Callable[[Tensor], Tensor] | None) -> str:
    return "" if transform is None else f", transform={transform!r}"


def _check_domains(fn: str, domains: object) -> list[str]:
    """A ``domains=`` argument: a non-empty sequence of distinct folder names."""
    if isinstance(domains, (str, bytes)):
        raise TypeError(
            f"{fn}(): 'domains' must be a sequence of folder names (str) or None, got "
            f"{type(domains).__name__} {domains!r}; for one domain pass [{domains!r}]"
        )
    if not isinstance(domains, Sequence):
        raise TypeError(
            f"{fn}(): 'domains' must be a sequence of folder names (str) or None, got "
            f"{type(domains).__name__}"
        )
    if not domains:
        raise ValueError(f"{fn}(): 'domains' must name at least one domain folder, got {domains!r}")
    names: list[str] = []
    for i, name in enumerate(domains):
        if not isinstance(name, str):
            raise TypeError(
                f"{fn}(): 'domains[{i}]' must be a str (a folder name), got {type(name).__name__}"
            )
        separators = {"/", os.sep, os.altsep} - {None}
        if name in ("", ".", "..") or any(s in name for s in separators):
            raise ValueError(
                f"{fn}(): 'domains[{i}]' must be the name of a folder in root/<phase> "
                f"(no path separators), got {name!r}"
            )
        if name in names:
            raise ValueError(
                f"{fn}(): 'domains' must name each domain once, got {name!r} twice in "
                f"{list(domains)!r}"
            )
        names.append(name)
    return names
