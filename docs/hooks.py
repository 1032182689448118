"""MkDocs hook used by the docs build (see mkdocs.yml).

The "Reproducing AGGAN" and "Attention-guided StarGAN" guides include the results
sections of ``examples/aggan/README.md`` and ``examples/stargan_aggan/README.md``, whose
pictures are linked relative to those READMEs. This publishes the pictures of both
examples at the same relative paths beside the guides, so the included links resolve
on the site exactly as they do on GitHub (the two examples' pictures have distinct
names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = (ROOT / "examples" / "aggan", ROOT / "examples" / "stargan_aggan")
GUIDE_DIR = "guides"
PICTURES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
# Folders a local training run may leave inside the example; never published.
SKIP = {"runs", "datasets", "__pycache__"}


def on_files(files: Files, *, config: Any) -> Files:
    for example in EXAMPLES:
        for path in sorted(example.rglob("*")):
            relative = path.relative_to(example)
            if path.suffix.lower() not in PICTURES or SKIP & set(relative.parts):
                continue
            files.append(
                File.generated(config, f"{GUIDE_DIR}/{relative.as_posix()}", abs_src_path=str(path))
            )
    return files
