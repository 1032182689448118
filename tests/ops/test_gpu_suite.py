"""benchmarks/gpu_suite.sh: the one call that runs everything needing a GPU."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _fused import ROOT

SUITE = ROOT / "benchmarks" / "gpu_suite.sh"
STEPS = ["environment", "cuda-tests", "bench-blend-tv", "bench-multi-blend-tv", "bench-train-step"]
# What a step may take beyond its cap before timeout's SIGKILL (--kill-after).
KILL_AFTER_S = 5

needs_bash = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("timeout") is None,
    reason="needs bash and coreutils' timeout",
)


def _suite(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(SUITE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@needs_bash
def test_dry_run_lists_every_step_within_eight_minutes(tmp_path: Path) -> None:
    result = _suite("--dry-run", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    caps = {m[1]: int(m[2]) for m in (re.match(r"(\S+)\s+cap\s+(\d+)s:", x) for x in lines) if m}
    assert list(caps) == STEPS
    total = int(re.search(r"total cap: (\d+)s", result.stdout)[1])
    assert total == sum(caps.values())
    assert total + KILL_AFTER_S * len(caps) < 8 * 60
    assert not (tmp_path / "out").exists(), "a dry run writes nothing"
    # The suite must run today: every script it calls exists, and JSON goes to one folder.
    for script in re.findall(r"benchmarks/\S+\.py", result.stdout):
        assert (ROOT / script).is_file(), script
    assert result.stdout.count(f"--output-dir {tmp_path / 'out'}") == 2
    assert f"--output {tmp_path / 'out' / 'train_step_cuda.json'}" in result.stdout


def test_the_training_step_of_the_paper_configuration_is_timed() -> None:
    text = SUITE.read_text(encoding="utf-8")
    called = [line for line in text.splitlines() if "bench_train_step" in line]
    assert called and not any(line.lstrip().startswith("#") for line in called)
    assert "--configs paper256" in text and "--providers eager bf16_cl_compile" in text


@needs_bash
@pytest.mark.slow  # runs every step of the suite (~25 s)
@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU this would run the whole suite")
def test_without_a_gpu_every_step_is_reported_and_the_suite_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # A relative folder is taken from the caller's directory, not the repository's.
    result = _suite("out", cwd=tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] is False
    assert [s["step"] for s in summary["steps"]] == STEPS
    status = {s["step"]: s["status"] for s in summary["steps"]}
    assert status == dict.fromkeys(STEPS, "failed (exit 1)")
    assert "no CUDA device" in (out / "environment.log").read_text()
    assert "no CUDA test ran" in (out / "cuda-tests.log").read_text()
    assert json.loads((out / "environment.json").read_text())["cuda_available"] is False
    assert "GPU suite: FAILED" in result.stdout
