from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from attnguide.data import EpochSampler


@given(
    length=st.integers(1, 40),
    batch_size=st.integers(1, 7),
    world=st.integers(1, 4),
    epoch=st.integers(0, 5),
)
def test_ranks_cover_every_index_and_pad_like_distributed_sampler(
    length: int, batch_size: int, world: int, epoch: int
) -> None:
    seen: list[int] = []
    for rank in range(world):
        sampler = EpochSampler(length, batch_size=batch_size, seed=3, rank=rank, world=world)
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == sampler.batches_per_epoch
        assert all(1 <= len(b) <= batch_size for b in batches)
        seen += [i for b in batches for i in b]
    assert set(seen) == set(range(length))
    assert len(seen) == -(-length // world) * world  # padded to a multiple of world


@given(
    length=st.integers(1, 40),
    batch_size=st.integers(1, 7),
    world=st.integers(1, 4),
    epoch=st.integers(0, 3),
)
def test_drop_last_gives_every_rank_full_batches_and_never_an_index_twice(
    length: int, batch_size: int, world: int, epoch: int
) -> None:
    if length < batch_size * world:
        with pytest.raises(ValueError, match=rf"'length' {length} fills no batch"):
            EpochSampler(length, batch_size=batch_size, world=world, drop_last=True)
        return
    seen: list[int] = []
    for rank in range(world):
        sampler = EpochSampler(
            length, batch_size=batch_size, seed=1, rank=rank, world=world, drop_last=True
        )
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == length // world // batch_size
        assert all(len(b) == batch_size for b in batches)
        seen += [i for b in batches for i in b]
    assert len(seen) == len(set(seen))
    # What is left out does not fill one more batch on every rank.
    assert length - len(seen) < batch_size * world + length % world


def test_drop_last_the_issue_case() -> None:
    # 7 items, batches of 2, 4 processes: padding gave 8 indices, one of them twice.
    with pytest.raises(ValueError, match=r"with drop_last, 'length' 7 fills no batch of "):
        EpochSampler(7, batch_size=2, world=4, drop_last=True)
    ranks = [EpochSampler(9, batch_size=2, rank=r, world=4, drop_last=True) for r in range(4)]
    indices = [i for s in ranks for b in s for i in b]
    assert len(indices) == 8 and len(set(indices)) == 8


@pytest.mark.parametrize("start", [-1, 5, 99])
def test_a_resume_position_outside_the_epoch_is_refused(start: int) -> None:
    sampler = EpochSampler(7, batch_size=2, seed=0)
    with pytest.raises(ValueError, match=rf"'start' must be in \[0, 4\], got {start}"):
        sampler.start = start
    with pytest.raises(ValueError, match=rf"'start' must be in \[0, 4\], got {start}"):
        sampler.set_epoch(0, start=start)
    with pytest.raises(ValueError, match=r"'epoch' must be >= 0, got -1"):
        sampler.epoch = -1
    assert sampler.start == 0 and len(list(sampler)) == 4


def test_the_order_is_a_pure_function_of_seed_and_epoch() -> None:
    def batches(seed: int, epoch: int) -> list[list[int]]:
        torch.manual_seed(epoch * 100 + 7)  # global state must not matter
        sampler = EpochSampler(20, batch_size=3, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert batches(0, 1) == batches(0, 1)
    assert batches(0, 1) != batches(0, 2) and batches(0, 1) != batches(1, 1)
    expected = torch.randperm(20, generator=torch.Generator().manual_seed(5)).tolist()
    assert [i for b in batches(2, 3) for i in b] == expected
    plain = EpochSampler(5, batch_size=2, shuffle=False)
    assert list(plain) == [[0, 1], [2, 3], [4]]


def test_resuming_mid_epoch_gives_the_remaining_batches() -> None:
    sampler = EpochSampler(11, batch_size=2, seed=0, rank=1, world=2, drop_last=True)
    sampler.set_epoch(4)
    full = list(sampler)
    # 11 items over 2 processes: 5 each without repeating one, 2 full batches.
    assert sampler.batches_per_epoch == 2 and len(full) == 2
    for start in range(3):
        sampler.set_epoch(4, start=start)
        assert list(sampler) == full[start:] and len(sampler) == 2 - start
    with pytest.raises(ValueError, match=r"'start' must be in \[0, 2\], got 3"):
        sampler.set_epoch(4, start=3)


def test_as_a_dataloader_batch_sampler() -> None:
    data = TensorDataset(torch.arange(7))
    sampler = EpochSampler(len(data), batch_size=3, seed=1)
    sampler.set_epoch(0, start=1)
    loader = DataLoader(data, batch_sampler=sampler)
    got = [b[0].tolist() for b in loader]
    assert len(loader) == 2
    sampler.set_epoch(0)
    assert got == list(sampler)[1:]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"length": 0, "batch_size": 1}, ValueError, r"'length' must be >= 1, got 0"),
        ({"length": 3, "batch_size": 0}, ValueError, r"'batch_size' must be >= 1, got 0"),
        ({"length": 3, "batch_size": 1, "rank": 2, "world": 2}, ValueError, r"'rank' must be in"),
        ({"length": 3, "batch_size": 1.0}, TypeError, r"'batch_size' must be an int, got float"),
        ({"length": 3, "batch_size": 1, "shuffle": 1}, TypeError, r"'shuffle' must be a bool"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        EpochSampler(**kwargs)
