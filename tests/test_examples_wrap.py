from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Tiny models: extra intra-op threads only contend with the test process.
    env.setdefault("OMP_NUM_THREADS", "1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def losses(stdout: str) -> tuple[float, float]:
    match = re.search(r"loss_G (\S+)  loss_D (\S+)", stdout)
    assert match, stdout
    return float(match[1]), float(match[2])


@pytest.mark.parametrize("name", ["wrap_cyclegan.py", "wrap_stargan.py"])
def test_example_uses_only_the_public_api(name: str) -> None:
    source = (ROOT / "examples" / name).read_text()
    imports = re.findall(r"^(?:from|import) (attnguide\S*)", source, flags=re.MULTILINE)
    assert imports and all(not part.startswith("_") for i in imports for part in i.split("."))


def test_wrap_cyclegan_runs() -> None:
    stdout = run_example("wrap_cyclegan.py")
    assert "image (2, 3, 32, 32), mask (2, 1, 32, 32)" in stdout
    kept = float(re.search(r"within (\S+) of the pretrained generator", stdout)[1])
    assert kept <= 2 * (1 - 1 / (1 + math.exp(-6.0)))  # (1 - mask) * |content - source|
    assert re.search(r"mean mask: G_xy 0\.997\d, G_yx 0\.5000", stdout), stdout
    assert all(v == v and 0 < v < 1e3 for v in losses(stdout))


def test_wrap_stargan_runs() -> None:
    stdout = run_example("wrap_stargan.py")
    assert "image (2, 3, 32, 32), mask (2, 1, 32, 32)" in stdout
    assert "src (2, 1, 4, 4), cls (2, 3)" in stdout
    assert all(v == v and abs(v) < 1e3 for v in losses(stdout))
