"""The run folder: where a run writes, and the files it leaves.

    RUN/config.json     every option the run used (``--config`` repeats it)
    RUN/checkpoint/     the latest checkpoint (atomic; ``--resume RUN`` continues)
    RUN/losses.jsonl    one record of averaged losses every ``--log-every`` steps
    RUN/losses.png      the loss curves
    RUN/samples/*.png   sample grids
    RUN/metrics.json    steps, times, the evaluation and the configuration
    RUN/results.md      the results table
    RUN/tensorboard/    with ``--tensorboard``

Only rank 0 writes. A folder that already holds a run is never reused by a new run.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, save_config

__all__ = ["CHECKPOINT", "RunFolder", "check_tensorboard", "write_json", "write_summary"]

CHECKPOINT = "checkpoint"  # the run folder's latest checkpoint (a directory)


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

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoint = path / CHECKPOINT
        self.losses = path / "losses.jsonl"
        self.samples = path / "samples"
        self._writer: Any = None

    @classmethod
    def choose(cls, out: str | None, resume: Path | None, *, prefix: str) -> RunFolder:
        """The run folder: ``resume``, ``out``, or ``runs/PREFIX-DATE-TIME``, checked.

        Raises:
            ConfigError: resuming a folder without a checkpoint, or starting a new run
                in a folder that holds one.
        """
        if resume is not None:
            # Present but damaged is for the restore to explain; absent is said here.
            path = resume / CHECKPOINT
            if not (path.exists() or path.with_name(f".{path.name}.old").exists()):
                raise ConfigError(f"--resume {resume}: there is no checkpoint in that folder")
            return cls(resume)
        if out is not None:
            path = Path(out)
        else:
            path = Path("runs") / f"{prefix}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file, not a folder; choose another --out")
        if (path / "config.json").exists() or (path / CHECKPOINT).exists():
            raise ConfigError(
                f"{path} already holds a run; continue it with --resume {path} or choose "
                "another --out"
            )
        return cls(path)

    def prepare(self, cfg: Any, history: list[dict[str, float]], *, tensorboard: bool) -> None:
        """Creates the folder and writes the config and the loss log so far (rank 0).

        Raises:
            ConfigError: the folder cannot be written.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
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
        if self._writer is not None:
            self._writer.close()


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
