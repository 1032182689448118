"""Evaluation during training: one JSON line per evaluation, kept in step with resumes.

A GAN is judged by curves, not by one end point. :class:`EvalLog` appends a record
``{"step", "seconds", ...metrics}`` to a JSON-lines file (``RUN/eval.jsonl``) each time
a trainer evaluates, and :func:`read_eval_log` reads it back. ``seconds`` is training
time: a trainer passes the time its loop has run minus what the evaluations took, so
curves against wall time do not depend on how often a run evaluated.

Infinities (the background PSNR of an untouched background) and NaN are written as
the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (JSON has no such numbers) and come back
as floats.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from attnguide._validation import check_int, check_real

__all__ = ["EvalLog", "read_eval_log"]

_SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _encode(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {str(k): _encode(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_encode(v) for v in x]
    return x


def _decode(x: Any) -> Any:
    if isinstance(x, str) and x in _SPECIAL:
        return _SPECIAL[x]
    if isinstance(x, dict):
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return x


def read_eval_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of an evaluation log, in the order written.

    Args:
        path: A file written by :class:`EvalLog`.

    Returns:
        A list of dicts, each with ``step`` (int), ``seconds`` (float) and the metrics
        as written (nested dicts allowed); ``"inf"``/``"-inf"``/``"nan"`` strings are
        floats again.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a line is not a JSON object with an int ``step`` and a number
            ``seconds``; the message names the file and the line.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "eval.jsonl"
        >>> log = EvalLog(path)
        >>> _ = log.append(100, 12.5, {"psnr": 30.0, "bg_psnr": float("inf")})
        >>> read_eval_log(path)
        [{'step': 100, 'seconds': 12.5, 'psnr': 30.0, 'bg_psnr': inf}]
    """
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}: not JSON ({err.msg})") from None
            ok = (
                isinstance(record, dict)
                and isinstance(record.get("step"), int)
                and not isinstance(record.get("step"), bool)
                and isinstance(record.get("seconds"), (int, float))
                and not isinstance(record.get("seconds"), bool)
            )
            if not ok:
                raise ValueError(
                    f"{path}, line {number}: an evaluation record is a JSON object with an "
                    f"int 'step' and a number 'seconds', got {line.strip()[:120]!r}"
                )
            records.append(_decode(record))
    return records


class EvalLog:
    """Appends evaluation records to a JSON-lines file.

    Args:
        path: The log file (created on the first append).
        resume_step: For a resumed run, the step of its checkpoint: records after it
            (written by the run before it was killed, and trained again now) are
            dropped from the file, so every step appears once. None: a new run, which
            starts an empty log (replacing one at ``path``).

    Attributes:
        records: What the file holds, as :func:`read_eval_log` returns it.
        eval_seconds: Time spent evaluating so far (the last record's
            ``eval_seconds``), for subtracting from a loop's clock.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "eval.jsonl"
        >>> log = EvalLog(path)
        >>> for step in (100, 200, 300):
        ...     _ = log.append(step, step / 10, {"psnr": 25.0})
        >>> [r["step"] for r in EvalLog(path, resume_step=200).records]
        [100, 200]
    """

    def __init__(self, path: str | os.PathLike[str], *, resume_step: int | None = None) -> None:
        self.path = Path(path)
        if resume_step is not None:
            check_int("EvalLog", "resume_step", resume_step, minimum=0)
        kept: list[dict[str, Any]] = []
        if resume_step is not None and self.path.is_file():
            kept = [r for r in read_eval_log(self.path) if r["step"] <= resume_step]
        self.records = kept
        self._rewrite()

    @property
    def eval_seconds(self) -> float:
        return float(self.records[-1].get("eval_seconds", 0.0)) if self.records else 0.0

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(self._line(r) for r in self.records)
        os.replace(tmp, self.path)

    @staticmethod
    def _line(record: dict[str, Any]) -> str:
        return json.dumps(_encode(record), allow_nan=False) + "\n"

    def append(
        self,
        step: int,
        seconds: float,
        metrics: dict[str, Any],
        *,
        eval_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Writes one record and returns it.

        Args:
            step: The training step evaluated (after it).
            seconds: Training time up to that step, evaluations excluded.
            metrics: Names to numbers (or nested dicts of them), e.g. one dict per
                direction.
            eval_seconds: Total time spent evaluating so far, this evaluation included.

        Raises:
            ValueError: ``step`` is not after the last record's, or ``metrics`` uses the
                names ``step``, ``seconds`` or ``eval_seconds``.
        """
        check_int("EvalLog.append", "step", step, minimum=0)
        check_real("EvalLog.append", "seconds", seconds, minimum=0)
        if self.records and step <= self.records[-1]["step"]:
            raise ValueError(
                f"EvalLog.append(): 'step' must be after the last record's "
                f"({self.records[-1]['step']}), got {step}"
            )
        reserved = {"step", "seconds", "eval_seconds"} & set(metrics)
        if reserved:
            raise ValueError(
                f"EvalLog.append(): 'metrics' may not use the names {sorted(reserved)}"
            )
        record: dict[str, Any] = {"step": step, "seconds": float(seconds)}
        if eval_seconds is not None:
            record["eval_seconds"] = float(
                check_real("EvalLog.append", "eval_seconds", eval_seconds, minimum=0)
            )
        record.update(metrics)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(self._line(record))
        self.records.append(_decode(json.loads(self._line(record))))
        return self.records[-1]
