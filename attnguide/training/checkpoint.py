"""Checkpoints that never execute code: tensors in safetensors files, the rest in JSON.

A checkpoint is a folder:

- ``attnguide-checkpoint.json``, the manifest: its ``"format"`` marks the folder as
  one of ours, and it holds every entry that is not a module (counters, configs, RNG
  states, optimizer hyper-parameters, pool bookkeeping) as JSON, with each tensor
  replaced by a reference into ``state.safetensors``;
- ``<name>.safetensors``, one per module: its ``state_dict`` with the keys unchanged
  (readable by ``safetensors.torch.load_file`` and loadable with ``load_state_dict``);
- ``state.safetensors``: the tensors of the other entries (optimizer moments, RNG
  states, pooled images).

Loading parses JSON and safetensors only, so a checkpoint received from someone else
cannot run code. Nothing is ever deleted or replaced that the manifest does not mark
as ours.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

__all__ = ["MANIFEST", "is_checkpoint", "load_checkpoint", "save_checkpoint"]

MANIFEST = "attnguide-checkpoint.json"
"""The file that marks a folder as an attnguide checkpoint."""

_FORMAT = "attnguide-checkpoint"
_VERSION = 2
_STATE_FILE = "state.safetensors"
# Written first into every temporary folder and removed just before the folder becomes
# the checkpoint: a folder beside the checkpoint that holds it is a crashed writer's.
_PARTIAL = ".attnguide-partial"
# Errors of a folder that cannot take the checkpoint: full, over quota, read-only.
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_WRITE = {errno.EROFS, errno.EACCES, errno.EPERM}

# A test hook, called with the name of each step of a save as it is reached
# ("writing", "written", "aside", "swapped", "removing", "removed", "cleaned"): a hook that
# raises (or exits the process) there stands for a crash at that point.
_on_step: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _on_step is not None:
        _on_step(name)


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.safetensors")
_MAX_MANIFEST = 256 * 2**20
_MAX_DEPTH = 64
_TAGS = ("__tensor__", "__tuple__", "__float__", "__dict__")

PathLike = str | os.PathLike[str]


# ------------------------------------------------------------------- JSON encoding


class _Encoder:
    """Turns nested Python values into JSON, collecting tensors into one flat dict.

    ``None``, bools, ints, strings and finite floats are themselves; lists are lists;
    dicts with string keys that do not start with ``"__"`` are objects. Everything
    else that round-trips gets a one-key tag object: ``{"__tensor__": key}``,
    ``{"__tuple__": [...]}``, ``{"__float__": "inf"}`` (also ``"-inf"``, ``"nan"``),
    ``{"__dict__": [[key, value], ...]}`` for dicts with other keys (an optimizer
    state is keyed by parameter index).
    """

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.tensors: dict[str, Tensor] = {}

    def encode(self, value: Any, where: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise TypeError(f"{self.fn}(): {where} nests more than {_MAX_DEPTH} levels deep")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, Tensor):
            key = f"t{len(self.tensors)}"
            # A copy of its own: safetensors refuses tensors that share storage.
            self.tensors[key] = value.detach().to("cpu", copy=True).contiguous()
            return {"__tensor__": key}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, Mapping):
            plain = all(isinstance(k, str) and not k.startswith("__") for k in value)
            if plain:
                return {k: self.encode(v, f"{where}[{k!r}]", depth + 1) for k, v in value.items()}
            pairs = []
            for k, v in value.items():
                if not (k is None or isinstance(k, (bool, int, float, str))):
                    raise TypeError(
                        f"{self.fn}(): {where} has a key of type {type(k).__name__}; "
                        "checkpoint keys must be str, int, float, bool or None"
                    )
                key = self.encode(k, where, depth + 1)
                pairs.append([key, self.encode(v, f"{where}[{k!r}]", depth + 1)])
            return {"__dict__": pairs}
        raise TypeError(
            f"{self.fn}(): {where} is a {type(value).__name__}; checkpoints store tensors, "
            "modules, objects with state_dict(), and nested dicts, lists and tuples of "
            "None, bool, int, float and str (nothing that would need pickling)"
        )


class _Decoder:
    """The inverse of :class:`_Encoder`, checking everything it reads."""

    def __init__(self, where: str, tensors: Mapping[str, Tensor], device: torch.device) -> None:
        self.where = where
        self.tensors = tensors
        self.device = device
        self.used: set[str] = set()

    def bad(self, entry: str, why: str) -> ValueError:
        return ValueError(f"load_checkpoint(): {self.where}: entry {entry} {why}")

    def decode(self, value: Any, entry: str, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.bad(entry, f"nests more than {_MAX_DEPTH} levels deep")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.decode(v, f"{entry}[{i}]", depth + 1) for i, v in enumerate(value)]
        if not isinstance(value, dict):
            raise self.bad(entry, f"holds a {type(value).__name__}")
        tags = [t for t in _TAGS if t in value]
        if not tags:
            if any(k.startswith("__") for k in value):
                raise self.bad(entry, f"has an unknown tag among {sorted(value)}")
            return {k: self.decode(v, f"{entry}[{k!r}]", depth + 1) for k, v in value.items()}
        if len(value) != 1:
            raise self.bad(entry, f"mixes the tag {tags[0]!r} with other keys {sorted(value)}")
        tag, body = tags[0], value[tags[0]]
        if tag == "__tensor__":
            if not isinstance(body, str) or body not in self.tensors:
                raise self.bad(entry, f"refers to tensor {body!r}, which {_STATE_FILE} lacks")
            self.used.add(body)
            return self.tensors[body].to(self.device)
        if tag == "__float__":
            if body not in ("inf", "-inf", "nan"):
                raise self.bad(entry, f"is a __float__ of {body!r}, expected inf, -inf or nan")
            return float(body)
        if not isinstance(body, list):
            raise self.bad(entry, f"has a {tag} that is not a list")
        if tag == "__tuple__":
            return tuple(self.decode(v, f"{entry}[{i}]", depth + 1) for i, v in enumerate(body))
        out: dict[Any, Any] = {}
        for i, pair in enumerate(body):
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.bad(entry, f"has a __dict__ item {i} that is not a [key, value] pair")
            key = self.decode(pair[0], f"{entry} key {i}", depth + 1)
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise self.bad(entry, f"has a __dict__ key of type {type(key).__name__}")
            out[key] = self.decode(pair[1], f"{entry}[{key!r}]", depth + 1)
        return out


# ------------------------------------------------------------------------ reading


def _check_path(fn: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(): 'path' must be a str or os.PathLike, got {type(path).__name__}")
    return Path(os.path.abspath(os.fspath(path)))


def _read_regular(folder: Path, name: str, what: str, limit: int | None = None) -> bytes:
    """Reads ``folder/name``, refusing anything that is not a regular file inside it.

    Opened without blocking (a FIFO must not hang the load) and checked on the open
    descriptor, so what is read is what was checked.
    """
    where = f"{str(folder)!r}"
    if not isinstance(name, str) or (name != MANIFEST and not _FILE_NAME.fullmatch(name)):
        raise ValueError(
            f"load_checkpoint(): {where}: {what} names the file {name!r}; expected a plain "
            "file name inside the checkpoint folder (no folders, no '..')"
        )
    target = folder / name
    real = Path(os.path.realpath(target))
    if real.parent != Path(os.path.realpath(folder)):
        raise ValueError(
            f"load_checkpoint(): {where}: {what} {name!r} is a link to {str(real)!r}, outside "
            "the checkpoint folder"
        )
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ValueError(f"load_checkpoint(): {where}: {what} {name!r} is missing") from None
    except OSError as err:
        raise ValueError(
            f"load_checkpoint(): {where}: cannot open {what} {name!r}: {err}"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"load_checkpoint(): {where}: {what} {name!r} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise ValueError(
                f"load_checkpoint(): {where}: {what} {name!r} has {info.st_size} bytes, "
                f"more than the {limit} a manifest may have"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def _parse_manifest(where: str, raw: bytes) -> dict[str, Any]:
    def no_constants(name: str) -> None:
        raise ValueError(f"the bare constant {name} (non-finite floats are tagged)")

    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(
            f"load_checkpoint(): {where}: the manifest {MANIFEST} is not valid JSON "
            f"(corrupt or truncated?): {err}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(
            f"load_checkpoint(): {where}: {MANIFEST} is not an attnguide checkpoint "
            f"manifest (its 'format' must be {_FORMAT!r})"
        )
    if manifest.get("version") != _VERSION:
        raise ValueError(
            f"load_checkpoint(): {where}: checkpoint version {manifest.get('version')!r}, "
            f"this attnguide reads version {_VERSION}"
        )
    expected = {"format", "version", "names", "modules", "tensors", "values"}
    if set(manifest) != expected:
        raise ValueError(
            f"load_checkpoint(): {where}: the manifest must hold exactly the keys "
            f"{sorted(expected)}, got {sorted(manifest)}"
        )
    names, modules, values = manifest["names"], manifest["modules"], manifest["values"]
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError(f"load_checkpoint(): {where}: 'names' must be a list of strings")
    if len(set(names)) != len(names):
        raise ValueError(f"load_checkpoint(): {where}: 'names' lists a name twice")
    for key, table in (("modules", modules), ("values", values)):
        if not isinstance(table, dict):
            raise ValueError(f"load_checkpoint(): {where}: {key!r} must be a JSON object")
    if not all(isinstance(f, str) for f in modules.values()):
        raise ValueError(f"load_checkpoint(): {where}: 'modules' must map names to file names")
    if manifest["tensors"] not in (None, _STATE_FILE):
        raise ValueError(
            f"load_checkpoint(): {where}: 'tensors' must be {_STATE_FILE!r} or null, "
            f"got {manifest['tensors']!r}"
        )
    stored = set(modules) | set(values)
    if set(modules) & set(values) or stored != set(names):
        listed_only = sorted(set(names) - stored)
        stored_only = sorted(stored - set(names))
        twice = sorted(set(modules) & set(values))
        raise ValueError(
            f"load_checkpoint(): {where}: the manifest's names and entries disagree: listed "
            f"but not stored {listed_only}, stored but not listed {stored_only}, stored "
            f"twice {twice}"
        )
    return manifest


def _load_tensors(folder: Path, name: str, what: str) -> dict[str, Tensor]:
    data = _read_regular(folder, name, what)
    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise ValueError(
            f"load_checkpoint(): {str(folder)!r}: {what} {name!r} is not a valid "
            f"safetensors file (corrupt or truncated?): {err}"
        ) from None


def _manifest_of(path: Path) -> dict[str, Any] | None:
    """The manifest when ``path`` is one of our checkpoints, else None (never raises)."""
    try:
        raw = _read_regular(path, MANIFEST, "the manifest", _MAX_MANIFEST)
        return _parse_manifest(str(path), raw)
    except (ValueError, OSError):
        return None


def is_checkpoint(path: PathLike) -> bool:
    """Whether ``path`` is a folder :func:`save_checkpoint` wrote (its manifest is valid).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     before = is_checkpoint(root)
        ...     save_checkpoint(f"{root}/ckpt", {"epoch": 3})
        ...     before, is_checkpoint(f"{root}/ckpt")
        (False, True)
    """
    path = _check_path("is_checkpoint", path)
    return path.is_dir() and _manifest_of(path) is not None


def _aside(path: Path) -> Path:
    """Where the previous checkpoint waits while the new one is swapped in."""
    return path.with_name(f".{path.name}.old")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def _resolve(fn: str, path: Path) -> Path:
    """Follows a symlink to the checkpoint it names; refuses a dangling one."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if not target.exists():
        raise FileNotFoundError(
            f"{fn}(): {str(path)!r} is a symbolic link to {str(target)!r}, which does not exist"
        )
    return target


def load_checkpoint(path: PathLike, *, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Loads what :func:`save_checkpoint` wrote, without ever unpickling anything.

    A symbolic link to a checkpoint is followed. If a crash interrupted a save between
    its two renames, ``path`` is missing and the previous checkpoint waits beside it as
    ``.<name>.old``; it is loaded from there (and moved back by the next save).

    Every file name in the manifest must be a plain name of a regular file inside the
    folder (no ``..``, no absolute path, no link out of the folder, no FIFO or device),
    and every reference must resolve; anything else, and any corrupt or truncated
    file, is a ``ValueError`` that names the checkpoint and what is wrong.

    Args:
        path: The checkpoint directory.
        map_location: The device to load tensors onto.

    Returns:
        A dict with the names given to :func:`save_checkpoint`, in the same order:
        modules come back as their state dicts (plain ``dict[str, Tensor]``: pass them
        to ``load_state_dict``, which reports missing or unexpected keys), stateful
        objects as their state dicts, plain values as themselves (tuples, dicts with
        non-string keys and non-finite floats included).

    Raises:
        TypeError: ``path`` is not a str or path.
        FileNotFoundError: There is no checkpoint at ``path`` (the message names it).
        ValueError: ``path`` holds something that is not a valid checkpoint.

    Example:
        >>> import tempfile
        >>> net = torch.nn.Linear(2, 2)
        >>> with tempfile.TemporaryDirectory() as root:
        ...     save_checkpoint(f"{root}/ckpt", {"net": net, "epoch": 3})
        ...     loaded = load_checkpoint(f"{root}/ckpt")
        >>> loaded["epoch"], sorted(loaded["net"])
        (3, ['bias', 'weight'])
    """
    fn = "load_checkpoint"
    path = _resolve(fn, _check_path(fn, path))
    device = torch.device(map_location)
    if path.is_dir():
        source = path
    elif not path.exists() and _aside(path).is_dir() and not (_aside(path) / _PARTIAL).exists():
        source = _aside(path)
    elif path.exists():
        raise ValueError(f"{fn}(): {str(path)!r} is a file, not a checkpoint folder")
    else:
        raise FileNotFoundError(f"{fn}(): no checkpoint at {str(path)!r}")
    where = repr(str(source))
    if not (source / MANIFEST).exists() and not (source / MANIFEST).is_symlink():
        hint = ""
        if (source / "state.pt").exists():
            hint = (
                "; it holds a state.pt, the pickle that attnguide 0.1 wrote, which this "
                "version never loads since unpickling can run code"
            )
        raise ValueError(f"{fn}(): {where} is not an attnguide checkpoint (no {MANIFEST}){hint}")
    manifest = _parse_manifest(
        where, _read_regular(source, MANIFEST, "the manifest", _MAX_MANIFEST)
    )
    tensors: dict[str, Tensor] = {}
    if manifest["tensors"] is not None:
        tensors = _load_tensors(source, manifest["tensors"], "the tensor file")
    decoder = _Decoder(where, tensors, device)
    out: dict[str, Any] = {}
    for name in manifest["names"]:
        if name in manifest["modules"]:
            weights = _load_tensors(source, manifest["modules"][name], f"module {name!r}")
            out[name] = {k: v.to(device) for k, v in weights.items()}
        else:
            out[name] = decoder.decode(manifest["values"][name], repr(name))
    unused = sorted(set(tensors) - decoder.used)
    if unused:
        raise ValueError(
            f"{fn}(): {where}: {_STATE_FILE} holds tensors no entry refers to: {unused[:8]}"
        )
    return out


# ------------------------------------------------------------------------ writing


def _fsync_dir(path: Path) -> None:
    # Directories cannot be opened for fsync on Windows; NTFS journals renames itself.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _module_files(names: list[str]) -> dict[str, str]:
    """File names for the modules: the name itself where it is a safe, unique file name."""
    files: dict[str, str] = {}
    taken = {_STATE_FILE.casefold()}
    for index, name in enumerate(names):
        stem = name if _SAFE_NAME.fullmatch(name) else f"module-{index}"
        # Case-insensitive file systems would merge "G" and "g".
        if f"{stem}.safetensors".casefold() in taken:
            stem = f"module-{index}"
        taken.add(f"{stem}.safetensors".casefold())
        files[name] = f"{stem}.safetensors"
    return files


def _make_temp_dir(path: Path) -> Path:
    # Not tempfile.mkdtemp: its 0o700 mode would stay on the checkpoint after the rename.
    while True:
        tmp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        (tmp / _PARTIAL).touch()
        return tmp


def save_checkpoint(path: PathLike, state: Mapping[str, Any]) -> None:
    """Saves a training state to the directory ``path``, atomically, without pickling.

    Each entry of ``state`` is stored by kind:

    - an ``nn.Module``: its ``state_dict()`` as ``path/<name>.safetensors`` (readable by
      the ``safetensors`` package and loadable into the module with ``load_state_dict``);
    - an object with a ``state_dict()`` method (optimizers, schedulers,
      :class:`ImagePool`): that state dict;
    - anything else (epoch counters, :func:`capture_rng_state`, a config dict): the
      value itself, made of tensors, dicts, lists, tuples, None, bools, ints, floats
      (infinities and NaN included) and strings.

    Tensors go to safetensors files and everything else to the JSON manifest
    ``path/attnguide-checkpoint.json``, which also marks the folder as a checkpoint.

    The write is atomic: the checkpoint is written to a temporary sibling directory,
    every file and the directory are fsynced, and it is then swapped in by renames
    (the previous checkpoint is renamed to ``.<name>.old`` beside ``path``, the new one
    renamed to ``path``, the old one deleted). The rename to ``path`` is the commit: a
    crash (``kill -9``, power loss) at any point leaves the previous or the new
    checkpoint complete on disk, and :func:`load_checkpoint` finds the newest
    committed one; the next save first puts it back at ``path`` and removes what the
    crash left (temporary folders, the ``.<name>.old`` copy, even half-deleted), and
    only folders that carry our markers. One writer per ``path`` at a time (the
    examples hold a lock on the run folder for that). A symbolic link to a checkpoint
    is followed: the checkpoint it names is replaced and the link keeps pointing at it.

    Nothing that is not ours is ever deleted or overwritten: ``path`` must be missing,
    an empty folder or one of our checkpoints, and the ``.<name>.old`` and temporary
    folders beside it are only removed when they carry our markers.

    Args:
        path: The checkpoint directory; parent directories are created.
        state: Names (str) mapped to modules, stateful objects or plain values.

    Raises:
        TypeError: ``path`` or ``state`` has the wrong type, a name is not a str, or a
            value holds something that cannot be stored without pickling.
        FileExistsError: ``path`` (or its ``.<name>.old`` sibling) exists and is not
            one of our checkpoints.
        FileNotFoundError: ``path`` is a symbolic link to nothing.
        OSError: The folder is full, over quota, read-only or not writable: one message
            that names the folder, the bytes needed and those free; the previous
            checkpoint is left as it was (``errno`` is the one the system gave).

    Example:
        >>> import tempfile
        >>> net = torch.nn.Linear(2, 2)
        >>> with tempfile.TemporaryDirectory() as root:
        ...     state = {"net": net, "epoch": 3, "lr": 1e-4}
        ...     save_checkpoint(f"{root}/ckpt", state)
        ...     sorted(p.name for p in Path(root, "ckpt").iterdir())
        ['attnguide-checkpoint.json', 'net.safetensors']
    """
    fn = "save_checkpoint"
    path = _resolve(fn, _check_path(fn, path))
    if not isinstance(state, Mapping):
        raise TypeError(f"{fn}(): 'state' must be a mapping, got {type(state).__name__}")
    for name in state:
        if not isinstance(name, str):
            raise TypeError(f"{fn}(): the names in 'state' must be str, got {name!r}")

    # Everything is encoded (and can fail) before anything is written.
    modules = [n for n, v in state.items() if isinstance(v, nn.Module)]
    files = _module_files(modules)
    weights: dict[str, bytes] = {}
    for name in modules:
        sd = state[name].state_dict()
        for key, t in sd.items():
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"{fn}(): the state dict of module {name!r} holds {type(t).__name__} "
                    f"at {key!r}; only tensors can be stored as safetensors"
                )
        cpu = {k: t.detach().to("cpu", copy=True).contiguous() for k, t in sd.items()}
        weights[name] = save_safetensors(cpu, metadata={"format": "pt"})
    encoder = _Encoder(fn)
    values: dict[str, Any] = {}
    for name, value in state.items():
        if name in files:
            continue
        if callable(getattr(value, "state_dict", None)):
            value = value.state_dict()
        values[name] = encoder.encode(value, f"state[{name!r}]")
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "names": list(state),
        "modules": files,
        "tensors": _STATE_FILE if encoder.tensors else None,
        "values": values,
    }
    manifest_bytes = (json.dumps(manifest, separators=(",", ":"), allow_nan=False) + "\n").encode()
    tensor_bytes = save_safetensors(encoder.tensors) if encoder.tensors else None

    needed = len(manifest_bytes) + sum(map(len, weights.values())) + len(tensor_bytes or b"")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # What a crash left beside the checkpoint is sorted out before anything new.
        _recover(fn, path)
        _check_space(path, needed)
        tmp = _make_temp_dir(path)
    except OSError as err:
        raise _write_error(fn, path, err, needed) from None
    try:
        for name, data in weights.items():
            _write(tmp / files[name], data)
        _step("writing")
        if tensor_bytes is not None:
            _write(tmp / _STATE_FILE, tensor_bytes)
        _write(tmp / MANIFEST, manifest_bytes)
        (tmp / _PARTIAL).unlink()
        _fsync_dir(tmp)
    except BaseException as err:
        try:
            _remove_ours(tmp, missing_ok=True)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise _write_error(fn, path, err, needed) from None
        raise
    _step("written")
    _swap_in(tmp, path)


def _check_target(fn: str, path: Path) -> None:
    """Refuses to replace anything at ``path`` or its aside that is not ours."""
    for candidate, role in ((path, "exists"), (_aside(path), "is in the way")):
        if not candidate.exists() and not candidate.is_symlink():
            continue
        if candidate.is_dir() and not candidate.is_symlink():
            if _manifest_of(candidate) is not None:
                continue
            if candidate == path and not any(candidate.iterdir()):
                continue
            if candidate != path and (_ours_temporary(candidate) or _cut_short(candidate, path)):
                continue
        raise FileExistsError(
            f"{fn}(): {str(candidate)!r} {role} and is not an attnguide checkpoint (no valid "
            f"{MANIFEST} inside); refusing to replace it"
        )


def _ours_temporary(folder: Path) -> bool:
    """Whether ``folder`` is a temporary of ours: being written, complete, being
    removed (it holds our marker) or emptied (a removal cut short before its rmdir)."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    if (folder / _PARTIAL).is_file() or _manifest_of(folder) is not None:
        return True
    return not any(folder.iterdir())


def _cut_short(aside: Path, path: Path) -> bool:
    """Whether ``aside`` is what an older attnguide's interrupted removal of the old
    checkpoint left: regular files only, each named as a file of the checkpoint at
    ``path`` (older versions removed it without marking it first)."""
    current = _manifest_of(path) if path.is_dir() else None
    if current is None:
        return False
    names = {MANIFEST, _PARTIAL, _STATE_FILE, *current["modules"].values()}
    entries = list(aside.iterdir())
    return all(e.name in names and e.is_file() and not e.is_symlink() for e in entries)


def _remove_ours(folder: Path, *, missing_ok: bool = False) -> None:
    """Removes a folder of ours so that a crash part-way leaves it recognisable: our
    marker goes in first and out last, and an emptied folder is ours by being empty."""
    try:
        (folder / _PARTIAL).touch()
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    entries = sorted(folder.iterdir(), key=lambda e: e.name == _PARTIAL)
    for i, entry in enumerate(entries):
        if i == 1:
            _step("removing")
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    folder.rmdir()


def _recover(fn: str, path: Path) -> None:
    """Puts the newest committed checkpoint back at ``path`` and removes what a crashed
    save left beside it (only folders that carry our markers)."""
    _check_target(fn, path)
    parent, aside = path.parent, _aside(path)
    if aside.is_dir() and not aside.is_symlink():
        committed = path.exists() and _manifest_of(path) is not None
        if committed or (aside / _PARTIAL).exists() or _manifest_of(aside) is None:
            # A crash after the new checkpoint was in place left the old one behind,
            # complete or half-deleted.
            _remove_ours(aside)
        else:
            # A crash between the two renames: the aside copy is the latest checkpoint.
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            os.rename(aside, path)
        _fsync_dir(parent)
    _remove_stale_temporaries(path)


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary folders of writers that crashed before their swap."""
    for stale in path.parent.iterdir():
        if stale.name.startswith(_temp_prefix(path)) and _ours_temporary(stale):
            _remove_ours(stale, missing_ok=True)


def _check_space(path: Path, needed: int) -> None:
    """Fails before writing when the folder cannot take ``needed`` more bytes."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return
    if free < needed:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _write_error(fn: str, path: Path, err: OSError, needed: int) -> OSError:
    """One clear error for a folder that cannot take the checkpoint."""
    folder = path.parent
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:
        free = None
    intact = (
        f"the previous checkpoint {str(path)!r} is intact"
        if path.exists()
        else "nothing was replaced"
    )
    if err.errno in _NO_SPACE:
        have = f"{free / 2**20:.1f} MiB are free" if free is not None else "free space unknown"
        message = (
            f"{fn}(): no space left in {str(folder)!r} for the checkpoint: it needs "
            f"{needed / 2**20:.1f} MiB ({needed} bytes) and {have}; free some space or "
            f"choose another folder ({intact})"
        )
    elif err.errno in _NO_WRITE:
        message = (
            f"{fn}(): cannot write the checkpoint in {str(folder)!r}: "
            f"{err.strerror or err} (a read-only or protected folder); choose a writable "
            f"one ({intact})"
        )
    else:
        return err
    out = OSError(message)
    out.errno = err.errno
    return out


def _swap_in(tmp: Path, path: Path) -> None:
    """Replaces ``path`` by the complete checkpoint ``tmp``; each step is one rename.

    Invariant: at every instant, ``path`` or (when ``path`` is missing) the aside
    copy holds a complete checkpoint, because each step is an atomic rename made
    durable by fsyncing the parent before the next step. :func:`_recover` has run.
    """
    parent, aside = path.parent, _aside(path)
    if path.exists():
        if any(path.iterdir()):
            os.rename(path, aside)
        else:
            path.rmdir()
        _fsync_dir(parent)
    _step("aside")
    os.rename(tmp, path)
    _fsync_dir(parent)
    _step("swapped")
    if aside.exists():
        _remove_ours(aside)
        _fsync_dir(parent)
    _step("removed")
    _remove_stale_temporaries(path)
    _fsync_dir(parent)
    _step("cleaned")
