from __future__ import annotations

import pytest
import torch
from torch import nn

from attnguide.training import linear_decay


def _rates(constant: int, decay: int, epochs: int, lr: float = 0.5) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = linear_decay(opt, constant_epochs=constant, decay_epochs=decay)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"] / lr)
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize(("constant", "decay"), [(0, 1), (1, 2), (3, 4), (100, 100)])
def test_linear_decay_values(constant: int, decay: int) -> None:
    rates = _rates(constant, decay, constant + decay + 3)
    expected = [1.0] * (constant + 1) + [1 - k / decay for k in range(1, decay + 1)] + [0.0] * 2
    assert rates == pytest.approx(expected, abs=1e-12)
    assert rates[constant + decay] == 0.0  # exactly zero once the run's epochs are done
    assert rates[constant + decay - 1] == pytest.approx(1 / decay)


def test_linear_decay_scales_every_group_and_resumes() -> None:
    params = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 0.1}])
    sched = linear_decay(opt, constant_epochs=2, decay_epochs=4)
    for _ in range(3):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.75, 0.075])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"constant_epochs": 2, "decay_epochs": 4}] * 2
    opt2 = torch.optim.Adam([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 0.1}])
    opt2.load_state_dict(opt.state_dict())
    sched2 = linear_decay(opt2, constant_epochs=2, decay_epochs=4)
    sched2.load_state_dict(state)
    for s, o in ((sched, opt), (sched2, opt2)):
        o.step()
        s.step()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"constant_epochs": -1, "decay_epochs": 1},
            ValueError,
            r"linear_decay\(\): 'constant_epochs' must be >= 0, got -1",
        ),
        (
            {"constant_epochs": 1, "decay_epochs": 0},
            ValueError,
            "'decay_epochs' must be >= 1, got 0",
        ),
        (
            {"constant_epochs": 1.0, "decay_epochs": 1},
            TypeError,
            "'constant_epochs' must be an int, got float",
        ),
    ],
)
def test_linear_decay_validation(kwargs, error, match) -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(error, match=match):
        linear_decay(opt, **kwargs)
    with pytest.raises(TypeError, match=r"'optimizer' must be a torch\.optim\.Optimizer, got list"):
        linear_decay([], constant_epochs=1, decay_epochs=1)
