"""The run folder's life: locked while a process trains in it, never written through a
link, never mixed with a user's files, and clear about a full disk."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
from pathlib import Path

import pytest
from aggan import train as train_script
from aggan import translate as translate_script
from aggan.config import TrainConfig
from aggan_testutils import TINY
from common.config import ConfigError
from common.rundir import LOCK, RunFolder

import attnguide.training.checkpoint as checkpoint_module
from attnguide.training import load_checkpoint

_QUIET = ["--no-evaluate", "--n-samples", "0", "--sample-every", "0"]


def fails(script, argv: list[str], capsys, message: str) -> str:
    capsys.readouterr()
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    return err


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def trained(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "2", *_QUIET]
    assert train_script.main(argv) == 0
    return out


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run, to change."""
    copy = tmp_path / "run"
    shutil.copytree(trained, copy, symlinks=True)
    return copy


def _resume(run: Path, *extra: str) -> list[str]:
    return ["--resume", str(run), *extra]


# ------------------------------------------------------------------------ the lock


def _hold_in_child(folder: Path) -> tuple[int, int]:
    """A forked child that locks ``folder`` and waits; returns its pid and a pipe end
    (closing it lets the child exit)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(ready_r)
            os.close(go_w)
            RunFolder(folder, resumed=True)._acquire()
            os.write(ready_w, b"x")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    return pid, go_w


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_second_trainer_on_a_locked_run_is_refused_naming_the_holder(run: Path, capsys) -> None:
    pid, go = _hold_in_child(run)
    before = digest(run)
    try:
        fails(
            train_script,
            _resume(run, "--max-steps", "3"),
            capsys,
            f"{run} is in use: process {pid} on ",
        )
        assert digest(run) == before  # nothing trained, nothing logged twice
    finally:
        os.kill(pid, signal.SIGKILL)  # a kill: the OS releases the lock
        os.waitpid(pid, 0)
        os.close(go)
    # A stale lock of a dead process never blocks.
    assert train_script.main(_resume(run, "--max-steps", "3")) == 0
    assert load_checkpoint(run / "checkpoint")["progress"]["step"] == 3
    steps = [line for line in (run / "losses.jsonl").read_text().splitlines() if line]
    assert len(steps) == 3


def test_two_new_runs_on_one_new_folder(tmp_path: Path) -> None:
    # Both pass the early checks; the lock decides, and the second learns why.
    out = tmp_path / "new"
    cfg = TrainConfig(out=str(out))
    first = RunFolder.choose(str(out), None, prefix="x")
    second = RunFolder.choose(str(out), None, prefix="x")
    first.prepare(cfg, [], tensorboard=False)
    try:
        with pytest.raises(ConfigError, match=rf"{out} is in use: process {os.getpid()} on "):
            second.prepare(cfg, [], tensorboard=False)
    finally:
        first.release()
    with pytest.raises(ConfigError, match=rf"{out} already holds a run; continue it with"):
        second.prepare(cfg, [], tensorboard=False)
    assert second._lock is None  # a refused folder is not left locked


# ---------------------------------------------------------------- foreign files


_USER_FILES = ("results.md", "metrics.json", "losses.jsonl", "losses.png", "samples/final.png")


def test_a_folder_with_a_users_files_is_refused_unless_overwrite(
    faces: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "mine"
    for name in (*_USER_FILES, "notes.txt"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(f"the user's {name}")
    before = digest(out)
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "1", *_QUIET]
    err = fails(train_script, argv, capsys, f"--out {out} is not empty and not a run folder")
    assert "a run would replace losses.jsonl, losses.png, metrics.json, results.md" in err
    assert "pass --overwrite" in err
    assert digest(out) == before
    assert train_script.main([*argv, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "the user's notes.txt"
    assert load_checkpoint(out / "checkpoint")["progress"]["step"] == 1
    # A folder holding a run stays refused, --overwrite or not.
    fails(train_script, [*argv, "--overwrite"], capsys, f"{out} already holds a run")
    fails(train_script, [*_resume(out), "--overwrite"], capsys, "--overwrite is for a new run")


# ------------------------------------------------------------------------ links


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_checkpoint_that_links_to_another_runs_is_refused(
    run: Path, trained: Path, capsys
) -> None:
    shutil.rmtree(run / "checkpoint")
    (run / "checkpoint").symlink_to(trained / "checkpoint", target_is_directory=True)
    before = digest(trained)
    fails(
        train_script,
        _resume(run, "--max-steps", "3"),
        capsys,
        f"{run / 'checkpoint'} is a symbolic link (to {trained / 'checkpoint'}); a run writes "
        "only inside its own folder",
    )
    assert digest(trained) == before


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("name", ["losses.jsonl", "samples/final.png", "config.json"])
def test_run_files_that_are_links_are_refused(run: Path, tmp_path: Path, name, capsys) -> None:
    outside = tmp_path / "outside.txt"
    # A config.json is read before the run starts: the link leads to a valid one.
    content = (run / "config.json").read_text() if name == "config.json" else "the user's"
    outside.write_text(content)
    (run / name).parent.mkdir(exist_ok=True)
    (run / name).unlink(missing_ok=True)
    (run / name).symlink_to(outside)
    fails(train_script, _resume(run, "--max-steps", "3"), capsys, "is a symbolic link")
    assert outside.read_text() == content


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("dangling", [True, False])
def test_translate_never_writes_through_a_link(
    trained: Path, faces: Path, tmp_path: Path, dangling: bool, capsys
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(faces / "testA" / "00000.png", inputs / "ok.png")
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    target = tmp_path / ("nowhere.png" if dangling else "users.png")
    if not dangling:
        target.write_bytes(b"the user's")
    (out / "images" / "ok.png").symlink_to(target)
    for extra in ([], ["--overwrite"]):
        fails(
            translate_script,
            [str(trained), str(inputs), str(out), *extra],
            capsys,
            f"{out / 'images' / 'ok.png'} is a symbolic link (to {target})",
        )
    assert target.exists() == (not dangling)
    if not dangling:
        assert target.read_bytes() == b"the user's"
    # A link to a folder on the way is refused too.
    shutil.rmtree(out)
    (tmp_path / "elsewhere").mkdir()
    out.mkdir()
    (out / "masks").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    fails(translate_script, [str(trained), str(inputs), str(out)], capsys, "is a symbolic link")
    assert not any((tmp_path / "elsewhere").iterdir())


# ------------------------------------------------------------------ full disks


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_is_one_clear_error(
    run: Path, capsys, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    real_write = checkpoint_module._write

    def failing(target: Path, data: bytes) -> None:
        if target.name == "attnguide-checkpoint.json":
            raise OSError(code, os.strerror(code), str(target))
        real_write(target, data)

    monkeypatch.setattr(checkpoint_module, "_write", failing)
    before = load_checkpoint(run / "checkpoint")["progress"]["step"]
    message = (
        f"cannot save the checkpoint {run / 'checkpoint'}: save_checkpoint(): no space left "
        f"in '{run}' for the checkpoint: it needs "
        if code == errno.ENOSPC
        else f"cannot write the checkpoint in '{run}'"
    )
    err = fails(train_script, _resume(run, "--max-steps", "3"), capsys, message)
    assert "is intact" in err and "Traceback" not in err
    assert load_checkpoint(run / "checkpoint")["progress"]["step"] == before
    assert not [p for p in run.iterdir() if p.name.startswith(".checkpoint")]


def test_a_half_deleted_old_checkpoint_does_not_stop_a_resumed_run(run: Path) -> None:
    # What a kill -9 during a save's removal of RUN/.checkpoint.old left on main: some
    # of its files and no manifest; every later save raised FileExistsError.
    aside = run / ".checkpoint.old"
    shutil.copytree(run / "checkpoint", aside)
    (aside / "attnguide-checkpoint.json").unlink()
    for p in sorted(aside.iterdir())[:3]:
        p.unlink()
    assert train_script.main(_resume(run, "--max-steps", "4", "--save-every", "1")) == 0
    assert load_checkpoint(run / "checkpoint")["progress"]["step"] == 4
    assert not aside.exists()
    assert (run / LOCK).is_file()
