"""The files a translating script reads and writes: inputs found, outputs never
overwritten by surprise."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from attnguide.data import IMG_EXTENSIONS, list_images

from .config import ConfigError

__all__ = ["check_outputs", "image_inputs"]


def image_inputs(inputs: Path, *, allow_file: bool = False) -> tuple[list[Path], list[Path]]:
    """The images under the folder ``inputs`` (or ``inputs`` itself, an image file, with
    ``allow_file``) and the name each one's output gets: its path relative to the folder
    (its file name for a single image), as ``.png``.

    Raises:
        ConfigError: ``inputs`` does not exist, holds no images, is a file where a folder
            is expected, or two inputs would share an output name (``x.png``, ``x.jpg``).
    """
    if allow_file and inputs.is_file():
        if inputs.suffix.lower() not in IMG_EXTENSIONS:
            raise ConfigError(f"input {inputs} is not an image file ({', '.join(IMG_EXTENSIONS)})")
        return [inputs], [Path(inputs.name).with_suffix(".png")]
    if not inputs.is_dir():
        what = "is a file, not a folder" if inputs.exists() else "does not exist"
        raise ConfigError(f"input folder {inputs} {what}")
    files = list_images(inputs)
    if not files:
        raise ConfigError(f"input folder {inputs} holds no images")
    names: dict[Path, Path] = {}
    for path in files:
        name = path.relative_to(inputs).with_suffix(".png")
        if name in names:
            raise ConfigError(
                f"{names[name]} and {path} would both be written as {name}; rename one of them"
            )
        names[name] = path
    return files, list(names)


def check_outputs(
    outputs: Path, kinds: Sequence[str], names: Sequence[Path], *, overwrite: bool
) -> None:
    """Refuses to write ``outputs/<kind>/<name>`` where such a file exists, unless
    ``overwrite``, and where it or a folder on the way is a symbolic link, always:
    writing through a link (dangling or not) would put a file outside ``outputs``.

    Raises:
        ConfigError: naming how many exist and one of them, or the link.
    """
    for k in kinds:
        for n in names:
            target = outputs / k / n
            for p in [target, *target.parents]:
                if p == outputs:
                    break
                if p.is_symlink():
                    raise ConfigError(
                        f"{p} is a symbolic link (to {os.readlink(p)}); outputs are written "
                        f"only inside {outputs}, never through a link: remove it or choose "
                        "another output folder"
                    )
    existing = [outputs / k / n for k in kinds for n in names if (outputs / k / n).exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{len(existing)} output file(s) exist already, e.g. {existing[0]}; choose another "
            "output folder or pass --overwrite"
        )
