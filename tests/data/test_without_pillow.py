from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter where importing PIL fails, as on a machine without the
# "examples" extra.
SCRIPT = textwrap.dedent(
    """
    import sys

    class BlockPillow:
        def find_spec(self, name, path=None, target=None):
            if name == "PIL" or name.startswith("PIL."):
                raise ImportError(f"No module named {name!r} (blocked)")
            return None

    sys.meta_path.insert(0, BlockPillow())

    import attnguide
    import attnguide.data
    import attnguide.metrics
    from attnguide.data import UnpairedImageFolder, load_rgb, make_synthetic_faces
    from attnguide.data import render_face_pairs

    assert "PIL" not in sys.modules
    assert render_face_pairs(1, size=32).neutral.shape == (1, 3, 32, 32)
    hint = 'pip install "attnguide[examples]"'
    for call in (
        lambda: UnpairedImageFolder(sys.argv[1]),
        lambda: make_synthetic_faces(sys.argv[1]),
        lambda: load_rgb(sys.argv[1]),
    ):
        try:
            call()
        except ImportError as e:
            assert hint in str(e), str(e)
        else:
            raise AssertionError("expected ImportError")
    print("ok")
    """
)


def test_import_and_render_without_pillow(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
