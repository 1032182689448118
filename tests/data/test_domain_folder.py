"""DomainImageFolder: one folder per domain (RaFD/StarGAN), images with integer labels."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from attnguide.data import (
    DomainImageFolder,
    UnpairedImageFolder,
    make_expression_faces,
    read_image,
)
from attnguide.data.synthetic_faces import EXPRESSIONS

pytest.importorskip("PIL.Image")

SORTED = sorted(EXPRESSIONS)  # ['neutral', 'sad', 'smiling', 'surprised']


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four expressions, 3 train and 2 test identities each, 32 x 32: read only."""
    return make_expression_faces(tmp_path_factory.mktemp("expr"), n_train=3, n_test=2, size=32)


@pytest.fixture
def copy(faces: Path, tmp_path: Path) -> Path:
    """A writable copy of the train and test folders, for tests that break files."""
    root = tmp_path / "copy"
    for phase in ("train", "test"):
        shutil.copytree(faces / phase, root / phase)
    return root


def _domain_of(path: str) -> str:
    return Path(path).parent.name


# ----------------------------------------------------------------- layout and labels


def test_layout_labels_and_default_sorted_order(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=36, crop_size=32, seed=0)
    assert data.domains == SORTED
    assert len(data) == 4 * 3 == len(data.samples) == len(data.targets)
    assert data.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    for (path, label), target in zip(data.samples, data.targets, strict=True):
        assert isinstance(path, str) and label == target
        assert _domain_of(path) == data.domains[label]
        assert Path(path).is_relative_to(faces / "train")
    # Each domain's images in sorted order.
    names = [Path(p).name for p, label in data.samples if label == 1]
    assert names == ["00000.png", "00001.png", "00002.png"]
    for i in (0, 4, 11):
        image, label = data[i]
        assert type(label) is int and label == data.targets[i]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0
    assert data.root == faces and data.phase == "train"
    text = repr(data)
    assert "DomainImageFolder(" in text
    assert "{'neutral': 3, 'sad': 3, 'smiling': 3, 'surprised': 3}" in text
    assert len(DomainImageFolder(faces, "test", crop_size=32)) == 4 * 2


def test_domains_argument_sets_the_label_order(faces: Path) -> None:
    order = list(EXPRESSIONS)  # neutral, smiling, surprised, sad: not sorted
    data = DomainImageFolder(faces, "test", domains=order, crop_size=32)
    assert data.domains == order
    for path, label in data.samples:
        assert _domain_of(path) == order[label]
    assert [data[i][1] for i in range(len(data))] == [0, 0, 1, 1, 2, 2, 3, 3]

    two = DomainImageFolder(faces, "test", domains=("sad", "neutral"), crop_size=32)
    assert two.domains == ["sad", "neutral"] and len(two) == 4
    image, label = two[0]
    assert label == 0 and _domain_of(two.samples[0][0]) == "sad"
    assert torch.equal(image, read_image(faces / "test" / "sad" / "00000.png", size=32))
    image, label = two[2]
    assert label == 1
    assert torch.equal(image, read_image(faces / "test" / "neutral" / "00000.png", size=32))


def test_test_phase_images_equal_read_image(faces: Path) -> None:
    for size in (32, 24):
        data = DomainImageFolder(faces, "test", load_size=8, crop_size=size, seed=0)
        for epoch in (0, 1):
            data.set_epoch(epoch)  # the test phase has no randomness: no crop, no flip
            for i, (path, label) in enumerate(data.samples):
                image, got = data[i]
                assert got == label
                assert torch.equal(image, read_image(path, size=size)), (size, path)


@settings(max_examples=8)
@given(side=st.integers(8, 40), seed=st.integers(0, 2**31))
def test_train_without_crop_room_or_flip_is_the_resized_image(
    faces: Path, side: int, seed: int
) -> None:
    data = DomainImageFolder(
        faces, load_size=side, crop_size=side, flip=False, seed=seed, domains=["smiling"]
    )
    image, label = data[1]
    assert label == 0
    assert torch.equal(image, read_image(data.samples[1][0], size=side))


def test_transform_is_unpaired_image_folders(faces: Path, tmp_path: Path) -> None:
    # The same file at the same index gets the same crop and flip as UnpairedImageFolder's
    # domain A (serial: no B draw before A's crop).
    cyclegan = tmp_path / "cyclegan"
    cyclegan.mkdir()
    (cyclegan / "trainA").symlink_to(faces / "train" / "sad", target_is_directory=True)
    (cyclegan / "trainB").symlink_to(faces / "train" / "smiling", target_is_directory=True)
    unpaired = UnpairedImageFolder(cyclegan, load_size=44, crop_size=32, serial=True, seed=9)
    data = DomainImageFolder(faces, domains=["sad"], load_size=44, crop_size=32, seed=9)
    for epoch in (0, 3):
        unpaired.set_epoch(epoch)
        data.set_epoch(epoch)
        for i in range(3):
            assert torch.equal(data[i][0], unpaired[i]["A"]), (epoch, i)


# ---------------------------------------------------------------------- randomness


def _items(data: DomainImageFolder) -> list[tuple[torch.Tensor, int]]:
    return [data[i] for i in range(len(data))]


def _same(x: list, y: list) -> bool:
    return len(x) == len(y) and all(
        torch.equal(a, b) and la == lb for (a, la), (b, lb) in zip(x, y, strict=True)
    )


def test_seeded_items_are_a_function_of_seed_epoch_and_index(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=40, crop_size=32, seed=3)
    first = _items(data)
    assert _same(first, _items(data))  # the same item twice
    assert _same(first, _items(DomainImageFolder(faces, load_size=40, crop_size=32, seed=3)))
    assert not _same(first, _items(DomainImageFolder(faces, load_size=40, crop_size=32, seed=4)))
    data.set_epoch(1)
    assert data.epoch == 1
    moved = _items(data)
    assert not _same(first, moved)
    assert [label for _, label in moved] == data.targets  # labels never move
    data.set_epoch(0)
    assert _same(first, _items(data))


def test_unseeded_follows_torch_global_generator(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=44, crop_size=32)
    assert data.seed is None
    torch.manual_seed(1)
    first = _items(data)
    torch.manual_seed(1)
    assert _same(first, _items(data))
    torch.manual_seed(2)
    assert not _same(first, _items(data))


# ----------------------------------------------------------------------- DataLoader


def _batches(loader: DataLoader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in loader]


def test_dataloader_collates_images_and_int64_labels(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=36, crop_size=32, seed=0)
    batches = _batches(DataLoader(data, batch_size=5))
    assert [x.shape for x, _ in batches] == [(5, 3, 32, 32), (5, 3, 32, 32), (2, 3, 32, 32)]
    for x, labels in batches:
        assert x.dtype == torch.float32
        assert labels.dtype == torch.int64 and labels.ndim == 1
    assert torch.cat([y for _, y in batches]).tolist() == data.targets


def test_workers_give_the_items_of_one_process(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=40, crop_size=32, seed=11)
    single = []
    for epoch in range(2):
        data.set_epoch(epoch)
        single.append(_batches(DataLoader(data, batch_size=4, num_workers=0)))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(*single, strict=True))
    # Persistent workers see set_epoch through shared memory.
    data = DomainImageFolder(faces, load_size=40, crop_size=32, seed=11)
    loader = DataLoader(data, batch_size=4, num_workers=2, persistent_workers=True)
    for epoch in range(2):
        data.set_epoch(epoch)
        got = _batches(loader)
        assert len(got) == len(single[epoch])
        for (x, y), (x0, y0) in zip(got, single[epoch], strict=True):
            assert torch.equal(x, x0) and torch.equal(y, y0), epoch


# ---------------------------------------------------------------------------- limit


def test_limit_keeps_the_first_images_of_each_domain(faces: Path) -> None:
    data = DomainImageFolder(faces, load_size=36, crop_size=32, limit=2)
    assert len(data) == 4 * 2 and data.targets == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [Path(p).name for p, _ in data.samples] == ["00000.png", "00001.png"] * 4
    assert "'sad': 2" in repr(data) and "limit=2" in repr(data)
    assert len(DomainImageFolder(faces, load_size=36, crop_size=32, limit=99)) == 12
    with pytest.raises(ValueError, match=r"'limit' must be >= 1, got 0"):
        DomainImageFolder(faces, limit=0)
    with pytest.raises(TypeError, match=r"'limit' must be an int, got float"):
        DomainImageFolder(faces, limit=2.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- errors


def test_missing_and_empty_folders_name_the_folder_and_layout(faces: Path, tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"DomainImageFolder\(\): folder '.*nowhere.train' does not exist.*"
        r"root/<phase>/<domain>",
    ):
        DomainImageFolder(tmp_path / "nowhere")
    (tmp_path / "d" / "train" / "happy").mkdir(parents=True)
    shutil.copy(faces / "train" / "sad" / "00000.png", tmp_path / "d" / "train" / "happy")
    with pytest.raises(FileNotFoundError, match=r"folder '.*d.test' does not exist"):
        DomainImageFolder(tmp_path / "d", "test")
    (tmp_path / "d" / "train" / "angry").mkdir()
    (tmp_path / "d" / "train" / "angry" / "readme.txt").write_text("not an image")
    with pytest.raises(
        FileNotFoundError, match=r"no images found in '.*train.angry'; expected the layout"
    ):
        DomainImageFolder(tmp_path / "d")
    # Naming only the folders with images leaves the empty one out.
    assert len(DomainImageFolder(tmp_path / "d", domains=["happy"], crop_size=8)) == 1
    (tmp_path / "e" / "train").mkdir(parents=True)
    (tmp_path / "e" / "train" / "loose.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"no domain folders found in '.*e.train'"):
        DomainImageFolder(tmp_path / "e")


def test_rejects_bad_domains(faces: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"'domains' names 'angry', but folder '.*train.angry' does not exist.*"
        r"\['neutral', 'sad', 'smiling', 'surprised'\]",
    ):
        DomainImageFolder(faces, domains=["neutral", "angry"])
    with pytest.raises(ValueError, match=r"'domains' must name each domain once, got 'sad' twice"):
        DomainImageFolder(faces, domains=["sad", "neutral", "sad"])
    with pytest.raises(TypeError, match=r"'domains\[1\]' must be a str \(a folder name\), got int"):
        DomainImageFolder(faces, domains=["sad", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"'domains' must be a sequence .*got str 'sad'.*\['sad'\]"):
        DomainImageFolder(faces, domains="sad")
    with pytest.raises(TypeError, match=r"'domains' must be a sequence .*got set"):
        DomainImageFolder(faces, domains={"sad"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'domains' must name at least one domain folder"):
        DomainImageFolder(faces, domains=[])
    for bad in ("", "..", "sad/sub"):
        with pytest.raises(ValueError, match=r"'domains\[0\]' must be the name of a folder"):
            DomainImageFolder(faces, domains=[bad])


def test_rejects_bad_arguments(faces: Path) -> None:
    with pytest.raises(ValueError, match=r"'phase' must be one of \('train', 'test'\), got 'val'"):
        DomainImageFolder(faces, "val")
    with pytest.raises(ValueError, match=r"'load_size' \(30\) must be >= 'crop_size' \(32\)"):
        DomainImageFolder(faces, load_size=30, crop_size=32)
    with pytest.raises(ValueError, match=r"'crop_size' must be >= 1, got 0"):
        DomainImageFolder(faces, crop_size=0)
    with pytest.raises(ValueError, match=r"'load_size' must be >= 1, got -4"):
        DomainImageFolder(faces, load_size=-4)
    with pytest.raises(TypeError, match=r"'load_size' must be an int, got float"):
        DomainImageFolder(faces, load_size=286.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'crop_size' must be an int, got bool"):
        DomainImageFolder(faces, crop_size=True)
    with pytest.raises(TypeError, match=r"'flip' must be a bool, got int"):
        DomainImageFolder(faces, flip=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'skip_bad' must be a bool, got str"):
        DomainImageFolder(faces, skip_bad="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'seed' must be an int, got str"):
        DomainImageFolder(faces, seed="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"DomainImageFolder\(\): 'root' must be a str or Path"):
        DomainImageFolder(None)  # type: ignore[arg-type]
    data = DomainImageFolder(faces, load_size=36, crop_size=32)
    with pytest.raises(ValueError, match=r"DomainImageFolder.set_epoch\(\): 'epoch' must be >= 0"):
        data.set_epoch(-1)
    with pytest.raises(IndexError, match=r"DomainImageFolder: index 12 out of range for 12 items"):
        data[12]
    with pytest.raises(IndexError, match="index -1 out of range"):
        data[-1]
    # The test phase never crops, so load_size may be smaller there.
    assert DomainImageFolder(faces, "test", load_size=8, crop_size=16)[0][0].shape == (3, 16, 16)


@pytest.mark.skipif(not hasattr(Path, "symlink_to"), reason="symbolic links")
def test_symlinked_domain_folders_are_followed(faces: Path, tmp_path: Path) -> None:
    root = tmp_path / "linked"
    (root / "train").mkdir(parents=True)
    (root / "train" / "calm").symlink_to(faces / "train" / "neutral", target_is_directory=True)
    shutil.copytree(faces / "train" / "sad", root / "train" / "gloomy")
    data = DomainImageFolder(root, load_size=32, crop_size=32, flip=False)
    assert data.domains == ["calm", "gloomy"] and data.targets == [0, 0, 0, 1, 1, 1]
    image, label = data[1]
    assert label == 0
    assert torch.equal(image, read_image(faces / "train" / "neutral" / "00001.png"))
    assert DomainImageFolder(root, domains=["calm"], crop_size=32).domains == ["calm"]


# ------------------------------------------------------------------------ bad files


def test_corrupt_file_raises_naming_it(copy: Path) -> None:
    (copy / "train" / "sad" / "00001.png").write_bytes(b"not a png at all")
    data = DomainImageFolder(copy, load_size=36, crop_size=32, seed=0)
    data[3]  # sad/00000.png
    with pytest.raises(OSError, match=r"DomainImageFolder: cannot read image '.*sad.00001\.png'"):
        data[4]
    assert data.skipped == []


def test_skip_bad_keeps_the_label_and_records_skipped(copy: Path) -> None:
    bad = copy / "test" / "smiling" / "00001.png"
    bad.write_bytes(b"")
    data = DomainImageFolder(copy, "test", crop_size=32, seed=0, skip_bad=True)
    index = data.samples.index((str(bad), 2))
    with pytest.warns(UserWarning, match=r"DomainImageFolder: skipping .*smiling.00001\.png"):
        image, label = data[index]
    # The next image of the same domain (wrapping around to its first), not of the next.
    assert label == 2
    assert torch.equal(image, read_image(copy / "test" / "smiling" / "00000.png", size=32))
    assert data.skipped == [str(bad)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known bad: skipped again without a new warning
        assert data[index][1] == 2

    # Skips in worker processes are counted in the main process too.
    counted = DomainImageFolder(copy, "test", crop_size=32, seed=0, skip_bad=True)
    labels = torch.cat([y for _, y in DataLoader(counted, batch_size=3, num_workers=2)])
    assert labels.tolist() == counted.targets
    assert counted.skipped == [str(bad)]


def test_every_file_of_a_domain_corrupt_names_the_folder(copy: Path) -> None:
    for path in (copy / "train" / "surprised").iterdir():
        path.write_bytes(b"broken")
    data = DomainImageFolder(copy, load_size=36, crop_size=32, seed=0, skip_bad=True)
    assert data[0][1] == 0  # the other domains still load
    with (
        pytest.warns(UserWarning),
        pytest.raises(OSError, match=r"every image in '.*train.surprised' failed to load"),
    ):
        data[10]
    assert len(data.skipped) == 3
    assert all(_domain_of(p) == "surprised" for p in data.skipped)


def test_transform_runs_on_each_image_and_keeps_its_label(faces: Path) -> None:
    from attnguide.data import DomainImageFolder

    plain = DomainImageFolder(faces, "test", crop_size=32)
    flipped = DomainImageFolder(faces, "test", crop_size=32, transform=lambda x: x.flip(-1))
    for i in range(len(plain)):
        (image, label), (ref, ref_label) = flipped[i], plain[i]
        assert label == ref_label and torch.equal(image, ref.flip(-1))
    with pytest.raises(TypeError, match="'transform' must be a callable"):
        DomainImageFolder(faces, "test", crop_size=32, transform="flip")
