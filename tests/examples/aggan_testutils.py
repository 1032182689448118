"""Helpers shared by the AGGAN example's tests."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TRAIN = EXAMPLES / "aggan" / "train.py"

# Options of a model small enough to train a step in a few milliseconds.
_TINY = (
    "--size 32 --ngf 4 --n-blocks 1 --ndf 4 --batch-size 1 --threads 1 --n-samples 1 --log-every 1"
)
TINY = _TINY.split(" ")


def subprocess_env() -> dict[str, str]:
    """The environment for scripts run as subprocesses: the repository importable, one
    thread each (CI has two cores)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env
