"""AGGANLossWeights, curriculum_rate and aggan_generator_objective (Eqs. 7 and 9)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from attnguide.losses import (
    AGGANLossWeights,
    aggan_generator_objective,
    curriculum_rate,
)


def test_weights_defaults_are_the_papers() -> None:
    w = AGGANLossWeights()
    assert (w.gan, w.cycle, w.pixel, w.tv) == (0.5, 10.0, 1.0, 1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.gan = 1.0  # type: ignore[misc]
    assert AGGANLossWeights(cycle=5, tv=0.0).cycle == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"gan": -0.5},
            ValueError,
            r"AGGANLossWeights\(\): 'gan' must be >= 0, got -0.5",
        ),
        ({"tv": float("nan")}, ValueError, r"'tv' must be a finite number, got nan"),
        ({"cycle": float("inf")}, ValueError, r"'cycle' must be a finite number, got inf"),
        (
            {"pixel": "1.0"},
            TypeError,
            r"AGGANLossWeights\(\): 'pixel' must be a real number, got str",
        ),
        ({"pixel": True}, TypeError, r"'pixel' must be a real number, got bool"),
        ({"gan": torch.tensor(0.5)}, TypeError, r"'gan' must be a real number, got Tensor"),
    ],
)
def test_weights_are_validated(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        AGGANLossWeights(**kwargs)


def test_curriculum_rate_follows_the_paper() -> None:
    assert curriculum_rate(0) == 0.01
    assert curriculum_rate(9) == 0.01
    assert curriculum_rate(10) == 0.5
    assert curriculum_rate(50) == 0.5


def test_curriculum_rate_custom_schedule() -> None:
    assert curriculum_rate(2, warmup_epochs=3, warmup_rate=0.1, rate=0.9) == 0.1
    assert curriculum_rate(3, warmup_epochs=3, warmup_rate=0.1, rate=0.9) == 0.9
    assert curriculum_rate(0, warmup_epochs=0) == 0.5
    assert curriculum_rate(4, rate=1) == 0.01


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((-1,), {}, ValueError, r"curriculum_rate\(\): 'epoch' must be >= 0, got -1"),
        ((1.5,), {}, TypeError, r"curriculum_rate\(\): 'epoch' must be an int, got float"),
        ((True,), {}, TypeError, r"'epoch' must be an int, got bool"),
        ((0,), {"warmup_epochs": -2}, ValueError, r"'warmup_epochs' must be >= 0, got -2"),
        ((0,), {"warmup_rate": 1.5}, ValueError, r"'warmup_rate' must be in \[0, 1\], got 1.5"),
        ((0,), {"rate": -0.1}, ValueError, r"'rate' must be in \[0, 1\], got -0.1"),
        ((0,), {"rate": "0.5"}, TypeError, r"'rate' must be a real number, got str"),
    ],
)
def test_curriculum_rate_rejects_bad_input(args, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        curriculum_rate(*args, **kwargs)


def _terms(dtype=torch.float32, requires_grad=False) -> dict[str, torch.Tensor]:
    values = {"gan": 1.0, "agan": 2.0, "cycle": 0.3, "pixel": 0.4, "tv": 1000.0}
    return {k: torch.tensor(v, dtype=dtype, requires_grad=requires_grad) for k, v in values.items()}


def test_objective_golden_value() -> None:
    total, weighted = aggan_generator_objective(_terms(), AGGANLossWeights(), 0.01)
    # r * (10 * 0.3 + 1 * 0.4) = 0.03 + 0.004
    # (1 - r) * (0.5 * (1 + 2) + 1e-6 * 1000) = 0.495 + 0.99 + 0.00099
    expected = {
        "cycle": 0.03,
        "pixel": 0.004,
        "gan": 0.495,
        "agan": 0.99,
        "tv": 0.00099,
        "total": 1.51999,
    }
    assert set(weighted) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(weighted[key], torch.tensor(value), msg=key)
    assert weighted["total"] is total


def test_objective_matches_equation_9() -> None:
    t = _terms(torch.float64)
    w = AGGANLossWeights(gan=0.7, cycle=3.0, pixel=2.0, tv=0.01)
    r = 0.3
    eq9 = r * (w.cycle * t["cycle"] + w.pixel * t["pixel"]) + (1 - r) * (
        w.gan * (t["gan"] + t["agan"]) + w.tv * t["tv"]
    )
    total, weighted = aggan_generator_objective(t, w, r)
    torch.testing.assert_close(total, eq9)
    torch.testing.assert_close(sum(v for k, v in weighted.items() if k != "total"), total)
    # With r = 0.5, Eq. 9 is half of Eq. 7.
    eq7 = w.gan * (t["gan"] + t["agan"]) + w.cycle * t["cycle"] + w.pixel * t["pixel"]
    eq7 = eq7 + w.tv * t["tv"]
    torch.testing.assert_close(aggan_generator_objective(t, w, 0.5)[0], eq7 / 2)


def test_objective_ablation_drops_missing_terms() -> None:
    full, _ = aggan_generator_objective(_terms(), AGGANLossWeights(), 0.01)
    terms = _terms()
    del terms["agan"], terms["pixel"]
    total, weighted = aggan_generator_objective(terms, AGGANLossWeights(), 0.01)
    assert set(weighted) == {"gan", "cycle", "tv", "total"}
    torch.testing.assert_close(total, full - torch.tensor(0.99 + 0.004))
    only_gan, weighted = aggan_generator_objective(
        {"gan": torch.tensor(2.0)}, AGGANLossWeights(), 0.0
    )
    torch.testing.assert_close(only_gan, torch.tensor(1.0))
    assert set(weighted) == {"gan", "total"}


def test_objective_gradients_are_the_weights() -> None:
    terms = _terms(torch.float64, requires_grad=True)
    total, _ = aggan_generator_objective(terms, AGGANLossWeights(), 0.25)
    grads = torch.autograd.grad(total, list(terms.values()))
    expected = [0.75 * 0.5, 0.75 * 0.5, 0.25 * 10.0, 0.25 * 1.0, 0.75 * 1e-6]
    for grad, value in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, torch.tensor(value, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0), "cycel": torch.tensor(1.0), "idt": torch.tensor(1.0)},
                AGGANLossWeights(),
                0.5,
            ),
            ValueError,
            r"aggan_generator_objective\(\): 'terms' has unknown keys \['cycel', 'idt'\]; "
            r"expected any of \('gan', 'agan', 'cycle', 'pixel', 'tv'\)",
        ),
        (
            lambda: aggan_generator_objective({}, AGGANLossWeights(), 0.5),
            ValueError,
            r"'terms' is empty; expected any of",
        ),
        (
            lambda: aggan_generator_objective([torch.tensor(1.0)], AGGANLossWeights(), 0.5),  # type: ignore[arg-type]
            TypeError,
            r"'terms' must be a mapping of term names to tensors, got list",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.ones(2)}, AGGANLossWeights(), 0.5),
            ValueError,
            r"'terms\['gan'\]' must be a scalar \(0-dimensional\) tensor, got shape \(2,\)",
        ),
        (
            lambda: aggan_generator_objective({"gan": 1.0}, AGGANLossWeights(), 0.5),  # type: ignore[dict-item]
            TypeError,
            r"'terms\['gan'\]' must be a torch.Tensor, got float",
        ),
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0), "tv": torch.tensor(1.0, dtype=torch.float64)},
                AGGANLossWeights(),
                0.5,
            ),
            TypeError,
            r"'terms\['tv'\]' has dtype torch.float64 but 'terms\['gan'\]' has torch.float32",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.tensor(1.0)}, {"gan": 0.5}, 0.5),  # type: ignore[arg-type]
            TypeError,
            r"'weights' must be an AGGANLossWeights, got dict",
        ),
        (
            lambda: aggan_generator_objective({"gan": torch.tensor(1.0)}, AGGANLossWeights(), 1.5),
            ValueError,
            r"aggan_generator_objective\(\): 'r' must be in \[0, 1\], got 1.5",
        ),
        (
            lambda: aggan_generator_objective(
                {"gan": torch.tensor(1.0)}, AGGANLossWeights(), torch.tensor(0.5)
            ),  # type: ignore[arg-type]
            TypeError,
            r"'r' must be a real number, got Tensor",
        ),
    ],
)
def test_objective_rejects_bad_input(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
