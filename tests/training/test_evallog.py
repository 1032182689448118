"""The evaluation log: records round-trip, resumes drop what was trained again."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnguide.training import EvalLog, read_eval_log

_values = st.one_of(
    st.floats(allow_nan=False), st.just(math.inf), st.just(-math.inf), st.integers(-5, 5)
)


@given(st.dictionaries(st.sampled_from(["psnr", "bg_psnr", "accuracy"]), _values, min_size=1))
def test_records_round_trip(tmp_path_factory: pytest.TempPathFactory, metrics: dict) -> None:
    path = tmp_path_factory.mktemp("log") / "eval.jsonl"
    log = EvalLog(path)
    written = log.append(3, 1.5, {"AtoB": metrics, **metrics}, eval_seconds=0.25)
    (read,) = read_eval_log(path)
    assert read == written
    assert read["AtoB"] == metrics and read["step"] == 3 and read["eval_seconds"] == 0.25


def test_nan_round_trips(tmp_path: Path) -> None:
    log = EvalLog(tmp_path / "e.jsonl")
    log.append(0, 0.0, {"x": math.nan})
    assert math.isnan(read_eval_log(tmp_path / "e.jsonl")[0]["x"])


def test_resume_keeps_records_up_to_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    log = EvalLog(path)
    for step in (0, 100, 200, 300):
        log.append(step, step / 10, {"psnr": float(step)}, eval_seconds=step / 100)
    resumed = EvalLog(path, resume_step=200)
    assert [r["step"] for r in resumed.records] == [0, 100, 200]
    assert [r["step"] for r in read_eval_log(path)] == [0, 100, 200]
    assert resumed.eval_seconds == 2.0
    resumed.append(300, 31.0, {"psnr": 1.0})
    assert [r["step"] for r in read_eval_log(path)] == [0, 100, 200, 300]


def test_a_new_log_replaces_an_old_one(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    EvalLog(path).append(5, 1.0, {"psnr": 1.0})
    assert EvalLog(path).records == [] and read_eval_log(path) == []


def test_steps_must_increase_and_names_are_reserved(tmp_path: Path) -> None:
    log = EvalLog(tmp_path / "e.jsonl")
    log.append(10, 1.0, {})
    with pytest.raises(ValueError, match="after the last record's \\(10\\), got 10"):
        log.append(10, 2.0, {})
    with pytest.raises(ValueError, match="'metrics' may not use"):
        log.append(11, 2.0, {"step": 1})
    with pytest.raises(ValueError, match="'seconds'"):
        log.append(12, -1.0, {})


@pytest.mark.parametrize(
    ("line", "match"),
    [("not json", "line 2: not JSON"), ('{"step": "1", "seconds": 0}', "line 2: an evaluation")],
)
def test_damaged_files_are_refused_by_line(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"step": 0, "seconds": 0}\n' + line + "\n")
    with pytest.raises(ValueError, match=match):
        read_eval_log(path)
