"""The wheel a user installs: what it holds and the metadata pip shows."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds in an isolated environment (pip fetches setuptools)
def test_the_wheel_holds_the_library_its_licence_and_its_metadata(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("attnguide-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(z.read(meta_name).decode())
        licence = [n for n in names if n.endswith("licenses/LICENSE")]
        assert licence and z.read(licence[0]).decode().startswith("MIT License")
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"attnguide"}
    assert "attnguide/py.typed" in names
    assert meta["License-Expression"] == "MIT"
    assert "Development Status :: 3 - Alpha" in meta.get_all("Classifier")
    extras = set(meta.get_all("Provides-Extra"))
    assert {"examples", "triton", "docs", "metrics", "dev"} <= extras
