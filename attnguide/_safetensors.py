"""A dependency-free reader and writer of the safetensors format.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian unsigned
header length ``N``, ``N`` bytes of UTF-8 JSON mapping each tensor name to its
``dtype``, ``shape`` and ``data_offsets`` ``[begin, end)`` relative to the byte buffer
that follows (plus an optional ``"__metadata__"`` object of string -> string), then the
tensors' raw little-endian, C-ordered bytes. The buffer is covered exactly, without
holes or overlaps.

The writer follows the reference implementation's layout: the header is padded with
spaces to a multiple of 8 bytes and tensors are ordered by decreasing element size, so
every tensor starts aligned to its element size.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from collections.abc import Mapping
from typing import BinaryIO

import torch
from torch import Tensor

__all__ = ["read_safetensors", "write_safetensors"]

# Names from the format's specification, for the dtypes this torch build has.
_DTYPE_NAMES: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "uint16": "U16",
    "int16": "I16",
    "float16": "F16",
    "bfloat16": "BF16",
    "uint32": "U32",
    "int32": "I32",
    "float32": "F32",
    "uint64": "U64",
    "int64": "I64",
    "float64": "F64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}
TO_NAME: dict[torch.dtype, str] = {
    getattr(torch, attr): name for attr, name in _DTYPE_NAMES.items() if hasattr(torch, attr)
}
FROM_NAME: dict[str, torch.dtype] = {name: dtype for dtype, name in TO_NAME.items()}

# The reference implementation refuses larger headers; so do we, before reading one.
_MAX_HEADER = 100 * 1024 * 1024


def _check_little_endian() -> None:
    if sys.byteorder != "little":
        raise NotImplementedError(
            "safetensors files are little-endian; reading or writing them on a big-endian "
            "machine is not supported"
        )


def write_safetensors(
    f: BinaryIO, tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None
) -> None:
    """Writes ``tensors`` (moved to the CPU, made contiguous) to the binary file ``f``.

    Raises:
        TypeError: A value is not a tensor, has a dtype the format lacks, or a key or
            metadata entry is not a string.
        ValueError: A key is ``"__metadata__"``.
    """
    _check_little_endian()
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"safetensors: tensor names must be str, got {type(name).__name__}")
        if name == "__metadata__":
            raise ValueError("safetensors: '__metadata__' is reserved and cannot name a tensor")
        if not isinstance(t, Tensor):
            raise TypeError(f"safetensors: {name!r} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in TO_NAME:
            raise TypeError(
                f"safetensors: {name!r} has dtype {t.dtype}, which the format cannot store; "
                f"supported: {sorted(str(d) for d in TO_NAME)}"
            )
    header: dict[str, object] = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("safetensors: metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    # Data in decreasing element size keeps every tensor aligned; the header keeps the
    # caller's order, which readers return.
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    offsets: dict[str, list[int]] = {}
    offset = 0
    for name in order:
        t = tensors[name]
        offsets[name] = [offset, offset + t.numel() * t.element_size()]
        offset = offsets[name][1]
    for name, t in tensors.items():
        header[name] = {
            "dtype": TO_NAME[t.dtype],
            "shape": list(t.shape),
            "data_offsets": offsets[name],
        }
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    for name in order:
        t = tensors[name]
        if t.numel() == 0:
            continue
        data = t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
        buf = bytearray(data.numel())
        # torch.frombuffer shares the bytearray's memory, so the copy fills the buffer.
        torch.frombuffer(buf, dtype=torch.uint8).copy_(data)
        f.write(buf)


def read_safetensors(
    path: str | os.PathLike[str], *, device: torch.device | str = "cpu"
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Reads a safetensors file; returns its tensors (in header order) and metadata.

    Raises:
        ValueError: The file is not a valid safetensors file; the message names it and
            the first problem found.
    """
    _check_little_endian()

    def bad(why: str) -> ValueError:
        return ValueError(f"safetensors: {os.fspath(path)!r} is not a valid file: {why}")

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8:
            raise bad(f"{size} bytes is too short for the 8-byte header length")
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER or 8 + n > size:
            raise bad(f"header length {n} does not fit a file of {size} bytes")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise bad(f"the header is not UTF-8 JSON ({e})") from None
        if not isinstance(header, dict):
            raise bad("the header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise bad("'__metadata__' must map strings to strings")
        data_start, data_size = 8 + n, size - 8 - n
        entries = []
        for name, info in header.items():
            if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
                raise bad(f"entry {name!r} must have exactly dtype, shape and data_offsets")
            dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
            if dtype not in FROM_NAME:
                raise bad(f"entry {name!r} has unsupported dtype {dtype!r}")
            if not (isinstance(shape, list) and all(_is_count(s) for s in shape)):
                raise bad(f"entry {name!r} has an invalid shape {shape!r}")
            if not (
                isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))
            ):
                raise bad(f"entry {name!r} has invalid data_offsets {offsets!r}")
            begin, end = offsets
            expected = math.prod(shape) * FROM_NAME[dtype].itemsize
            if end - begin != expected:
                raise bad(
                    f"entry {name!r} spans {end - begin} bytes but {dtype} {shape} needs {expected}"
                )
            entries.append((begin, end, name, FROM_NAME[dtype], shape))
        position = 0
        for begin, end, name, _, _ in sorted(entries):
            if begin != position:
                raise bad(f"entry {name!r} starts at byte {begin}, expected {position}")
            position = end
        if position != data_size:
            raise bad(f"the tensors cover {position} bytes of a {data_size}-byte buffer")

        tensors: dict[str, Tensor] = {}
        for begin, end, name, dtype, shape in entries:
            if end == begin:
                tensors[name] = torch.empty(shape, dtype=dtype, device=device)
                continue
            buf = bytearray(end - begin)
            f.seek(data_start + begin)
            if f.readinto(buf) != len(buf):
                raise bad(f"the file ended inside entry {name!r}")
            t = torch.frombuffer(buf, dtype=torch.uint8).view(dtype).reshape(shape)
            tensors[name] = t.to(device) if torch.device(device).type != "cpu" else t
    return tensors, metadata


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0
