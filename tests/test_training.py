from __future__ import annotations

import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from attnguide._safetensors import read_safetensors, write_safetensors
from attnguide.nets import PatchDiscriminator, ResnetGenerator
from attnguide.training import (
    ImagePool,
    capture_rng_state,
    linear_decay,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------- image pool


def _ids(n: int, start: int, shape=(2, 3, 3)) -> torch.Tensor:
    """A batch whose sample i is filled with the value start + i, to track it."""
    values = torch.arange(start, start + n, dtype=torch.float32)
    return values.view(n, 1, 1, 1).expand(n, *shape).clone()


def _masks_for(images: torch.Tensor) -> torch.Tensor:
    """Masks that encode their image's id, so pairs can be checked after swaps."""
    return (images[:, :1] / 1000.0).clone()


def _id_list(batch: torch.Tensor) -> list[int]:
    return [int(v) for v in batch[:, 0, 0, 0]]


class _ReferencePool:
    """The documented algorithm, written out plainly: one uniform draw per sample once
    the pool is full, and a slot draw when it is below 0.5."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.items = size, []
        self.g = torch.Generator().manual_seed(seed)

    def query(self, ids: list[int]) -> list[int]:
        out = []
        for i in ids:
            if len(self.items) < self.size:
                self.items.append(i)
                out.append(i)
            elif torch.rand((), generator=self.g).item() < 0.5:
                j = int(torch.randint(self.size, (), generator=self.g))
                out.append(self.items[j])
                self.items[j] = i
            else:
                out.append(i)
        return out


def test_pool_matches_the_documented_algorithm_exactly() -> None:
    pool = ImagePool(3, generator=torch.Generator().manual_seed(1234))
    ref = _ReferencePool(3, seed=1234)
    start = 0
    for batch in (2, 1, 4, 3, 1, 5, 2):
        images = _ids(batch, start)
        start += batch
        out_images, out_masks = pool.query(images, _masks_for(images))
        expected = ref.query(_id_list(images))
        assert _id_list(out_images) == expected
        torch.testing.assert_close(out_masks, _masks_for(out_images), rtol=0, atol=0)
    assert sorted(_id_list(pool.state_dict()["images"])) == sorted(ref.items)


def test_pool_swaps_half_of_the_samples_once_full() -> None:
    size, n = 5, 2000
    pool = ImagePool(size, generator=torch.Generator().manual_seed(0))
    pool.query(_ids(size, 0))
    swaps, slots = 0, Counter()
    stored = _id_list(pool.state_dict()["images"])
    for k in range(n):
        image = _ids(1, size + k)
        (returned,) = _id_list(pool.query(image))
        new_stored = _id_list(pool.state_dict()["images"])
        changed = [j for j in range(size) if new_stored[j] != stored[j]]
        if returned == size + k:
            assert changed == []
        else:
            swaps += 1
            # The returned sample left its slot, the new one took it.
            assert len(changed) == 1 and stored[changed[0]] == returned
            assert new_stored[changed[0]] == size + k
            slots[changed[0]] += 1
        stored = new_stored
    # Binomial(n, 1/2) swaps, within 5 standard deviations (sqrt(n) / 2 each).
    assert abs(swaps - n / 2) < 5 * n**0.5 / 2
    # Slots are chosen uniformly: each count is within 5 standard deviations.
    expected = swaps / size
    assert set(slots) == set(range(size))
    assert all(abs(c - expected) < 5 * expected**0.5 for c in slots.values())


@given(
    size=st.integers(1, 4),
    batches=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_pool_neither_loses_nor_invents_samples(size, batches, seed) -> None:
    pool = ImagePool(size, generator=torch.Generator().manual_seed(seed))
    returned, given_ids, start = [], [], 0
    for b in batches:
        images = _ids(b, start, shape=(1, 1, 1))
        start += b
        out_images, out_masks = pool.query(images, _masks_for(images))
        returned += _id_list(out_images)
        given_ids += _id_list(images)
        torch.testing.assert_close(out_masks, _masks_for(out_images), rtol=0, atol=0)
    stored = _id_list(pool.state_dict()["images"]) if len(pool) else []
    # While filling, a sample is both stored and returned; afterwards it is either
    # returned now or kept in exchange for a stored one.
    filled = given_ids[:size]
    assert Counter(returned) + Counter(stored) == Counter(given_ids) + Counter(filled)
    assert len(pool) == min(size, len(given_ids))


def test_pool_returns_detached_copies() -> None:
    pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
    images = torch.randn(2, 3, 4, 4, requires_grad=True)
    masks = torch.rand(2, 1, 4, 4)
    out, out_masks = pool.query(images * 1, masks)
    assert not out.requires_grad
    out.zero_()
    out_masks.zero_()
    with torch.no_grad():
        images.zero_()
    masks.zero_()
    # Neither the outputs nor the inputs alias the stored samples.
    assert pool.state_dict()["images"].abs().sum() > 0
    assert pool.state_dict()["masks"].abs().sum() > 0


def test_size_zero_passes_through() -> None:
    pool = ImagePool(0)
    images = torch.randn(3, 3, 4, 4, requires_grad=True)
    masks = torch.rand(3, 1, 4, 4)
    out = pool.query(images)
    assert torch.equal(out, images) and not out.requires_grad
    assert out.data_ptr() != images.data_ptr()
    out_images, out_masks = pool.query(images, masks)
    assert torch.equal(out_images, images) and torch.equal(out_masks, masks)
    assert len(pool) == 0


def test_pool_uses_the_global_generator_without_one() -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        pool = ImagePool(2)
        outs.append([_id_list(pool.query(_ids(3, k * 3))) for k in range(6)])
    assert outs[0] == outs[1]
    assert ImagePool(2).state_dict()["generator"] is None


def test_pool_state_dict_resumes_exactly() -> None:
    pool = ImagePool(3, generator=torch.Generator().manual_seed(5))
    for k in range(4):
        images = _ids(2, 2 * k)
        pool.query(images, _masks_for(images))
    state = pool.state_dict()
    resumed = ImagePool(3, generator=torch.Generator().manual_seed(999))
    resumed.load_state_dict(state)
    for k in range(4, 10):
        images = _ids(2, 2 * k)
        a, am = pool.query(images, _masks_for(images))
        b, bm = resumed.query(images, _masks_for(images))
        assert torch.equal(a, b) and torch.equal(am, bm)


def test_pool_query_validation() -> None:
    pool = ImagePool(4)
    with pytest.raises(ValueError, match=r"ImagePool.query\(\): 'images' must have 4 dimensions"):
        pool.query(torch.randn(3, 4, 4))
    with pytest.raises(
        ValueError, match=r"'masks' has shape \(3, 1, 4, 4\) .* but b=2 from 'images'"
    ):
        pool.query(torch.randn(2, 3, 4, 4), torch.rand(3, 1, 4, 4))
    with pytest.raises(
        TypeError, match=r"'images' must be a floating-point tensor, got torch\.int64"
    ):
        pool.query(torch.zeros(2, 3, 4, 4, dtype=torch.long))
    pool.query(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="the pool stores images alone but was given masks"):
        pool.query(torch.randn(2, 3, 4, 4), torch.rand(2, 1, 4, 4))
    with pytest.raises(
        ValueError, match=r"'images' has shape \(2, 3, 5, 4\) but the pool stores .*\(3, 4, 4\)"
    ):
        pool.query(torch.randn(2, 3, 5, 4))
    with pytest.raises(
        TypeError, match=r"'images' has dtype torch\.float64 but the pool stores torch\.float32"
    ):
        pool.query(torch.randn(2, 3, 4, 4, dtype=torch.float64))
    paired = ImagePool(4)
    paired.query(torch.randn(1, 3, 4, 4), torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"stores \[image, mask\] pairs but was given no masks"):
        paired.query(torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"'masks' has shape \(1, 2, 4, 4\) but the pool stores"):
        paired.query(torch.randn(1, 3, 4, 4), torch.rand(1, 2, 4, 4))


def test_pool_constructor_and_state_validation() -> None:
    with pytest.raises(ValueError, match=r"ImagePool\(\): 'size' must be >= 0, got -1"):
        ImagePool(-1)
    with pytest.raises(TypeError, match="'size' must be an int, got float"):
        ImagePool(2.5)
    with pytest.raises(TypeError, match=r"'generator' must be a torch\.Generator or None, got int"):
        ImagePool(2, generator=0)
    state = ImagePool(3, generator=torch.Generator()).state_dict()
    with pytest.raises(ValueError, match="the state is of a pool of size 3, this pool has size 2"):
        ImagePool(2, generator=torch.Generator()).load_state_dict(state)
    with pytest.raises(ValueError, match="the state has generator state but this pool has none"):
        ImagePool(3).load_state_dict(state)
    with pytest.raises(ValueError, match=r"lacks the keys \['masks'\]"):
        ImagePool(3).load_state_dict({"size": 3, "images": None, "generator": None})


def test_pool_on_device(device: torch.device) -> None:
    pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
    for k in range(3):
        images = _ids(3, 3 * k).to(device)
        out, masks = pool.query(images, _masks_for(images))
        assert out.device == images.device and masks.device == images.device
        torch.testing.assert_close(masks, _masks_for(out), rtol=0, atol=0)
    assert _id_list(pool.state_dict()["images"].cpu()) != [0, 1]  # some swaps happened


# ------------------------------------------------------------------------- LR schedule


def _rates(constant: int, decay: int, epochs: int, lr: float = 0.5) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = linear_decay(opt, constant_epochs=constant, decay_epochs=decay)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"] / lr)
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize(("constant", "decay"), [(0, 1), (1, 2), (3, 4), (100, 100)])
def test_linear_decay_values(constant: int, decay: int) -> None:
    rates = _rates(constant, decay, constant + decay + 3)
    expected = [1.0] * (constant + 1) + [1 - k / decay for k in range(1, decay + 1)] + [0.0] * 2
    assert rates == pytest.approx(expected, abs=1e-12)
    assert rates[constant + decay] == 0.0  # exactly zero once the run's epochs are done
    assert rates[constant + decay - 1] == pytest.approx(1 / decay)


def test_linear_decay_scales_every_group_and_resumes() -> None:
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 0.1}])
    sched = linear_decay(opt, constant_epochs=2, decay_epochs=4)
    for _ in range(3):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.75, 0.075])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"constant_epochs": 2, "decay_epochs": 4}] * 2
    opt2 = torch.optim.Adam([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 0.1}])
    opt2.load_state_dict(opt.state_dict())
    sched2 = linear_decay(opt2, constant_epochs=2, decay_epochs=4)
    sched2.load_state_dict(state)
    for s, o in ((sched, opt), (sched2, opt2)):
        o.step()
        s.step()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"constant_epochs": -1, "decay_epochs": 1},
            ValueError,
            r"linear_decay\(\): 'constant_epochs' must be >= 0, got -1",
        ),
        (
            {"constant_epochs": 1, "decay_epochs": 0},
            ValueError,
            "'decay_epochs' must be >= 1, got 0",
        ),
        (
            {"constant_epochs": 1.0, "decay_epochs": 1},
            TypeError,
            "'constant_epochs' must be an int, got float",
        ),
    ],
)
def test_linear_decay_validation(kwargs, error, match) -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(error, match=match):
        linear_decay(opt, **kwargs)
    with pytest.raises(TypeError, match=r"'optimizer' must be a torch\.optim\.Optimizer, got list"):
        linear_decay([], constant_epochs=1, decay_epochs=1)


# --------------------------------------------------------------------------- RNG state


def _draws() -> tuple:
    return random.random(), torch.rand(3).tolist(), np.random.rand(2).tolist()


def test_rng_state_round_trip(tmp_path: Path) -> None:
    state = capture_rng_state()
    assert {"python", "torch", "numpy"} <= set(state)
    first = _draws()
    # Through torch.save with weights_only loading: the state is plain data.
    torch.save(state, tmp_path / "rng.pt")
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert _draws() == first


def test_rng_state_validation() -> None:
    with pytest.raises(
        TypeError, match=r"restore_rng_state\(\): 'state' must be a mapping, got list"
    ):
        restore_rng_state([])
    with pytest.raises(ValueError, match=r"'state' lacks \['torch'\]"):
        restore_rng_state({"python": random.getstate()})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_rng_state_warns_about_cuda_states_it_cannot_restore() -> None:
    state = capture_rng_state()
    state["cuda"] = [torch.get_rng_state()]
    with pytest.warns(UserWarning, match="1 CUDA generator states but 0 CUDA devices"):
        restore_rng_state(state)


# ------------------------------------------------------------------------- safetensors

_DTYPES = [
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.uint16,
    torch.int32,
    torch.uint32,
    torch.int64,
    torch.uint64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.float8_e4m3fn,
    torch.float8_e5m2,
]


def _random_tensor(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, dtype=torch.uint8).bool()
    n = int(torch.tensor(shape).prod()) * dtype.itemsize
    return torch.randint(0, 256, (n,), dtype=torch.uint8).view(dtype).reshape(shape)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    # Compare bit patterns: random bytes include NaNs, which are never equal.
    flat = lambda t: t.contiguous().reshape(-1).view(torch.uint8)  # noqa: E731
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(flat(a), flat(b))


def _tensors() -> dict[str, torch.Tensor]:
    tensors = {}
    for i, dtype in enumerate(_DTYPES):
        tensors[f"{dtype}"] = _random_tensor(dtype, (2, 3, i % 3 + 1))
    tensors["scalar"] = torch.tensor(2.5, dtype=torch.bfloat16)
    tensors["empty"] = torch.empty(0, 4)
    tensors["transposed"] = torch.randn(3, 5).T  # not contiguous
    tensors["channels_last"] = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
    return tensors


def test_safetensors_package_reads_our_files(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = _tensors()
    with open(tmp_path / "ours.safetensors", "wb") as f:
        write_safetensors(f, tensors, {"format": "pt", "note": "x"})
    theirs = load_file(tmp_path / "ours.safetensors")
    assert set(theirs) == set(tensors)
    for name, t in tensors.items():
        assert _same_bits(theirs[name], t), name
    with safe_open(tmp_path / "ours.safetensors", framework="pt") as f:
        assert f.metadata() == {"format": "pt", "note": "x"}


def test_we_read_the_safetensors_package_files(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in _tensors().items()}
    save_file(tensors, tmp_path / "theirs.safetensors", metadata={"format": "pt"})
    ours, metadata = read_safetensors(tmp_path / "theirs.safetensors")
    assert metadata == {"format": "pt"}
    assert set(ours) == set(tensors)
    for name, t in tensors.items():
        assert _same_bits(ours[name], t), name


def test_safetensors_bytes_match_the_specification(tmp_path: Path) -> None:
    tensors = {"b": torch.tensor([1, 2], dtype=torch.int16), "a": torch.tensor([1.5, -2.0])}
    with open(tmp_path / "x.safetensors", "wb") as f:
        write_safetensors(f, tensors)
    raw = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0  # padded so the buffer starts aligned
    header = json.loads(raw[8 : 8 + n])
    # Larger elements first, so every tensor is aligned to its element size.
    assert header == {
        "b": {"dtype": "I16", "shape": [2], "data_offsets": [8, 12]},
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    }
    assert raw[8 + n :] == struct.pack("<2f", 1.5, -2.0) + struct.pack("<2h", 1, 2)
    # Header order is the caller's order.
    assert list(read_safetensors(tmp_path / "x.safetensors")[0]) == ["b", "a"]


def _file(
    tmp_path: Path, header: object, data: bytes = b"", raw_header: bytes | None = None
) -> Path:
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)
    return path


@pytest.mark.parametrize(
    ("header", "data", "match"),
    [
        (
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
            b"\0" * 4,
            "cover 8 bytes of a 4-byte buffer",
        ),
        (
            {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "spans 4 bytes but F32 \\[2\\] needs 8",
        ),
        (
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
            b"\0" * 8,
            "starts at byte 4, expected 0",
        ),
        (
            {"a": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "unsupported dtype 'Q9'",
        ),
        (
            {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "invalid shape",
        ),
        ([1, 2], b"", "the header is not a JSON object"),
    ],
)
def test_safetensors_reader_rejects_malformed_files(tmp_path: Path, header, data, match) -> None:
    path = _file(tmp_path, header, data)
    with pytest.raises(ValueError, match=f"bad.safetensors' is not a valid file: .*{match}"):
        read_safetensors(path)


def test_safetensors_reader_rejects_truncated_files(tmp_path: Path) -> None:
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="too short for the 8-byte header length"):
        read_safetensors(tmp_path / "short.safetensors")
    path = _file(tmp_path, None, raw_header=b"{" + b" " * 7)
    path.write_bytes(path.read_bytes()[:12])
    with pytest.raises(ValueError, match="header length 8 does not fit a file of 12 bytes"):
        read_safetensors(path)


def test_safetensors_writer_rejects_what_the_format_cannot_hold(tmp_path: Path) -> None:
    with open(tmp_path / "x", "wb") as f:
        with pytest.raises(
            TypeError, match=r"'z' has dtype torch\.complex64, which the format cannot store"
        ):
            write_safetensors(f, {"z": torch.zeros(2, dtype=torch.complex64)})
        with pytest.raises(TypeError, match=r"'x' must be a torch\.Tensor, got int"):
            write_safetensors(f, {"x": 3})


# ------------------------------------------------------------------------- checkpoints


def _training_setup(seed: int):
    torch.manual_seed(seed)
    g = ResnetGenerator(3, 3, ngf=2, n_blocks=1)
    d = PatchDiscriminator(3, ndf=2, n_layers=1, norm="batch", head="pool").to(torch.bfloat16)
    opt = torch.optim.Adam(g.parameters(), lr=0.1, betas=(0.5, 0.999))
    sched = linear_decay(opt, constant_epochs=1, decay_epochs=3)
    pool = ImagePool(2, generator=torch.Generator().manual_seed(seed))
    return g, d, opt, sched, pool


def _train_step(g, d, opt, sched, pool) -> tuple:
    x = torch.randn(2, 3, 8, 8)
    opt.zero_grad()
    out = g(x)
    (out - x).abs().mean().backward()
    opt.step()
    sched.step()
    d(torch.randn(2, 3, 8, 8, dtype=torch.bfloat16))  # updates the batch-norm statistics
    fake = pool.query(out.detach(), torch.rand(2, 1, 8, 8))
    return [p.detach().clone() for p in g.parameters()], fake, random.random()


def test_checkpoint_round_trip_resumes_exactly(tmp_path: Path) -> None:
    g, d, opt, sched, pool = _training_setup(0)
    for _ in range(2):
        _train_step(g, d, opt, sched, pool)
    config = {"lr": 0.1, "name": "run", "sizes": [1, 2]}
    save_checkpoint(
        tmp_path / "ckpt",
        {
            "G": g,
            "D": d,
            "opt": opt,
            "sched": sched,
            "pool": pool,
            "rng": capture_rng_state(),
            "epoch": 2,
            "config": config,
        },
    )
    uninterrupted = [_train_step(g, d, opt, sched, pool) for _ in range(2)]

    g2, d2, opt2, sched2, pool2 = _training_setup(1)
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert list(loaded) == ["G", "D", "opt", "sched", "pool", "rng", "epoch", "config"]
    assert loaded["epoch"] == 2 and loaded["config"] == config
    assert all(isinstance(v, torch.Tensor) for v in loaded["G"].values())
    assert loaded["D"]["model.3.num_batches_tracked"].dtype == torch.int64
    assert loaded["D"]["model.0.weight"].dtype == torch.bfloat16
    g2.load_state_dict(loaded["G"])
    d2.load_state_dict(loaded["D"])
    opt2.load_state_dict(loaded["opt"])
    sched2.load_state_dict(loaded["sched"])
    pool2.load_state_dict(loaded["pool"])
    restore_rng_state(loaded["rng"])
    resumed = [_train_step(g2, d2, opt2, sched2, pool2) for _ in range(2)]

    for (pa, fa, ra), (pb, fb, rb) in zip(uninterrupted, resumed, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(pa, pb, strict=True))
        assert torch.equal(fa[0], fb[0]) and torch.equal(fa[1], fb[1])
        assert ra == rb
    for key, value in d.state_dict().items():
        assert torch.equal(value, d2.state_dict()[key]), key
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_checkpoint_files_are_safetensors_and_a_state_file(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    save_checkpoint(tmp_path / "ckpt", {"net": net, "odd name/": nn.Linear(1, 1), "step": 7})
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["module-1.safetensors", "net.safetensors", "state.pt"]
    weights = load_file(tmp_path / "ckpt" / "net.safetensors")
    assert set(weights) == set(net.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(weights)
    assert torch.equal(fresh[0].weight, net[0].weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # nothing left beside it
    if os.name == "posix":  # the directory gets the usual mode, not a temporary's 0o700
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE((tmp_path / "ckpt").stat().st_mode) == 0o777 & ~umask


def test_checkpoint_overwrite_and_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ckpt"
    for epoch in range(3):
        save_checkpoint(path, {"net": nn.Linear(2, 2), "epoch": epoch, "rng": capture_rng_state()})
    assert load_checkpoint(path, weights_only=True)["epoch"] == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt"]


def test_checkpoint_map_location(tmp_path: Path, device: torch.device) -> None:
    opt_param = nn.Parameter(torch.randn(2))
    opt = torch.optim.Adam([opt_param])
    opt_param.grad = torch.ones(2)
    opt.step()
    save_checkpoint(tmp_path / "c", {"net": nn.Linear(2, 2), "opt": opt})
    loaded = load_checkpoint(str(tmp_path / "c"), map_location=device)
    assert {t.device.type for t in loaded["net"].values()} == {device.type}
    assert loaded["opt"]["state"][0]["exp_avg"].device.type == device.type


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"load_checkpoint\(\): no checkpoint at '.*missing'"
    ):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="plain' is not a checkpoint"):
        load_checkpoint(tmp_path / "plain")
    with pytest.raises(FileExistsError, match="plain' exists and is not a checkpoint"):
        save_checkpoint(tmp_path / "plain", {"epoch": 1})
    assert (tmp_path / "plain" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    save_checkpoint(tmp_path / "empty", {"epoch": 1})  # an empty directory may be used
    assert load_checkpoint(tmp_path / "empty") == {"epoch": 1}

    class Extra(nn.Module):
        def get_extra_state(self):
            return {"note": 1}

        def set_extra_state(self, state):
            pass

    with pytest.raises(
        TypeError, match="the state dict of module 'm' holds dict at '_extra_state'"
    ):
        save_checkpoint(tmp_path / "x", {"m": Extra()})
    with pytest.raises(TypeError, match="the names in 'state' must be str, got 1"):
        save_checkpoint(tmp_path / "x", {1: 2})
    with pytest.raises(
        TypeError, match=r"save_checkpoint\(\): 'state' must be a mapping, got list"
    ):
        save_checkpoint(tmp_path / "x", [1])
    with pytest.raises(TypeError, match=r"'path' must be a str or os\.PathLike, got int"):
        save_checkpoint(3, {})
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


# A writer that dies (SIGKILL, no cleanup) at a chosen point of save_checkpoint.
_CRASHING_WRITER = textwrap.dedent(
    """
    import os, shutil, signal, sys
    import torch
    from attnguide.training import save_checkpoint

    path, point = sys.argv[1], sys.argv[2]
    aside = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".old")

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_fsync, real_rename, real_rmtree = os.fsync, os.rename, shutil.rmtree

    def fsync(fd):
        if point == "while-writing":
            die()
        real_fsync(fd)

    def rename(src, dst):
        if point == "before-aside" and os.fspath(dst) == aside:
            die()
        if point == "before-swap" and os.fspath(dst) == path:
            die()
        real_rename(src, dst)

    def rmtree(p, *args, **kwargs):
        if point == "before-delete" and os.fspath(p) == aside:
            die()
        real_rmtree(p, *args, **kwargs)

    os.fsync, os.rename, shutil.rmtree = fsync, rename, rmtree
    net = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(net.weight, 2.0)
    save_checkpoint(path, {"net": net, "epoch": 2})
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize(
    ("point", "survivor"),
    [("while-writing", 1), ("before-aside", 1), ("before-swap", 1), ("before-delete", 2)],
)
def test_checkpoint_survives_a_killed_writer(tmp_path: Path, point: str, survivor: int) -> None:
    path = tmp_path / "ckpt"
    old = nn.Linear(3, 2)
    nn.init.constant_(old.weight, 1.0)
    save_checkpoint(path, {"net": old, "epoch": 1})

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(path), point],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # the writer died where we meant it to
    aside = tmp_path / ".ckpt.old"
    assert path.exists() == (point != "before-swap")
    assert aside.exists() == (point in ("before-swap", "before-delete"))

    loaded = load_checkpoint(path)
    assert loaded["epoch"] == survivor
    assert torch.equal(loaded["net"]["weight"], torch.full((2, 3), float(survivor)))

    # The next save recovers from whatever the crash left and cleans it up.
    save_checkpoint(path, {"net": old, "epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
