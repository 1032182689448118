"""Interrupted runs: SIGKILL then --resume gives the uninterrupted run's weights, Ctrl-C
saves a checkpoint, and torchrun runs two gloo processes whose weights stay identical."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from aggan import train as train_script
from aggan_testutils import TINY, TRAIN, subprocess_env

from attnguide.training import load_checkpoint

NETWORKS = ("G_xy", "G_yx", "D_X", "D_Y", "D_XA", "D_YA")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _args(faces: Path, out: Path) -> list[str]:
    # Three epochs of six steps, a checkpoint every two steps (most of them mid-epoch),
    # a pool small enough to be full and swapping before the kill.
    options = "--epochs 3 --decay-epochs 2 --warmup-epochs 1 --save-every 2 --pool-size 3"
    quiet = "--sample-every 0 --n-samples 0 --no-evaluate"
    return [*TINY, "--data-root", str(faces), "--out", str(out), *options.split(), *quiet.split()]


def _assert_same_training_state(a: dict, b: dict) -> None:
    """Two loaded checkpoints hold bit-identical networks and image pools (every rank's)."""
    for name in NETWORKS:
        assert a[name].keys() == b[name].keys()
        for key, value in a[name].items():
            assert torch.equal(value, b[name][key]), f"{name}.{key} differs after resume"
    assert len(a["pools"]) == len(b["pools"])
    for rank, (pools_a, pools_b) in enumerate(zip(a["pools"], b["pools"], strict=True)):
        for name in ("pool_X", "pool_Y"):
            for part in ("images", "masks", "generator"):
                assert torch.equal(pools_a[name][part], pools_b[name][part]), (rank, name, part)


def _torchrun(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TORCHRUN, str(TRAIN), *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def test_resume_after_sigkill_gives_the_uninterrupted_weights(faces: Path, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # A loss record every three steps, checkpoints every two: most checkpoints fall
    # between two records.
    log = ["--log-every", "3"]
    assert train_script.main([*_args(faces, straight), *log]) == 0

    proc = subprocess.Popen(
        [sys.executable, str(TRAIN), *_args(faces, killed), *log],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(killed / "checkpoint", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    at_kill = load_checkpoint(killed / "checkpoint")["progress"]
    assert at_kill["step"] < 18, "the run finished before it could be killed"

    resumed = subprocess.run(
        [sys.executable, str(TRAIN), "--resume", str(killed), "--threads", "1"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {at_kill['step']}" in resumed.stdout

    a, b = load_checkpoint(straight / "checkpoint"), load_checkpoint(killed / "checkpoint")
    assert a["progress"]["step"] == b["progress"]["step"] == 18
    _assert_same_training_state(a, b)
    # The loss log is the uninterrupted one too: steps logged after the last checkpoint
    # and trained again are not duplicated, and a record that straddles the kill
    # averages the same steps.
    log_a = (straight / "losses.jsonl").read_text().splitlines()
    log_b = (killed / "losses.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in log_b] == list(range(3, 19, 3))
    assert log_a == log_b


def test_resuming_a_run_that_reached_max_steps_trains_no_further(
    faces: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    assert train_script.main([*_args(faces, out), "--max-steps", "4"]) == 0
    before = load_checkpoint(out / "checkpoint")
    assert train_script.main(["--resume", str(out)]) == 0  # --max-steps 4 is kept
    after = load_checkpoint(out / "checkpoint")
    assert after["progress"]["step"] == 4
    _assert_same_training_state(before, after)
    assert train_script.main(["--resume", str(out), "--max-steps", "5"]) == 0
    assert load_checkpoint(out / "checkpoint")["progress"]["step"] == 5


def test_ctrl_c_saves_a_checkpoint_and_exits_130(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [*_args(faces, out), "--save-every", "0", "--epochs", "50", "--decay-epochs", "1"]
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN), *args],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(out / "losses.jsonl", proc)
    while not (out / "losses.jsonl").read_text():
        assert proc.poll() is None
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    step = load_checkpoint(out / "checkpoint")["progress"]["step"]
    assert 1 <= step < 300
    assert f"stopped at step {step}; checkpoint saved in {out / 'checkpoint'}" in err
    assert f"--resume {out}" in err
    assert not (out / "metrics.json").exists()  # stopped: no evaluation


@pytest.mark.slow  # two processes and a resume: ~15 s
def test_torchrun_two_gloo_processes_keep_identical_weights_and_resume_exactly(
    faces: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp"
    args = [*_args(faces, out), "--max-steps", "4", "--device", "cpu"]
    done = _torchrun(args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device cpu x 2 processes" in done.stdout
    assert "weights identical on all 2 processes: yes" in done.stdout
    saved = load_checkpoint(out / "checkpoint")
    # Two processes of three batches per epoch: four steps are one epoch and a third.
    assert saved["progress"] == {**saved["progress"], "step": 4, "epoch": 1, "batch": 1}
    # Only rank 0 writes: the run's files and the lock marker, nothing of rank 1's.
    assert sorted(p.name for p in out.iterdir()) == [
        ".attnguide-run",
        "checkpoint",
        "config.json",
        "losses.jsonl",
        "losses.png",
        "metrics.json",
    ]
    # Each process has its own image pool; the checkpoint holds both, and a resume
    # gives each its own back, so the resumed run ends where an uninterrupted one does.
    assert len(saved["pools"]) == 2
    assert not torch.equal(
        saved["pools"][0]["pool_Y"]["images"], saved["pools"][1]["pool_Y"]["images"]
    )
    resumed = _torchrun(["--resume", str(out), "--max-steps", "0"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming at step 4" in resumed.stdout
    straight = _torchrun([*_args(faces, tmp_path / "straight"), "--device", "cpu"])
    assert straight.returncode == 0, straight.stderr[-3000:]
    a, b = (
        load_checkpoint(tmp_path / "straight" / "checkpoint"),
        load_checkpoint(out / "checkpoint"),
    )
    assert a["progress"]["step"] == b["progress"]["step"] == 9
    _assert_same_training_state(a, b)
    # The data order and the pools are per process: another process count is refused.
    single = subprocess.run(
        [sys.executable, str(TRAIN), "--resume", str(out)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 2
    assert "the run was trained by 2 process(es) and this is 1; resume it with as many" in (
        single.stderr
    )
