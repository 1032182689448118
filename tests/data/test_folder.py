from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from attnguide.data import UnpairedImageFolder, load_rgb

Image = pytest.importorskip("PIL.Image")
features = pytest.importorskip("PIL.features")


def _pixels(im) -> list[tuple[int, ...]]:
    w, h = im.size
    data = im.tobytes()
    return [tuple(data[3 * i : 3 * i + 3]) for i in range(w * h)]


def _solid(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (12, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def _halves(path: Path, size: int = 40) -> Path:
    """Left half red, right half blue: shows flips."""
    im = Image.new("RGB", (size, size), (255, 0, 0))
    im.paste((0, 0, 255), (size // 2, 0, size, size))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def _dataset(root: Path, n_a: int = 3, n_b: int = 5, size: int = 40) -> Path:
    for i in range(n_a):
        _solid(root / "trainA" / f"{i}.png", (10 * i, 0, 0), (size, size))
        _solid(root / "testA" / f"{i}.png", (10 * i, 0, 0), (size, size))
    for i in range(n_b):
        im = Image.linear_gradient("L").resize((size, size)).convert("RGB")
        im.paste((0, 20 * i, 255), (0, 0, size // 3, size // 3))
        for split in ("trainB", "testB"):
            (root / split).mkdir(parents=True, exist_ok=True)
            im.save(root / split / f"{i}.png")
    return root


# ------------------------------------------------------------------------ odd files


def test_converts_odd_modes_to_rgb(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (3, 1))
    rgba.putdata([(255, 0, 0, 255), (255, 0, 0, 0), (0, 0, 255, 128)])
    rgba.save(tmp_path / "rgba.png")
    assert _pixels(load_rgb(tmp_path / "rgba.png")) == [
        (255, 0, 0),
        (255, 255, 255),
        (127, 127, 255),
    ]

    la = Image.new("LA", (2, 1))
    la.putdata([(0, 0), (40, 255)])
    la.save(tmp_path / "la.png")
    assert _pixels(load_rgb(tmp_path / "la.png")) == [(255, 255, 255), (40, 40, 40)]

    gray = Image.new("L", (2, 1))
    gray.putdata([7, 200])
    gray.save(tmp_path / "gray.png")
    assert _pixels(load_rgb(tmp_path / "gray.png")) == [(7, 7, 7), (200, 200, 200)]

    palette = Image.new("P", (3, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.putdata([0, 1, 2])
    palette.info["transparency"] = 1
    palette.save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    assert _pixels(load_rgb(tmp_path / "palette.png")) == [
        (255, 0, 0),
        (255, 255, 255),
        (0, 0, 255),
    ]

    deep = Image.new("I;16", (4, 1))
    deep.putdata([0, 257, 32768, 65535])
    deep.save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    # Scaled by 255/65535 (convert("L") alone would clip 257 and up to white).
    assert [p[0] for p in _pixels(load_rgb(tmp_path / "deep.png"))] == [0, 1, 128, 255]

    Image.new("CMYK", (2, 2), (0, 255, 0, 0)).save(tmp_path / "cmyk.jpg", quality=100)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    assert _pixels(load_rgb(tmp_path / "cmyk.jpg")) == [(255, 0, 255)] * 4

    Image.new("1", (2, 1), 1).save(tmp_path / "bilevel.bmp")
    assert _pixels(load_rgb(tmp_path / "bilevel.bmp")) == [(255, 255, 255)] * 2


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (4, 2), (255, 0, 0))
    im.paste((0, 0, 255), (2, 0, 4, 2))
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    im.save(tmp_path / "phone.jpg", exif=exif, quality=100)
    out = load_rgb(tmp_path / "phone.jpg")
    assert out.size == (2, 4)
    top, bottom = _pixels(out)[:4], _pixels(out)[4:]
    assert all(r > 200 and b < 50 for r, _, b in top)  # the left (red) half is now on top
    assert all(b > 200 and r < 50 for r, _, b in bottom)


def test_corrupt_and_truncated_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(OSError, match=r"cannot read image '.*noise\.png'"):
        load_rgb(tmp_path / "noise.png")
    _solid(tmp_path / "whole.jpg", (1, 2, 3), (64, 64))
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"(?i)cannot read image '.*cut\.jpg'.*truncated"):
        load_rgb(tmp_path / "cut.jpg")
    Image.linear_gradient("L").save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"cannot read image '.*cut\.png'"):
        load_rgb(tmp_path / "cut.png")


# ----------------------------------------------------------------- folders and items


def test_missing_and_empty_folders_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"folder '.*nowhere.trainA' does not exist.*root/trainB"
    ):
        UnpairedImageFolder(tmp_path / "nowhere")
    (tmp_path / "d" / "trainA").mkdir(parents=True)
    (tmp_path / "d" / "trainA" / "readme.txt").write_text("not an image")
    _solid(tmp_path / "d" / "trainB" / "0.png", (0, 0, 0))
    with pytest.raises(
        FileNotFoundError, match=r"no images found in '.*trainA'; expected the CycleGAN"
    ):
        UnpairedImageFolder(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match=r"'.*testA' does not exist"):
        UnpairedImageFolder(tmp_path / "d", phase="test")


def test_finds_images_recursively_and_sorted(tmp_path: Path) -> None:
    _solid(tmp_path / "trainA" / "b.png", (0, 0, 0))
    _solid(tmp_path / "trainA" / "a.JPG", (0, 0, 0))
    _solid(tmp_path / "trainA" / "sub" / "c.bmp", (0, 0, 0))
    (tmp_path / "trainA" / "notes.txt").write_text("skip")
    _solid(tmp_path / "trainB" / "x.jpeg", (0, 0, 0))
    if features.check("webp"):
        _solid(tmp_path / "trainB" / "y.webp", (0, 0, 0))
    data = UnpairedImageFolder(tmp_path, load_size=12, crop_size=8)
    assert [Path(p).relative_to(tmp_path).as_posix() for p in data.A_paths] == [
        "trainA/a.JPG",
        "trainA/b.png",
        "trainA/sub/c.bmp",
    ]
    assert len(data.B_paths) == (2 if features.check("webp") else 1)
    assert len(data) == 3


def test_item_format_values_and_test_phase(tmp_path: Path) -> None:
    _solid(tmp_path / "trainA" / "0.png", (255, 0, 127), (50, 30))
    _solid(tmp_path / "trainB" / "0.png", (0, 255, 0), (50, 30))
    _solid(tmp_path / "testA" / "0.png", (255, 0, 127), (50, 30))
    _halves(tmp_path / "testB" / "0.png", 40)
    item = UnpairedImageFolder(tmp_path, load_size=40, crop_size=32, seed=0)[0]
    assert set(item) == {"A", "B", "A_path", "B_path"}
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    assert item["A"].dtype == torch.float32
    expected = torch.tensor([1.0, -1.0, 127 / 127.5 - 1]).view(3, 1, 1).expand(3, 32, 32)
    torch.testing.assert_close(item["A"], expected)
    assert item["A_path"].endswith("0.png") and "trainA" in item["A_path"]

    test = UnpairedImageFolder(tmp_path, "test", load_size=40, crop_size=20, flip=True, seed=0)
    for epoch in range(4):
        test.set_epoch(epoch)
        b = test[0]["B"]
        assert b.shape == (3, 20, 20)
        # Resized whole (no crop) and never flipped: red on the left, blue on the right.
        assert bool((b[0, :, :8] > 0.9).all()) and bool((b[2, :, 12:] > 0.9).all())


def test_train_crops_and_flips(tmp_path: Path) -> None:
    _halves(tmp_path / "trainA" / "0.png", 40)
    _halves(tmp_path / "trainB" / "0.png", 40)
    data = UnpairedImageFolder(tmp_path, load_size=40, crop_size=36, seed=3)
    lefts = set()
    for epoch in range(12):
        data.set_epoch(epoch)
        a = data[0]["A"]
        lefts.add("red" if a[0, :, 0].mean() > 0 else "blue")
        red_cols = int((a[0, 0] > 0).sum())
        assert 14 <= red_cols <= 22  # a 36-wide crop of a 20 | 20 split
    assert lefts == {"red", "blue"}
    no_flip = UnpairedImageFolder(tmp_path, load_size=40, crop_size=36, flip=False, seed=3)
    for epoch in range(12):
        no_flip.set_epoch(epoch)
        assert no_flip[0]["A"][0, :, 0].mean() > 0


def test_pairing_length_and_seeded_randomness(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    serial = UnpairedImageFolder(root, load_size=40, crop_size=32, serial=True, seed=0)
    assert len(serial) == 5
    assert [Path(serial[i]["A_path"]).name for i in range(5)] == [f"{i % 3}.png" for i in range(5)]
    assert [Path(serial[i]["B_path"]).name for i in range(5)] == [f"{i}.png" for i in range(5)]

    def draws(data: UnpairedImageFolder) -> list[tuple[str, torch.Tensor]]:
        return [(data[i]["B_path"], data[i]["B"]) for i in range(len(data))]

    first = draws(UnpairedImageFolder(root, load_size=40, crop_size=32, seed=7))
    again = draws(UnpairedImageFolder(root, load_size=40, crop_size=32, seed=7))
    assert [p for p, _ in first] == [p for p, _ in again]
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(first, again, strict=True))
    moved = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=7)
    moved.set_epoch(1)
    assert moved.epoch == 1
    assert any(not torch.equal(x, y) for (_, x), (_, y) in zip(first, draws(moved), strict=True))
    b_paths = {p for p, _ in first + draws(moved)}
    assert len(b_paths) > 1  # B is drawn at random, not serially

    with pytest.raises(IndexError, match="index 5 out of range for 5 items"):
        serial[5]


def _batches(loader: DataLoader) -> list[dict]:
    return [
        {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in b.items()} for b in loader
    ]


def _same(x: list[dict], y: list[dict]) -> bool:
    return len(x) == len(y) and all(
        torch.equal(a["A"], b["A"]) and torch.equal(a["B"], b["B"]) and a["B_path"] == b["B_path"]
        for a, b in zip(x, y, strict=True)
    )


def test_dataloader_workers_and_epochs_reproducible(tmp_path: Path) -> None:
    root = _dataset(tmp_path, n_a=6, n_b=4)
    data = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=11)
    single = []
    for epoch in range(2):
        data.set_epoch(epoch)
        single.append(_batches(DataLoader(data, batch_size=2, num_workers=0)))
    assert not _same(single[0], single[1])
    # Two persistent workers see set_epoch through shared memory: same batches.
    data = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=11)
    loader = DataLoader(data, batch_size=2, num_workers=2, persistent_workers=True)
    for epoch in range(2):
        data.set_epoch(epoch)
        assert _same(_batches(loader), single[epoch]), epoch


def test_distributed_sampler_ranks_see_the_same_items(tmp_path: Path) -> None:
    root = _dataset(tmp_path, n_a=6, n_b=4)
    reference = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=5)
    seen = []
    for rank in range(2):
        data = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=5)
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=1)
        sampler.set_epoch(0)
        for index, item in zip(list(sampler), DataLoader(data, sampler=sampler), strict=True):
            seen.append(index)
            assert torch.equal(item["A"][0], reference[index]["A"])
            assert torch.equal(item["B"][0], reference[index]["B"])
    assert sorted(seen) == list(range(6))


def test_bad_files_raise_or_are_skipped_and_counted(tmp_path: Path) -> None:
    root = _dataset(tmp_path, n_a=4, n_b=2)
    (root / "trainA" / "1.png").write_bytes(b"not a png at all")
    data = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=0)
    data[0]
    with pytest.raises(OSError, match=r"UnpairedImageFolder: cannot read image '.*trainA.1\.png'"):
        data[1]

    skipping = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=0, skip_bad=True)
    with pytest.warns(UserWarning, match=r"skipping cannot read image '.*trainA.1\.png'"):
        item = skipping[1]
    assert Path(item["A_path"]).name == "2.png"  # the next image of domain A
    assert [Path(p).name for p in skipping.skipped] == ["1.png"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known bad: skipped again without a new warning
        assert Path(skipping[1]["A_path"]).name == "2.png"

    # Skips in worker processes are counted in the main process too.
    counted = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=0, skip_bad=True)
    batches = list(DataLoader(counted, batch_size=2, num_workers=2))
    assert sum(len(b["A_path"]) for b in batches) == 4
    assert [Path(p).name for p in counted.skipped] == ["1.png"]

    for i in range(2):
        (root / "trainB" / f"{i}.png").write_bytes(b"")
    broken = UnpairedImageFolder(root, load_size=40, crop_size=32, seed=0, skip_bad=True)
    with (
        pytest.warns(UserWarning),
        pytest.raises(OSError, match=r"every image in '.*trainB' failed"),
    ):
        broken[0]


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    with pytest.raises(ValueError, match=r"'phase' must be one of \('train', 'test'\), got 'val'"):
        UnpairedImageFolder(root, "val")
    with pytest.raises(ValueError, match=r"'load_size' \(30\) must be >= 'crop_size' \(32\)"):
        UnpairedImageFolder(root, load_size=30, crop_size=32)
    with pytest.raises(ValueError, match=r"'crop_size' must be >= 1, got 0"):
        UnpairedImageFolder(root, crop_size=0)
    with pytest.raises(TypeError, match=r"'load_size' must be an int, got float"):
        UnpairedImageFolder(root, load_size=286.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'flip' must be a bool, got int"):
        UnpairedImageFolder(root, flip=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'seed' must be an int, got str"):
        UnpairedImageFolder(root, seed="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'root' must be a str or Path, got NoneType"):
        UnpairedImageFolder(None)  # type: ignore[arg-type]
    data = UnpairedImageFolder(root, load_size=40, crop_size=32)
    with pytest.raises(ValueError, match=r"'epoch' must be >= 0, got -1"):
        data.set_epoch(-1)
    # The test phase never crops, so load_size may be smaller there.
    assert UnpairedImageFolder(root, "test", load_size=8, crop_size=16)[0]["A"].shape == (3, 16, 16)


def test_unseeded_follows_torch_global_generator(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    data = UnpairedImageFolder(root, load_size=44, crop_size=32)
    torch.manual_seed(1)
    first = [data[i]["B"] for i in range(5)]
    torch.manual_seed(1)
    assert all(torch.equal(x, data[i]["B"]) for i, x in enumerate(first))


@pytest.mark.skipif(not hasattr(Path, "symlink_to"), reason="symbolic links")
def test_symlinked_sub_folders_are_followed_and_loops_cut(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", n_a=2, n_b=2)
    elsewhere = tmp_path / "more"
    _solid(elsewhere / "x.png", (0, 0, 0))
    _solid(elsewhere / "deep" / "y.png", (0, 0, 0))
    (root / "trainA" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "deep" / "back").symlink_to(elsewhere, target_is_directory=True)  # a loop
    (root / "trainA" / "self").symlink_to(root / "trainA", target_is_directory=True)  # another
    data = UnpairedImageFolder(root, load_size=40, crop_size=32)
    names = [Path(p).relative_to(root / "trainA").as_posix() for p in data.A_paths]
    assert names == ["0.png", "1.png", "linked/deep/y.png", "linked/x.png"]
    assert data[3]["A"].shape == (3, 32, 32)


def test_limit_keeps_the_first_images_of_each_domain(tmp_path: Path) -> None:
    root = _dataset(tmp_path, n_a=3, n_b=5)
    data = UnpairedImageFolder(root, load_size=40, crop_size=32, limit=2)
    assert [Path(p).name for p in data.A_paths] == ["0.png", "1.png"]
    assert [Path(p).name for p in data.B_paths] == ["0.png", "1.png"] and len(data) == 2
    with pytest.raises(ValueError, match=r"'limit' must be >= 1, got 0"):
        UnpairedImageFolder(root, limit=0)
    with pytest.raises(TypeError, match=r"'limit' must be an int, got float"):
        UnpairedImageFolder(root, limit=2.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ transform=


def test_transform_runs_on_each_preprocessed_image(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", size=16)
    seen = []

    def halve(image: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(image.shape))
        return image[:, ::2, ::2] * 0.5

    plain = UnpairedImageFolder(root, "test", crop_size=16, serial=True)
    halved = UnpairedImageFolder(root, "test", crop_size=16, serial=True, transform=halve)
    item, ref = halved[1], plain[1]
    assert seen == [(3, 16, 16), (3, 16, 16)]  # A and B, after resizing to crop_size
    assert torch.equal(item["A"], ref["A"][:, ::2, ::2] * 0.5)
    assert torch.equal(item["B"], ref["B"][:, ::2, ::2] * 0.5)
    assert "transform=" in repr(halved) and "transform=" not in repr(plain)


def test_a_transform_that_is_not_callable_or_returns_no_image_is_refused(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", size=16)
    with pytest.raises(TypeError, match=r"'transform' must be a callable.*got int 3"):
        UnpairedImageFolder(root, crop_size=16, load_size=16, transform=3)
    bad = UnpairedImageFolder(root, "test", crop_size=16, transform=lambda x: x.mean())
    with pytest.raises(TypeError, match=r"floating-point \(C, H, W\).*shape \(\)"):
        bad[0]
    ints = UnpairedImageFolder(root, "test", crop_size=16, transform=lambda x: x.to(torch.uint8))
    with pytest.raises(TypeError, match=r"torch\.uint8"):
        ints[0]
