"""Training helpers: the image history pool, the LR schedule, RNG state and checkpoints."""

from __future__ import annotations

import glob
import os
import random
import re
import secrets
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from attnguide._safetensors import read_safetensors, write_safetensors
from attnguide._validation import check_shape

__all__ = [
    "ImagePool",
    "capture_rng_state",
    "linear_decay",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]


def _check_int(fn: str, name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fn}(): '{name}' must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{fn}(): '{name}' must be >= {minimum}, got {value}")
    return value


# --------------------------------------------------------------------------- image pool


class ImagePool:
    """The history of generated images that discriminators are updated from.

    CycleGAN's image buffer (Shrivastava et al., 2017), kept per sample: while the pool
    holds fewer than ``size`` samples, each queried sample is stored and returned as
    is. Once it is full, each sample is, with probability 1/2, swapped for a stored one
    chosen uniformly (the stored one is returned, the new one takes its slot), and
    otherwise returned as is. Training the discriminator on this history rather than
    on the latest generator outputs alone damps oscillations.

    When masks are given, an image and its mask are stored, swapped and returned
    together, so the attention-guided discriminator always sees a matching
    ``[mask, image]`` pair. A pool that has stored pairs must always be given masks,
    and one that has stored images alone must never be.

    Randomness comes from ``generator`` when one is given, else from torch's global
    generator. For each sample queried while the pool is full, one uniform number
    ``u`` is drawn (``torch.rand``); if ``u < 0.5``, one slot index is drawn
    (``torch.randint(size)``). With a seeded generator the pool is therefore
    reproducible, and :meth:`state_dict` includes the generator's state so a resumed
    run continues exactly.

    Args:
        size: How many samples the pool keeps; ``0`` turns it off (queries pass
            through).
        generator: The random generator to draw from, or ``None`` for torch's global
            one.

    Raises:
        TypeError: ``size`` is not an int or ``generator`` not a ``torch.Generator``.
        ValueError: ``size`` is negative.

    Example:
        >>> pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
        >>> fake, mask = torch.randn(4, 3, 8, 8), torch.rand(4, 1, 8, 8)
        >>> images, masks = pool.query(fake, mask)
        >>> images.shape, masks.shape, len(pool)
        (torch.Size([4, 3, 8, 8]), torch.Size([4, 1, 8, 8]), 2)
    """

    def __init__(self, size: int = 50, *, generator: torch.Generator | None = None) -> None:
        self.size = _check_int("ImagePool", "size", size, minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                "ImagePool(): 'generator' must be a torch.Generator or None, "
                f"got {type(generator).__name__}"
            )
        self.generator = generator
        self._images: list[Tensor] = []
        self._masks: list[Tensor] | None = None

    def __len__(self) -> int:
        """The number of samples stored."""
        return len(self._images)

    def __repr__(self) -> str:
        pairs = "" if self._masks is None else ", with masks"
        return f"ImagePool(size={self.size}, stored={len(self)}{pairs})"

    @overload
    def query(self, images: Tensor, masks: None = None) -> Tensor: ...

    @overload
    def query(self, images: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]: ...

    def query(self, images: Tensor, masks: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Stores a batch and returns a batch drawn from it and the history.

        Args:
            images: The generator's latest outputs.
            masks: Their attention masks, or ``None``.

        Returns:
            The batch to train the discriminator on: ``images`` alone, or the pair
            ``(images, masks)`` when masks were given. The returned tensors are new,
            detached from autograd and from the pool's storage, in the inputs' dtype and
            on their device (stored samples follow the device of the latest query).

        Shape:
            - images: ``(b, c, h, w)``
            - masks: ``(b, k, h, w)``
            - output: the same shapes

        Raises:
            TypeError: An input is not a floating-point tensor, or its dtype differs
                from the stored samples'.
            ValueError: Shapes disagree with each other or with the stored samples,
                the inputs are on different devices, or masks are given to a pool of
                images alone (or missing for a pool of pairs).
        """
        fn = "ImagePool.query"
        sizes: dict[str, tuple[int, str]] = {}
        check_shape(fn, "images", images, "b c h w", sizes)
        if masks is not None:
            check_shape(fn, "masks", masks, "b k h w", sizes)
            if masks.device != images.device:
                raise ValueError(
                    f"{fn}(): 'masks' is on {masks.device} but 'images' is on {images.device}"
                )
        images = images.detach()
        masks = None if masks is None else masks.detach()
        if self.size == 0:
            return images.clone() if masks is None else (images.clone(), masks.clone())
        self._check_compatible(fn, images, masks)

        out_images: list[Tensor] = []
        out_masks: list[Tensor] = []
        for i in range(images.shape[0]):
            image, mask = images[i], None if masks is None else masks[i]
            if len(self._images) < self.size:
                self._images.append(image.clone())
                if mask is not None:
                    self._masks = [] if self._masks is None else self._masks
                    self._masks.append(mask.clone())
            elif self._uniform() < 0.5:
                j = self._slot()
                image, self._images[j] = self._images[j], image.clone()
                if mask is not None:
                    assert self._masks is not None
                    mask, self._masks[j] = self._masks[j], mask.clone()
            out_images.append(image)
            if mask is not None:
                out_masks.append(mask)
        # stack copies, so nothing returned aliases the inputs or the pool.
        if masks is None:
            return torch.stack(out_images)
        return torch.stack(out_images), torch.stack(out_masks)

    def _uniform(self) -> float:
        device = "cpu" if self.generator is None else self.generator.device
        return torch.rand((), generator=self.generator, device=device).item()

    def _slot(self) -> int:
        device = "cpu" if self.generator is None else self.generator.device
        return int(torch.randint(self.size, (), generator=self.generator, device=device).item())

    def _check_compatible(self, fn: str, images: Tensor, masks: Tensor | None) -> None:
        if not self._images:
            return
        if (masks is None) != (self._masks is None):
            stored = "images alone" if self._masks is None else "[image, mask] pairs"
            given = "no masks" if masks is None else "masks"
            raise ValueError(
                f"{fn}(): the pool stores {stored} but was given {given}; query it the same "
                "way every time"
            )
        for name, x, stored in (("images", images, self._images), ("masks", masks, self._masks)):
            if x is None or stored is None:
                continue
            ref = stored[0]
            if x.shape[1:] != ref.shape:
                raise ValueError(
                    f"{fn}(): '{name}' has shape {tuple(x.shape)} but the pool stores samples "
                    f"of shape {tuple(ref.shape)} (b {' '.join(map(str, ref.shape))})"
                )
            if x.dtype != ref.dtype:
                raise TypeError(
                    f"{fn}(): '{name}' has dtype {x.dtype} but the pool stores {ref.dtype}"
                )
            if x.device != ref.device:
                stored[:] = [t.to(x.device) for t in stored]

    def state_dict(self) -> dict[str, Any]:
        """The pool's contents and its generator's state, for checkpoints.

        Returns:
            A dict with ``"size"``, ``"images"`` (a stacked tensor, or ``None`` when
            empty), ``"masks"`` (likewise; ``None`` for a pool of images alone) and
            ``"generator"`` (the generator's state, or ``None`` for the global one).
        """
        return {
            "size": self.size,
            "images": torch.stack(self._images) if self._images else None,
            "masks": torch.stack(self._masks) if self._masks else None,
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned.

        Raises:
            TypeError: ``state_dict`` is not a mapping.
            ValueError: Keys are missing, the sizes differ, the stored tensors disagree,
                or the state has a generator state and this pool has no generator (or
                the other way round).
        """
        fn = "ImagePool.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}(): expected a mapping, got {type(state_dict).__name__}")
        missing = {"size", "images", "masks", "generator"} - set(state_dict)
        if missing:
            raise ValueError(f"{fn}(): the state lacks the keys {sorted(missing)}")
        if state_dict["size"] != self.size:
            raise ValueError(
                f"{fn}(): the state is of a pool of size {state_dict['size']}, "
                f"this pool has size {self.size}"
            )
        images, masks, gen = state_dict["images"], state_dict["masks"], state_dict["generator"]
        if (gen is None) != (self.generator is None):
            has = "has" if gen is not None else "has no"
            ours = "none" if self.generator is None else "one"
            raise ValueError(
                f"{fn}(): the state {has} generator state but this pool has {ours}; create "
                "the pool with a generator exactly when the saved one had one"
            )
        n = 0 if images is None else images.shape[0]
        if n > self.size or (masks is not None and (images is None or masks.shape[0] != n)):
            raise ValueError(
                f"{fn}(): the state holds {n} images and "
                f"{0 if masks is None else masks.shape[0]} masks for a pool of size {self.size}"
            )
        self._images = [] if images is None else list(images.clone().unbind(0))
        self._masks = None if masks is None else list(masks.clone().unbind(0))
        if self.generator is not None:
            self.generator.set_state(gen.cpu())


# ------------------------------------------------------------------------- LR schedule


class _LinearDecay:
    """The LR factor of :func:`linear_decay`; a class so LambdaLR saves its settings."""

    def __init__(self, constant_epochs: int, decay_epochs: int) -> None:
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, max(0.0, 1.0 - (epoch - self.constant_epochs) / self.decay_epochs))


def linear_decay(optimizer: Optimizer, *, constant_epochs: int, decay_epochs: int) -> LambdaLR:
    """CycleGAN's learning-rate schedule: constant, then linearly down to zero.

    Call ``scheduler.step()`` once at the end of every epoch. Epoch ``e`` (counted from
    0) trains with ``lr * f(e)``, where ``f`` is 1 up to ``constant_epochs`` and falls
    linearly to 0 at ``constant_epochs + decay_epochs``:
    ``f(e) = clamp(1 - (e - constant_epochs) / decay_epochs, 0, 1)``. After the
    ``constant_epochs + decay_epochs`` epochs of a run, the rate is exactly 0.

    CycleGAN's rule, ``1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)``, is off by
    one: it never reaches 0, its last epoch still trains at ``lr / (n_epochs_decay + 1)``.

    Args:
        optimizer: The optimizer whose learning rates to schedule.
        constant_epochs: Epochs at the full rate before the decay starts (``>= 0``).
        decay_epochs: Epochs over which the rate falls to 0 (``>= 1``).

    Returns:
        A ``LambdaLR`` whose ``state_dict`` includes both settings.

    Raises:
        TypeError: ``optimizer`` is not an optimizer or an epoch count not an int.
        ValueError: An epoch count is out of range.

    Example:
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = linear_decay(opt, constant_epochs=1, decay_epochs=2)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(sched.get_last_lr()[0])
        ...     opt.step()
        ...     sched.step()
        >>> rates
        [1.0, 1.0, 0.5, 0.0]
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "linear_decay(): 'optimizer' must be a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    _check_int("linear_decay", "constant_epochs", constant_epochs, minimum=0)
    _check_int("linear_decay", "decay_epochs", decay_epochs, minimum=1)
    return LambdaLR(optimizer, _LinearDecay(constant_epochs, decay_epochs))


# --------------------------------------------------------------------------- RNG state


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def capture_rng_state() -> dict[str, Any]:
    """The state of every global random generator a training run draws from.

    Returns:
        A dict with ``"python"`` (the ``random`` module), ``"torch"`` (torch's CPU
        generator), ``"cuda"`` (a list with one state per CUDA device, only when CUDA
        is available) and ``"numpy"`` (numpy's legacy global generator, only when numpy
        is installed; stored as plain Python values so ``weights_only`` loading
        accepts it). Pass it to :func:`restore_rng_state` to continue the same streams.

    Example:
        >>> state = capture_rng_state()
        >>> a = torch.rand(3)
        >>> restore_rng_state(state)
        >>> torch.equal(a, torch.rand(3))
        True
    """
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    np = _numpy()
    if np is not None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state["numpy"] = (kind, keys.tolist(), pos, has_gauss, gauss)
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restores the generators from :func:`capture_rng_state`.

    CUDA states are restored for the devices present; when CUDA is unavailable or the
    device count differs, and when a numpy state is given but numpy is missing, the
    generators that cannot be restored keep their state and a ``UserWarning`` says so.

    Args:
        state: What :func:`capture_rng_state` returned (possibly loaded from a
            checkpoint onto another device).

    Raises:
        TypeError: ``state`` is not a mapping.
        ValueError: ``state`` lacks the ``"python"`` or ``"torch"`` entry.
    """
    fn = "restore_rng_state"
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}(): 'state' must be a mapping, got {type(state).__name__}")
    missing = {"python", "torch"} - set(state)
    if missing:
        raise ValueError(
            f"{fn}(): 'state' lacks {sorted(missing)}; pass what capture_rng_state() returned"
        )
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state:
        cuda = list(state["cuda"])
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count != len(cuda):
            warnings.warn(
                f"{fn}(): the state has {len(cuda)} CUDA generator states but "
                f"{count} CUDA devices are available; restoring {min(count, len(cuda))}",
                stacklevel=2,
            )
        for index, s in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(s.cpu(), index)
    if "numpy" in state:
        np = _numpy()
        if np is None:
            warnings.warn(f"{fn}(): numpy is not installed; its state is ignored", stacklevel=2)
        else:
            kind, keys, pos, has_gauss, gauss = state["numpy"]
            np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))


# -------------------------------------------------------------------------- checkpoints

_MANIFEST = "state.pt"
_FORMAT = 1
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

PathLike = str | os.PathLike[str]


def _aside(path: Path) -> Path:
    """Where the previous checkpoint waits while the new one is swapped in."""
    return path.with_name(f".{path.name}.old")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def _fsync_dir(path: Path) -> None:
    # Directories cannot be opened for fsync on Windows; NTFS journals renames itself.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _check_path(fn: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(): 'path' must be a str or os.PathLike, got {type(path).__name__}")
    return Path(os.path.abspath(os.fspath(path)))


def save_checkpoint(path: PathLike, state: Mapping[str, Any]) -> None:
    """Saves a training state to the directory ``path``, atomically.

    Each entry of ``state`` is stored by kind:

    - an ``nn.Module``: its ``state_dict()`` as a safetensors file
      ``path/<name>.safetensors`` (readable by the ``safetensors`` package and
      loadable into the module with ``load_state_dict``);
    - an object with a ``state_dict()`` method (optimizers, schedulers,
      :class:`ImagePool`): that state dict;
    - anything else (epoch counters, :func:`capture_rng_state`, a config dict): the
      value itself. These and the state dicts go to ``path/state.pt`` via
      ``torch.save``, so they must be picklable.

    The write is atomic: the checkpoint is written to a temporary sibling directory,
    every file and the directory are fsynced, and it is then swapped in by renames
    (the previous checkpoint is renamed to ``.<name>.old`` beside ``path``, the new one
    renamed to ``path``, the old one deleted). A crash at any point leaves either the
    previous or the new checkpoint complete on disk, and :func:`load_checkpoint`
    finds it; the next save cleans up what the crash left. One writer per ``path``
    at a time.

    Args:
        path: The checkpoint directory; parent directories are created. An existing
            checkpoint there is replaced; any other existing file or non-empty
            directory is refused.
        state: Names (str) mapped to modules, stateful objects or plain values.

    Raises:
        TypeError: ``path`` or ``state`` has the wrong type, a name is not a str, or a
            module's state dict holds something other than tensors of a dtype the
            safetensors format stores.
        FileExistsError: ``path`` exists and is not a checkpoint.

    Example:
        >>> import tempfile
        >>> net = torch.nn.Linear(2, 2)
        >>> with tempfile.TemporaryDirectory() as root:
        ...     save_checkpoint(f"{root}/ckpt", {"net": net, "epoch": 3})
        ...     loaded = load_checkpoint(f"{root}/ckpt")
        >>> loaded["epoch"], sorted(loaded["net"])
        (3, ['bias', 'weight'])
    """
    fn = "save_checkpoint"
    path = _check_path(fn, path)
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}(): 'state' must be a mapping, got {type(state).__name__}")
    weights: dict[str, dict[str, Tensor]] = {}
    objects: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"{fn}(): the names in 'state' must be str, got {name!r}")
        if isinstance(value, nn.Module):
            weights[name] = value.state_dict()
            for key, t in weights[name].items():
                if not isinstance(t, Tensor):
                    raise TypeError(
                        f"{fn}(): the state dict of module {name!r} holds {type(t).__name__} "
                        f"at {key!r}; only tensors can be stored as safetensors"
                    )
        elif callable(getattr(value, "state_dict", None)):
            objects[name] = value.state_dict()
        else:
            values[name] = value
    if path.exists() and not _is_checkpoint(path) and not _is_empty_dir(path):
        raise FileExistsError(
            f"{fn}(): {str(path)!r} exists and is not a checkpoint (no {_MANIFEST} inside); "
            "refusing to replace it"
        )

    files = _module_files(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp_dir(path)
    try:
        for name, sd in weights.items():
            with open(tmp / files[name], "wb") as f:
                write_safetensors(f, sd, {"format": "pt"})
                f.flush()
                os.fsync(f.fileno())
        manifest = {
            "format": _FORMAT,
            "names": list(state),
            "modules": files,
            "objects": objects,
            "values": values,
        }
        with open(tmp / _MANIFEST, "wb") as f:
            torch.save(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, path)


def _make_temp_dir(path: Path) -> Path:
    # Not tempfile.mkdtemp: its 0o700 mode would stay on the checkpoint after the rename.
    while True:
        tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        return tmp


def _module_files(weights: Mapping[str, Any]) -> dict[str, str]:
    """File names for the modules: the name itself where it is a safe, unique file name."""
    files: dict[str, str] = {}
    taken: set[str] = set()
    for index, name in enumerate(weights):
        stem = name if _SAFE_NAME.fullmatch(name) else f"module-{index}"
        # Case-insensitive file systems would merge "G" and "g".
        if stem.casefold() in taken:
            stem = f"module-{index}"
        taken.add(stem.casefold())
        files[name] = f"{stem}.safetensors"
    return files


def _is_checkpoint(path: Path) -> bool:
    return (path / _MANIFEST).is_file()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _swap_in(tmp: Path, path: Path) -> None:
    """Replaces ``path`` by the complete checkpoint ``tmp``; each step is one rename.

    Invariant: at every instant, ``path`` or (when ``path`` is missing) the aside
    copy holds a complete checkpoint, because each step is an atomic rename made
    durable by fsyncing the parent before the next step.
    """
    parent, aside = path.parent, _aside(path)
    if aside.exists() or aside.is_symlink():
        if path.exists():
            # A crash after the new checkpoint was in place left the old one behind.
            _remove(aside)
        else:
            # A crash between the two renames: the aside copy is the latest checkpoint.
            os.rename(aside, path)
        _fsync_dir(parent)
    if path.exists():
        os.rename(path, aside)
        _fsync_dir(parent)
    os.rename(tmp, path)
    _fsync_dir(parent)
    if aside.exists():
        _remove(aside)
    # Temporary directories of writers that crashed before their swap.
    for stale in parent.glob(f"{glob.escape(_temp_prefix(path))}*"):
        shutil.rmtree(stale, ignore_errors=True)
    _fsync_dir(parent)


def load_checkpoint(
    path: PathLike,
    *,
    map_location: torch.device | str = "cpu",
    weights_only: bool = False,
) -> dict[str, Any]:
    """Loads what :func:`save_checkpoint` wrote.

    If a crash interrupted a save between its two renames, ``path`` is missing and the
    previous checkpoint waits beside it as ``.<name>.old``; it is loaded from there
    (and moved back by the next save).

    Args:
        path: The checkpoint directory.
        map_location: The device to load tensors onto.
        weights_only: Passed to ``torch.load`` for ``state.pt``. The default ``False``
            unpickles arbitrary objects, like ``torch.load(weights_only=False)``:
            load only checkpoints you trust. ``True`` accepts only tensors and plain
            containers and numbers (enough for optimizer, scheduler, pool and RNG
            state; configs must then be plain dicts). The module weights are
            safetensors and never execute code.

    Returns:
        A dict with the names given to :func:`save_checkpoint`, in the same order:
        modules come back as their state dicts (plain ``dict[str, Tensor]``: pass them
        to ``load_state_dict``, which reports missing or unexpected keys), stateful
        objects as their state dicts, plain values as themselves.

    Raises:
        FileNotFoundError: There is no checkpoint at ``path`` (the message names it).
        ValueError: ``path`` holds something that is not a checkpoint of this format.
    """
    fn = "load_checkpoint"
    path = _check_path(fn, path)
    if _is_checkpoint(path):
        source = path
    elif not path.exists() and _is_checkpoint(_aside(path)):
        source = _aside(path)
    elif path.exists():
        raise ValueError(f"{fn}(): {str(path)!r} is not a checkpoint (no {_MANIFEST} inside)")
    else:
        raise FileNotFoundError(f"{fn}(): no checkpoint at {str(path)!r}")
    manifest = torch.load(source / _MANIFEST, map_location=map_location, weights_only=weights_only)
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(
            f"{fn}(): {str(path)!r} has an unknown checkpoint format "
            f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, "
            f"expected {_FORMAT}"
        )
    out: dict[str, Any] = {}
    for name in manifest["names"]:
        if name in manifest["modules"]:
            tensors, _ = read_safetensors(source / manifest["modules"][name], device=map_location)
            out[name] = tensors
        elif name in manifest["objects"]:
            out[name] = manifest["objects"][name]
        else:
            out[name] = manifest["values"][name]
    return out
