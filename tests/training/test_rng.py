from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from attnguide.training import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def _draws() -> tuple:
    return random.random(), torch.rand(3).tolist(), np.random.rand(2).tolist()


def test_rng_state_round_trip(tmp_path: Path) -> None:
    state = capture_rng_state()
    assert {"python", "torch", "numpy"} <= set(state)
    first = _draws()
    # Through a checkpoint: tensors to safetensors, the rest to JSON, nothing pickled.
    save_checkpoint(tmp_path / "rng", {"rng": state})
    restore_rng_state(load_checkpoint(tmp_path / "rng")["rng"])
    assert _draws() == first


def test_rng_state_validation() -> None:
    with pytest.raises(
        TypeError, match=r"restore_rng_state\(\): 'state' must be a mapping, got list"
    ):
        restore_rng_state([])
    with pytest.raises(ValueError, match=r"'state' lacks \['torch'\]"):
        restore_rng_state({"python": random.getstate()})


@pytest.mark.parametrize(
    ("entry", "value", "match"),
    [
        ("python", (3, (1, 2, 3), None), r"state\['python'\] is not a python generator state"),
        ("python", "abc", r"expected \(version, internal state, gauss\)"),
        ("torch", torch.zeros(3, dtype=torch.uint8), r"state\['torch'\] is not a torch"),
        ("torch", [1, 2], r"expected a uint8 tensor, got list"),
        ("numpy", ("MT19937", [1, 2], 0, 0, 0.0), r"state\['numpy'\] is not a numpy"),
        ("cuda", torch.zeros(3), r"expected a list of per-device states"),
        ("cuda", [torch.zeros(3)], r"expected a uint8 tensor, got torch\.float32"),
        ("other", 1, r"'state' has unknown entries \['other'\]"),
    ],
)
def test_a_refused_state_changes_no_generator(entry: str, value: object, match: str) -> None:
    state = capture_rng_state()
    random.seed(1)
    torch.manual_seed(1)
    np.random.seed(1)
    before = capture_rng_state()
    expected = _draws()
    restore_rng_state(before)
    with pytest.raises(ValueError, match=match):
        restore_rng_state({**state, entry: value})
    assert _draws() == expected  # python's, torch's and numpy's streams all untouched


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_rng_state_warns_about_cuda_states_it_cannot_restore() -> None:
    state = capture_rng_state()
    state["cuda"] = [torch.get_rng_state()]
    with pytest.warns(UserWarning, match="1 CUDA generator states but 0 CUDA devices"):
        restore_rng_state(state)
