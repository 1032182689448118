"""Fixtures for the AGGAN example's tests: a tiny faces data set.

The example is a folder of scripts, not an installed package: ``examples/`` goes on
``sys.path`` here, before any test module imports ``aggan``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples")
if _EXAMPLES not in sys.path:
    sys.path.insert(0, _EXAMPLES)


@pytest.fixture(scope="session")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six training images per domain and three paired test identities, at 32x32."""
    from attnguide.data import make_synthetic_faces

    root = tmp_path_factory.mktemp("data") / "faces"
    return make_synthetic_faces(root, n_train=6, n_test=3, size=32)


@pytest.fixture(autouse=True)
def _keep_threads():
    """Runs set torch's thread count; put it back for the tests that follow."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
