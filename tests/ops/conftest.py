"""Fixtures shared by the fused ops' tests."""

from __future__ import annotations

import pytest
import torch

from attnguide.ops import _backend, get_backend


@pytest.fixture
def interpret() -> None:
    """Needs the Triton kernels to run on CPU tensors, through triton's interpreter."""
    if _backend._TRITON_MISSING:
        pytest.skip("triton is not installed")
    if not _backend.interpreter_enabled():
        if torch.cuda.is_available():
            pytest.skip("triton compiles for the GPU in this process; the CUDA tests run instead")
        pytest.fail("triton was imported before tests/conftest.py set TRITON_INTERPRET=1")


@pytest.fixture(autouse=True)
def _backend_is_restored():
    """Fails a test that leaves the backend switched: the next test would run the
    other backend without saying so."""
    before = get_backend()
    yield
    after = get_backend()
    if after != before:
        _backend.set_backend(before)
        pytest.fail(f"the test left the backend at {after!r} (it was {before!r})")
