"""The fused ops' public backend switch: set_backend, use_backend, get_backend."""

from __future__ import annotations

import pytest
import torch

import attnguide
from attnguide.ops import _backend, blend_tv, get_backend, set_backend, use_backend

FORWARD_OP = "attnguide.blend_tv_forward"


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.rand(1, 1, 4, 5), torch.randn(1, 3, 4, 5), torch.randn(1, 3, 4, 5)


def test_switch_is_exported() -> None:
    for name in ("get_backend", "set_backend", "use_backend"):
        assert name in attnguide.ops.__all__
        assert getattr(attnguide.ops, name) is getattr(attnguide.ops._backend, name)


def test_set_backend_returns_the_previous_setting() -> None:
    initial = get_backend()
    try:
        assert set_backend("torch") == initial
        assert get_backend() == "torch"
        assert set_backend("triton") == "torch"
        assert get_backend() == "triton"
        assert set_backend("auto") == "triton"
        assert get_backend() == "auto"
    finally:
        set_backend(initial)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        (
            "cuda",
            ValueError,
            r"set_backend\(\): 'name' must be one of \('auto', 'torch', 'triton'\), got 'cuda'",
        ),
        # The variable is read case-insensitively; the function takes the names as given.
        ("Torch", ValueError, r"got 'Torch'"),
        (None, TypeError, r"set_backend\(\): 'name' must be a str, one of .* got NoneType"),
    ],
)
def test_bad_names_are_refused_and_change_nothing(name, error, message) -> None:
    initial = get_backend()
    with pytest.raises(error, match=message):
        set_backend(name)
    assert get_backend() == initial
    with pytest.raises(error, match=message), use_backend(name):
        pytest.fail("the block ran with a bad backend name")
    assert get_backend() == initial


def test_use_backend_restores_the_setting() -> None:
    initial = get_backend()
    other = "torch" if initial != "torch" else "auto"
    with use_backend(other) as previous:
        assert previous == initial
        assert get_backend() == other
        with use_backend("triton") as inner_previous:
            assert inner_previous == other
            assert get_backend() == "triton"
        assert get_backend() == other
    assert get_backend() == initial


def test_use_backend_restores_the_setting_on_an_exception() -> None:
    initial = get_backend()
    with pytest.raises(KeyError, match="inside"), use_backend("triton"):
        assert get_backend() == "triton"
        raise KeyError("inside")
    assert get_backend() == initial


def test_use_backend_undoes_a_set_backend_inside_the_block() -> None:
    initial = get_backend()
    with use_backend("torch"):
        set_backend("triton")
    assert get_backend() == initial


def test_error_messages_name_set_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # Raised by whichever of its checks fails here: no triton, or no interpreter.
    monkeypatch.setattr(_backend, "interpreter_enabled", lambda: False)
    origin = _backend._ORIGIN
    with (
        pytest.raises(RuntimeError, match=r"^blend_tv\(\): set_backend\('triton'\) but "),
        use_backend("triton"),
    ):
        blend_tv(*_inputs())
    # Later messages name whatever chose the setting in force again.
    assert origin == _backend._ORIGIN


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def kernel_device(request: pytest.FixtureRequest) -> torch.device:
    """Where the Triton kernels run here: CUDA, or the CPU through triton's interpreter."""
    if request.param == "cuda":
        if not torch.cuda.is_available() or _backend._TRITON_MISSING:
            pytest.skip("CUDA or triton is not available")
    else:
        request.getfixturevalue("interpret")
    return torch.device(request.param)


def test_compiled_function_follows_the_switch(kernel_device: torch.device) -> None:
    # torch.compile reads the setting while tracing; unless it guards on it, a compiled
    # function keeps the path it was first traced with whatever the setting says.
    graphs: list[list[str]] = []

    def record(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):
        graphs.append([str(n.target) for n in gm.graph.nodes if n.op == "call_function"])
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(blend_tv, backend=record, fullgraph=True)
    inputs = [t.to(kernel_device) for t in _inputs()]
    expected = blend_tv(*inputs)
    for setting in ("torch", "triton", "torch", "triton"):
        with use_backend(setting):
            image, tv = compiled(*inputs)
        torch.testing.assert_close(image, expected[0])
        torch.testing.assert_close(tv, expected[1])
    # One graph per setting, each reused when its setting comes back.
    assert len(graphs) == 2, graphs
    assert FORWARD_OP not in " ".join(graphs[0])
    assert FORWARD_OP in " ".join(graphs[1])
