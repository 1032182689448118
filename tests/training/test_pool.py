from __future__ import annotations

from collections import Counter

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attnguide.training import ImagePool


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
    with pytest.raises(ValueError, match=r"exactly the keys .* missing \['masks'\]"):
        ImagePool(3).load_state_dict({"size": 3, "images": None, "generator": None})


def _filled_pool() -> ImagePool:
    pool = ImagePool(3, generator=torch.Generator().manual_seed(7))
    images = _ids(3, 0)
    pool.query(images, _masks_for(images))
    return pool


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"size": "3"}, ValueError, r"the state is of a pool of size '3'"),
        ({"images": [1, 2]}, TypeError, r"'state_dict\['images'\]' must be a torch\.Tensor"),
        ({"images": torch.zeros(3, 4, 4)}, ValueError, r"'state_dict\['images'\]' must have 4"),
        ({"images": torch.zeros(4, 2, 3, 3)}, ValueError, r"holds 4 images for a pool of size 3"),
        ({"images": torch.zeros(0, 2, 3, 3)}, ValueError, r"is empty"),
        (
            {"masks": torch.zeros(3, 1, 5, 3)},
            ValueError,
            r"'state_dict\['masks'\]' has shape \(3, 1, 5, 3\) .* but h=3",
        ),
        ({"masks": torch.zeros(2, 1, 3, 3)}, ValueError, r"but n=3 from"),
        (
            {"masks": torch.zeros(3, 1, 3, 3, dtype=torch.float64)},
            TypeError,
            r"'masks' has dtype torch\.float64 but 'images' has torch\.float32",
        ),
        ({"images": None}, ValueError, r"holds masks but no images"),
        ({"generator": torch.zeros(5, dtype=torch.uint8)}, ValueError, r"not a generator state"),
        ({"generator": torch.zeros(5)}, ValueError, r"not a generator state"),
        ({"extra": 1}, ValueError, r"unknown \['extra'\]"),
    ],
)
def test_a_refused_state_leaves_the_pool_as_it_was(change, error, match) -> None:
    pool = _filled_pool()
    reference = _filled_pool()
    state = {**_filled_pool().state_dict(), **change}
    with pytest.raises(error, match=match):
        pool.load_state_dict(state)
    for key, value in reference.state_dict().items():
        ours = pool.state_dict()[key]
        assert torch.equal(ours, value) if isinstance(value, torch.Tensor) else ours == value, key
    images = _ids(4, 100)
    a, am = pool.query(images, _masks_for(images))
    b, bm = reference.query(images, _masks_for(images))
    assert torch.equal(a, b) and torch.equal(am, bm)  # same contents, same random stream


def test_pool_on_device(device: torch.device) -> None:
    pool = ImagePool(2, generator=torch.Generator().manual_seed(0))
    for k in range(3):
        images = _ids(3, 3 * k).to(device)
        out, masks = pool.query(images, _masks_for(images))
        assert out.device == images.device and masks.device == images.device
        torch.testing.assert_close(masks, _masks_for(out), rtol=0, atol=0)
    assert _id_list(pool.state_dict()["images"].cpu()) != [0, 1]  # some swaps happened
