"""The Triton kernels compile for real NVIDIA GPUs and vectorise, checked without a GPU.

The other kernel tests run in triton's interpreter, which accepts code the compiler
refuses and says nothing about the instructions a GPU would run. Here each kernel is
launched by its real launcher (which picks BLOCK and num_warps for the GPU's SM count),
specialised by triton's own launch-time binder (so ``tt.divisibility = 16`` marks the
pointers and the ints divisible by 16, as on a real launch) and compiled to PTX and a
cubin for sm_80 (A100) and sm_90 (H100, H200). On the NCHW path, where ``h*w`` is a
multiple of 16, every unit-stride tile (mask, content, source, gradients) must be read
and written with 128-bit vector instructions: ``ld.global.v4.b32`` /
``st.global.v4.b32`` for float32, float16 and bfloat16 alike (8 elements of 2 bytes
are packed into four 32-bit lanes), ``.v2.b64`` for float64. Neighbour loads at
``offs + 1`` are scalar (``ld.global.b32``, ``ld.global.b16``), and channels-last
content, strided by C, is read with scalar loads too; only its mask planes vectorise.

The compiles run in one fresh interpreter (``_gpu_compile.py``) with an empty triton
cache, ~0.1-0.2 s each on a CI core. Every combination (2 targets x 3 dtypes x 2
layouts x 3 launch configurations x (1 forward + 7 backward variants)) would be 288
compiles, ~45 s; CASES below is a representative subset that still covers both
targets, every dtype and layout, each launch configuration the launcher picks for the
benchmark sweep, the backward variants for partial gradients, and one size that is not
a multiple of 16.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attnguide.ops import _backend

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("_gpu_compile.py")

# (compute capability, SM count) of the GPU each target stands for: the launcher
# sizes tiles by SM count, so each target is compiled with the tiles it would get.
GPUS = {"sm80": (80, 108), "sm90": (90, 132)}
DTYPES = ("float32", "bfloat16", "float16")
ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
ALL = (True, True, True)
# B=16 at 256x256 gets 1024-pixel tiles on both GPUs; B=4 gets 512 on an A100 and
# 256 on an H100: every (BLOCK, num_warps) the launcher uses.
LARGE, SMALL, ODD = (16, 3, 256, 256), (4, 3, 256, 256), (2, 3, 37, 53)
LAUNCH_CONFIGS = {(256, 1), (512, 2), (1024, 4)}


def _case(op, direction, gpu, dtype, channels_last, shape, needs=ALL) -> dict:
    arch, sms = GPUS[gpu]
    layout = "cl" if channels_last else "nchw"
    name = f"{op}-{direction}-{gpu}-{dtype}-{layout}-{'x'.join(map(str, shape))}"
    if direction == "bwd" and needs != ALL:
        name += "-needs" + "".join("mcs"[i] for i, n in enumerate(needs) if n)
    return {
        "id": name,
        "op": op,
        "direction": direction,
        "arch": arch,
        "sms": sms,
        "dtype": dtype,
        "channels_last": channels_last,
        "shape": list(shape),
        "needs": list(needs),
    }


def _cases() -> list[dict]:
    cases = []
    for op in ("blend_tv",):
        for gpu in GPUS:
            for dtype in DTYPES:
                for channels_last in (False, True):
                    for direction in ("fwd", "bwd"):
                        cases.append(_case(op, direction, gpu, dtype, channels_last, LARGE))
            for direction in ("fwd", "bwd"):
                cases.append(_case(op, direction, gpu, "float32", False, SMALL))
        for needs in [(False, True, True), (True, False, False)]:
            cases.append(_case(op, "bwd", "sm90", "float32", False, LARGE, needs))
        for direction in ("fwd", "bwd"):
            cases.append(_case(op, direction, "sm90", "float64", False, LARGE))
            cases.append(_case(op, direction, "sm90", "float32", False, ODD))
    return cases


CASES = {case["id"]: case for case in _cases()}


def _streams(case: dict) -> tuple[int, int]:
    """(reads, writes) of unit-stride, tile-aligned streams in the kernel's code.

    Mask planes always are, and so are the mask's upper and lower neighbours
    (``offs -+ W``) when W is a multiple of 16; image-sized tensors only in NCHW
    (channels-last pixels are C elements apart). The left and right neighbours
    (``offs -+ 1``) never are. The kernels keep one copy of the channel loop's body,
    so each stream is counted once whatever C is.
    """
    big = 0 if case["channels_last"] else 1
    rows = 1 if case["shape"][-1] % 16 == 0 else 0
    if case["direction"] == "fwd":
        # mask and its lower neighbour, content, source in; image out (the TV partial
        # is one scalar).
        return 1 + rows + 2 * big, big
    need_mask, need_content, need_source = case["needs"]
    # mask and grad_image; for the mask's gradient also the mask's upper and lower
    # neighbours, content and source. Out: the gradients asked for.
    reads = 1 + big + ((2 * rows + 2 * big) if need_mask else 0)
    writes = int(need_mask) + big * (int(need_content) + int(need_source))
    return reads, writes


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


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    if _nvidia_backend_missing():
        pytest.skip("triton, or its NVIDIA backend, is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATTNGUIDE_", "TRITON_"))}
    # An empty cache: every case is compiled, never served from an earlier run.
    env["TRITON_CACHE_DIR"] = str(tmp_path_factory.mktemp("triton-cache"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(HELPER)],
        input=json.dumps(list(CASES.values())),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    return dict(zip(CASES, json.loads(result.stdout), strict=True))


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
    # Each thread owns BLOCK / (32 * num_warps) pixels of a tile; the launcher sizes
    # tiles so that they fill at least one 128-bit vector, whatever the dtype.
    share = result["block"] // (32 * result["num_warps"]) * ITEMSIZE[case["dtype"]]
    assert share >= 16, f"{share} bytes per thread and stream: too few for a 128-bit access"
    per_thread = share // 16
    reads, writes = _streams(case)
    assert loads >= per_thread * reads, (per_thread, reads, accesses)
    assert stores >= per_thread * writes, (per_thread, writes, accesses)


def test_cases_cover_every_launch_configuration(compiled: dict[str, dict]) -> None:
    # Shapes chosen for the launch configurations they get: if the launcher's choice
    # changes, this says so instead of the subset silently losing one.
    seen = {(r["block"], r["num_warps"]) for r in compiled.values() if "block" in r}
    assert seen == LAUNCH_CONFIGS


def test_vector_check_can_fail() -> None:
    # The counts from scalar code must fail the vector bound the tests apply.
    scalar = {"ld.global.b32": 24, "st.global.b32": 8}
    assert _vector_count(scalar, "ld.") == _vector_count(scalar, "st.") == 0
    assert _width("ld.global.v4.b32") == _width("st.global.v2.b64") == 128
    assert _width("ld.global.v2.b32") == 64
