"""curves.py: several runs' evaluation logs in one figure, and when each goal is first met."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aggan import curves
from PIL import Image

from attnguide.training import EvalLog, read_eval_log

COPY = {"psnr": 31.0, "change_psnr": 19.0, "bg_psnr": float("inf"), "accuracy": 0.0}


def _row(psnr: float, change: float, bg: float, iou: float, auroc: float, acc: float) -> dict:
    return dict(
        psnr=psnr, change_psnr=change, bg_psnr=bg, mask_iou=iou, mask_auroc=auroc, accuracy=acc
    )


def _log(path: Path, rows: list[dict], seconds_per_step: float = 0.1) -> Path:
    log = EvalLog(path)
    for k, row in enumerate(rows):
        extra = {"AtoB/identity": COPY} if k == 0 else {}
        log.append(k * 100, k * 100 * seconds_per_step, {"AtoB": row, "BtoA": row, **extra})
    return path


def test_first_reached_reports_the_first_step_each_goal_holds(tmp_path: Path) -> None:
    rows = [
        _row(30, 18, 35, 0.0, 0.5, 0.0),
        _row(32, 21, 29, 0.5, 0.8, 0.9),
        _row(33, 22.5, 31, 0.3, 0.95, 0.7),
    ]
    records = read_eval_log(_log(tmp_path / "a.jsonl", rows, seconds_per_step=0.6))
    found = curves.first_reached(records, "AtoB", COPY)
    assert found["PSNR > copy"] == (100, 1.0)
    assert found["change PSNR >= copy + 3"] == (200, 2.0)
    assert found["bg PSNR >= 30"] == (0, 0.0)
    assert found["mask IoU >= 0.4"] == (100, 1.0)
    assert found["mask AUROC >= 0.9"] == (200, 2.0)
    assert found["classifier >= 0.8"] == (100, 1.0)
    never = curves.first_reached(records[:1], "AtoB", COPY)
    assert never["PSNR > copy"] is None


def test_script_draws_every_run_and_writes_the_goal_table(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a = _log(tmp_path / "a.jsonl", [_row(30, 18, 35, 0, 0.5, 0), _row(32, 23, 31, 0.5, 0.95, 0.9)])
    run = tmp_path / "run"
    run.mkdir()
    _log(run / "eval.jsonl", [_row(30, 18, 25, 0, 0.5, 0)])
    out, table = tmp_path / "c.png", tmp_path / "c.json"
    assert (
        curves.main([f"first={a}", f"second={run}", "--out", str(out), "--json", str(table)]) == 0
    )
    printed = capsys.readouterr().out
    assert "| first | A->B (neutral -> smiling) | 100 (0.2 min) |" in printed
    assert "| second | B->A (smiling -> neutral) | – |" in printed
    with Image.open(out) as img:
        assert img.width > 1000
    assert json.loads(table.read_text())["first/AtoB"]["PSNR > copy"] == [100, 10.0 / 60]


@pytest.mark.parametrize(
    ("arg", "match"), [("nolabel", "LABEL=PATH"), ("x=/nowhere", "no evaluation log")]
)
def test_bad_runs_are_refused(arg: str, match: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        curves.main([arg, "--out", str(tmp_path / "c.png")])
    assert match in capsys.readouterr().err
