"""Lets the fused op's Triton kernels run on CPU tensors when there is no GPU.

triton decides whether it interprets kernels when it is first imported (and
``import torch._dynamo`` imports it), so TRITON_INTERPRET must be in the environment
before any test runs. With a GPU the kernels are compiled and tested on CUDA instead.
"""

from __future__ import annotations

import os
import sys

import torch

if not torch.cuda.is_available() and "triton" not in sys.modules:
    os.environ.setdefault("TRITON_INTERPRET", "1")
