"""The multi-expression faces: four expressions of one identity, with pairwise ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attnguide.data import (
    make_expression_faces,
    read_mask,
    render_expressions,
    render_face_pairs,
)
from attnguide.data.synthetic_faces import EXPRESSIONS


@pytest.fixture(scope="module")
def faces() -> dict[str, torch.Tensor]:
    return render_expressions(6, size=64)


def test_neutral_and_smiling_are_the_two_domain_faces(faces) -> None:
    pairs = render_face_pairs(6, size=64)
    assert torch.equal(faces["neutral"], pairs.neutral)
    assert torch.equal(faces["smiling"], pairs.smiling)


def test_every_pair_differs_only_in_a_small_part_of_every_face(faces) -> None:
    names = list(EXPRESSIONS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            changed = (faces[a] != faces[b]).any(1).flatten(1).float().mean(1)
            # Every identity changes (the expression is there) and only a little of it
            # does: hair, clothes, background and the rest of the face are identical.
            assert bool((changed > 0.005).all()), (a, b, changed)
            assert bool((changed < 0.12).all()), (a, b, changed)


def test_expressions_change_their_own_parts(faces) -> None:
    neutral = faces["neutral"]
    rows = {name: (faces[name] != neutral).any(1).any(2).float() for name in ("surprised", "sad")}
    # Surprise raises the brows: its changes reach higher up the face than sadness's.
    top = {name: int(r[0].nonzero().min()) for name, r in rows.items()}
    assert top["surprised"] < top["sad"]


def test_rendering_is_deterministic_and_independent_of_the_batch() -> None:
    first = render_expressions(3, size=32, start=2)
    again = render_expressions(5, size=32)
    for name in EXPRESSIONS:
        assert torch.equal(first[name], again[name][2:])


def test_data_set_layout_and_ground_truth(tmp_path: Path) -> None:
    root = make_expression_faces(tmp_path / "expr", n_train=2, n_test=3, size=32)
    for split, n in (("train", 2), ("test", 3)):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(EXPRESSIONS)
        for name in EXPRESSIONS:
            assert len(list((root / split / name).glob("*.png"))) == n
    faces = render_expressions(3, size=32)
    pairs = sorted(p.name for p in (root / "gt" / "mask").iterdir())
    assert len(pairs) == 6 and "neutral-smiling" in pairs and "surprised-sad" in pairs
    for pair in pairs:
        a, b = pair.split("-")
        for k in range(3):
            mask = read_mask(root / "gt" / "mask" / pair / f"{k:05d}.png")
            truth = (faces[a][k] != faces[b][k]).any(0, keepdim=True).float()
            assert torch.equal(mask, truth), (pair, k)


def test_a_second_call_reuses_the_images_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    root = make_expression_faces(tmp_path / "expr", n_train=1, n_test=1, size=32)
    image = root / "test" / "sad" / "00000.png"
    stamp = image.stat().st_mtime_ns
    make_expression_faces(root, n_train=1, n_test=1, size=32)
    assert image.stat().st_mtime_ns == stamp
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a data set")
    with pytest.raises(FileExistsError, match=r"has no expression_faces\.json"):
        make_expression_faces(foreign, n_train=1, n_test=1, size=32)
    assert (foreign / "notes.txt").read_text() == "not a data set"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "'n' must be >= 1"),
        ({"size": 16}, "'size' must be"),
        ({"split": "val"}, "'split' must be 'train' or 'test'"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    args = {"n": 1, **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        render_expressions(args.pop("n"), **args)
