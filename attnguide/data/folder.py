"""Unpaired image folders in the CycleGAN layout (trainA, trainB, testA, testB)."""

from __future__ import annotations

import hashlib
import operator
import os
import random
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from attnguide._validation import check_bool, check_choice, check_int
from attnguide.data._pillow import require_pillow
from attnguide.data.io import IMG_EXTENSIONS, _to_tensor, list_images, load_rgb

__all__ = ["UnpairedImageFolder"]

_LAYOUT = (
    "expected the CycleGAN layout root/trainA, root/trainB, root/testA, root/testB, "
    f"each holding images ({', '.join(IMG_EXTENSIONS)}; sub-folders are searched)"
)


def _find_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"UnpairedImageFolder(): folder '{folder}' does not exist or is not a folder; {_LAYOUT}"
        )
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"UnpairedImageFolder(): no images found in '{folder}'; {_LAYOUT}")
    return paths


def _shared(t: Tensor) -> Tensor:
    """Moves ``t`` to shared memory so DataLoader workers see the main process's writes."""
    try:
        return t.share_memory_()
    except RuntimeError:  # no shared memory (e.g. a locked-down /dev/shm): stay local
        return t


class UnpairedImageFolder(Dataset):
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

    Returns:
        Items ``{"A": Tensor, "B": Tensor, "A_path": str, "B_path": str}``, images
        float32 in [-1, 1].

    Shape:
        - A, B: ``(3, crop_size, crop_size)``

    Raises:
        TypeError, ValueError: An argument has a wrong type or value.
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
    ) -> None:
        fn = "UnpairedImageFolder"
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"{fn}(): 'root' must be a str or Path, got {type(root).__name__}")
        check_choice(fn, "phase", phase, ("train", "test"))
        check_int(fn, "load_size", load_size, minimum=1)
        check_int(fn, "crop_size", crop_size, minimum=1)
        if phase == "train" and load_size < crop_size:
            raise ValueError(
                f"{fn}(): 'load_size' ({load_size}) must be >= 'crop_size' ({crop_size}) "
                "to crop from"
            )
        for name, value in (("flip", flip), ("serial", serial), ("skip_bad", skip_bad)):
            check_bool(fn, name, value)
        if seed is not None:
            check_int(fn, "seed", seed)
        if limit is not None:
            check_int(fn, "limit", limit, minimum=1)
        require_pillow(f"{fn}")

        self.root = Path(root)
        self.phase = phase
        self.load_size = load_size
        self.crop_size = crop_size
        self.flip = flip
        self.serial = serial
        self.seed = seed
        self.skip_bad = skip_bad
        self.limit = limit
        self.A_paths = [str(p) for p in _find_images(self.root / f"{phase}A")[:limit]]
        self.B_paths = [str(p) for p in _find_images(self.root / f"{phase}B")[:limit]]
        self._epoch = _shared(torch.zeros(1, dtype=torch.int64))
        self._bad = _shared(torch.zeros(len(self.A_paths) + len(self.B_paths), dtype=torch.bool))
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return max(len(self.A_paths), len(self.B_paths))

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch that seeded randomness depends on (no effect with ``seed=None``)."""
        self._epoch[0] = check_int("UnpairedImageFolder.set_epoch", "epoch", epoch, minimum=0)

    @property
    def epoch(self) -> int:
        """The epoch last given to :meth:`set_epoch` (0 before any call)."""
        return int(self._epoch[0])

    @property
    def skipped(self) -> list[str]:
        """Files skipped as unreadable so far (``skip_bad=True``), in any worker."""
        paths = self.A_paths + self.B_paths
        return [paths[i] for i in self._bad.nonzero().flatten().tolist()]

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

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = operator.index(index)
        if not 0 <= index < len(self):
            raise IndexError(
                f"UnpairedImageFolder: index {index} out of range for {len(self)} items"
            )
        rng = self._rng(index)
        n_a, n_b = len(self.A_paths), len(self.B_paths)
        b_index = index % n_b if self.serial else self._randint(rng, n_b)
        a, a_path = self._load(index % n_a, 0, rng)
        b, b_path = self._load(b_index, n_a, rng)
        return {"A": a, "B": b, "A_path": a_path, "B_path": b_path}

    def _load(self, index: int, offset: int, rng: random.Random | None) -> tuple[Tensor, str]:
        """Loads and transforms image ``index`` of one domain (A: offset 0, B: offset |A|)."""
        paths = self.A_paths if offset == 0 else self.B_paths
        for attempt in range(len(paths)):
            i = (index + attempt) % len(paths)
            if self._bad[offset + i]:
                continue
            try:
                im = load_rgb(paths[i])
            except OSError as e:
                if not self.skip_bad:
                    raise OSError(f"UnpairedImageFolder: {e}") from e
                self._bad[offset + i] = True
                if paths[i] not in self._warned:
                    self._warned.add(paths[i])
                    warnings.warn(f"UnpairedImageFolder: skipping {e}", stacklevel=3)
                continue
            return self._transform(im, rng), paths[i]
        folder = self.root / f"{self.phase}{'A' if offset == 0 else 'B'}"
        raise OSError(f"UnpairedImageFolder: every image in '{folder}' failed to load")

    def _transform(self, im: Any, rng: random.Random | None) -> Tensor:
        Image, _ = require_pillow("UnpairedImageFolder")
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

    def __repr__(self) -> str:
        return (
            f"UnpairedImageFolder(root='{self.root}', phase={self.phase!r}, "
            f"|A|={len(self.A_paths)}, |B|={len(self.B_paths)}, load_size={self.load_size}, "
            f"crop_size={self.crop_size}, flip={self.flip}, serial={self.serial}, "
            f"seed={self.seed}, skip_bad={self.skip_bad}, limit={self.limit})"
        )
