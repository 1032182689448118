from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from _fused import (
    BLOCK_TRITON,
    HAS_TRITON,
    assert_matches,
    cuda,
    load_benchmark,
    needs_triton,
    python,
    run_fused,
    to_channels_last,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import attnguide
from attnguide.ops import _backend, blend, blend_tv, get_backend, total_variation, use_backend
from attnguide.ops.blend_tv import _blend_tv_triton

SHAPES = [(3, 3, 37, 53), (2, 1, 5, 7), (1, 4, 1, 9)]
FORWARD_OP = "attnguide_blend_tv_forward"

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))


def _inputs(shape, seed: int, dtype=torch.float32, *, ties: bool = False, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = shape
    if ties:
        # Values in {0, 0.5, 1}: most neighbours are equal, where |.| has no derivative.
        mask = torch.randint(0, 3, (b, 1, h, w), generator=g).float() / 2
    else:
        mask = torch.rand(b, 1, h, w, generator=g)
    content = torch.randn(b, c, h, w, generator=g)
    source = torch.randn(b, c, h, w, generator=g)
    return tuple(t.to(device=device, dtype=dtype) for t in (mask, content, source))


def _cotangents(shape, seed: int, dtype, device="cpu"):
    g = torch.Generator().manual_seed(seed + 1)
    b, c, h, w = shape
    grad_image = torch.randn(b, c, h, w, generator=g)
    grad_tv = torch.randn(b, generator=g)
    return grad_image.to(device=device, dtype=dtype), grad_tv.to(device=device, dtype=dtype)


def _reference64(inputs, cotangents, needs=(True, True, True)):
    def reference(mask, content, source):
        return blend(mask, content, source), total_variation(mask)

    return run_fused(
        reference, [t.double() for t in inputs], [t.double() for t in cotangents], needs
    )


# --- the public function on its default backend (the reference on the CPU) ----------


def test_golden_values_and_gradients(device: torch.device) -> None:
    # image = 4m - 2; tv: horizontal |0.5 - 0| + |1 - 1|, vertical |1 - 0| + |1 - 0.5|.
    # d_mask = sum_c (content - source) = 4, plus the TV subgradient: the (1, 0)-(1, 1)
    # tie contributes 0, so [[-1 - 1, 1 - 1], [0 + 1, 0 + 1]].
    mask = torch.tensor([[[[0.0, 0.5], [1.0, 1.0]]]], device=device, requires_grad=True)
    content = torch.full((1, 1, 2, 2), 2.0, device=device, requires_grad=True)
    source = torch.full((1, 1, 2, 2), -2.0, device=device, requires_grad=True)
    image, tv = blend_tv(mask, content, source)
    torch.testing.assert_close(image, torch.tensor([[[[-2.0, 0.0], [2.0, 2.0]]]], device=device))
    torch.testing.assert_close(tv, torch.tensor([2.0], device=device))
    (image.sum() + tv.sum()).backward()
    torch.testing.assert_close(mask.grad, torch.tensor([[[[2.0, 4.0], [5.0, 5.0]]]], device=device))
    torch.testing.assert_close(content.grad, mask.detach())
    torch.testing.assert_close(source.grad, 1 - mask.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_reference_equals_blend_and_total_variation(dtype: torch.dtype) -> None:
    mask, content, source = _inputs((2, 3, 6, 5), 0, dtype)
    with use_backend("torch"):
        image, tv = blend_tv(mask, content, source)
    assert image.shape == (2, 3, 6, 5) and tv.shape == (2,)
    assert torch.equal(image, blend(mask, content, source))
    assert torch.equal(tv, total_variation(mask))


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_zero_mask_returns_source_and_no_variation(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed)
    content[0, 0, 0, 0] = 1e30
    image, tv = blend_tv(torch.zeros_like(mask), content, source)
    assert torch.equal(image, source)
    assert torch.equal(tv, torch.zeros(shape[0]))


@given(shape=shapes, seed=st.integers(0, 2**16), value=st.floats(0, 1))
def test_constant_mask_has_zero_variation(shape, seed, value) -> None:
    _, content, source = _inputs(shape, seed)
    mask = torch.full((shape[0], 1, *shape[2:]), value)
    assert torch.equal(blend_tv(mask, content, source)[1], torch.zeros(shape[0]))


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_image_lies_between_content_and_source(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed, torch.float64)
    image, _ = blend_tv(mask, content, source)
    lo, hi = torch.minimum(content, source), torch.maximum(content, source)
    assert bool(((image >= lo - 1e-12) & (image <= hi + 1e-12)).all())


def test_gradcheck() -> None:
    # Random masks have no ties, where the TV has no derivative.
    args = tuple(t.requires_grad_() for t in _inputs((2, 3, 4, 5), 0, torch.float64))
    assert torch.autograd.gradcheck(blend_tv, args)
    assert torch.autograd.gradcheck(lambda *a: blend_tv(*a)[1], args)


def test_batch_of_zero() -> None:
    mask, content, source = (t.requires_grad_() for t in _inputs((0, 3, 4, 5), 0))
    image, tv = blend_tv(mask, content, source)
    assert image.shape == (0, 3, 4, 5) and tv.shape == (0,)
    (image.sum() + tv.sum()).backward()
    assert mask.grad.shape == mask.shape and content.grad.shape == content.shape


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"blend_tv\(\): 'mask' must have shape \(b 1 h w\) with 1 at dimension 1, "
            r"got shape \(2, 3, 4, 4\)",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 5, 4)),
            ValueError,
            r"blend_tv\(\): 'source' has shape \(2, 3, 5, 4\) \(b c h w\) but h=4 from 'mask'",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4).half(), torch.rand(2, 3, 4, 4)),
            TypeError,
            r"blend_tv\(\): 'content' has dtype torch.float16 but 'mask' has torch.float32",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4, device="meta")),
            ValueError,
            r"blend_tv\(\): 'source' is on meta but 'mask' is on cpu",
        ),
        (
            (torch.rand(2, 1, 4, 4), torch.ones(2, 3, 4, 4, dtype=torch.long), None),
            TypeError,
            r"blend_tv\(\): 'content' must be a floating-point tensor, got torch.int64",
        ),
    ],
)
def test_rejects_bad_input(args, error, message) -> None:
    with pytest.raises(error, match=message):
        blend_tv(*args)
    if HAS_TRITON:
        with pytest.raises(error, match=message):
            _blend_tv_triton(*args)


def test_compile_parity_of_the_reference() -> None:
    inputs, cotangents = _inputs((2, 3, 5, 7), 0), _cotangents((2, 3, 5, 7), 0, torch.float32)
    torch._dynamo.reset()
    compiled = torch.compile(blend_tv, fullgraph=True)
    image, tv, grads = run_fused(compiled, inputs, cotangents)
    ref_image, ref_tv, ref_grads = run_fused(blend_tv, inputs, cotangents)
    torch.testing.assert_close(image, ref_image)
    torch.testing.assert_close(tv, ref_tv)
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref)


# --- the backend switch -------------------------------------------------------------


def test_default_backend_is_auto_and_exported() -> None:
    assert get_backend() == (os.environ.get("ATTNGUIDE_BACKEND", "").strip().lower() or "auto")
    assert "blend_tv" in attnguide.ops.__all__ and "get_backend" in attnguide.ops.__all__


def test_auto_and_torch_run_the_reference_on_cpu() -> None:
    mask, content, source = (t.requires_grad_() for t in _inputs((1, 3, 4, 4), 0))
    for setting in ("auto", "torch"):
        with use_backend(setting):
            image, _ = blend_tv(mask, content, source)
        assert FORWARD_OP not in type(image.grad_fn).__name__


@needs_triton
def test_triton_backend_on_cpu_needs_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_backend, "interpreter_enabled", lambda: False)
    with (
        use_backend("triton"),
        pytest.raises(
            RuntimeError,
            match=r"blend_tv\(\): set_backend\('triton'\) but the inputs are CPU tensors and "
            r"triton is not interpreting kernels; .* when TRITON_INTERPRET=1 is set before "
            r"triton is first imported; or select the 'auto' \(or 'torch'\) backend",
        ),
    ):
        blend_tv(*_inputs((1, 3, 4, 4), 0))
    with pytest.raises(RuntimeError, match=r"the Triton kernels were requested but the inputs"):
        _blend_tv_triton(*_inputs((1, 3, 4, 4), 0))


@pytest.mark.usefixtures("interpret")
def test_triton_backend_runs_the_kernels() -> None:
    mask, content, source = (t.requires_grad_() for t in _inputs((1, 3, 4, 4), 0))
    with use_backend("triton"):
        image, _ = blend_tv(mask, content, source)
    assert FORWARD_OP in type(image.grad_fn).__name__


@needs_triton
def test_triton_backend_rejects_other_devices() -> None:
    meta = [t.to("meta") for t in _inputs((1, 3, 4, 4), 0)]
    with (
        use_backend("triton"),
        pytest.raises(RuntimeError, match=r"set_backend\('triton'\) but the inputs are on meta"),
    ):
        blend_tv(*meta)


def test_import_and_auto_work_without_triton() -> None:
    code = (
        BLOCK_TRITON
        + """
import torch
import attnguide
from attnguide.ops import blend_tv, get_backend
assert "triton" not in sys.modules
assert get_backend() == "auto"
image, tv = blend_tv(torch.zeros(1, 1, 2, 2), torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 2))
assert tv.tolist() == [0.0]
"""
    )
    result = python(code, {})
    assert result.returncode == 0, result.stderr


def test_triton_backend_without_triton_is_a_clear_error() -> None:
    code = (
        BLOCK_TRITON
        + """
import torch
import attnguide
from attnguide.ops import blend_tv
blend_tv(torch.zeros(1, 1, 2, 2), torch.ones(1, 3, 2, 2), torch.ones(1, 3, 2, 2))
"""
    )
    result = python(code, {"ATTNGUIDE_BACKEND": "triton", "TRITON_INTERPRET": "1"})
    assert result.returncode != 0
    assert (
        "RuntimeError: blend_tv(): ATTNGUIDE_BACKEND=triton but triton cannot be imported "
        "(ModuleNotFoundError: No module named 'triton'); install it with "
        'pip install "attnguide[triton]"'
    ) in result.stderr


def test_unknown_backend_fails_at_import() -> None:
    result = python("import attnguide", {"ATTNGUIDE_BACKEND": "cuda"})
    assert result.returncode != 0
    assert (
        "ValueError: ATTNGUIDE_BACKEND must be one of ('auto', 'torch', 'triton') (or unset, "
        "meaning 'auto'), got 'cuda'"
    ) in result.stderr


@needs_triton
def test_triton_backend_end_to_end_in_the_interpreter() -> None:
    # The variable is read at import, so only a fresh interpreter shows it working.
    code = """
import torch
from attnguide.ops import blend, blend_tv, get_backend, total_variation
assert get_backend() == "triton"
mask = torch.rand(2, 1, 5, 7, requires_grad=True)
content, source = torch.randn(2, 3, 5, 7), torch.randn(2, 3, 5, 7)
image, tv = blend_tv(mask, content, source)
assert "attnguide_blend_tv_forward" in type(image.grad_fn).__name__
torch.testing.assert_close(image, blend(mask, content, source))
torch.testing.assert_close(tv, total_variation(mask))
(image.sum() + tv.sum()).backward()
reference = blend(mask, content, source).sum() + total_variation(mask).sum()
torch.testing.assert_close(mask.grad, torch.autograd.grad(reference, mask)[0])
print("ok")
"""
    result = python(code, {"ATTNGUIDE_BACKEND": "TRITON", "TRITON_INTERPRET": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- the Triton kernels, on CPU tensors through triton's interpreter ------------------


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str
)
def test_kernels_match_float64_reference(shape, dtype) -> None:
    inputs, cotangents = _inputs(shape, 1, dtype), _cotangents(shape, 1, dtype)
    assert_matches(
        run_fused(_blend_tv_triton, inputs, cotangents), _reference64(inputs, cotangents), dtype
    )


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_kernels_tie_subgradient_is_zero(dtype) -> None:
    shape = (3, 2, 37, 53)
    inputs, cotangents = _inputs(shape, 2, dtype, ties=True), _cotangents(shape, 2, dtype)
    expected = _reference64(inputs, cotangents)
    assert_matches(run_fused(_blend_tv_triton, inputs, cotangents), expected, dtype)
    # With only the TV's gradient flowing, ties are decided exactly: integer results.
    zero_image = torch.zeros_like(cotangents[0])
    ones_tv = torch.ones_like(cotangents[1])
    _, _, grads = run_fused(_blend_tv_triton, inputs, (zero_image, ones_tv))
    _, _, ref_grads = _reference64(inputs, (zero_image, ones_tv))
    assert torch.equal(grads[0].double(), ref_grads[0])
    assert bool((ref_grads[0] == 0).any())


@pytest.mark.usefixtures("interpret")
def test_kernels_constant_mask_has_no_tv_gradient() -> None:
    mask = torch.full((2, 1, 5, 7), 0.25, requires_grad=True)
    _, tv = _blend_tv_triton(mask, torch.randn(2, 3, 5, 7), torch.randn(2, 3, 5, 7))
    assert torch.equal(tv, torch.zeros(2))
    tv.sum().backward()
    assert torch.equal(mask.grad, torch.zeros_like(mask))


@pytest.mark.usefixtures("interpret")
def test_kernels_golden_values() -> None:
    mask = torch.tensor([[[[0.0, 0.5], [1.0, 1.0]]]], requires_grad=True)
    content = torch.full((1, 1, 2, 2), 2.0, requires_grad=True)
    source = torch.full((1, 1, 2, 2), -2.0, requires_grad=True)
    image, tv = _blend_tv_triton(mask, content, source)
    assert torch.equal(image, torch.tensor([[[[-2.0, 0.0], [2.0, 2.0]]]]))
    assert torch.equal(tv, torch.tensor([2.0]))
    (image.sum() + tv.sum()).backward()
    assert torch.equal(mask.grad, torch.tensor([[[[2.0, 4.0], [5.0, 5.0]]]]))
    assert torch.equal(content.grad, mask.detach())
    assert torch.equal(source.grad, 1 - mask.detach())


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize(
    "layout",
    ["channels_last", "mixed", "strided", "expanded_source", "strided_grad"],
)
def test_kernels_memory_formats(layout) -> None:
    shape = (3, 3, 37, 53)
    mask, content, source = _inputs(shape, 3)
    grad_image, grad_tv = _cotangents(shape, 3, torch.float32)
    expected_channels_last = False
    if layout == "channels_last":
        mask, content, source = map(to_channels_last, (mask, content, source))
        grad_image = to_channels_last(grad_image)
        expected_channels_last = True
    elif layout == "mixed":
        content, grad_image = to_channels_last(content), to_channels_last(grad_image)
        expected_channels_last = True
    elif layout == "strided":
        # Every other column of wider tensors, and a channel slice: no dense layout.
        mask = torch.rand(3, 2, 37, 106)[:, :1, :, ::2]
        content = torch.randn(3, 4, 37, 106)[:, 1:, :, ::2]
        source = torch.randn(3, 3, 53, 37).transpose(-1, -2)
    elif layout == "expanded_source":
        source = source[:1].expand(3, -1, -1, -1)
    else:
        grad_image = torch.randn(3, 53, 37, 3).permute(0, 3, 2, 1)
    inputs, cotangents = (mask, content, source), (grad_image, grad_tv)
    actual = run_fused(_blend_tv_triton, inputs, cotangents)
    assert actual[0].is_contiguous(
        memory_format=torch.channels_last if expected_channels_last else torch.contiguous_format
    )
    assert_matches(actual, _reference64(inputs, cotangents), torch.float32)


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize(
    "needs",
    [(True, True, False), (True, False, False), (False, True, True), (False, False, True)],
    ids=["mask+content", "mask", "content+source", "source"],
)
def test_kernels_compute_only_the_gradients_needed(needs) -> None:
    shape = (2, 3, 5, 7)
    inputs, cotangents = _inputs(shape, 4), _cotangents(shape, 4, torch.float32)
    assert_matches(
        run_fused(_blend_tv_triton, inputs, cotangents, needs),
        _reference64(inputs, cotangents, needs),
        torch.float32,
    )


@pytest.mark.usefixtures("interpret")
def test_kernels_with_one_output_used() -> None:
    shape = (2, 3, 5, 7)
    mask, content, source = (t.requires_grad_() for t in _inputs(shape, 5))
    image, tv = _blend_tv_triton(mask, content, source)
    tv.sum().backward()
    expected = torch.autograd.grad(total_variation(mask).sum(), mask)[0]
    torch.testing.assert_close(mask.grad, expected)
    assert torch.equal(content.grad, torch.zeros_like(content))
    mask.grad = None
    image, tv = _blend_tv_triton(mask, content, source)
    image.sum().backward()
    torch.testing.assert_close(mask.grad, (content - source).sum(1, keepdim=True))


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (2, 3, 0, 5), (2, 1, 1, 1)])
def test_kernels_degenerate_sizes(shape) -> None:
    inputs, cotangents = _inputs(shape, 6), _cotangents(shape, 6, torch.float32)
    assert_matches(
        run_fused(_blend_tv_triton, inputs, cotangents),
        _reference64(inputs, cotangents),
        torch.float32,
    )


@pytest.mark.usefixtures("interpret")
@settings(max_examples=8)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_kernels_zero_mask_returns_source_bit_exactly(shape, seed) -> None:
    mask, content, source = _inputs(shape, seed)
    image, tv = _blend_tv_triton(torch.zeros_like(mask), content, source)
    assert torch.equal(image, source)
    assert torch.equal(tv, torch.zeros(shape[0]))


@pytest.mark.usefixtures("interpret")
def test_kernels_compile_parity() -> None:
    # aot_eager: the op's fake implementation and autograd formula are traced, and the
    # interpreted kernels run at call time (inductor adds nothing to an opaque op).
    shape = (2, 3, 5, 7)
    inputs, cotangents = _inputs(shape, 7), _cotangents(shape, 7, torch.float32)
    torch._dynamo.reset()
    compiled = torch.compile(_blend_tv_triton, backend="aot_eager", fullgraph=True)
    actual = run_fused(compiled, inputs, cotangents)
    expected = run_fused(_blend_tv_triton, inputs, cotangents)
    for a, e in zip(actual[:2] + tuple(actual[2]), expected[:2] + tuple(expected[2]), strict=True):
        assert torch.equal(a, e)


@needs_triton
def test_kernel_rejects_samples_beyond_int32_offsets() -> None:
    from attnguide.ops._triton_blend_tv import _check_sizes

    with pytest.raises(ValueError, match=r"one sample of 'content' must hold fewer than 2\*\*31"):
        _check_sizes(torch.empty(1, 2, 2**15, 2**15, device="meta"))
    _check_sizes(torch.empty(9, 1, 2**15, 2**15 - 1, device="meta"))


@pytest.mark.usefixtures("interpret")
def test_benchmark_script_runs_and_writes_json(tmp_path: Path, capsys) -> None:
    bench = load_benchmark("bench_blend_tv")
    assert bench.min_bytes("fwd", 2, 3, 4, 5, 4) == 2 * 20 * 4 * 10 + 2 * 4
    assert bench.min_bytes("bwd", 2, 3, 4, 5, 2) == 2 * 20 * 2 * 17 + 2 * 2
    threads = torch.get_num_threads()
    try:
        # The interpreted kernels are far too slow to time; this only runs the code path.
        args = "--device cpu --batch 2 --size 8 --dtype float32 --providers eager attnguide"
        assert bench.main([*args.split(), "--output", str(tmp_path / "out.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["device_type"] == "cpu" and report["torch"] == torch.__version__
    assert {"device", "triton", "platform", "copy_bandwidth_gbps"} <= report.keys()
    rows = report["results"]
    assert {(r["provider"], r["mode"]) for r in rows} == {
        (p, m) for p in ("eager", "attnguide") for m in ("fwd", "bwd", "fwd+bwd")
    }
    assert all(r["median_ms"] > 0 and r["peak_memory_mib"] is None for r in rows)
    assert "attnguide" in capsys.readouterr().out


# --- CUDA: the compiled kernels (skipped without a GPU) ---------------------------------


@cuda
@needs_triton
@pytest.mark.cuda
@pytest.mark.parametrize("shape", [*SHAPES, (4, 3, 256, 256)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_kernels_match_float64_reference(shape, dtype, channels_last) -> None:
    inputs = _inputs(shape, 8, dtype, device="cuda")
    cotangents = _cotangents(shape, 8, dtype, device="cuda")
    if channels_last:
        inputs = tuple(map(to_channels_last, inputs))
    assert_matches(
        run_fused(_blend_tv_triton, inputs, cotangents), _reference64(inputs, cotangents), dtype
    )


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_ties_and_auto_backend() -> None:
    shape = (3, 2, 37, 53)
    inputs = _inputs(shape, 9, ties=True, device="cuda")
    cotangents = _cotangents(shape, 9, torch.float32, device="cuda")
    actual = run_fused(blend_tv, inputs, cotangents)
    assert_matches(actual, _reference64(inputs, cotangents), torch.float32)
    if get_backend() == "auto":
        image, _ = blend_tv(*(t.requires_grad_() for t in inputs))
        assert FORWARD_OP in type(image.grad_fn).__name__


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_compile_parity() -> None:
    shape = (4, 3, 64, 96)
    inputs = _inputs(shape, 10, device="cuda")
    cotangents = _cotangents(shape, 10, torch.float32, device="cuda")
    torch._dynamo.reset()
    compiled = torch.compile(_blend_tv_triton, fullgraph=True)
    actual = run_fused(compiled, inputs, cotangents)
    assert_matches(actual, _reference64(inputs, cotangents), torch.float32)


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_forward_is_deterministic() -> None:
    inputs = _inputs((8, 3, 128, 128), 11, device="cuda")
    first = _blend_tv_triton(*inputs)
    for _ in range(3):
        again = _blend_tv_triton(*inputs)
        assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
