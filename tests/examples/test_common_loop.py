"""examples/common/loop.py: loss records average each term over the steps that logged it."""

from __future__ import annotations

import pytest
import torch
from common.loop import LossLog


def test_a_term_logged_on_some_steps_averages_over_those_steps() -> None:
    log = LossLog(every=4)
    for step in range(1, 5):
        logs = {"D/total": torch.tensor(float(step))}
        if step % 2 == 0:  # a generator step every second critic step
            logs["G/total"] = torch.tensor(10.0 * step)
        record = log.add(logs, step)
    assert record == {"D/total": 2.5, "G/total": 30.0, "step": 4}


def test_a_pending_window_survives_a_checkpoint() -> None:
    straight, resumed = LossLog(every=3), LossLog(every=3)
    steps = [{"a": torch.tensor(1.0)}, {"a": torch.tensor(2.0), "b": torch.tensor(5.0)}]
    for step, logs in enumerate(steps, 1):
        straight.add(logs, step)
        resumed.add(logs, step)
    restored = LossLog(every=3)
    restored.load_state_dict(resumed.state_dict())
    last = {"a": torch.tensor(6.0)}
    assert restored.add(last, 3) == straight.add(last, 3) == {"a": 3.0, "b": 5.0, "step": 3}


def test_the_last_step_is_recorded_off_the_grid() -> None:
    log = LossLog(every=4)
    records = [log.add({"a": torch.tensor(float(s))}, s, last=s == 6) for s in range(1, 7)]
    assert records[3] == {"a": 2.5, "step": 4}
    assert records[5] == {"a": 5.5, "step": 6}  # steps 5 and 6 only
    assert records[:3] == [None] * 3 and records[4] is None
    assert log.records() == [records[3], records[5]]
    # Resumed past step 6, the log goes on as if it had never stopped there.
    assert log.history == [records[3]]
    assert log.add({"a": torch.tensor(7.0)}, 7) is None
    assert log.add({"a": torch.tensor(8.0)}, 8) == {"a": 6.5, "step": 8}


def test_a_damaged_state_is_refused() -> None:
    state = LossLog(every=2).state_dict()
    state["pending"] = {"sums": {"a": torch.tensor(1.0)}, "counts": {}}
    with pytest.raises(TypeError, match="a count per pending sum"):
        LossLog(every=2).load_state_dict(state)
