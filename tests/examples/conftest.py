"""Fixtures for the AGGAN example's tests: a tiny faces data set."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


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
