from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from attnguide.training import load_weights, nonfinite_keys, weight_mismatches


def test_pth_and_safetensors_files_load_as_state_dicts(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    torch.save(net.state_dict(), tmp_path / "net.pth")
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "net.safetensors"
    )
    for name in ("net.pth", "net.safetensors"):
        weights = load_weights(tmp_path / name)
        assert weight_mismatches(net.state_dict(), weights) == []
        fresh = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        fresh.load_state_dict(weights)
        assert torch.equal(fresh[0].weight, net[0].weight)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"weight": torch.zeros(1), "hook": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"evil\.pth' holds objects that would run code to load"):
        load_weights(tmp_path / "evil.pth")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (lambda p: torch.save([torch.zeros(1)], p), "holds a list, not a state dict"),
        (lambda p: torch.save({"w": 3}, p), r"entries \['w'\] are not tensors"),
        (lambda p: torch.save({1: torch.zeros(1)}, p), r"entries \[1\] are not tensors"),
        (lambda p: p.write_bytes(b"not a checkpoint"), r"x\.pth' is not a weights file"),
        # Text that torch's weights-only unpickler fails on with a raw IndexError.
        (lambda p: p.write_text("weights: see README\n"), r"x\.pth' is not a weights file"),
        # A pickle cut short: whatever the unpickler raises, the file is named.
        (lambda p: p.write_bytes(b"\x80\x02}q\x00(X"), r"x\.pth' is not a readable weights"),
    ],
)
def test_what_is_not_a_state_dict_is_named(tmp_path: Path, content, match: str) -> None:
    content(tmp_path / "x.pth")
    with pytest.raises(ValueError, match=match):
        load_weights(tmp_path / "x.pth")


def test_missing_and_odd_paths(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"load_weights\(\): '.*nope.pth' does not exist"):
        load_weights(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="is not a regular file"):
        load_weights(tmp_path)
    with pytest.raises(TypeError, match=r"'path' must be a str or os\.PathLike, got int"):
        load_weights(3)  # type: ignore[arg-type]
    (tmp_path / "bad.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"{}")
    with pytest.raises(ValueError, match=r"bad\.safetensors' is not a readable weights file"):
        load_weights(tmp_path / "bad.safetensors")


def test_mismatches_list_every_key_and_shape() -> None:
    ours = {"a": torch.zeros(2), "b": torch.zeros(3, 3), "c": torch.zeros(1)}
    theirs = {"a": torch.zeros(2), "b": torch.zeros(3, 4), "d": torch.zeros(1)}
    assert weight_mismatches(ours, theirs) == [
        "c: in the module, not in the weights",
        "d: in the weights, not in the module",
        "b: shape (3, 4) in the weights, (3, 3) in the module",
    ]


def test_mismatches_list_a_dtype_that_differs() -> None:
    ours = {"w": torch.zeros(2, 3), "n": torch.zeros((), dtype=torch.int64)}
    theirs = {"w": torch.zeros(2, 3, dtype=torch.int64), "n": torch.zeros((), dtype=torch.int64)}
    assert weight_mismatches(ours, theirs) == [
        "w: dtype int64 in the weights, float32 in the module"
    ]


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_by_key(tmp_path: Path, suffix: str, bad: float) -> None:
    weights = {"ok": torch.zeros(2), "w": torch.tensor([1.0, bad]), "n": torch.tensor([3])}
    path = tmp_path / f"net{suffix}"
    torch.save(weights, path) if suffix == ".pth" else save_file(weights, path)
    with pytest.raises(
        ValueError,
        match=r"net\.(pth|safetensors)' holds NaN or infinite values in 1 tensor\(s\): \['w'\]",
    ):
        load_weights(path)
    torch.testing.assert_close(load_weights(path, finite=False)["w"], weights["w"], equal_nan=True)
    assert nonfinite_keys(weights) == ["w"]
