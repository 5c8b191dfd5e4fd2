#!/usr/bin/env bash
# scripts/gpu-check.sh: everything one call on a GPU machine should do for the CUDA op library, logs under $OUT.
#
#   scripts/gpu-check.sh --build        (here, no GPU needed) build self-contained test and benchmark binaries
#                                       into build/gpu-dev/, to carry to the GPU machine
#   scripts/gpu-check.sh [STEPS]        (on the GPU machine) STEPS from: info test bench sanitize (default: info
#                                       test bench); OUT=dir for the logs (default build/gpu-check)
#
# info: nvidia-smi, driver, clocks. test: tests/gpu/test_gpu_ops, one process per op group (a fatal error in one
# op cannot hide the others), every CUDA op against the CPU op. bench: tests/gpu/bench_gpu, the two ceilings
# (device-to-device copy, cuBLASLt bf16 GEMM) and every attention / scan kernel at the scout_swa_470m and
# scout_mamba_430m shapes. sanitize: compute-sanitizer memcheck and racecheck on the small shapes of the
# attention, scan and reduction ops.
#
# The binaries link the CUDA runtime statically and cuBLASLt dynamically, and use a plain sgemm instead of
# OpenBLAS for the CPU reference (tests/gpu/fallback), so they need only libc and the toolkit's libcublasLt. When
# the carried binaries do not start there (a missing library), they are rebuilt on the spot with that machine's
# nvcc. Exit status: non-zero when a test failed or a step could not run.
set -uo pipefail
cd "$(dirname "$0")/.."

OP_GROUPS="convert embedding rmsnorm linear rope swa_attn ckpt_attn conv1d silu swiglu add copy_rows scan cross_entropy adamw global_norm"

find_nvcc() { command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true; }

# build DIR: nvcc for kernels/cuda, gcc for the CPU reference and the programs, everything in parallel.
build() {
    local out=$1 nvcc
    nvcc=$(find_nvcc)
    [ -n "$nvcc" ] || { echo "gpu-check: no nvcc to build with" >&2; return 1; }
    local cuda_home
    cuda_home=$(dirname "$(dirname "$nvcc")")
    mkdir -p "$out/obj"
    local cflags=(-O2 -std=gnu11 -D_GNU_SOURCE -DSCOUT_CUDA=1 -Itests/gpu/fallback -I"$cuda_home/include" -Isrc
                  -Ikernels -Itests/gpu)
    local pids=() f
    for f in kernels/cuda/*.cu; do
        "$nvcc" -O3 -std=c++17 -arch="${CUDA_ARCH:-sm_90}" -Isrc -Ikernels -c "$f" -o "$out/obj/cu_$(basename "$f" .cu).o" &
        pids+=($!)
    done
    for f in kernels/cpu/*.c kernels/backend.c tests/gpu/fallback/cblas_sgemm.c tests/gpu/test_gpu_ops.c tests/gpu/bench_gpu.c; do
        gcc "${cflags[@]}" -c "$f" -o "$out/obj/c_$(basename "$f" .c).o" &
        pids+=($!)
    done
    local ok=1 p
    for p in "${pids[@]}"; do wait "$p" || ok=0; done
    [ $ok = 1 ] || { echo "gpu-check: compilation failed" >&2; return 1; }
    local common=("$out"/obj/cu_*.o "$out"/obj/c_*.o)
    local libs=(-L"$cuda_home/lib64" -lcublasLt -lcudart_static -lrt -lpthread -ldl -static-libstdc++ -static-libgcc -lm)
    local prog
    for prog in test_gpu_ops bench_gpu; do
        local objs=() o
        for o in "${common[@]}"; do
            case "$o" in *c_test_gpu_ops.o | *c_bench_gpu.o) ;; *) objs+=("$o") ;; esac
        done
        g++ -o "$out/$prog" "${objs[@]}" "$out/obj/c_$prog.o" "${libs[@]}" || return 1
    done
    echo "gpu-check: built $out/test_gpu_ops and $out/bench_gpu"
}

if [ "${1:-}" = "--build" ]; then
    build build/gpu-dev
    exit $?
fi

OUT=${OUT:-build/gpu-check}
mkdir -p "$OUT"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(info test bench)
status=0

# Where the toolkit's libcublasLt lives on this machine (the loader may not know).
nvcc=$(find_nvcc)
libdirs=""
[ -n "$nvcc" ] && libdirs="$(dirname "$(dirname "$nvcc")")/lib64"
lt=$(ls /usr/local/cuda*/lib64/libcublasLt.so.1* 2>/dev/null | head -1)
[ -z "$lt" ] && lt=$(find / -xdev -name 'libcublasLt.so.1*' 2>/dev/null | head -1)
[ -n "$lt" ] && libdirs="$libdirs:$(dirname "$lt")"
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The carried binaries, or a build on the spot: "--usage" makes them print usage and exit 2 without touching the
# GPU; any other status (127: a library the loader cannot find) means they cannot run here.
BIN=build/gpu-dev
"$BIN/test_gpu_ops" --usage >/dev/null 2>&1
if [ $? -ne 2 ]; then
    echo "gpu-check: carried binaries do not run here ($(ldd "$BIN/test_gpu_ops" 2>&1 | grep -m1 'not found')); building"
    BIN=/tmp/gpu-dev
    build "$BIN" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
fi

for step in "${steps[@]}"; do
    case "$step" in
    info)
        {
            date -u +"date: %Y-%m-%d %H:%M UTC"
            uname -r
            nvidia-smi
            nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
                --format=csv
            [ -n "$nvcc" ] && "$nvcc" --version | tail -2
        } 2>&1 | tee "$OUT/info.txt"
        ;;
    test)
        # One process per op group; a group whose process dies (a fatal CUDA error) still counts as failed.
        : > "$OUT/test.log"
        failed_groups=""
        for g in $OP_GROUPS; do
            timeout 600 "$BIN/test_gpu_ops" --filter "$g" >> "$OUT/test.log" 2>&1
            rc=$?
            [ $rc -ne 0 ] && failed_groups="$failed_groups $g(rc=$rc)"
        done
        grep -m1 '^device:' "$OUT/test.log"
        grep -vE '^(op |device:|[0-9]+ rows)' "$OUT/test.log" | grep -v ' ok$' # failures and messages only
        rows=$(grep -cE ' (ok|FAIL)$' "$OUT/test.log")
        fails=$(grep -cE ' FAIL$' "$OUT/test.log")
        echo "test: $rows rows, $fails failed; groups failed:${failed_groups:- none}" | tee "$OUT/test-summary.txt"
        [ -z "$failed_groups" ] || status=1
        ;;
    bench)
        timeout 600 "$BIN/bench_gpu" 2>&1 | tee "$OUT/bench.log"
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
        ;;
    sanitize)
        if ! command -v compute-sanitizer >/dev/null; then
            echo "sanitize: no compute-sanitizer" | tee "$OUT/sanitize.log"
            continue
        fi
        : > "$OUT/sanitize.log"
        # Shared-memory kernels under racecheck, the rest under memcheck; the whole step stops at DEADLINE seconds
        # of this script (default 540: one device call is limited to 600).
        # SANITIZE_RUNS="tool:group ..." overrides the list.
        runs=${SANITIZE_RUNS:-"racecheck:swa_attn racecheck:ckpt_attn racecheck:scan memcheck:swa_attn memcheck:ckpt_attn
              memcheck:scan memcheck:embedding racecheck:rmsnorm memcheck:cross_entropy memcheck:conv1d"}
        for run in $runs; do
            set -- ${run/:/ }
            left=$((${DEADLINE:-540} - SECONDS))
            if [ $left -lt 20 ]; then
                echo "   $1 $2: skipped (time)" | tee -a "$OUT/sanitize.log"
                continue
            fi
            echo "== compute-sanitizer --tool $1: $2" >> "$OUT/sanitize.log"
            timeout $((left < 120 ? left : 120)) compute-sanitizer --tool "$1" --error-exitcode 99 "$BIN/test_gpu_ops" \
                --quick --filter "$2" >> "$OUT/sanitize.log" 2>&1
            rc=$?
            echo "   $1 $2: rc=$rc" | tee -a "$OUT/sanitize.log"
            [ $rc -ne 0 ] && status=1
        done
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize.log" | sort | uniq -c
        ;;
    *)
        echo "gpu-check: unknown step $step (info test bench sanitize)" >&2
        status=2
        ;;
    esac
done
exit $status
