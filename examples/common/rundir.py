"""The run folder: where a run writes, and the files it leaves.

    RUN/config.json     every option the run used (``--config`` repeats it)
    RUN/checkpoint/     the latest checkpoint (atomic; ``--resume RUN`` continues)
    RUN/losses.jsonl    one record of averaged losses every ``--log-every`` steps
    RUN/losses.png      the loss curves
    RUN/samples/*.png   sample grids
    RUN/metrics.json    steps, times, the evaluation and the configuration
    RUN/results.md      the results table
    RUN/classifier.*    the domain classifier that judges translations, its accuracy
    RUN/eval.jsonl      with ``--eval-every``: evaluations during training (curves.png)
    RUN/tensorboard/    with ``--tensorboard``
    RUN/.attnguide-run  marks the folder as a run's; locked while a process trains in it

Only rank 0 writes. A folder that already holds a run is never reused by a new run,
and a new run starts only in a new or empty folder: one holding other files is
refused unless ``--overwrite`` is given (then the run's files, by the names above,
replace any there; nothing else is touched). Symbolic links among the run's files are
refused, so a run never writes outside its folder.

While a process trains in a run folder it holds an OS lock (``fcntl.flock``) on
``RUN/.attnguide-run``: a second ``train.py`` on the same folder (``--resume RUN`` or
``--out RUN``) stops with an error naming the folder and the pid of the process that
holds it. The OS releases the lock when that process ends, however it ends, so a
killed run never blocks the next one.
"""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no lock
    fcntl = None  # type: ignore[assignment]

from .config import ConfigError, save_config

__all__ = [
    "CHECKPOINT",
    "LOCK",
    "RUN_FILES",
    "RunFolder",
    "check_tensorboard",
    "write_json",
    "write_summary",
]

CHECKPOINT = "checkpoint"  # the run folder's latest checkpoint (a directory)
LOCK = ".attnguide-run"  # marks a run folder as ours; locked while a process trains in it
#: What a run writes at the top of its folder (folders among them: checkpoint, samples,
#: tensorboard); the checkpoint writer's ``.checkpoint.old`` and temporaries beside it.
RUN_FILES = (
    "config.json",
    CHECKPOINT,
    "losses.jsonl",
    "losses.png",
    "samples",
    "metrics.json",
    "results.md",
    "classifier.safetensors",
    "classifier.json",
    "eval.jsonl",
    "eval.jsonl.tmp",
    "curves.png",
    "tensorboard",
    LOCK,
)
_WRITTEN_INSIDE = ("samples", "tensorboard")


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` as indented JSON; infinities become the strings "inf"/"-inf"."""
    path.write_text(json.dumps(_plain(data), indent=2, allow_nan=False) + "\n")


def _plain(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return x


class RunFolder:
    """The files of one run, under ``path``."""

    def __init__(self, path: Path, *, resumed: bool = False, overwrite: bool = False) -> None:
        self.path = path
        self.checkpoint = path / CHECKPOINT
        self.losses = path / "losses.jsonl"
        self.samples = path / "samples"
        self.resumed = resumed
        self.overwrite = overwrite
        self._writer: Any = None
        self._lock: int | None = None

    @classmethod
    def choose(
        cls, out: str | None, resume: Path | None, *, prefix: str, overwrite: bool = False
    ) -> RunFolder:
        """The run folder: ``resume``, ``out``, or ``runs/PREFIX-DATE-TIME``, checked.

        The checks run again under the folder's lock in :meth:`prepare`, where they
        decide; here they stop a run before it does any work.

        Args:
            out: ``--out``, or None.
            resume: ``--resume``, or None.
            prefix: The name of the default folder.
            overwrite: ``--overwrite``: start a new run in a folder holding other files.

        Raises:
            ConfigError: resuming a folder without a checkpoint, starting a new run in
                a folder that holds one or (without ``overwrite``) other files, or a
                symbolic link where the run writes.
        """
        if resume is not None:
            if overwrite:
                raise ConfigError(
                    f"--overwrite is for a new run's --out; --resume {resume} continues the "
                    "run in its own folder"
                )
            folder = cls(resume, resumed=True)
        else:
            if out is not None:
                path = Path(out)
            else:
                path = Path("runs") / f"{prefix}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
            folder = cls(path, overwrite=overwrite)
        folder._check()
        return folder

    def _check(self) -> None:
        """Refuses a folder this run must not write in (see :meth:`choose`)."""
        path = self.path
        if self.resumed:
            # Present but damaged is for the restore to explain; absent is said here.
            aside = path / f".{CHECKPOINT}.old"
            if not (self.checkpoint.exists() or self.checkpoint.is_symlink() or aside.exists()):
                raise ConfigError(f"--resume {path}: there is no checkpoint in that folder")
            self._check_links()
            return
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file, not a folder; choose another --out")
        if not path.is_dir():
            return
        entries = sorted(e for e in os.listdir(path) if e != LOCK)
        if {"config.json", CHECKPOINT, f".{CHECKPOINT}.old"} & set(entries):
            raise ConfigError(
                f"{path} already holds a run; continue it with --resume {path} or choose "
                "another --out"
            )
        if entries and not self.overwrite:
            clash = [e for e in entries if e in RUN_FILES]
            shown = ", ".join(entries[:5]) + (
                f" and {len(entries) - 5} more" if entries[5:] else ""
            )
            raise ConfigError(
                f"--out {path} is not empty and not a run folder: it holds {shown}"
                + (f" (a run would replace {', '.join(clash)})" if clash else "")
                + "; choose a new or empty folder, or pass --overwrite to start the run there "
                "anyway (the run's own files replace any of the same names; nothing else is "
                "touched)"
            )
        self._check_links()

    def _check_links(self) -> None:
        """Refuses symbolic links where the run writes: writing through one would
        replace a file outside the run folder (another run's checkpoint, say)."""
        paths = [self.path / name for name in RUN_FILES]
        for name in _WRITTEN_INSIDE:
            inside = self.path / name
            if inside.is_dir() and not inside.is_symlink():
                paths += sorted(p for p in inside.rglob("*"))
        for p in paths:
            if p.is_symlink():
                raise ConfigError(
                    f"{p} is a symbolic link (to {os.readlink(p)}); a run writes only inside "
                    f"its own folder {self.path}, never through a link: remove the link or "
                    "choose another folder"
                )

    def _acquire(self) -> None:
        """Takes the folder's lock, or says who holds it."""
        if fcntl is None or self._lock is not None:
            return
        marker = self.path / LOCK
        fd = os.open(marker, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            try:
                holder = json.loads(os.read(fd, 4096) or b"{}")
            except ValueError:
                holder = {}
            os.close(fd)
            pid = holder.get("pid", "unknown") if isinstance(holder, dict) else "unknown"
            host = holder.get("host") if isinstance(holder, dict) else None
            raise ConfigError(
                f"{self.path} is in use: process {pid}"
                + (f" on {host}" if host else "")
                + f" is training in it (it holds the lock on {marker}); wait for it to end, "
                "stop it, or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.write(fd, (json.dumps(record) + "\n").encode())
        self._lock = fd

    def release(self) -> None:
        """Releases the folder's lock (the OS does it too when the process ends)."""
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases its flock
            self._lock = None

    def prepare(self, cfg: Any, history: list[dict[str, float]], *, tensorboard: bool) -> None:
        """Creates and locks the folder, checks it again under the lock, and writes the
        config and the loss log so far (rank 0). Call :meth:`release` when done.

        Raises:
            ConfigError: the folder cannot be written, another process trains in it,
                or it became one a run must not write in.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._acquire()
        except OSError as err:
            raise ConfigError(
                f"cannot write to the output folder {self.path}: {err.strerror or err}; "
                "choose another --out"
            ) from None
        try:
            self._check()
        except ConfigError:
            self.release()
            raise
        try:
            save_config(cfg, self.path / "config.json")
            # The log restarts from what the checkpoint holds: a killed run may have
            # logged steps after its last checkpoint, and those are trained again.
            with open(self.losses, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in history)
        except OSError as err:
            raise ConfigError(
                f"cannot write to the output folder {self.path}: {err.strerror or err}; "
                "choose another --out"
            ) from None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.path / "tensorboard"))

    def log(self, record: dict[str, float]) -> None:
        with open(self.losses, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for k, v in record.items():
                if k != "step":
                    self._writer.add_scalar(k, v, record["step"])

    def close(self) -> None:
        """Closes the tensorboard writer (the lock stays until :meth:`release`)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def check_tensorboard(enabled: bool) -> None:
    """Fails before anything is written when ``--tensorboard`` cannot work.

    Raises:
        ConfigError: the tensorboard package is missing.
    """
    if not enabled:
        return
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--tensorboard needs the tensorboard package: pip install tensorboard"
        ) from None


def write_summary(
    folder: RunFolder,
    summary: dict[str, Any],
    *,
    started: float,
    table: str | None,
    root: Path,
    unit: str,
) -> None:
    """Writes a finished run's ``metrics.json`` (with this process's wall time since
    ``started``, a ``time.perf_counter()``) and says what it trained and where the
    outputs are, with the results ``table`` of the test split of ``root``."""
    summary["wall_seconds_this_process"] = round(time.perf_counter() - started, 1)
    write_json(folder.path / "metrics.json", summary)
    print(
        f"trained {summary['steps']} {unit}s in {summary['train_seconds']:.1f} s "
        f"({summary['steps_per_second']} {unit}s/s); this process ran "
        f"{summary['wall_seconds_this_process']} s",
        flush=True,
    )
    if table is not None:
        print(f"\nTest split of {root}:\n\n{table}\n", flush=True)
    print(f"outputs in {folder.path}", flush=True)
