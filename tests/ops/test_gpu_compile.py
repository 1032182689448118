"""The Triton kernels compile for real NVIDIA GPUs and vectorise, checked without a GPU.

The other kernel tests run in triton's interpreter, which accepts code the compiler
refuses and says nothing about the instructions a GPU would run. Here each kernel
(``blend_tv`` and ``multi_blend_tv``, forward and backward) is launched by its real
launcher (which picks BLOCK and num_warps for the GPU's SM count), specialised by
triton's own launch-time binder (so ``tt.divisibility = 16`` marks the pointers and
the ints divisible by 16, as on a real launch) and compiled to PTX and a cubin for
sm_80 (A100) and sm_90 (H100, H200). On the NCHW path, where ``h*w`` is a multiple of
16, every unit-stride stream (mask planes, content, source, gradients) must be read
and written with 128-bit vector instructions: ``ld.global.v4.b32`` /
``st.global.v4.b32`` for float32, float16 and bfloat16 alike (8 elements of 2 bytes
are packed into four 32-bit lanes), ``.v2.b64`` for float64. Neighbour loads at
``offs -+ 1`` stay scalar (``ld.global.b32``, ``ld.global.b16``), as does
channels-last image data, whose pixels are C elements apart; its mask planes still
vectorise. Where ``h*w`` is not a multiple of 16 nothing may vectorise.

The compiles run in one fresh interpreter (``_gpu_compile.py``) with an empty triton
cache: 0.1-0.5 s each on a CI core (backward and channels-last the slowest), ~15 s for
the 52 cases below including ~3 s of start-up. Every combination (2 targets x 3 dtypes
x 2 layouts x 3 launch configurations x (1 forward + 7 backward variants), per op,
and the mixed layouts of multi_blend_tv) would be ~700 compiles, some 3 minutes; CASES
is a representative subset: both targets for the main paths (float32 and bfloat16,
NCHW), channels-last and the mixed layout, float16 and float64, the backward variants
for partial gradients, a size that is not a multiple of 16 and one channel on sm_90,
and each launch configuration the launchers pick for the benchmark sweep.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from attnguide.ops import _backend

# ~25 s of PTX compiles on two cores: `pytest -m slow` and CI run them.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("_gpu_compile.py")

# (compute capability, SM count) of the GPU each target stands for: the launcher
# sizes tiles by SM count, so each target is compiled with the tiles it would get.
GPUS = {"sm80": (80, 108), "sm90": (90, 132)}
ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
ALL = (True, True, True)
# Memory formats: contents (content for blend_tv) and the image-sized tensors
# (source, image, their gradients) both NCHW, both channels-last, or (multi_blend_tv,
# as an AttentionHead on channels-last images gives it) NCHW contents and a
# channels-last source.
LAYOUTS = {"nchw": (False, False), "cl": (True, True), "mixed": (False, True)}
# B=16 at 256x256 gets 1024-pixel tiles on both GPUs; B=4 gets 512 on an A100 and
# 256 on an H100: every (BLOCK, num_warps) the launchers use. "odd" is not a multiple of
# 16 anywhere. multi_blend_tv: k=10 masks (9 contents) of C=3 channels, or C=1.
SHAPES = {
    "blend_tv": {"large": (16, 3, 256, 256), "small": (4, 3, 256, 256), "odd": (2, 3, 37, 53)},
    "multi_blend_tv": {
        "large": (16, 9, 3, 256, 256),
        "small": (4, 9, 3, 256, 256),
        "odd": (2, 9, 3, 37, 53),
        "gray": (16, 2, 1, 256, 256),
    },
}
LAUNCH_CONFIGS = {(256, 1), (512, 2), (1024, 4)}


def _case(op, direction, gpu, dtype, layout="nchw", size="large", needs=ALL) -> dict:
    arch, sms = GPUS[gpu]
    shape = SHAPES[op][size]
    name = f"{op}-{direction}-{gpu}-{dtype}-{layout}-{'x'.join(map(str, shape))}"
    if direction == "bwd" and needs != ALL:
        name += "-needs" + "".join("mcs"[i] for i, n in enumerate(needs) if n)
    contents_last, image_last = LAYOUTS[layout]
    return {
        "id": name,
        "op": op,
        "direction": direction,
        "arch": arch,
        "sms": sms,
        "dtype": dtype,
        "contents_last": contents_last,
        "image_last": image_last,
        "shape": list(shape),
        "needs": list(needs),
    }


def _cases() -> list[dict]:
    cases = []
    both = ("fwd", "bwd")
    for op in SHAPES:
        # Both targets, the two dtypes training uses: the kernels' main paths. The
        # targets share everything up to the lowering to PTX, so channels-last (which
        # differs from NCHW before that) is compiled for one of them.
        for gpu in GPUS:
            for dtype in ("float32", "bfloat16"):
                layouts = ("nchw", "cl") if gpu == "sm90" else ("nchw",)
                cases += [_case(op, d, gpu, dtype, layout) for layout in layouts for d in both]
            cases += [_case(op, d, gpu, "float32", size="small") for d in both]
        # On one target: the other dtypes, partial gradients, a size with no alignment.
        cases += [_case(op, d, "sm90", dtype) for d in both for dtype in ("float16", "float64")]
        cases += [_case(op, d, "sm90", "float32", size="odd") for d in both]
        for needs in [(False, True, True), (True, False, False)]:
            cases.append(_case(op, "bwd", "sm90", "float32", needs=needs))
    cases += [_case("multi_blend_tv", d, "sm90", "float32", "mixed") for d in both]
    cases += [_case("multi_blend_tv", d, "sm90", "bfloat16", size="gray") for d in both]
    return cases


CASES = {case["id"]: case for case in _cases()}


def _streams(case: dict) -> tuple[list[str], list[str]]:
    """The kinds of the tile-wide streams a kernel reads and writes.

    ``plane``: a mask plane at the tile's pixels (always unit-stride); ``row``: a mask
    plane one row up or down (``offs -+ W``, aligned when W is); ``image``: a source-
    sized tensor, ``contents``: a contents-sized one (unit-stride when NCHW, pixels
    ``C`` apart when channels-last). The left and right neighbours (``offs -+ 1``) and
    the per-sample scalars are not listed: they are never aligned.
    """
    need_mask, need_content, need_source = case["needs"]
    # blend_tv reads its mask once, multi_blend_tv the background and each foreground
    # mask; its contents are a contents stream, blend_tv's content is not.
    masks = ["plane"] if case["op"] == "blend_tv" else ["plane", "plane"]
    contents = "image" if case["op"] == "blend_tv" else "contents"
    if case["direction"] == "fwd":
        return [*masks, "row", "image", contents], ["image"]
    reads = ["plane", "image"]
    if case["op"] == "multi_blend_tv" and need_source:
        reads.append("plane")  # the background's value serves the source gradient alone
    writes = []
    if need_mask:
        reads += ["row", "row", "image", contents]
        writes += masks
    if need_content:
        writes.append(contents)
    if need_source:
        writes.append("image")
    return reads, writes


def _vectors(case: dict, result: dict, streams: list[str]) -> int:
    """128-bit accesses the streams take when every aligned one is vectorised."""
    w = case["shape"][-1]
    aligned = {
        "plane": True,
        "row": w % 16 == 0,
        "image": not case["image_last"],
        "contents": not case["contents_last"],
    }
    # Each thread owns BLOCK / (32 * num_warps) pixels of every row of a tile.
    share = result["block"] // (32 * result["num_warps"]) * ITEMSIZE[case["dtype"]]
    per_row = share // 16
    # multi_blend_tv's image and contents tiles have BLOCK_C rows (channels), each
    # vectorised on its own; blend_tv loops over channels with one row.
    rows = {"plane": 1, "row": 1, "image": result["block_c"], "contents": result["block_c"]}
    return sum(per_row * rows[kind] for kind in streams if aligned[kind])


def _width(form: str) -> int:
    """Bits one instruction of ``form`` moves: ``ld.global.v4.b32`` -> 128."""
    parts = form.split(".")
    lanes = int(parts[2][1:]) if parts[2].startswith("v") else 1
    return lanes * int(parts[-1][1:])


def _vector_count(accesses: dict[str, int], op: str) -> int:
    return sum(n for form, n in accesses.items() if form.startswith(op) and _width(form) == 128)


def _nvidia_backend_missing() -> bool:
    if _backend._TRITON_MISSING:
        return True
    return importlib.util.find_spec("triton.backends.nvidia") is None


def _compile_cases(cases: list[dict], cache: Path) -> list[dict]:
    """Each case's compile result from ``_gpu_compile.py`` in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTNGUIDE_", "TRITON_"))}
    # An empty cache: every case is compiled, never served from an earlier run.
    env["TRITON_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(HELPER)],
        input=json.dumps(cases),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    if _nvidia_backend_missing():
        pytest.skip("triton, or its NVIDIA backend, is not installed")
    results = _compile_cases(list(CASES.values()), tmp_path_factory.mktemp("triton-cache"))
    return dict(zip(CASES, results, strict=True))


@pytest.mark.parametrize("case_id", list(CASES))
def test_kernel_compiles_for_the_gpu(compiled: dict[str, dict], case_id: str) -> None:
    case, result = CASES[case_id], compiled[case_id]
    assert "error" not in result, result.get("error")
    assert result["has_cubin"], "ptxas produced no cubin"
    h, w = case["shape"][-2:]
    accesses = result["accesses"]
    loads, stores = _vector_count(accesses, "ld."), _vector_count(accesses, "st.")
    if (h * w) % 16:
        # No alignment to prove: a kernel specialised as if there were would be wrong.
        assert "HW" not in result["divisible_by_16"], result["divisible_by_16"]
        assert loads == stores == 0, accesses
        return
    assert {"W", "HW"} <= set(result["divisible_by_16"]), result["divisible_by_16"]
    # The launchers size tiles so that each thread's pixels of a row fill at least one
    # 128-bit vector, whatever the dtype.
    share = result["block"] // (32 * result["num_warps"]) * ITEMSIZE[case["dtype"]]
    assert share >= 16, f"{share} bytes per thread and row: too few for a 128-bit access"
    reads, writes = _streams(case)
    assert loads >= _vectors(case, result, reads), (reads, accesses)
    assert stores >= _vectors(case, result, writes), (writes, accesses)


@pytest.mark.parametrize("op", list(SHAPES))
def test_cases_cover_every_launch_configuration(compiled: dict[str, dict], op: str) -> None:
    # Shapes chosen for the launch configurations they get: if a launcher's choice
    # changes, this says so instead of the subset silently losing one.
    seen = {
        (r["block"], r["num_warps"])
        for case_id, r in compiled.items()
        if CASES[case_id]["op"] == op and "block" in r
    }
    assert seen == LAUNCH_CONFIGS


def test_vector_check_can_fail() -> None:
    # The counts from scalar code must fail the vector bound the tests apply.
    scalar = {"ld.global.b32": 24, "st.global.b32": 8}
    assert _vector_count(scalar, "ld.") == _vector_count(scalar, "st.") == 0
    assert _width("ld.global.v4.b32") == _width("st.global.v2.b64") == 128
    assert _width("ld.global.v2.b32") == 64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
@pytest.mark.parametrize("op", list(SHAPES))
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
def test_a_real_launch_compiles_what_this_test_compiles(
    op: str, direction: str, tmp_path: Path
) -> None:
    # Holds the harness above to the truth on a GPU: the kernel a real launch compiles
    # must get the tiles and the memory instructions the harness predicts for it.
    from _gpu_compile import memory_accesses

    from attnguide import ops
    from attnguide.ops import _triton_blend_tv, _triton_multi_blend_tv, use_backend

    major, minor = torch.cuda.get_device_capability()
    index = torch.cuda.current_device()
    case = _case(op, direction, "sm90", "float32")
    case.update(
        arch=10 * major + minor, sms=torch.cuda.get_device_properties(index).multi_processor_count
    )
    (predicted,) = _compile_cases([case], tmp_path)
    assert "error" not in predicted, predicted["error"]

    module = _triton_blend_tv if op == "blend_tv" else _triton_multi_blend_tv
    kernel = module._fwd_kernel if direction == "fwd" else module._bwd_kernel
    kernel.device_caches.clear()  # the launch below is then the only compiled variant
    shape = case["shape"]
    if op == "blend_tv":
        b, c, h, w = shape
        shapes = [(b, 1, h, w), (b, c, h, w), (b, c, h, w)]
    else:
        b, n, c, h, w = shape
        shapes = [(b, n + 1, h, w), (b, n, c, h, w), (b, c, h, w)]
    inputs = [torch.rand(s, device="cuda", requires_grad=True) for s in shapes]
    with use_backend("triton"):
        image, tv = getattr(ops, op)(*inputs)
        if direction == "bwd":
            torch.autograd.grad((image, tv), inputs, (torch.randn_like(image), torch.ones_like(tv)))
    torch.cuda.synchronize()
    cache = kernel.device_caches[index][0]
    assert len(cache) == 1, f"{len(cache)} compiled variants"
    (launched,) = cache.values()
    assert launched.metadata.num_warps == predicted["num_warps"]
    assert memory_accesses(launched.asm["ptx"]) == predicted["accesses"]
