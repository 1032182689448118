from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from attnguide.data import FacePairs, make_synthetic_faces, render_face_pairs
from attnguide.data.synthetic_faces import __main__ as cli
from attnguide.data.synthetic_faces import _render

REPO = Path(__file__).resolve().parents[2]

Image = pytest.importorskip("PIL.Image")


def _read(path: Path) -> torch.Tensor:
    with Image.open(path) as im:
        im.load()
        c = len(im.getbands())
        data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
        return data.view(im.size[1], im.size[0], c).permute(2, 0, 1)


def _digest(t: torch.Tensor) -> str:
    t = t.to(torch.uint8).contiguous()
    return hashlib.sha256(ctypes.string_at(t.data_ptr(), t.numel())).hexdigest()


@pytest.fixture(scope="module")
def pairs64() -> FacePairs:
    return render_face_pairs(16, size=64, seed=0)


def test_shapes_dtypes_and_mask_definition(pairs64: FacePairs) -> None:
    assert pairs64.neutral.shape == (16, 3, 64, 64)
    assert pairs64.smiling.shape == (16, 3, 64, 64)
    assert pairs64.neutral.dtype == pairs64.smiling.dtype == torch.uint8
    assert pairs64.mask.shape == (16, 1, 64, 64) and pairs64.mask.dtype == torch.bool
    differs = (pairs64.neutral != pairs64.smiling).any(dim=1, keepdim=True)
    assert torch.equal(pairs64.mask, differs)


def test_expression_change_is_local_and_present(pairs64: FacePairs) -> None:
    frac = pairs64.mask.float().mean(dim=(1, 2, 3))
    # Every identity changes (mouth, cheeks, eyes) but only in a small region.
    assert bool((frac > 0.01).all()) and bool((frac < 0.12).all()), frac
    # The changes sit in the middle of the face: none in the top quarter (hair,
    # background), the bottom eighth (clothing) or the outer fifths.
    rows = pairs64.mask.any(dim=3).squeeze(1)  # (n, h)
    cols = pairs64.mask.any(dim=2).squeeze(1)  # (n, w)
    assert not rows[:, :16].any() and not rows[:, 56:].any()
    assert not cols[:, :12].any() and not cols[:, 52:].any()


def test_mouth_cheeks_and_eyes_all_change(pairs64: FacePairs) -> None:
    for i in range(16):
        p = _render.identity(0, "test", i)
        mask = pairs64.mask[i, 0]

        def changed(x: float, y: float, r: float, mask=mask) -> bool:
            x0, x1 = int((x - r) * 64), int((x + r) * 64) + 1
            y0, y1 = int((y - r) * 64), int((y + r) * 64) + 1
            return bool(mask[y0:y1, x0:x1].any())

        cx, cy = p["cx"], p["cy"]
        # The middle of the open smile is mouth interior or teeth, not skin.
        mouth_y = cy + p["mouth_dy"] - 0.5 * p["smile_lift"] + 0.4 * p["smile_open"]
        assert bool(mask[int(mouth_y * 64), int(cx * 64)]), i
        for side in (-1, 1):
            assert changed(cx + side * p["cheek_dx"], cy + p["cheek_dy"], 0.03), i
            assert changed(cx + side * p["eye_dx"], cy + p["eye_dy"], 0.03), i


def test_same_bytes_on_every_render(pairs64: FacePairs) -> None:
    again = render_face_pairs(16, size=64, seed=0)
    for x, y in zip(pairs64, again, strict=True):
        assert _digest(x) == _digest(y)
    other = render_face_pairs(16, size=64, seed=1)
    assert not torch.equal(other.neutral, pairs64.neutral)


def test_identity_independent_of_batch(pairs64: FacePairs) -> None:
    alone = render_face_pairs(3, size=64, seed=0, start=5)
    assert torch.equal(alone.neutral, pairs64.neutral[5:8])
    assert torch.equal(alone.smiling, pairs64.smiling[5:8])


def test_drawing_windows_cover_every_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each layer is evaluated only inside a bounding window; evaluating it on the whole
    # canvas instead must not change a single byte (else a shape leaks past its window).
    ids = [_render.identity(3, split, i) for split in ("test", "trainA") for i in range(24)]
    smile = [float(i % 2) for i in range(len(ids))]
    windowed = _render.render(ids, smile, 48)
    monkeypatch.setattr(_render._Canvas, "window", lambda self, *box: self.full())
    monkeypatch.setattr(_render, "_BAND_ELEMENTS", 2**30)
    assert torch.equal(_render.render(ids, smile, 48), windowed)


def test_anti_aliased_and_resolution_independent() -> None:
    small = render_face_pairs(4, size=32).neutral.float()
    large = render_face_pairs(4, size=64).neutral.float()
    # The same geometry at twice the resolution, averaged down, is nearly the same image.
    assert (F.avg_pool2d(large, 2) - small).abs().mean() < 4.0
    # Edges are blended: far more distinct colours than the few flat fills used.
    assert len(set(map(tuple, small[0].flatten(1).T.tolist()))) > 300


def test_identities_vary(pairs64: FacePairs) -> None:
    img = pairs64.neutral.float()
    # Backgrounds are textured, not flat: the top-left corner varies within each image.
    corner = img[:, :, :8, :8].flatten(2)
    assert bool((corner.std(dim=2).amax(dim=1) > 2.0).all())
    # ... and the identities differ from one another.
    flat = img.flatten(1)
    assert torch.cdist(flat, flat).add(torch.eye(16) * 1e9).min() > 500
    styles = [
        s
        for s in _render._HAIR_STYLES
        for i in range(60)
        if _render.identity(0, "test", i)[f"style_{s}"]
    ]
    assert set(styles) == set(_render._HAIR_STYLES)
    glasses = sum(_render.identity(0, "test", i)["glasses"] for i in range(200))
    assert 30 < glasses < 100


@pytest.mark.parametrize("size", [32, 45, 512])
def test_every_size_in_range(size: int) -> None:
    pairs = render_face_pairs(1, size=size, seed=2)
    assert pairs.neutral.shape == (1, 3, size, size)
    assert 0 < pairs.mask.float().mean() < 0.15


def test_rejects_bad_arguments() -> None:
    with pytest.raises(
        ValueError, match=r"render_face_pairs\(\): 'size' must be in \[32, 512\], got 31"
    ):
        render_face_pairs(1, size=31)
    with pytest.raises(ValueError, match=r"'size' must be in \[32, 512\], got 513"):
        render_face_pairs(1, size=513)
    with pytest.raises(TypeError, match=r"'size' must be an int, got float"):
        render_face_pairs(1, size=64.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'n' must be >= 1, got 0"):
        render_face_pairs(0)
    with pytest.raises(ValueError, match=r"make_synthetic_faces\(\): 'n_test' must be >= 1"):
        make_synthetic_faces("unused", n_test=0)
    with pytest.raises(TypeError, match=r"'root' must be a str or Path, got int"):
        make_synthetic_faces(3)  # type: ignore[arg-type]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


def test_layout_ground_truth_and_determinism(tmp_path: Path) -> None:
    root = make_synthetic_faces(tmp_path / "a", n_train=5, n_test=3, size=32, seed=4)
    assert root == tmp_path / "a"
    names = {"00000.png", "00001.png", "00002.png"}
    for folder in ("testA", "testB", "gt/testA", "gt/testB", "gt/mask"):
        assert {p.name for p in (root / folder).iterdir()} == names
    for folder in ("trainA", "trainB"):
        assert len(list((root / folder).iterdir())) == 5
    pairs = render_face_pairs(3, size=32, seed=4)
    for i, name in enumerate(sorted(names)):
        a, b = _read(root / "testA" / name), _read(root / "testB" / name)
        assert torch.equal(a, pairs.neutral[i]) and torch.equal(b, pairs.smiling[i])
        assert torch.equal(_read(root / "gt/testA" / name), b)
        assert torch.equal(_read(root / "gt/testB" / name), a)
        mask = _read(root / "gt/mask" / name)
        assert mask.shape == (1, 32, 32)
        assert set(mask.unique().tolist()) == {0, 255}
        assert torch.equal(mask == 255, (a != b).any(dim=0, keepdim=True))
    # Training is unpaired: no image appears in two places.
    digests = [
        _digest(_read(p)) for f in ("trainA", "trainB", "testA") for p in (root / f).iterdir()
    ]
    assert len(set(digests)) == len(digests)
    # The same bytes on a second run, into another folder.
    again = make_synthetic_faces(tmp_path / "b", n_train=5, n_test=3, size=32, seed=4)
    assert _hashes(again) == _hashes(root)


def test_rerun_reuses_replaces_or_refuses(tmp_path: Path) -> None:
    root = make_synthetic_faces(tmp_path / "d", n_train=4, n_test=2, size=32)
    stamp = (root / "trainA" / "00000.png").stat().st_mtime_ns
    make_synthetic_faces(root, n_train=4, n_test=2, size=32)
    assert (root / "trainA" / "00000.png").stat().st_mtime_ns == stamp  # reused as is
    (root / "gt" / "mask" / "00001.png").unlink()
    make_synthetic_faces(root, n_train=4, n_test=2, size=32)
    assert (root / "gt" / "mask" / "00001.png").is_file()  # a missing file: rendered again
    make_synthetic_faces(root, n_train=2, n_test=1, size=32)
    assert sorted(p.name for p in (root / "trainA").iterdir()) == ["00000.png", "00001.png"]
    assert sorted(p.name for p in (root / "gt" / "mask").iterdir()) == ["00000.png"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"'.*mine' is not empty and has no synthetic_faces"):
        make_synthetic_faces(foreign, n_train=2, n_test=1, size=32)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_preview_grid_and_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "preview.png"
    assert cli._main(["--preview", str(out), "--size", "32", "--seed", "1"]) == 0
    grid = _read(out)
    assert grid.shape == (3, 3 * 32 + 2, 8 * 32 + 7)
    pairs = render_face_pairs(8, size=32, seed=1)
    assert torch.equal(grid[:, :32, 33:65], pairs.neutral[1])
    assert torch.equal(grid[:, 33:65, :32], pairs.smiling[0])
    assert torch.equal(grid[0, 66:, :32], pairs.mask[0, 0].to(torch.uint8) * 255)
    with pytest.raises(SystemExit) as exit_info:
        cli._main(["--preview", str(out), "--size", "20"])
    assert exit_info.value.code == 2
    assert "'size' must be in [32, 512], got 20" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli._main([])
    assert "give --root, --preview or both" in capsys.readouterr().err


def test_module_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["--root", str(tmp_path / "faces"), "--size", "32", "--n-train", "3", "--n-test", "2"]
    args += ["--preview", str(tmp_path / "p.png")]
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::RuntimeWarning",
            "-m",
            "attnguide.data.synthetic_faces",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "synthetic faces in" in result.stdout
    assert len(list((tmp_path / "faces" / "trainB").iterdir())) == 3
    assert (tmp_path / "p.png").is_file()


def test_a_corrupt_manifest_is_refused_and_nothing_removed(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    (root / "trainA").mkdir(parents=True)
    (root / "trainA" / "00000.png").write_bytes(b"mine")
    (root / "synthetic_faces.json").write_text("{not json")
    with pytest.raises(FileExistsError, match=r"synthetic_faces\.json' is not a manifest"):
        make_synthetic_faces(root, n_train=2, n_test=1, size=32)
    assert (root / "trainA" / "00000.png").read_bytes() == b"mine"
