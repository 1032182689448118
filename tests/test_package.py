from __future__ import annotations

from importlib.metadata import metadata
from pathlib import Path

import pytest

import attnguide


def test_version_and_all() -> None:
    assert isinstance(attnguide.__version__, str)
    for name in attnguide.__all__:
        assert hasattr(attnguide, name), name


def test_the_distribution_declares_its_licence() -> None:
    meta = metadata("attnguide")
    assert meta["License-Expression"] == "MIT"
    root = Path(__file__).resolve().parents[1]
    assert (root / "LICENSE").read_text().startswith("MIT License")
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_the_docs_extra_brings_a_signature_formatter() -> None:
    # Without black or ruff, mkdocstrings leaves every signature on one unbroken line.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    docs = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["docs"]
    assert any(req.startswith(("ruff", "black")) for req in docs)
