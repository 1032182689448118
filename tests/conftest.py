"""Seeds every test and configures hypothesis for small, deadline-free runs."""

from __future__ import annotations

import os
import random
import sys

import pytest
import torch

# Without a GPU the fused op's Triton kernels are tested in triton's interpreter. triton
# decides whether it interprets when first imported (``import torch._dynamo`` imports
# it, and any test module may), so this must happen before any test module is collected.
if not torch.cuda.is_available() and "triton" not in sys.modules:
    os.environ.setdefault("TRITON_INTERPRET", "1")
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=30, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Two cores on CI: more intra-op threads than cores only adds contention.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request: pytest.FixtureRequest) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch.device(request.param)
