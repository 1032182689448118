from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from attnguide.data import list_images, read_image, read_mask, save_image, to_uint8

Image = pytest.importorskip("PIL.Image")


def test_list_images_sorts_by_relative_path_and_skips_other_files(tmp_path: Path) -> None:
    for name in ("b.png", "A.JPEG", "sub/c.webp", "sub/d.txt", "e.png.bak"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / "folder.png").mkdir()  # a folder with an image's name is no image
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["A.JPEG", "b.png", "sub/c.webp"]
    with pytest.raises(NotADirectoryError, match=r"list_images\(\): '.*missing' does not exist"):
        list_images(tmp_path / "missing")
    with pytest.raises(TypeError, match=r"'folder' must be a str or os\.PathLike, got int"):
        list_images(3)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_is_neither_listed_nor_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    assert list_images(tmp_path) == []
    with pytest.raises(OSError, match=r"cannot read image '.*pipe\.png': not a regular file"):
        read_image(tmp_path / "pipe.png")


def test_read_image_and_mask_round_trip_through_save_image(tmp_path: Path) -> None:
    image = torch.randint(0, 256, (3, 6, 5), dtype=torch.uint8)
    save_image(image, tmp_path / "deep" / "x.png")
    loaded = read_image(tmp_path / "deep" / "x.png")
    assert loaded.shape == (3, 6, 5) and loaded.dtype == torch.float32
    assert torch.equal(to_uint8(loaded), image)
    mask = torch.zeros(1, 4, 4, dtype=torch.uint8)
    mask[..., :2] = 255
    save_image(mask, tmp_path / "m.png")
    assert torch.equal(read_mask(tmp_path / "m.png"), mask > 0)
    assert read_mask(tmp_path / "m.png", size=8).shape == (1, 8, 8)
    assert read_image(tmp_path / "deep" / "x.png", size=16).shape == (3, 16, 16)


def test_to_uint8_maps_value_ranges_and_clamps() -> None:
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 3.0])).tolist() == [0, 128, 255, 255]
    assert to_uint8(torch.tensor([0.0, 0.5, 1.0]), value_range=(0.0, 1.0)).tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match=r"'value_range' must have low < high"):
        to_uint8(torch.zeros(1), value_range=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"'value_range\[1\]' must be a finite number, got inf"):
        to_uint8(torch.zeros(1), value_range=(0.0, float("inf")))
    with pytest.raises(TypeError, match="'images' must be a floating-point tensor"):
        to_uint8(torch.zeros(1, dtype=torch.uint8))


def test_save_image_refuses_what_it_would_have_to_guess(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"'image' must be a uint8 tensor, got torch\.float32"):
        save_image(torch.zeros(3, 4, 4), tmp_path / "x.png")
    with pytest.raises(
        ValueError, match=r"'image' must have 1 or 3 channels, got shape \(2, 4, 4\)"
    ):
        save_image(torch.zeros(2, 4, 4, dtype=torch.uint8), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"'image' must have 3 dimensions"):
        save_image(torch.zeros(4, 4, dtype=torch.uint8), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ValueError, match=r"'size' must be >= 1, got 0"):
        read_image(tmp_path / "x.png", size=0)
