"""The parts of a training loop that do not depend on the model.

:class:`Progress` counts what a run has done, :class:`LossLog` averages the losses of
the steps between two records (and checkpoints that partial sum, so the first record
after a resume averages the same steps as an uninterrupted run's), and :class:`Stop`
turns Ctrl-C or SIGTERM into a request to stop after the current step.
"""

from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass
from typing import Any

from torch import Tensor

__all__ = ["LossLog", "Progress", "Stop"]


@dataclass
class Progress:
    """How far a run has come; saved in its checkpoints."""

    epoch: int = 0  # the epoch in progress
    batch: int = 0  # batches of it already done
    step: int = 0  # steps done in all
    elapsed: float = 0.0  # seconds of training in earlier segments of this run


class LossLog:
    """Averages each step's losses over ``every`` steps into a record.

    Args:
        every: Steps per record.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.history: list[dict[str, float]] = []
        self.sums: dict[str, Tensor] = {}
        self.count = 0

    def add(self, logs: dict[str, Tensor], step: int, **extra: float) -> dict[str, float] | None:
        """Adds one step's (detached) losses; every ``every`` steps returns the record of
        their means, with ``step`` and ``extra`` (the epoch, the learning rate...)."""
        for k, v in logs.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        self.count += 1
        if step % self.every:
            return None
        record = {k: float(v) / self.count for k, v in self.sums.items()}
        record.update(step=step, **extra)
        self.history.append(record)
        self.sums, self.count = {}, 0
        return record

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "pending": {"sums": self.sums, "count": self.count}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        history, pending = list(state["history"]), state["pending"]
        sums, count = dict(pending["sums"]), pending["count"]
        if not all(isinstance(r, dict) for r in history) or isinstance(count, bool):
            raise TypeError("a loss log holds a list of records and a count of pending steps")
        self.history, self.sums, self.count = history, sums, int(count)


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
