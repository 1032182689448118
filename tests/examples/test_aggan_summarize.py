"""summarize.py: mean and range over seeds of finished runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aggan.summarize import main


def _run(folder: Path, seed: int, psnr: float, *, lr: float = 2e-4, results: bool = True) -> None:
    folder.mkdir(parents=True)
    row = {"psnr": psnr, "change_psnr": 18.0, "bg_psnr": 30.0, "mask_iou": 0.4, "mask_auroc": 0.9}
    copy = {"psnr": 31.91, "change_psnr": 18.9, "bg_psnr": "inf"}  # as write_json writes it
    metrics = {
        "config": {"seed": seed, "out": str(folder), "lr": lr},
        "steps_per_second": 3.0,
        "train_seconds": 300.0,
        "eval_seconds": 12.0,
    }
    if results:
        metrics["results"] = {
            "AtoB": row,
            "AtoB/identity": copy,
            "BtoA": {**row, "psnr": psnr + 1},
            "BtoA/identity": copy,
        }
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_mean_and_range_over_seeds(tmp_path: Path, capsys) -> None:
    for seed, psnr in enumerate((25.0, 26.0, 30.0)):
        _run(tmp_path / f"aggan-s{seed}", seed, psnr)
    (tmp_path / "aggan-s0.log").write_text("a log beside the runs is not a run")
    assert main([f"AGGAN={tmp_path}/aggan-s*"]) == 0
    table = capsys.readouterr().out
    assert (
        "| A->B (neutral -> smiling) | AGGAN | 3 | 27.00 (25.00–30.00) | 18.00 (18.00–18.00)"
        in table
    )
    assert "| B->A (smiling -> neutral) | AGGAN | 3 | 28.00 (26.00–31.00)" in table
    assert "| copy input | 1 | 31.91 | 18.90 | ∞ | – | – | – | – |" in table
    assert "| 3.00 | 5.2 min |" in table


def test_an_infinite_seed_keeps_the_finite_range_and_fid_is_a_column(
    tmp_path: Path, capsys
) -> None:
    for seed in range(2):
        _run(tmp_path / f"a-s{seed}", seed, 25.0)
        metrics = json.loads((tmp_path / f"a-s{seed}" / "metrics.json").read_text())
        metrics["results"]["AtoB"] |= {"bg_psnr": "inf" if seed else 42.0, "fid": 1.5 + seed}
        (tmp_path / f"a-s{seed}" / "metrics.json").write_text(json.dumps(metrics))
    assert main([f"A={tmp_path}/a-s*"]) == 0
    table = capsys.readouterr().out
    assert "| FID (judge) |" in table.splitlines()[0]
    assert "| 18.00 (18.00–18.00) | ∞ (42.00–∞) | 0.400 (0.400–0.400) |" in table
    assert "| 2.00 (1.50–2.50) |" in table


def test_runs_that_differ_beyond_the_seed_are_refused(tmp_path: Path, capsys) -> None:
    _run(tmp_path / "a-s0", 0, 25.0)
    _run(tmp_path / "a-s1", 1, 25.0, lr=1e-4)
    assert main([f"A={tmp_path}/a-s*"]) == 2
    assert "a-s1 differs from" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nolabel", "expected LABEL=GLOB"),
        ("A={root}/absent-*", "matches no run folder"),
        ("A={root}/unevaluated", "has no results: the run was not evaluated"),
        ("A={root}/empty", "has no metrics.json: is the run finished?"),
    ],
)
def test_bad_groups_are_named(tmp_path: Path, capsys, spec: str, message: str) -> None:
    _run(tmp_path / "unevaluated", 0, 25.0, results=False)
    (tmp_path / "empty").mkdir()
    assert main([spec.format(root=tmp_path)]) == 2
    assert message in capsys.readouterr().err
