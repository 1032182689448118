"""MkDocs hook used by the docs build (see mkdocs.yml).

The "Reproducing AGGAN" guide includes the results section of
``examples/aggan/README.md``, whose pictures are linked relative to that README. This
publishes the pictures under ``examples/aggan/`` at the same relative paths beside the
guide, so the included links resolve on the site exactly as they do on GitHub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "aggan"
GUIDE_DIR = "guides"
PICTURES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
# Folders a local training run may leave inside the example; never published.
SKIP = {"runs", "datasets", "__pycache__"}


def on_files(files: Files, *, config: Any) -> Files:
    for path in sorted(EXAMPLE.rglob("*")):
        relative = path.relative_to(EXAMPLE)
        if path.suffix.lower() not in PICTURES or SKIP & set(relative.parts):
            continue
        files.append(
            File.generated(config, f"{GUIDE_DIR}/{relative.as_posix()}", abs_src_path=str(path))
        )
    return files
