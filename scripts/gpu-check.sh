#!/usr/bin/env bash
# scripts/gpu-check.sh: everything one call on a GPU machine should do for the CUDA op library, logs under $OUT.
#
#   scripts/gpu-check.sh --build        (here, no GPU needed) build self-contained test and benchmark binaries
#                                       into build/gpu-dev/, to carry to the GPU machine; then --build-train
#   scripts/gpu-check.sh --build-train  (here, after `make`) self-contained scout-train and tests/gpu/test_gpu_train,
#                                       the training data of the train step and the shards of bench-train, packed
#                                       into build/gpu-train.tar.gz (carry that one file: the static binaries are
#                                       too large to carry unpacked); unpacked on the GPU machine when needed
#   scripts/gpu-check.sh [STEPS]        (on the GPU machine) STEPS from: info test bench sanitize train bench-train
#                                       profile-train
#                                       (default: info test bench); OUT=dir for the logs (default build/gpu-check)
#
# info: nvidia-smi, driver, clocks. test: tests/gpu/test_gpu_ops, one process per op group (a fatal error in one
# op cannot hide the others), every CUDA op against the CPU op. bench: tests/gpu/bench_gpu, the two ceilings
# (device-to-device copy, cuBLASLt bf16 GEMM) and every attention / scan kernel at the scout_swa_470m and
# scout_mamba_430m shapes. sanitize: compute-sanitizer memcheck and racecheck on the small shapes of the
# attention, scan and reduction ops. train: tests/gpu/test_gpu_train (the trainer on the GPU against the CPU:
# losses within 2%, bit-identical rerun and resume, checkpoints across devices), then scout-train --device cuda
# end to end on packed English (tiny SCOUT-SWA and SCOUT-Mamba: a run with validation and checkpoints, its
# resume from the middle checkpoint compared bit for bit, and the SWA checkpoint continued with --device cpu).
# bench-train: scripts/bench-train.sh (tokens/s, step time, peak memory, MFU of the 470M-class models), its runs
# stopped at DEADLINE. profile-train: scout-train with SCOUT_CUDA_PROFILE=1 (GPU time per op and shape).
#
# The binaries link the CUDA runtime statically and cuBLASLt dynamically, and use a plain sgemm instead of
# OpenBLAS for the CPU reference (tests/gpu/fallback), so they need only libc and the toolkit's libcublasLt.
# scout-train and test_gpu_train (--build-train) link OpenBLAS (with libgfortran and libquadmath), jansson, zstd,
# snappy, zlib and libcrypto statically too, from the libraries `make` built here. When
# the carried binaries do not start there (a missing library), they are rebuilt on the spot with that machine's
# nvcc. Exit status: non-zero when a test failed or a step could not run.
set -uo pipefail
cd "$(dirname "$0")/.."

OP_GROUPS="convert embedding rmsnorm linear rope wgmma swa_attn ckpt_attn conv1d silu swiglu add copy_rows scan cross_entropy adamw global_norm"

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
        "$nvcc" -O3 -std=c++17 -arch="${CUDA_ARCH:-sm_90a}" -Isrc -Ikernels -c "$f" -o "$out/obj/cu_$(basename "$f" .cu).o" &
        pids+=($!)
    done
    for f in kernels/cpu/*.c kernels/*.c tests/gpu/fallback/cblas_sgemm.c tests/gpu/test_gpu_ops.c tests/gpu/bench_gpu.c; do
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

# build_train DIR TARBALL: scout-train and test_gpu_train from make's build/libscout.a and build/libscoutk.a (CUDA
# objects included), linked self-contained; the tokens of the train and bench-train steps; all of it in TARBALL.
build_train() {
    local out=$1 tarball=$2 nvcc cuda_home
    nvcc=$(find_nvcc)
    [ -n "$nvcc" ] || { echo "gpu-check: no nvcc to build with" >&2; return 1; }
    cuda_home=$(dirname "$(dirname "$nvcc")")
    make -s build/libscout.a build/libscoutk.a bin/scout-pack bin/scout-tokenize || return 1
    ar t build/libscoutk.a | grep -q 'backend_cuda' || { echo "gpu-check: build/libscoutk.a has no CUDA objects (CUDA=0?)" >&2; return 1; }
    mkdir -p "$out/obj"
    local cflags=(-std=gnu11 -D_GNU_SOURCE -DSCOUT_CUDA=1 -Isrc -Ikernels -I/usr/include/x86_64-linux-gnu/openblas-pthread
                  -I"$cuda_home/include" -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter)
    gcc "${cflags[@]}" -c src/cmd/scout-train.c -o "$out/obj/scout-train.o" || return 1
    gcc "${cflags[@]}" -Itests/unit -c tests/gpu/test_gpu_train.c -o "$out/obj/test_gpu_train.o" || return 1
    local blas=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a
    [ -f "$blas" ] || { echo "gpu-check: no static OpenBLAS at $blas" >&2; return 1; }
    local libs=(build/libscout.a build/libscoutk.a -Wl,-Bstatic -ljansson -lzstd -lsnappy -lz -lcrypto "$blas" -lgfortran
                -lquadmath -Wl,-Bdynamic -L"$cuda_home/lib64" -lcublasLt -lcudart_static -lrt -lpthread -ldl
                -static-libstdc++ -static-libgcc -lm)
    local prog
    for prog in scout-train test_gpu_train; do
        g++ -o "$out/$prog" "$out/obj/$prog.o" "${libs[@]}" || return 1
        strip "$out/$prog"
    done
    # The train step's data: Moby-Dick through the Mistral tokenizer when they are here, else synthetic tokens.
    rm -rf "$out/train-data" && mkdir -p "$out/train-data"
    if [ -f data/tokenizers/mistral.json ] && [ -f data/corpora/moby-dick.jsonl ]; then
        bin/scout-tokenize -q -t data/tokenizers/mistral.json data/corpora/moby-dick.jsonl > "$out/train-data/tokens.bin"
    else
        python3 tests/ref/gen_tokens.py "$out/train-data/tokens.bin" 300000 --vocab 32000 --mean-doc 2000
    fi || return 1
    bin/scout-pack -q --block 64 --val-fraction 0.05 -o "$out/train-data" "$out/train-data/tokens.bin" || return 1
    rm -f "$out/train-data/tokens.bin"
    BENCH_DATA="$out/bench-data" scripts/bench-train.sh --data-only --shapes "8x2048 2x8192 1x32768" || return 1
    tar -C "$(dirname "$out")" -czf "$tarball" "$(basename "$out")/scout-train" "$(basename "$out")/test_gpu_train" \
        "$(basename "$out")/train-data" "$(basename "$out")/bench-data" || return 1
    echo "gpu-check: built $out/scout-train and $out/test_gpu_train; carry $tarball ($(du -h "$tarball" | cut -f1))"
}

if [ "${1:-}" = "--build" ]; then
    build build/gpu-dev && build_train build/gpu-dev build/gpu-train.tar.gz
    exit $?
fi
if [ "${1:-}" = "--build-train" ]; then
    build_train build/gpu-dev build/gpu-train.tar.gz
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

# The matrix products' tuned algorithms (kernels/gemm_cache.h) go to a file under $OUT, so they come back with the
# logs; the test step starts it afresh and checks that a second process reads what the first wrote.
export SCOUT_CUDA_GEMM_CACHE=${SCOUT_CUDA_GEMM_CACHE-$OUT/gemm-choices.txt}

# The carried binaries, or a build on the spot: "--usage" makes them print usage and exit 2 without touching the
# GPU; any other status (127: a library the loader cannot find) means they cannot run here. Only the steps that
# use test_gpu_ops / bench_gpu need them.
BIN=build/gpu-dev
case " ${steps[*]} " in
*" test "* | *" bench "* | *" sanitize "*)
    "$BIN/test_gpu_ops" --usage >/dev/null 2>&1
    if [ $? -ne 2 ]; then
        echo "gpu-check: carried binaries do not run here ($(ldd "$BIN/test_gpu_ops" 2>&1 | grep -m1 'not found')); building"
        BIN=/tmp/gpu-dev
        build "$BIN" > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
    fi
    ;;
esac
# The train binaries come packed (--build-train); they cannot be rebuilt there (no OpenBLAS, no jansson).
TBIN=build/gpu-dev
if [ ! -x "$TBIN/scout-train" ] && [ -f build/gpu-train.tar.gz ]; then
    tar -C build -xzf build/gpu-train.tar.gz || echo "gpu-check: cannot unpack build/gpu-train.tar.gz"
fi

# The deterministic fields of a metrics file, one line per step after step $2: step, tokens, loss, lr, grad_norm,
# val_loss.
losses_after() { sed -E 's/"tok_per_s": [^,]*, "mfu": [^,}]*//' "$1" | awk -v from="$2" -F'[:,]' '$2 + 0 > from'; }

# The train step's scout-train runs (see the header), logs on stdout; returns non-zero when a check failed.
train_e2e() {
    local T="$TBIN/scout-train" D="$TBIN/train-data" R=/tmp/gpu-check-train rc=0 cfg dev=${TRAIN_DEVICE:-cuda}
    rm -rf "$R"
    for cfg in scout_swa_tiny scout_mamba_tiny; do
        local recipe=(--model "configs/$cfg.json" --data "$D/train_*.bin" --val-data "$D/val_*.bin" --val-every 20
                      --val-batches 4 --seq-len 64 --global-batch 16 --micro-batch 8 --tokens 40960 --lr 2e-3
                      --warmup 10% --save-every 20)
        echo "== $cfg: 40 steps on cuda"
        "$T" --device "$dev" "${recipe[@]}" -o "$R/$cfg/full" 2>&1 || rc=1
        grep '"val_loss"' "$R/$cfg/full/metrics.jsonl"
        echo "== $cfg: resumed on cuda from step 20"
        mkdir -p "$R/$cfg/cut" && cp -r "$R/$cfg/full/step_00000020" "$R/$cfg/cut/"
        "$T" --device "$dev" --resume "$R/$cfg/cut/step_00000020" -q || rc=1
        if cmp -s <(losses_after "$R/$cfg/full/metrics.jsonl" 20) <(losses_after "$R/$cfg/cut/metrics.jsonl" 20) &&
            cmp -s "$R/$cfg/full/step_00000040/model.safetensors" "$R/$cfg/cut/step_00000040/model.safetensors"; then
            echo "$cfg: cuda resume: steps 21-40 and final weights bit-identical ok"
        else
            echo "$cfg: cuda resume: differs FAIL"
            diff <(losses_after "$R/$cfg/full/metrics.jsonl" 20) <(losses_after "$R/$cfg/cut/metrics.jsonl" 20) | head -6
            rc=1
        fi
    done
    echo "== scout_swa_tiny: the cuda checkpoint of step 20 continued with --device cpu"
    mkdir -p "$R/cpu" && cp -r "$R/scout_swa_tiny/full/step_00000020" "$R/cpu/"
    "$T" --device cpu --resume "$R/cpu/step_00000020" -q || rc=1
    paste -d' ' <(losses_after "$R/scout_swa_tiny/full/metrics.jsonl" 20) <(losses_after "$R/cpu/metrics.jsonl" 20) |
        grep -o '"loss": [0-9.e+-]*' | awk '{print $2}' | paste - - |
        awk '{r = ($1 - $2) / $2; if (r < 0) r = -r; if (r > w) w = r; n++} END {
                 printf "scout_swa_tiny: cuda -> cpu resume: %d losses, max rel diff to the cuda run %.2e %s\n", n, w,
                        (n == 20 && w <= 0.02) ? "ok" : "FAIL"; exit !(n == 20 && w <= 0.02)}' || rc=1
    return $rc
}

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
        [ "${SCOUT_CUDA_GEMM_CACHE:-}" = "$OUT/gemm-choices.txt" ] && rm -f "$SCOUT_CUDA_GEMM_CACHE"
        failed_groups=""
        for g in $OP_GROUPS; do
            timeout 600 "$BIN/test_gpu_ops" --filter "$g" >> "$OUT/test.log" 2>&1
            rc=$?
            [ $rc -ne 0 ] && failed_groups="$failed_groups $g(rc=$rc)"
        done
        # The GEMM tuning file (kernels/gemm_cache.h): the groups above timed their products' candidates and wrote
        # their choices; the linear group run again must find every one of them there (no line added).
        if [ -n "${SCOUT_CUDA_GEMM_CACHE:-}" ]; then
            before=$(grep -vc '^#' "$SCOUT_CUDA_GEMM_CACHE" 2>/dev/null)
            timeout 600 "$BIN/test_gpu_ops" --filter linear >> "$OUT/test.log" 2>&1 ||
                failed_groups="$failed_groups linear-again"
            after=$(grep -vc '^#' "$SCOUT_CUDA_GEMM_CACHE" 2>/dev/null)
            if [ "${before:-0}" -gt 0 ] && [ "$before" = "$after" ]; then
                echo "gemm tuning: $before choices written; the linear group run again read them all ok" |
                    tee -a "$OUT/test.log"
            else
                echo "gemm tuning: ${before:-0} choices written, ${after:-0} after running the linear group again FAIL" |
                    tee -a "$OUT/test.log"
                failed_groups="$failed_groups gemm-tuning"
            fi
        fi
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
              memcheck:scan memcheck:embedding racecheck:rmsnorm racecheck:cross_entropy memcheck:cross_entropy
              memcheck:conv1d"}
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
    train)
        if [ ! -x "$TBIN/test_gpu_train" ]; then
            echo "train: no $TBIN/test_gpu_train (scripts/gpu-check.sh --build-train here, carry build/gpu-train.tar.gz)" |
                tee "$OUT/train.log"
            status=1
            continue
        fi
        timeout 200 "$TBIN/test_gpu_train" > "$OUT/train-test.log" 2>&1
        rc=$?
        grep -E 'max rel|FAIL|passed|FAILED|error' "$OUT/train-test.log"
        echo "test_gpu_train: rc=$rc"
        [ $rc -eq 0 ] || status=1
        train_e2e > "$OUT/train.log" 2>&1 || status=1
        grep -E ' ok$|FAIL|error|val_loss|peak device' "$OUT/train.log"
        ;;
    profile-train)
        # scout-train under SCOUT_CUDA_PROFILE=1 (GPU time per table op and shape, TFLOP/s of the matrix products)
        # for PROFILE_RUNS="model:BxT ..." (default: the three 8x2048 runs and scout_swa_470m at 1x32768), 4 steps.
        : > "$OUT/profile.log"
        for pr in ${PROFILE_RUNS:-scout_swa_470m:8x2048 scout_mamba_430m:8x2048 qwen2_340m:8x2048 scout_swa_470m:1x32768}; do
            m=${pr%%:*} shape=${pr#*:}
            B=${shape%x*} T=${shape#*x}
            if [ $SECONDS -ge "${DEADLINE:-540}" ]; then
                echo "== $m $shape: skipped (deadline)" | tee -a "$OUT/profile.log"
                continue
            fi
            echo "== $m $shape" >> "$OUT/profile.log"
            SCOUT_CUDA_PROFILE=1 timeout 120 "$TBIN/scout-train" --device cuda --model "configs/$m.json" \
                --data "$TBIN/bench-data/b$T/train_*.bin" --seq-len "$T" --micro-batch "$B" --global-batch "$B" \
                --tokens $((4 * B * T)) --warmup 0 ${SCOUT_PEAK_TFLOPS:+--peak-tflops "$SCOUT_PEAK_TFLOPS"} \
                >> "$OUT/profile.log" 2>&1 || status=1
        done
        grep -E '^==|scout-cuda profile|step 4/4' "$OUT/profile.log"
        ;;
    bench-train)
        # Runs start until DEADLINE minus a minute (one run of a 470M model takes about that); BENCH_SHAPES,
        # BENCH_MODELS, BENCH_STEPS pass through; BENCH_RECOMPUTE=1 adds --recompute.
        left=$((${DEADLINE:-540} - SECONDS))
        bargs=(--deadline $((left > 60 ? left - 60 : 1)))
        [ -n "${BENCH_SHAPES:-}" ] && bargs+=(--shapes "$BENCH_SHAPES")
        [ -n "${BENCH_MODELS:-}" ] && bargs+=(--models "$BENCH_MODELS")
        [ -n "${BENCH_STEPS:-}" ] && bargs+=(--steps "$BENCH_STEPS")
        [ "${BENCH_RECOMPUTE:-0}" = 1 ] && bargs+=(--recompute)
        SCOUT_TRAIN="$TBIN/scout-train" BENCH_DATA="$TBIN/bench-data" OUT=/tmp/gpu-check-bench \
            scripts/bench-train.sh "${bargs[@]}" 2>&1 | tee "$OUT/bench-train.log"
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
        ;;
    *)
        echo "gpu-check: unknown step $step (info test bench sanitize train bench-train profile-train)" >&2
        status=2
        ;;
    esac
done
exit $status
