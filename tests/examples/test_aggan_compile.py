"""The example's --compile in every configuration it offers: the same losses as eager.

``aot_eager`` traces each half of the step with ``fullgraph=True`` (any graph break is
an error) and runs the traced graphs without generating code, so every configuration is
checked in seconds; one configuration also goes through inductor's generated kernels
(marked slow: plain ``pytest`` skips it, ``pytest -m slow`` and CI run it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from aggan import train as train_script
from aggan_testutils import TINY


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    """Each test builds its own Trainer, whose compiled halves share their code objects
    with every other test's: without a reset, one process runs out of dynamo's
    recompile limit (8 per code object) long before a user's single run would."""
    import torch

    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _losses(faces: Path, out: Path, flags: list[str]) -> list[dict[str, float]]:
    argv = [*TINY, "--data-root", str(faces), "--out", str(out), "--max-steps", "3"]
    assert train_script.main([*argv, "--no-evaluate", "--n-samples", "0", *flags]) == 0
    return [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]


def _assert_same(eager: list[dict[str, float]], compiled: list[dict[str, float]], rel: float):
    assert len(eager) == len(compiled) == 3
    for a, b in zip(eager, compiled, strict=True):
        assert set(a) == set(b)
        for key in a:
            assert math.isclose(a[key], b[key], rel_tol=rel, abs_tol=1e-6), (a["step"], key)


def _bf16() -> list[str]:
    from common.distributed import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bfloat16 kernels")
    return ["--amp", "bf16"]


@pytest.mark.parametrize(
    "flags",
    # The main configuration in the fast suite; the others (5-15 s each) are slow.
    [
        [],
        pytest.param(["--masks", "3"], marks=pytest.mark.slow),
        pytest.param(["--no-attention-discriminator"], marks=pytest.mark.slow),
        pytest.param(["--no-attention-generator"], marks=pytest.mark.slow),
        pytest.param(["--baseline", "cyclegan"], marks=pytest.mark.slow),
        pytest.param(["--no-batch-passes", "--batch-size", "2"], marks=pytest.mark.slow),
        pytest.param("bf16", marks=pytest.mark.slow),
    ],
    ids=["aggan", "masks-3", "no-attention-d", "plain-generators", "cyclegan", "unbatched", "bf16"],
)
def test_every_configuration_compiles_in_one_graph_per_half(
    faces: Path, tmp_path: Path, flags: list[str] | str
) -> None:
    # bfloat16 keeps 8 bits of mantissa: a traced graph that rounds in another order
    # differs from eager by a few parts in a thousand.
    rel = 1e-2 if flags == "bf16" else 1e-5
    flags = _bf16() if flags == "bf16" else flags
    if not flags:
        # Six images a domain in batches of 4: the second step's batch of 2 is a new
        # shape, which recompiles a static graph (dynamo's part, the same whatever the
        # backend) rather than tracing a symbolic batch.
        flags = ["--batch-size", "4"]
    eager = _losses(faces, tmp_path / "eager", flags)
    compiled = _losses(
        faces, tmp_path / "compiled", [*flags, "--compile", "--compile-backend", "aot_eager"]
    )
    _assert_same(eager, compiled, rel=rel)


# Slow (inductor generates and builds C++ on the CPU): `pytest -m slow` and CI run it.
@pytest.mark.slow
def test_inductor_compiled_steps_match_eager(faces: Path, tmp_path: Path) -> None:
    # Batches of 3 of the six images: one shape, so each half compiles once (~2 minutes
    # cold on two cores, half of what a second batch size costs); the recompile for a
    # new batch shape is the aot_eager test's, in the fast suite.
    batches = ["--batch-size", "3"]
    eager = _losses(faces, tmp_path / "eager", batches)
    compiled = _losses(faces, tmp_path / "compiled", [*batches, "--compile"])
    # Generated kernels fuse and reorder float arithmetic: equal to rounding.
    _assert_same(eager, compiled, rel=1e-4)
