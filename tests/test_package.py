from __future__ import annotations

import attnguide


def test_version_and_all() -> None:
    assert isinstance(attnguide.__version__, str)
    for name in attnguide.__all__:
        assert hasattr(attnguide, name), name


def test_the_distribution_declares_its_licence() -> None:
    from importlib.metadata import metadata
    from pathlib import Path

    meta = metadata("attnguide")
    assert meta["License-Expression"] == "MIT"
    root = Path(__file__).resolve().parents[1]
    assert (root / "LICENSE").read_text().startswith("MIT License")
    assert "LICENSE" in (meta.get_all("License-File") or [])
