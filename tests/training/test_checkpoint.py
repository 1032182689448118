from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import attnguide.training.checkpoint as checkpoint
from attnguide.nets import PatchDiscriminator, ResnetGenerator
from attnguide.training import (
    ImagePool,
    capture_rng_state,
    linear_decay,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)

REPO = Path(__file__).resolve().parents[2]


def _training_setup(seed: int):
    torch.manual_seed(seed)
    g = ResnetGenerator(3, 3, ngf=2, n_blocks=1)
    d = PatchDiscriminator(3, ndf=2, n_layers=1, norm="batch", head="pool").to(torch.bfloat16)
    opt = torch.optim.Adam(g.parameters(), lr=0.1, betas=(0.5, 0.999))
    sched = linear_decay(opt, constant_epochs=1, decay_epochs=3)
    pool = ImagePool(2, generator=torch.Generator().manual_seed(seed))
    return g, d, opt, sched, pool


def _train_step(g, d, opt, sched, pool) -> tuple:
    x = torch.randn(2, 3, 8, 8)
    opt.zero_grad()
    out = g(x)
    (out - x).abs().mean().backward()
    opt.step()
    sched.step()
    d(torch.randn(2, 3, 8, 8, dtype=torch.bfloat16))  # updates the batch-norm statistics
    fake = pool.query(out.detach(), torch.rand(2, 1, 8, 8))
    return [p.detach().clone() for p in g.parameters()], fake, random.random()


def test_checkpoint_round_trip_resumes_exactly(tmp_path: Path) -> None:
    g, d, opt, sched, pool = _training_setup(0)
    for _ in range(2):
        _train_step(g, d, opt, sched, pool)
    config = {"lr": 0.1, "name": "run", "sizes": [1, 2]}
    save_checkpoint(
        tmp_path / "ckpt",
        {
            "G": g,
            "D": d,
            "opt": opt,
            "sched": sched,
            "pool": pool,
            "rng": capture_rng_state(),
            "epoch": 2,
            "config": config,
        },
    )
    uninterrupted = [_train_step(g, d, opt, sched, pool) for _ in range(2)]

    g2, d2, opt2, sched2, pool2 = _training_setup(1)
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert list(loaded) == ["G", "D", "opt", "sched", "pool", "rng", "epoch", "config"]
    assert loaded["epoch"] == 2 and loaded["config"] == config
    assert all(isinstance(v, torch.Tensor) for v in loaded["G"].values())
    assert loaded["D"]["model.3.num_batches_tracked"].dtype == torch.int64
    assert loaded["D"]["model.0.weight"].dtype == torch.bfloat16
    g2.load_state_dict(loaded["G"])
    d2.load_state_dict(loaded["D"])
    opt2.load_state_dict(loaded["opt"])
    sched2.load_state_dict(loaded["sched"])
    pool2.load_state_dict(loaded["pool"])
    restore_rng_state(loaded["rng"])
    resumed = [_train_step(g2, d2, opt2, sched2, pool2) for _ in range(2)]

    for (pa, fa, ra), (pb, fb, rb) in zip(uninterrupted, resumed, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(pa, pb, strict=True))
        assert torch.equal(fa[0], fb[0]) and torch.equal(fa[1], fb[1])
        assert ra == rb
    for key, value in d.state_dict().items():
        assert torch.equal(value, d2.state_dict()[key]), key
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_checkpoint_files_are_safetensors_and_a_json_manifest(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"net": net, "odd name/": nn.Linear(1, 1), "step": 7, "opt": opt}
    save_checkpoint(tmp_path / "ckpt", state)
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == [
        "attnguide-checkpoint.json",
        "module-1.safetensors",
        "net.safetensors",
        "state.safetensors",
    ]
    manifest = json.loads((tmp_path / "ckpt" / "attnguide-checkpoint.json").read_text())
    assert manifest["format"] == "attnguide-checkpoint" and manifest["values"]["step"] == 7
    weights = load_file(tmp_path / "ckpt" / "net.safetensors")
    assert set(weights) == set(net.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(weights)
    assert torch.equal(fresh[0].weight, net[0].weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # nothing left beside it
    if os.name == "posix":  # the directory gets the usual mode, not a temporary's 0o700
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE((tmp_path / "ckpt").stat().st_mode) == 0o777 & ~umask


def test_checkpoint_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ckpt"
    for epoch in range(3):
        save_checkpoint(path, {"net": nn.Linear(2, 2), "epoch": epoch, "rng": capture_rng_state()})
    assert load_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt"]


def test_plain_values_round_trip_exactly(tmp_path: Path) -> None:
    value = {
        "floats": [0.1, -0.0, float("inf"), float("-inf"), 1e300],
        "tuple": (1, ("a", None), [True, False]),
        "int keys": {0: "a", 2: {"x": 1}},
        "__dunder": 1,
        "big": 2**70,
        "empty": {},
        "tensors": (torch.arange(3), torch.zeros(0, 2, dtype=torch.bfloat16)),
    }
    save_checkpoint(tmp_path / "c", {"value": value, "nan": float("nan")})
    loaded = load_checkpoint(tmp_path / "c")
    out = loaded["value"]
    assert out["floats"] == value["floats"] and str(out["floats"][1]) == "-0.0"
    assert out["tuple"] == value["tuple"] and isinstance(out["tuple"][1], tuple)
    assert out["int keys"] == value["int keys"] and out["__dunder"] == 1
    assert out["big"] == 2**70 and out["empty"] == {}
    assert torch.equal(out["tensors"][0], value["tensors"][0])
    assert out["tensors"][1].dtype == torch.bfloat16 and out["tensors"][1].shape == (0, 2)
    assert loaded["nan"] != loaded["nan"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("value", [_Evil(), Path("x"), torch.float32, {(1, 2): 3}, object()])
def test_values_that_would_need_pickling_are_refused_before_writing(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(TypeError, match=r"save_checkpoint\(\): state\['v'\].* (is a|key of type)"):
        save_checkpoint(
            tmp_path / "c", {"v": {"inner": [value]} if isinstance(value, dict) else value}
        )
    assert not (tmp_path / "c").exists() and list(tmp_path.iterdir()) == []


def test_checkpoint_map_location(tmp_path: Path, device: torch.device) -> None:
    opt_param = nn.Parameter(torch.randn(2))
    opt = torch.optim.Adam([opt_param])
    opt_param.grad = torch.ones(2)
    opt.step()
    save_checkpoint(tmp_path / "c", {"net": nn.Linear(2, 2), "opt": opt})
    loaded = load_checkpoint(str(tmp_path / "c"), map_location=device)
    assert {t.device.type for t in loaded["net"].values()} == {device.type}
    assert loaded["opt"]["state"][0]["exp_avg"].device.type == device.type


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"load_checkpoint\(\): no checkpoint at '.*missing'"
    ):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="plain' is not an attnguide checkpoint"):
        load_checkpoint(tmp_path / "plain")
    with pytest.raises(FileExistsError, match="plain' exists and is not an attnguide checkpoint"):
        save_checkpoint(tmp_path / "plain", {"epoch": 1})
    assert (tmp_path / "plain" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    save_checkpoint(tmp_path / "empty", {"epoch": 1})  # an empty directory may be used
    assert load_checkpoint(tmp_path / "empty") == {"epoch": 1}

    class Extra(nn.Module):
        def get_extra_state(self):
            return {"note": 1}

        def set_extra_state(self, state):
            pass

    with pytest.raises(
        TypeError, match="the state dict of module 'm' holds dict at '_extra_state'"
    ):
        save_checkpoint(tmp_path / "x", {"m": Extra()})
    with pytest.raises(TypeError, match="the names in 'state' must be str, got 1"):
        save_checkpoint(tmp_path / "x", {1: 2})
    with pytest.raises(
        TypeError, match=r"save_checkpoint\(\): 'state' must be a mapping, got list"
    ):
        save_checkpoint(tmp_path / "x", [1])
    with pytest.raises(TypeError, match=r"'path' must be a str or os\.PathLike, got int"):
        save_checkpoint(3, {})
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


# The steps of a save, in order, where the test hook can stand for a crash.
_STEPS = ["writing", "written", "aside", "swapped", "removing", "removed", "cleaned"]


def _net(value: float) -> nn.Module:
    net = nn.Linear(3, 2)
    nn.init.constant_(net.weight, value)
    return net


def _save_and_die_at(path: Path, step: str, value: float) -> None:
    """Saves in a forked child that SIGKILLs itself at ``step``: no cleanup runs."""

    def die(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            checkpoint._on_step = die
            save_checkpoint(path, {"net": _net(value), "epoch": int(value)})
        finally:
            os._exit(0)  # the step was never reached: the parent's assertion says so
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, step


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
@pytest.mark.parametrize("step", _STEPS)
def test_checkpoint_survives_a_kill_at_every_step_of_a_save(tmp_path: Path, step: str) -> None:
    path = tmp_path / "ckpt"
    save_checkpoint(path, {"net": _net(1.0), "epoch": 1})
    _save_and_die_at(path, step, 2.0)
    # The rename to ``path`` is the commit: before it the previous checkpoint stands.
    survivor = 2 if _STEPS.index(step) >= _STEPS.index("swapped") else 1
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == survivor
    assert torch.equal(loaded["net"]["weight"], torch.full((2, 3), float(survivor)))
    # A second crash while the next save sorts the leftovers out changes nothing.
    _save_and_die_at(path, "writing", 5.0)
    assert load_checkpoint(path)["epoch"] == survivor
    # The next save recovers from whatever the crashes left and cleans all of it up.
    save_checkpoint(path, {"net": _net(3.0), "epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def _leftover(folder: Path, kind: str, epoch: int) -> None:
    """A folder as a crash leaves it: ``complete``, ``partial`` (being written),
    ``half-deleted`` (a removal cut short) or ``emptied`` (removed but for its rmdir)."""
    save_checkpoint(folder, {"net": _net(float(epoch)), "epoch": epoch})
    if kind == "partial":
        (folder / "attnguide-checkpoint.json").unlink()
        (folder / ".attnguide-partial").touch()
    elif kind == "half-deleted":
        (folder / ".attnguide-partial").touch()
        (folder / "attnguide-checkpoint.json").unlink()
    elif kind == "emptied":
        for f in folder.iterdir():
            f.unlink()


# Every combination but those without a complete checkpoint, which no save leaves.
_LEFTOVERS = [
    (current, old, temporary)
    for current in (None, "complete")
    for old in (None, "complete", "half-deleted", "emptied")
    for temporary in (None, "partial", "complete", "half-deleted", "emptied")
    if current is not None or old == "complete"
]


@pytest.mark.parametrize(("current", "old", "temporary"), _LEFTOVERS)
def test_any_combination_a_crash_leaves_resumes_from_the_newest_committed(
    tmp_path: Path, current: str | None, old: str | None, temporary: str | None
) -> None:
    path = tmp_path / "ckpt"
    if old is not None:
        _leftover(tmp_path / ".ckpt.old", old, 1)
    if current is not None:
        _leftover(path, current, 2)
    if temporary is not None:
        _leftover(tmp_path / f".ckpt.tmp-{os.getpid()}-0a1b2c3d", temporary, 3)
    newest = 2 if current else 1
    assert load_checkpoint(path)["epoch"] == newest
    save_checkpoint(path, {"net": _net(4.0), "epoch": 4})
    assert load_checkpoint(path)["epoch"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_an_old_checkpoint_an_older_version_left_half_deleted_is_cleaned_up(
    tmp_path: Path,
) -> None:
    # What attnguide's earlier shutil.rmtree of .ckpt.old left when killed: some of its
    # files, no manifest, no marker. Every later save raised FileExistsError.
    path = tmp_path / "ckpt"
    save_checkpoint(path, {"net": _net(1.0), "epoch": 1, "t": torch.ones(2)})
    save_checkpoint(tmp_path / ".ckpt.old", {"net": _net(0.0), "epoch": 0, "t": torch.ones(2)})
    (tmp_path / ".ckpt.old" / "attnguide-checkpoint.json").unlink()
    (tmp_path / ".ckpt.old" / "state.safetensors").unlink()
    assert load_checkpoint(path)["epoch"] == 1
    save_checkpoint(path, {"net": _net(2.0), "epoch": 2})
    assert load_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_kill_while_the_old_checkpoint_is_removed_does_not_block_later_saves(
    tmp_path: Path,
) -> None:
    # The case, in a real process killed with SIGKILL while it removed
    # .ckpt.old: every later save raised FileExistsError.
    path = tmp_path / "ckpt"
    save_checkpoint(path, {"net": _net(1.0), "epoch": 1})
    script = textwrap.dedent(
        """
        import os, signal, sys
        import torch
        from attnguide.training import checkpoint, save_checkpoint

        def die(step):
            if step == "removing":
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoint._on_step = die
        save_checkpoint(sys.argv[1], {"net": torch.nn.Linear(3, 2), "epoch": 2})
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    aside = tmp_path / ".ckpt.old"
    assert aside.is_dir() and not (aside / "attnguide-checkpoint.json").exists()
    assert load_checkpoint(path)["epoch"] == 2
    save_checkpoint(path, {"epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_is_one_clear_error_and_the_previous_checkpoint_stays(
    tmp_path: Path, monkeypatch, code: int
) -> None:
    path = tmp_path / "ckpt"
    save_checkpoint(path, {"net": _net(1.0), "epoch": 1})
    real_write = checkpoint._write

    def failing(target: Path, data: bytes) -> None:
        if target.name == "attnguide-checkpoint.json":
            raise OSError(code, os.strerror(code), str(target))
        real_write(target, data)

    monkeypatch.setattr(checkpoint, "_write", failing)
    with pytest.raises(OSError) as e:
        save_checkpoint(path, {"net": _net(2.0), "epoch": 2})
    assert e.value.errno == code
    if code == errno.ENOSPC:
        assert f"no space left in {str(tmp_path)!r} for the checkpoint: it needs " in str(e.value)
        assert "MiB are free" in str(e.value)
    else:
        assert f"cannot write the checkpoint in {str(tmp_path)!r}: " in str(e.value)
        assert "read-only" in str(e.value)
    assert f"the previous checkpoint {str(path)!r} is intact" in str(e.value)
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary left


def test_too_little_free_space_is_refused_before_writing(tmp_path: Path, monkeypatch) -> None:
    save_checkpoint(tmp_path / "ckpt", {"epoch": 1})
    monkeypatch.setattr(
        checkpoint.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(9, 9, 9)
    )
    with pytest.raises(OSError, match=r"needs 0\.\d MiB \(\d+ bytes\) and 0\.0 MiB are free"):
        save_checkpoint(tmp_path / "ckpt", {"net": _net(2.0), "epoch": 2})
    assert load_checkpoint(tmp_path / "ckpt")["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_a_read_only_folder_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    save_checkpoint(folder / "ckpt", {"epoch": 1})
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError, match=r"cannot write the checkpoint in '.*run': .*read-only"):
            save_checkpoint(folder / "ckpt", {"epoch": 2})
    finally:
        folder.chmod(0o700)
    assert load_checkpoint(folder / "ckpt")["epoch"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["ckpt"]


# ------------------------------------------------------------ what is not ours stays


def test_a_folder_with_a_user_state_pt_is_never_replaced(tmp_path: Path) -> None:
    # A common torch.save name: attnguide 0.1 took any folder holding one for its own.
    user = tmp_path / "experiment"
    user.mkdir()
    torch.save({"w": torch.ones(2)}, user / "state.pt")
    (user / "notes.md").write_text("mine")
    with pytest.raises(FileExistsError, match="experiment' exists and is not an attnguide"):
        save_checkpoint(user, {"epoch": 1})
    assert sorted(p.name for p in user.iterdir()) == ["notes.md", "state.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment"]


def test_a_foreign_folder_where_the_previous_checkpoint_waits_is_not_deleted(
    tmp_path: Path,
) -> None:
    save_checkpoint(tmp_path / "ckpt", {"epoch": 1})
    foreign = tmp_path / ".ckpt.old"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"\.ckpt\.old' is in the way"):
        save_checkpoint(tmp_path / "ckpt", {"epoch": 2})
    assert (foreign / "keep.txt").read_text() == "mine"
    assert load_checkpoint(tmp_path / "ckpt")["epoch"] == 1


def test_only_our_own_crashed_temporaries_are_cleaned_up(tmp_path: Path) -> None:
    lookalike = tmp_path / ".ckpt.tmp-1-abcd"
    lookalike.mkdir()
    (lookalike / "data.bin").write_text("mine")
    save_checkpoint(tmp_path / "ckpt", {"epoch": 1})
    assert (lookalike / "data.bin").read_text() == "mine"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlink_to_a_checkpoint_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "store" / "ckpt"
    save_checkpoint(real, {"epoch": 1})
    link = tmp_path / "latest"
    link.symlink_to(real, target_is_directory=True)
    save_checkpoint(link, {"epoch": 2})
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_checkpoint(real)["epoch"] == 2 and load_checkpoint(link)["epoch"] == 2
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"dangling' is a symbolic link to .*nowhere"):
        save_checkpoint(dangling, {"epoch": 1})


# ------------------------------------------------------------------ hostile files


def test_a_pickle_in_the_folder_is_never_unpickled(tmp_path: Path) -> None:
    # What attnguide 0.1 wrote and loaded with torch.load(weights_only=False).
    old = tmp_path / "old"
    old.mkdir()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    torch.save({"format": 1, "config": Payload()}, old / "state.pt")
    with pytest.raises(ValueError, match=r"holds a state.pt, the pickle that attnguide 0.1 wrote"):
        load_checkpoint(old)
    assert not marker.exists()


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt"
    opt_param = nn.Parameter(torch.randn(2))
    opt = torch.optim.Adam([opt_param])
    opt_param.grad = torch.ones(2)
    opt.step()
    save_checkpoint(path, {"net": nn.Linear(2, 2), "opt": opt, "epoch": 1})
    return path


def _edit_manifest(path: Path, edit) -> None:
    file = path / "attnguide-checkpoint.json"
    manifest = json.loads(file.read_text())
    edit(manifest)
    file.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../outside.safetensors", "expected a plain file name inside the checkpoint folder"),
        ("/etc/passwd", "expected a plain file name"),
        ("sub/net.safetensors", "expected a plain file name"),
        ("missing.safetensors", "module 'net' 'missing.safetensors' is missing"),
        (3, "'modules' must map names to file names"),
    ],
)
def test_file_names_outside_the_folder_are_refused(tmp_path: Path, name, match: str) -> None:
    path = _saved(tmp_path)
    (tmp_path / "outside.safetensors").write_bytes((path / "net.safetensors").read_bytes())
    _edit_manifest(path, lambda m: m["modules"].update(net=name))
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path)


@pytest.mark.skipif(os.name != "posix", reason="symbolic links and FIFOs")
def test_links_out_of_the_folder_and_fifos_are_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    outside = tmp_path / "outside.safetensors"
    (path / "net.safetensors").rename(outside)
    (path / "net.safetensors").symlink_to(outside)
    with pytest.raises(ValueError, match=r"module 'net' 'net.safetensors' is a link to .*outside"):
        load_checkpoint(path)
    (path / "net.safetensors").unlink()
    os.mkfifo(path / "net.safetensors")  # a FIFO must not block the load
    with pytest.raises(ValueError, match=r"'net.safetensors' is not a regular file"):
        load_checkpoint(path)
    (path / "net.safetensors").unlink()
    (path / "net.safetensors").mkdir()
    with pytest.raises(ValueError, match=r"'net.safetensors' is not a regular file"):
        load_checkpoint(path)


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: _truncate(p / "attnguide-checkpoint.json"), "is not valid JSON"),
        (lambda p: (p / "attnguide-checkpoint.json").write_text("[" * 100000), "not valid JSON"),
        (lambda p: (p / "attnguide-checkpoint.json").write_bytes(b"\xff\xfe"), "not valid JSON"),
        (lambda p: (p / "attnguide-checkpoint.json").write_text('{"a": NaN}'), "bare constant"),
        (lambda p: (p / "attnguide-checkpoint.json").write_text("{}"), "its 'format' must be"),
        (lambda p: _truncate(p / "net.safetensors"), "module 'net' 'net.safetensors' is not a"),
        (lambda p: _truncate(p / "state.safetensors"), "the tensor file 'state.safetensors'"),
        (lambda p: (p / "state.safetensors").unlink(), "'state.safetensors' is missing"),
        (lambda p: (p / "attnguide-checkpoint.json").unlink(), "is not an attnguide checkpoint"),
        (
            lambda p: _edit_manifest(p, lambda m: m.update(version=9)),
            "checkpoint version 9, this attnguide reads version 2",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["names"].append("extra")),
            r"listed but not stored \['extra'\]",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["names"].remove("epoch")),
            r"stored but not listed \['epoch'\]",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["names"].append("epoch")),
            "lists a name twice",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m.pop("values")),
            "must hold exactly the keys",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m.update(names="net")),
            "'names' must be a list of strings",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m.update(tensors="other.safetensors")),
            "'tensors' must be 'state.safetensors' or null",
        ),
        (
            lambda p: _edit_manifest(
                p,
                lambda m: m["values"]["opt"]["state"]["__dict__"][0][1].update(
                    step={"__tensor__": "t99"}
                ),
            ),
            r"refers to tensor 't99', which state.safetensors lacks",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["values"].update(epoch={"__float__": "1e9"})),
            "is a __float__ of '1e9'",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["values"].update(epoch={"__set__": [1]})),
            "has an unknown tag",
        ),
        (
            lambda p: _edit_manifest(
                p, lambda m: m["values"].update(epoch={"__tuple__": [1], "x": 2})
            ),
            "mixes the tag '__tuple__' with other keys",
        ),
        (
            lambda p: _edit_manifest(p, lambda m: m["values"].update(epoch={"__dict__": [[1]]})),
            "is not a \\[key, value\\] pair",
        ),
        (
            lambda p: _edit_manifest(
                p, lambda m: m["values"].update(epoch=json.loads("[" * 70 + "]" * 70))
            ),
            "nests more than 64 levels deep",
        ),
    ],
)
def test_damaged_checkpoints_are_value_errors_naming_the_checkpoint(
    tmp_path: Path, damage, match: str
) -> None:
    path = _saved(tmp_path)
    damage(path)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_a_manifest_that_is_too_large_is_not_read(tmp_path: Path, monkeypatch) -> None:
    from attnguide.training import checkpoint

    path = _saved(tmp_path)
    monkeypatch.setattr(checkpoint, "_MAX_MANIFEST", 100)
    with pytest.raises(ValueError, match="more than the 100 a manifest may have"):
        load_checkpoint(path)
