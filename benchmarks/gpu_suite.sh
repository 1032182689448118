#!/usr/bin/env bash
# The GPU suite: every check that needs CUDA, and the fused ops' benchmarks, in one call.
#
#   benchmarks/gpu_suite.sh [OUT_DIR]     # default: benchmarks/results/gpu-<UTC date and time>/
#   benchmarks/gpu_suite.sh --dry-run     # the steps and their time caps, nothing run
#   PYTHON=/path/to/venv/bin/python benchmarks/gpu_suite.sh
#
# Needs a CUDA machine with this tree and its dev environment installed
# (pip install -e ".[dev]"); reads nothing from the network. Prints the device and
# versions, then runs each step with its own time cap. A failing step is reported and
# the rest still run; the exit status is 0 only if every step passed. Everything a
# step writes (JSON reports, logs, the pytest XML) goes into OUT_DIR, with
# summary.json saying how each step ended.
#
# Designed to finish in under 8 minutes on an H100/H200: the expected times (in the
# comments; estimates, not yet measured on such a GPU) add up to about 6 minutes,
# and the hard caps to 7 minutes 55 seconds (7:30 of caps, and 5 s per step for a
# process that ignores SIGTERM). A benchmark's --budget-s makes it start no new
# configuration after that many seconds: it still writes its JSON, marked incomplete,
# and the step fails (exit 3) rather than passing with part of the sweep.
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"

DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then
    DRY_RUN=1
    shift
fi
# A folder per run (to the minute): a second run never writes into the first's.
OUT="${1:-$ROOT/benchmarks/results/gpu-$(date -u +%Y-%m-%dT%H%MZ)}"
OUT="$(realpath -m "$OUT")"  # as given from the caller's directory, before the cd
cd "$ROOT" || exit 2

# The suite measures and tests the Triton kernels on the GPU: nothing inherited may
# send the ops to the reference or to triton's interpreter.
unset ATTNGUIDE_BACKEND TRITON_INTERPRET

STEPS=()
STATUS=()
SECONDS_TAKEN=()
TOTAL_CAP=0

# run_step NAME CAP_SECONDS COMMAND...: runs COMMAND under a hard time cap, logs its
# output to OUT/NAME.log and records how it ended.
run_step() {
    local name="$1" cap="$2"
    shift 2
    TOTAL_CAP=$((TOTAL_CAP + cap))
    if ((DRY_RUN)); then
        printf '%-16s cap %4ss: %s\n' "$name" "$cap" "$*"
        return 0
    fi
    echo
    echo "=== $name (cap ${cap}s): $*"
    local start rc status
    start=$(date +%s)
    timeout --kill-after=5 "$cap" "$@" 2>&1 | tee "$OUT/$name.log"
    rc=${PIPESTATUS[0]}
    case "$rc" in
        0) status="passed" ;;
        3) status="incomplete (budget ran out; exit 3)" ;;
        124 | 137) status="timed out after ${cap}s (exit $rc)" ;;
        *) status="failed (exit $rc)" ;;
    esac
    STEPS+=("$name")
    STATUS+=("$status")
    SECONDS_TAKEN+=($(($(date +%s) - start)))
    echo "=== $name: $status"
}

if ((!DRY_RUN)); then
    mkdir -p "$OUT" || exit 2
    echo "GPU suite: results in $OUT"
fi

# 1. Device and versions (expected ~10 s). Fails without a CUDA device; the other
#    steps still run and fail (or skip) on their own, so the log says what happened.
run_step environment 30 "$PYTHON" - "$OUT/environment.json" <<'PY'
import json, platform, subprocess, sys

import torch

info = {
    "python": platform.python_version(),
    "platform": platform.platform(),
    "torch": torch.__version__,
    "cuda_runtime": torch.version.cuda,
    "cuda_available": torch.cuda.is_available(),
}
try:
    import triton

    info["triton"] = triton.__version__
except ImportError as error:
    info["triton"] = f"not importable: {error}"
if torch.cuda.is_available():
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    info.update(
        device=torch.cuda.get_device_name(index),
        capability=".".join(map(str, torch.cuda.get_device_capability(index))),
        sm_count=props.multi_processor_count,
        memory_gib=round(props.total_memory / 2**30, 1),
        device_count=torch.cuda.device_count(),
    )
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,power.limit",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.SubprocessError) as error:
        info["nvidia_smi"] = f"unavailable: {error}"
for key, value in info.items():
    print(f"{key:>15}: {value}")
if sys.argv[1:] and sys.argv[1] != "-":
    with open(sys.argv[1], "w") as f:
        json.dump(info, f, indent=2)
if not info["cuda_available"]:
    sys.exit("no CUDA device: this suite is for a GPU machine")
PY

# 2. The CUDA tests (expected ~100 s): everything marked cuda, across the whole suite:
#    the kernels against the float64 reference at every dtype and layout, torch.compile
#    parity, determinism, the backend switch under torch.compile, a real launch
#    against the CI's GPU-compile predictions, and the CUDA tests of the other modules.
#    Without a GPU they all skip, and pytest passes: the step fails unless some ran.
ALL_SKIPPED_CHECK='
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
skipped = int(suite.get("skipped"))
ran = int(suite.get("tests")) - skipped
print(f"{ran} CUDA tests ran, {skipped} skipped")
sys.exit(0 if ran > 0 else "no CUDA test ran")
'
run_step cuda-tests 110 bash -c \
    '"$0" -m pytest -m cuda -q -p no:cacheprovider --junitxml="$1" tests && "$0" -c "$2" "$1"' \
    "$PYTHON" "$OUT/cuda-tests.xml" "$ALL_SKIPPED_CHECK"

# 3. blend_tv's full CUDA sweep (expected ~90 s: 16 configurations x 3 providers x
#    3 modes at ~0.15 s per measurement with --rep-ms 100, and one static-shape
#    torch.compile per configuration, ~4 s each, which take most of it).
run_step bench-blend-tv 90 "$PYTHON" benchmarks/bench_blend_tv.py --device cuda \
    --warmup-ms 10 --rep-ms 100 --budget-s 70 --output-dir "$OUT"

# 4. multi_blend_tv's full CUDA sweep, k = 10, C = 3 (expected ~90 s, as blend_tv).
run_step bench-multi-blend-tv 90 "$PYTHON" benchmarks/bench_multi_blend_tv.py --device cuda \
    --warmup-ms 10 --rep-ms 100 --budget-s 70 --output-dir "$OUT"

# 5. A training step of the paper's configuration (256², 64 channels, 9 residual
#    blocks, a 70x70 PatchGAN, batch 1; expected ~80 s, most of it compiling): the
#    example's eager float32 step against bfloat16 + channels_last + torch.compile.
run_step bench-train-step 130 "$PYTHON" benchmarks/bench_train_step.py --device cuda \
    --configs paper256 --masks 1 --providers eager bf16_cl_compile --repeats 20 \
    --output "$OUT/train_step_cuda.json"

if ((DRY_RUN)); then
    echo "total cap: ${TOTAL_CAP}s"
    exit 0
fi

echo
echo "=== GPU suite summary ($OUT)"
failed=0
entries=()
for i in "${!STEPS[@]}"; do
    printf '%-22s %-42s %5ss\n' "${STEPS[$i]}" "${STATUS[$i]}" "${SECONDS_TAKEN[$i]}"
    [[ "${STATUS[$i]}" == "passed" ]] || failed=1
    entries+=("$(printf '{"step": "%s", "status": "%s", "seconds": %s}' \
        "${STEPS[$i]}" "${STATUS[$i]}" "${SECONDS_TAKEN[$i]}")")
done
passed=$([[ $failed == 0 ]] && echo true || echo false)
joined="$(IFS=,; echo "${entries[*]}")"
printf '{"out": "%s", "passed": %s, "steps": [%s]}\n' "$OUT" "$passed" "$joined" \
    > "$OUT/summary.json"
if ((failed)); then
    echo "GPU suite: FAILED (see the logs in $OUT)"
else
    echo "GPU suite: all steps passed"
fi
exit "$failed"
