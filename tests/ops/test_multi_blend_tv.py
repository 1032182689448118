from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _fused import (
    BLOCK_TRITON,
    HAS_TRITON,
    ROOT,
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
from attnguide.ops import (
    blend_tv,
    multi_blend,
    multi_blend_tv,
    total_variation,
    use_backend,
)
from attnguide.ops.multi_blend_tv import _multi_blend_tv_triton

NAMES = ("masks", "contents", "source")
# (b, k, c, h, w): k = 2, 3 and 10 masks; 37x53 and 17x19 cross tile borders.
SHAPES = [(3, 3, 3, 37, 53), (2, 2, 1, 5, 7), (2, 10, 3, 17, 19), (1, 10, 4, 1, 9)]
FORWARD_OP = "attnguide_multi_blend_tv_forward"

shapes = st.tuples(
    st.integers(1, 2), st.integers(2, 4), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7)
)


def _inputs(shape, seed: int, dtype=torch.float32, *, ties: bool = False, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    b, k, c, h, w = shape
    if ties:
        # Values in {0, 0.5, 1}: most neighbours are equal, where |.| has no derivative.
        masks = torch.randint(0, 3, (b, k, h, w), generator=g).float() / 2
    else:
        masks = torch.softmax(2 * torch.randn(b, k, h, w, generator=g), dim=1)
    contents = torch.randn(b, k - 1, c, h, w, generator=g)
    source = torch.randn(b, c, h, w, generator=g)
    return tuple(t.to(device=device, dtype=dtype) for t in (masks, contents, source))


def _cotangents(shape, seed: int, dtype, device="cpu"):
    g = torch.Generator().manual_seed(seed + 1)
    b, _, c, h, w = shape
    grad_image = torch.randn(b, c, h, w, generator=g)
    grad_tv = torch.randn(b, generator=g)
    return grad_image.to(device=device, dtype=dtype), grad_tv.to(device=device, dtype=dtype)


def _reference64(inputs, cotangents, needs=(True, True, True)):
    def reference(masks, contents, source):
        return multi_blend(masks, contents, source), total_variation(masks[:, :-1])

    inputs64 = [t.double() for t in inputs]
    return run_fused(reference, inputs64, [t.double() for t in cotangents], needs)


def _assert_matches(actual, expected, dtype) -> None:
    assert_matches(actual, expected, dtype, NAMES)


def _golden():
    # k = 3, one channel. Foreground masks m0 = [[1, 0], [0, 0]], m1 = [[0, .5], [.5, 0]],
    # the background their complement; contents 2 and 4, source -2.
    m0 = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    m1 = torch.tensor([[0.0, 0.5], [0.5, 0.0]])
    masks = torch.stack([m0, m1, 1 - m0 - m1])[None]
    contents = torch.tensor([2.0, 4.0]).view(1, 2, 1, 1, 1).expand(1, 2, 1, 2, 2).clone()
    source = torch.full((1, 1, 2, 2), -2.0)
    # image = 2 m0 + 4 m1 - 2 m2; tv = TV(m0) + TV(m1) = 2 + 2.
    image = torch.tensor([[[[2.0, 1.0], [1.0, -2.0]]]])
    tv = torch.tensor([4.0])
    # d/d m_i of image.sum() + tv.sum(): content i (source for the background) plus,
    # for the foreground, the TV subgradient (0 at the m0 (1, 1)-(0, 1) and (1, 0) ties).
    d_masks = torch.stack(
        [
            2 + torch.tensor([[2.0, -1.0], [-1.0, 0.0]]),
            4 + torch.tensor([[-2.0, 2.0], [2.0, -2.0]]),
            torch.full((2, 2), -2.0),
        ]
    )[None]
    return (masks, contents, source), (image, tv, d_masks)


def _check_golden(fn, device, exact: bool) -> None:
    (masks, contents, source), (image, tv, d_masks) = _golden()
    masks, contents, source = (t.to(device).requires_grad_() for t in (masks, contents, source))
    out_image, out_tv = fn(masks, contents, source)
    (out_image.sum() + out_tv.sum()).backward()
    check = torch.equal if exact else torch.allclose
    assert check(out_image, image.to(device)), out_image
    assert check(out_tv, tv.to(device)), out_tv
    assert check(masks.grad, d_masks.to(device)), masks.grad
    assert check(contents.grad, masks.detach()[:, :2, None].expand_as(contents))
    assert check(source.grad, masks.detach()[:, 2:])


# --- the public function on its default backend (the reference on the CPU) ----------


def test_golden_values_and_gradients(device: torch.device) -> None:
    _check_golden(multi_blend_tv, device, exact=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_reference_equals_multi_blend_and_total_variation(dtype: torch.dtype) -> None:
    masks, contents, source = _inputs((2, 4, 3, 6, 5), 0, dtype)
    with use_backend("torch"):
        image, tv = multi_blend_tv(masks, contents, source)
    assert image.shape == (2, 3, 6, 5) and tv.shape == (2,)
    assert image.dtype == tv.dtype == dtype
    assert torch.equal(image, multi_blend(masks, contents, source))
    assert torch.equal(tv, total_variation(masks[:, :-1]))


def test_two_masks_equal_blend_tv() -> None:
    (mask, _, _), content, source = _inputs((2, 2, 3, 6, 5), 1), *_inputs((2, 2, 3, 6, 5), 2)[1:]
    mask = mask[:, :1]
    image, tv = multi_blend_tv(torch.cat([mask, 1 - mask], dim=1), content, source)
    expected_image, expected_tv = blend_tv(mask, content[:, 0], source)
    torch.testing.assert_close(image, expected_image)
    torch.testing.assert_close(tv, expected_tv)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_background_only_returns_source_and_no_variation(shape, seed) -> None:
    masks, contents, source = _inputs(shape, seed)
    masks = torch.zeros_like(masks)
    masks[:, -1] = 1.0
    contents[0, 0, 0, 0, 0] = 1e30
    image, tv = multi_blend_tv(masks, contents, source)
    assert torch.equal(image, source)
    assert torch.equal(tv, torch.zeros(shape[0]))


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_constant_masks_have_zero_variation(shape, seed) -> None:
    masks, contents, source = _inputs(shape, seed)
    masks = torch.softmax(torch.randn(shape[1]), 0).view(1, -1, 1, 1).expand_as(masks)
    assert torch.equal(multi_blend_tv(masks, contents, source)[1], torch.zeros(shape[0]))


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_image_is_a_convex_combination(shape, seed) -> None:
    masks, contents, source = _inputs(shape, seed, torch.float64)
    image, _ = multi_blend_tv(masks, contents, source)
    everything = torch.cat([contents, source.unsqueeze(1)], dim=1)
    assert bool((image >= everything.amin(dim=1) - 1e-12).all())
    assert bool((image <= everything.amax(dim=1) + 1e-12).all())


def test_gradcheck() -> None:
    # Random masks have no ties, where the TV has no derivative.
    args = tuple(t.requires_grad_() for t in _inputs((2, 3, 2, 4, 5), 0, torch.float64))
    assert torch.autograd.gradcheck(multi_blend_tv, args)
    assert torch.autograd.gradcheck(lambda *a: multi_blend_tv(*a)[1], args)


def test_batch_of_zero() -> None:
    masks, contents, source = (t.requires_grad_() for t in _inputs((0, 3, 3, 4, 5), 0))
    image, tv = multi_blend_tv(masks, contents, source)
    assert image.shape == (0, 3, 4, 5) and tv.shape == (0,)
    (image.sum() + tv.sum()).backward()
    assert masks.grad.shape == masks.shape and contents.grad.shape == contents.shape


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            (torch.rand(2, 1, 4, 4), torch.rand(2, 0, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"multi_blend_tv\(\): 'masks' must hold k >= 2 masks \(b k h w\), got k=1 with "
            r"shape \(2, 1, 4, 4\); use blend_tv\(\) for a single mask",
        ),
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 3, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"multi_blend_tv\(\): 'contents' has shape \(2, 3, 3, 4, 4\) \(b n c h w\) but "
            r"n=2 from 'masks \(k - 1\)'",
        ),
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 2, 3, 4, 4), torch.rand(2, 3, 5, 4)),
            ValueError,
            r"multi_blend_tv\(\): 'source' has shape \(2, 3, 5, 4\) \(b c h w\) but h=4 from "
            r"'masks'",
        ),
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 2, 3, 4, 4), torch.rand(2, 4, 4, 4)),
            ValueError,
            r"multi_blend_tv\(\): 'source' has shape \(2, 4, 4, 4\) \(b c h w\) but c=3 from "
            r"'contents'",
        ),
        (
            (torch.rand(2, 3, 4), torch.rand(2, 2, 3, 4, 4), torch.rand(2, 3, 4, 4)),
            ValueError,
            r"multi_blend_tv\(\): 'masks' must have 4 dimensions \(b k h w\), got 3",
        ),
        (
            (torch.rand(2, 3, 4, 4), torch.rand(2, 2, 3, 4, 4).half(), torch.rand(2, 3, 4, 4)),
            TypeError,
            r"multi_blend_tv\(\): 'contents' has dtype torch.float16 but 'masks' has "
            r"torch.float32",
        ),
        (
            (
                torch.rand(2, 3, 4, 4),
                torch.rand(2, 2, 3, 4, 4),
                torch.rand(2, 3, 4, 4, device="meta"),
            ),
            ValueError,
            r"multi_blend_tv\(\): 'source' is on meta but 'masks' is on cpu",
        ),
        (
            (torch.rand(2, 3, 4, 4), torch.ones(2, 2, 3, 4, 4, dtype=torch.long), None),
            TypeError,
            r"multi_blend_tv\(\): 'contents' must be a floating-point tensor, got torch.int64",
        ),
    ],
)
def test_rejects_bad_input(args, error, message) -> None:
    with pytest.raises(error, match=message):
        multi_blend_tv(*args)
    if HAS_TRITON:
        with pytest.raises(error, match=message):
            _multi_blend_tv_triton(*args)


def test_compile_parity_of_the_reference() -> None:
    shape = (2, 3, 3, 5, 7)
    inputs, cotangents = _inputs(shape, 0), _cotangents(shape, 0, torch.float32)
    torch._dynamo.reset()
    compiled = torch.compile(multi_blend_tv, fullgraph=True)
    image, tv, grads = run_fused(compiled, inputs, cotangents)
    ref_image, ref_tv, ref_grads = run_fused(multi_blend_tv, inputs, cotangents)
    torch.testing.assert_close(image, ref_image)
    torch.testing.assert_close(tv, ref_tv)
    for grad, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref)


# --- the backend switch -------------------------------------------------------------


def test_exported() -> None:
    assert "multi_blend_tv" in attnguide.ops.__all__
    assert attnguide.ops.multi_blend_tv is multi_blend_tv


def test_auto_and_torch_run_the_reference_on_cpu() -> None:
    masks, contents, source = (t.requires_grad_() for t in _inputs((1, 3, 3, 4, 4), 0))
    for setting in ("auto", "torch"):
        with use_backend(setting):
            image, _ = multi_blend_tv(masks, contents, source)
        assert FORWARD_OP not in type(image.grad_fn).__name__


@pytest.mark.usefixtures("interpret")
def test_triton_backend_runs_the_kernels() -> None:
    masks, contents, source = (t.requires_grad_() for t in _inputs((1, 3, 3, 4, 4), 0))
    with use_backend("triton"):
        image, _ = multi_blend_tv(masks, contents, source)
    assert FORWARD_OP in type(image.grad_fn).__name__


@needs_triton
def test_triton_backend_rejects_other_devices() -> None:
    meta = [t.to("meta") for t in _inputs((1, 3, 3, 4, 4), 0)]
    with (
        use_backend("triton"),
        pytest.raises(
            RuntimeError,
            match=r"multi_blend_tv\(\): set_backend\('triton'\) but the inputs are on meta",
        ),
    ):
        multi_blend_tv(*meta)


def test_triton_backend_without_triton_is_a_clear_error() -> None:
    code = (
        BLOCK_TRITON
        + """
import torch
from attnguide.ops import multi_blend_tv
assert "triton" not in sys.modules
masks = torch.full((1, 2, 2, 2), 0.5)
image, tv = multi_blend_tv(masks, torch.ones(1, 1, 3, 2, 2), torch.ones(1, 3, 2, 2))
assert tv.tolist() == [0.0]
from attnguide.ops import set_backend
set_backend("triton")
multi_blend_tv(masks, torch.ones(1, 1, 3, 2, 2), torch.ones(1, 3, 2, 2))
"""
    )
    result = python(code, {"TRITON_INTERPRET": "1"})
    assert result.returncode != 0
    assert (
        "RuntimeError: multi_blend_tv(): set_backend('triton') but triton cannot be imported "
        "(ModuleNotFoundError: No module named 'triton'); install it with "
        'pip install "attnguide[triton]"'
    ) in result.stderr


# --- the Triton kernels, on CPU tensors through triton's interpreter ------------------


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str
)
def test_kernels_match_float64_reference(shape, dtype) -> None:
    inputs, cotangents = _inputs(shape, 1, dtype), _cotangents(shape, 1, dtype)
    _assert_matches(
        run_fused(_multi_blend_tv_triton, inputs, cotangents),
        _reference64(inputs, cotangents),
        dtype,
    )


@pytest.mark.usefixtures("interpret")
def test_kernels_golden_values() -> None:
    _check_golden(_multi_blend_tv_triton, torch.device("cpu"), exact=True)


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_kernels_tie_subgradient_is_zero(dtype) -> None:
    shape = (2, 3, 2, 37, 53)
    inputs, cotangents = _inputs(shape, 2, dtype, ties=True), _cotangents(shape, 2, dtype)
    expected = _reference64(inputs, cotangents)
    _assert_matches(run_fused(_multi_blend_tv_triton, inputs, cotangents), expected, dtype)
    # With only the TV's gradient flowing, ties are decided exactly: integer results.
    zero_image = torch.zeros_like(cotangents[0])
    ones_tv = torch.ones_like(cotangents[1])
    _, _, grads = run_fused(_multi_blend_tv_triton, inputs, (zero_image, ones_tv))
    _, _, ref_grads = _reference64(inputs, (zero_image, ones_tv))
    assert torch.equal(grads[0].double(), ref_grads[0])
    assert bool((ref_grads[0][:, :-1] == 0).any())
    # The background mask carries no TV: with no image gradient it gets none at all.
    assert torch.equal(grads[0][:, -1], torch.zeros_like(grads[0][:, -1]))


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize(
    "layout",
    [
        "channels_last",
        "channels_last_source",
        "channels_last_contents",
        "channels_last_masks",
        "strided",
        "expanded_source",
        "strided_grad",
    ],
)
def test_kernels_memory_formats(layout) -> None:
    shape = (3, 3, 3, 37, 53)
    b, k, c, h, w = shape
    masks, contents, source = _inputs(shape, 3)
    grad_image, grad_tv = _cotangents(shape, 3, torch.float32)

    def contents_last(t: torch.Tensor) -> torch.Tensor:
        # (b, n, c, h, w) stored as (b, n, h, w, c): per-mask channels-last images.
        return t.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)

    if layout == "channels_last":
        contents, source = contents_last(contents), to_channels_last(source)
        masks, grad_image = to_channels_last(masks), to_channels_last(grad_image)
    elif layout == "channels_last_source":
        source, grad_image = to_channels_last(source), to_channels_last(grad_image)
    elif layout == "channels_last_contents":
        contents = contents_last(contents)
    elif layout == "channels_last_masks":
        masks = to_channels_last(masks)
    elif layout == "strided":
        # Every other column of wider tensors, and slices: no dense layout.
        masks = torch.softmax(torch.randn(b, k + 1, h, 2 * w), dim=1)[:, 1:, :, ::2]
        contents = torch.randn(b, k, c + 1, h, 2 * w)[:, 1:, 1:, :, ::2]
        source = torch.randn(b, c, w, h).transpose(-1, -2)
    elif layout == "expanded_source":
        source = source[:1].expand(b, -1, -1, -1)
    else:
        grad_image = torch.randn(b, w, h, c).permute(0, 3, 2, 1)
    inputs, cotangents = (masks, contents, source), (grad_image, grad_tv)
    actual = run_fused(_multi_blend_tv_triton, inputs, cotangents)
    # The image takes the source's layout when it is dense, NCHW otherwise.
    source_last = layout in ("channels_last", "channels_last_source")
    fmt = torch.channels_last if source_last else torch.contiguous_format
    assert actual[0].is_contiguous(memory_format=fmt)
    _assert_matches(actual, _reference64(inputs, cotangents), torch.float32)


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize(
    "needs",
    [(True, True, False), (True, False, False), (False, True, True), (False, False, True)],
    ids=["masks+contents", "masks", "contents+source", "source"],
)
def test_kernels_compute_only_the_gradients_needed(needs) -> None:
    shape = (2, 3, 3, 5, 7)
    inputs, cotangents = _inputs(shape, 4), _cotangents(shape, 4, torch.float32)
    _assert_matches(
        run_fused(_multi_blend_tv_triton, inputs, cotangents, needs),
        _reference64(inputs, cotangents, needs),
        torch.float32,
    )


@pytest.mark.usefixtures("interpret")
def test_kernels_with_one_output_used() -> None:
    shape = (2, 3, 3, 5, 7)
    masks, contents, source = (t.requires_grad_() for t in _inputs(shape, 5))
    _, tv = _multi_blend_tv_triton(masks, contents, source)
    tv.sum().backward()
    expected = torch.autograd.grad(total_variation(masks[:, :-1]).sum(), masks)[0]
    torch.testing.assert_close(masks.grad, expected)
    assert torch.equal(contents.grad, torch.zeros_like(contents))
    masks.grad = None
    image, _ = _multi_blend_tv_triton(masks, contents, source)
    image.sum().backward()
    everything = torch.cat([contents, source.unsqueeze(1)], dim=1)
    torch.testing.assert_close(masks.grad, everything.sum(dim=2))


@pytest.mark.usefixtures("interpret")
@pytest.mark.parametrize(
    "shape", [(0, 3, 3, 4, 5), (2, 3, 3, 0, 5), (2, 2, 1, 1, 1), (2, 3, 0, 4, 5)]
)
def test_kernels_degenerate_sizes(shape) -> None:
    inputs, cotangents = _inputs(shape, 6), _cotangents(shape, 6, torch.float32)
    _assert_matches(
        run_fused(_multi_blend_tv_triton, inputs, cotangents),
        _reference64(inputs, cotangents),
        torch.float32,
    )


@pytest.mark.usefixtures("interpret")
@settings(max_examples=8)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_kernels_background_only_returns_source_bit_exactly(shape, seed) -> None:
    masks, contents, source = _inputs(shape, seed)
    masks = torch.zeros_like(masks)
    masks[:, -1] = 1.0
    image, tv = _multi_blend_tv_triton(masks, contents, source)
    assert torch.equal(image, source)
    assert torch.equal(tv, torch.zeros(shape[0]))


@pytest.mark.usefixtures("interpret")
def test_kernels_compile_parity() -> None:
    # aot_eager: the op's fake implementation and autograd formula are traced, and the
    # interpreted kernels run at call time (inductor adds nothing to an opaque op).
    shape = (2, 3, 3, 5, 7)
    inputs, cotangents = _inputs(shape, 7), _cotangents(shape, 7, torch.float32)
    torch._dynamo.reset()
    compiled = torch.compile(_multi_blend_tv_triton, backend="aot_eager", fullgraph=True)
    actual = run_fused(compiled, inputs, cotangents)
    expected = run_fused(_multi_blend_tv_triton, inputs, cotangents)
    for a, e in zip(actual[:2] + tuple(actual[2]), expected[:2] + tuple(expected[2]), strict=True):
        assert torch.equal(a, e)


@pytest.mark.usefixtures("interpret")
def test_kernels_are_first_order_only() -> None:
    masks, contents, source = (t.requires_grad_() for t in _inputs((1, 3, 2, 4, 5), 8))
    image, tv = _multi_blend_tv_triton(masks, contents, source)
    (grad,) = torch.autograd.grad(image.square().sum() + tv.sum(), masks, create_graph=True)
    with pytest.raises(RuntimeError, match=r"multi_blend_tv_backward.* no autograd formula"):
        grad.sum().backward()


@needs_triton
def test_kernel_rejects_samples_beyond_int32_offsets() -> None:
    from attnguide.ops._triton_multi_blend_tv import _check_sizes

    def meta(*shape: int) -> torch.Tensor:
        return torch.empty(*shape, device="meta")

    hw = (2**14, 2**15)  # 2**29 pixels
    with pytest.raises(ValueError, match=r"one sample of 'contents' must hold fewer than 2\*\*31"):
        _check_sizes(meta(1, 3, *hw), meta(1, 2, 2, *hw))
    # One channel: the masks are the larger tensor, (n + 1) planes against n.
    with pytest.raises(ValueError, match=r"one sample of 'masks' must hold fewer than 2\*\*31"):
        _check_sizes(meta(1, 4, *hw), meta(1, 3, 1, *hw))
    _check_sizes(meta(9, 3, *hw), meta(9, 2, 1, *hw))


@pytest.mark.usefixtures("interpret")
def test_benchmark_script_runs_and_writes_json(tmp_path: Path, capsys) -> None:
    bench = load_benchmark("bench_multi_blend_tv")
    # b=2, k=3, c=2, 4x5 float32 planes of 2 * 20 * 4 bytes. Forward: 3 mask planes,
    # 2 * 2 content planes, 2 source planes in, 2 image planes and b tv values out.
    assert bench.min_bytes("fwd", 2, 3, 2, 4, 5, 4) == 160 * (3 + 4 + 2 + 2) + 2 * 4
    # Backward: grad_image (2), masks (3), contents (4), source (2) and grad_tv in; the
    # gradients of masks (3), contents (4) and source (2) out.
    assert bench.min_bytes("bwd", 2, 3, 2, 4, 5, 4) == 160 * (2 + 3 + 4 + 2 + 3 + 4 + 2) + 2 * 4
    threads = torch.get_num_threads()
    args = "--device cpu --batch 2 --size 8 --dtype float32 --providers eager attnguide"
    try:
        # The interpreted kernels are far too slow to time; this only runs the code path.
        out = tmp_path / "out.json"
        assert bench.main([*args.split(), "--masks", "3", "--output", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    report = json.loads(out.read_text())
    assert report["benchmark"] == "multi_blend_tv" and report["device_type"] == "cpu"
    assert report["params"] == {"masks": 3, "channels": 3}
    assert {"device", "torch", "triton", "platform", "copy_bandwidth_gbps"} <= report.keys()
    rows = report["results"]
    assert {(r["provider"], r["mode"]) for r in rows} == {
        (p, m) for p in ("eager", "attnguide") for m in ("fwd", "bwd", "fwd+bwd")
    }
    assert all(r["masks"] == 3 and r["channels"] == 3 for r in rows)
    assert all(r["median_ms"] > 0 and r["peak_memory_mib"] is None for r in rows)
    assert "incomplete" not in report
    assert "multi_blend_tv (masks=3, channels=3)" in capsys.readouterr().out


def test_benchmark_budget_cuts_the_sweep_short_and_says_so(tmp_path: Path) -> None:
    bench = load_benchmark("bench_multi_blend_tv")
    threads = torch.get_num_threads()
    out = tmp_path / "out.json"
    try:
        args = "--device cpu --batch 1 2 --size 8 --dtype float32 --providers eager"
        status = bench.main([*args.split(), "--budget-s", "0", "--output", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert status == 3
    report = json.loads(out.read_text())
    assert report["results"] == []
    assert report["incomplete"]["skipped"] == [
        {"dtype": "float32", "height": 8, "width": 8, "batch": b} for b in (1, 2)
    ]


def test_docs_benchmark_table_matches_the_committed_results() -> None:
    # As tests/test_docs.py checks blend_tv's table: the guide shows the measured figures.
    import importlib.util

    spec = importlib.util.spec_from_file_location("tables", ROOT / "docs/gen_benchmark_table.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    committed = (ROOT / "docs/includes/multi-blend-tv-benchmark.md").read_text(encoding="utf-8")
    assert committed == tables.render(op="multi_blend_tv"), (
        "docs/includes/multi-blend-tv-benchmark.md is stale: run python docs/gen_benchmark_table.py"
    )
    assert '--8<-- "docs/includes/multi-blend-tv-benchmark.md"' in (
        ROOT / "docs/guides/multi-mask.md"
    ).read_text(encoding="utf-8")


# --- CUDA: the compiled kernels (skipped without a GPU) ---------------------------------


@cuda
@needs_triton
@pytest.mark.cuda
@pytest.mark.parametrize(
    "shape", [*SHAPES, (4, 10, 3, 256, 256)], ids=lambda s: "x".join(map(str, s))
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_kernels_match_float64_reference(shape, dtype, channels_last) -> None:
    masks, contents, source = _inputs(shape, 8, dtype, device="cuda")
    cotangents = _cotangents(shape, 8, dtype, device="cuda")
    if channels_last:
        contents = contents.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        source = to_channels_last(source)
        cotangents = (to_channels_last(cotangents[0]), cotangents[1])
    inputs = (masks, contents, source)
    _assert_matches(
        run_fused(_multi_blend_tv_triton, inputs, cotangents),
        _reference64(inputs, cotangents),
        dtype,
    )


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_ties_golden_and_auto_backend() -> None:
    _check_golden(_multi_blend_tv_triton, torch.device("cuda"), exact=True)
    shape = (3, 3, 2, 37, 53)
    inputs = _inputs(shape, 9, ties=True, device="cuda")
    cotangents = _cotangents(shape, 9, torch.float32, device="cuda")
    _assert_matches(
        run_fused(multi_blend_tv, inputs, cotangents),
        _reference64(inputs, cotangents),
        torch.float32,
    )
    with use_backend("auto"):
        image, _ = multi_blend_tv(*(t.requires_grad_() for t in inputs))
    assert FORWARD_OP in type(image.grad_fn).__name__


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_compile_parity() -> None:
    shape = (4, 10, 3, 64, 96)
    inputs = _inputs(shape, 10, device="cuda")
    cotangents = _cotangents(shape, 10, torch.float32, device="cuda")
    torch._dynamo.reset()
    compiled = torch.compile(_multi_blend_tv_triton, fullgraph=True)
    _assert_matches(
        run_fused(compiled, inputs, cotangents), _reference64(inputs, cotangents), torch.float32
    )


@cuda
@needs_triton
@pytest.mark.cuda
def test_cuda_forward_is_deterministic() -> None:
    inputs = _inputs((8, 10, 3, 128, 128), 11, device="cuda")
    first = _multi_blend_tv_triton(*inputs)
    for _ in range(3):
        again = _multi_blend_tv_triton(*inputs)
        assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
