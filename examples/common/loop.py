"""The parts of a training loop that do not depend on the model.

:class:`Progress` counts what a run has done, :class:`LossLog` averages the losses of
the steps between two records (and checkpoints that partial sum, so the first record
after a resume averages the same steps as an uninterrupted run's), and :class:`Stop`
turns Ctrl-C or SIGTERM into a request to stop after the current step; :class:`EpochLoop`
is the loop a trainer runs them in.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

__all__ = [
    "EpochLoop",
    "LossLog",
    "Progress",
    "Stop",
    "progress_bar",
    "say_stopped",
    "set_requires_grad",
]


def set_requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    """Turns gradients of ``params`` on or off (off for a network the other one's step
    only reads)."""
    for p in params:
        p.requires_grad_(flag)


def progress_bar(total: int, initial: int, unit: str) -> Any:
    """A tqdm bar over a run's steps, from ``initial`` (a resumed run's) to ``total``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit=unit, mininterval=1.0, desc="train")


def say_stopped(step: int, run_dir: Any, checkpoint: Any, script: str, unit: str) -> None:
    """Tells, on stderr, where a stopped run saved its checkpoint and how to continue."""
    print(
        f"stopped at {unit} {step}; checkpoint saved in {checkpoint}. Continue with: "
        f"python {script} --resume {run_dir}",
        file=sys.stderr,
        flush=True,
    )


@dataclass
class Progress:
    """How far a run has come; saved in its checkpoints."""

    epoch: int = 0  # the epoch in progress
    batch: int = 0  # batches of it already done
    step: int = 0  # steps done in all
    elapsed: float = 0.0  # seconds of training in earlier segments of this run


class LossLog:
    """Averages each step's losses over ``every`` steps into a record (each term over
    the steps that logged it).

    The run's last step also gets a record when it falls between two: a provisional
    one over the steps since the last record, kept apart (:attr:`tail`) with its sums
    still pending, so a run resumed past that step logs exactly as one never stopped.

    Args:
        every: Steps per record.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.history: list[dict[str, float]] = []
        self.tail: dict[str, float] | None = None
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}  # a term missing on some steps averages its own

    def add(
        self, logs: dict[str, Tensor], step: int, *, last: bool = False, **extra: float
    ) -> dict[str, float] | None:
        """Adds one step's (detached) losses; every ``every`` steps, and on the ``last``
        step of training whatever its number, returns the record of their means, with
        ``step`` and ``extra`` (the epoch, the learning rate...)."""
        self.tail = None
        for k, v in logs.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1
        if step % self.every and not last:
            return None
        record = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        record.update(step=step, **extra)
        if step % self.every:
            self.tail = record
        else:
            self.history.append(record)
            self.sums, self.counts = {}, {}
        return record

    def records(self) -> list[dict[str, float]]:
        """Every record, the provisional last one included: what a plot shows."""
        return self.history + ([self.tail] if self.tail else [])

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "pending": {"sums": self.sums, "counts": self.counts}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        history, pending = list(state["history"]), state["pending"]
        sums, counts = dict(pending["sums"]), dict(pending["counts"])
        if (
            not all(isinstance(r, dict) for r in history)
            or counts.keys() != sums.keys()
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in counts.values())
        ):
            raise TypeError("a loss log holds a list of records and a count per pending sum")
        self.history, self.sums, self.counts = history, sums, counts


class Stop:
    """Turns SIGINT/SIGTERM into a request to stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        # A second Ctrl-C interrupts at once.
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class EpochLoop:
    """The loop of a trainer: epochs of batches, ``--max-steps``, stop signals and
    checkpoints every ``save_every`` steps, at every epoch's end and when stopped.

    A trainer sets ``cfg`` (with ``epochs``, ``max_steps``, ``save_every``), ``data``
    (``len()`` batches per epoch, ``loader(epoch, start)``), ``dist``, ``device``,
    ``progress``, ``losses`` and ``schedulers`` (stepped at each epoch's end), and
    implements :meth:`train_batch` and ``save()``.
    """

    cfg: Any
    data: Any
    dist: Any
    device: Any
    progress: Progress
    losses: LossLog
    schedulers: list[Any]
    _segment_start: float | None = None

    def save(self) -> None:
        raise NotImplementedError

    def train_batch(self, batch: Any, extras: dict[str, float]) -> dict[str, Tensor]:
        """Trains on one batch; returns its detached losses."""
        raise NotImplementedError

    def epoch_extras(self, epoch: int) -> dict[str, float]:
        """Values of the epoch that every loss record holds and ``train_batch`` gets."""
        return {}

    def learning_rate(self) -> float:
        """The learning rate that loss records hold."""
        raise NotImplementedError

    def _segment(self) -> float:
        """Seconds trained since :meth:`fit` started."""
        return 0.0 if self._segment_start is None else time.perf_counter() - self._segment_start

    def total_steps(self) -> int:
        total = self.cfg.epochs * len(self.data)
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    def _run_epoch(
        self, stop: Stop, on_step: Callable[[Any, dict[str, float] | None], None]
    ) -> str:
        """Trains the rest of the current epoch; returns why it stopped."""
        cfg, p = self.cfg, self.progress
        extras = self.epoch_extras(p.epoch)
        for batch in self.data.loader(p.epoch, p.batch):
            logs = self.train_batch(batch, extras)
            p.batch += 1
            p.step += 1
            # The run's last step is always recorded, even off the --log-every grid.
            last = p.step >= self.total_steps()
            record = self.losses.add(
                logs, p.step, last=last, epoch=p.epoch, **extras, lr=self.learning_rate()
            )
            on_step(self, record)
            if cfg.max_steps and p.step >= cfg.max_steps:
                return "max_steps"
            if self.dist.any(stop.requested, self.device):
                # Every process stops after the same step, or one would wait forever.
                return "interrupted"
            # At an epoch's last batch the epoch's own checkpoint follows.
            if cfg.save_every and p.step % cfg.save_every == 0 and p.batch < len(self.data):
                self.save()
        return "epoch"

    def fit(self, on_step: Callable[[Any, dict[str, float] | None], None]) -> str:
        """Trains until the last epoch, ``--max-steps`` or a stop signal (SIGINT, SIGTERM).

        Args:
            on_step: Called after every step with the trainer and the new loss record
                (None on steps that make none).

        Returns:
            ``"done"``, ``"max_steps"`` or ``"interrupted"``.
        """
        cfg, p = self.cfg, self.progress
        # A run that already reached --max-steps (resumed without raising it) has
        # nothing to do; checked before a step, not only after one.
        outcome = "max_steps" if cfg.max_steps and p.step >= cfg.max_steps else "done"
        self._segment_start = time.perf_counter()
        with Stop() as stop:
            while outcome == "done" and p.epoch < cfg.epochs:
                ended = self._run_epoch(stop, on_step)
                if ended == "epoch":
                    for scheduler in self.schedulers:
                        scheduler.step()
                    p.epoch, p.batch = p.epoch + 1, 0
                else:
                    outcome = ended
                self.save()
        p.elapsed += self._segment()
        self._segment_start = None
        return outcome
