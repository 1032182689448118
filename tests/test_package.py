from __future__ import annotations

import attnguide


def test_version_and_all() -> None:
    assert isinstance(attnguide.__version__, str)
    for name in attnguide.__all__:
        assert hasattr(attnguide, name), name
