#!/usr/bin/env bash
# scripts/bench-train.sh: `make bench-train` (needs an NVIDIA GPU): scout-train on synthetic tokens for each model
# and micro-batch shape, one process per (model, shape), printing tokens/s, step time, peak memory and MFU.
#
#   scripts/bench-train.sh [--models "scout_swa_470m scout_mamba_430m qwen2_340m"] [--shapes "8x2048 2x8192 1x32768"]
#                          [--steps N] [--peak-tflops X] [--device cuda] [--deadline SECONDS] [--recompute]
#
# Each run is scout-train --device cuda with micro-batch = global batch = B (no accumulation), sequence length T,
# N optimizer steps (default 8) on a packed stream of random tokens (tests/ref/gen_tokens.py + scout-pack, made
# once per T under BENCH_DATA). The figures are the medians over the steps after the first two (cuBLASLt's
# heuristic and first touches): tokens/s and step time from scout-train's metrics (wall time of the whole step:
# data, upload, forward, backward, global norm, AdamW); MFU = params_train_flops_per_token x tokens/s / peak, with
# the peak from --peak-tflops or SCOUT_PEAK_TFLOPS (no name table; empty when neither is given); peak memory from
# scout-train's closing report: the bytes the model allocated (parameters, optimizer, activations, workspace: all
# allocated up front) and what cudaMemGetInfo says is in use on the device (that plus the CUDA context and
# cuBLASLt's workspace). A run that does not fit prints its error instead. Where nvidia-smi runs, the SM clock and
# board power are sampled every 200 ms during each run, and the medians over the samples with the GPU busy (>= 90%
# utilisation: the training steps, not the start-up) are printed: an H200 training at full speed sits at its 700 W
# cap with the SM clock well under its 1980 MHz, so a GPU's figure depends on how much work it does per joule
# (BENCHMARKS.md, seventh round), and these two columns say how a run's GPU stood.
#
# --recompute: scout-train --recompute (each layer keeps only its input; the backward recomputes the rest), to
# measure what it saves in peak memory and costs in time.
# --deadline S: skip the runs that would start after S seconds of this script (one device call is limited).
# --data-only: make the shards under BENCH_DATA for the shapes and exit (no GPU needed).
# Environment: SCOUT_TRAIN (default bin/scout-train), SCOUT_PACK (bin/scout-pack), BENCH_DATA (default
# build/bench-train-data), OUT (logs; default build/bench-train).
set -uo pipefail
cd "$(dirname "$0")/.."

models="scout_swa_470m scout_mamba_430m qwen2_340m"
shapes="8x2048 2x8192 1x32768"
steps=8
peak=${SCOUT_PEAK_TFLOPS:-}
device=cuda
deadline=0
data_only=0
recompute=0
while [ $# -gt 0 ]; do
    case "$1" in
    --models) models=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --peak-tflops) peak=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --deadline) deadline=$2; shift 2 ;;
    --data-only) data_only=1; shift ;;
    --recompute) recompute=1; shift ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench-train: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$steps" -ge 3 ] || { echo "bench-train: --steps must be at least 3" >&2; exit 2; }

TRAIN=${SCOUT_TRAIN:-bin/scout-train}
PACK=${SCOUT_PACK:-bin/scout-pack}
DATA=${BENCH_DATA:-build/bench-train-data}
OUT=${OUT:-build/bench-train}
mkdir -p "$OUT" "$DATA"
[ -x "$TRAIN" ] || { echo "bench-train: $TRAIN not built (make)" >&2; exit 1; }

# Shards of random tokens for sequence length T: 8 chunks (the reader's shuffling window) of about 128K tokens
# (whole blocks of T+1); the reader wraps, so any number of steps can be read from them.
make_data() {
    local T=$1 dir="$DATA/b$1"
    ls "$dir"/train_*.bin >/dev/null 2>&1 && return 0
    local k=$((131072 / (T + 1)))
    [ $k -ge 1 ] || k=1
    local chunk=$((k * (T + 1)))
    mkdir -p "$dir"
    python3 tests/ref/gen_tokens.py "$dir/tokens.bin" $((8 * chunk)) --vocab 32000 --mean-doc 4000 --seed "$T" &&
        "$PACK" -q --chunk-size "$chunk" -o "$dir" "$dir/tokens.bin" && rm -f "$dir/tokens.bin"
}

# The median of the numbers on stdin.
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# sample_gpu FILE: SM clock (MHz), power (W) and utilisation (%) every 200 ms into FILE, in the background (echoes the
# sampler's pid; nothing without nvidia-smi). busy_median FILE COLUMN: the median of COLUMN (1 clock, 2 power) over
# the samples at >= 90% utilisation, or "-".
sample_gpu() {
    command -v nvidia-smi >/dev/null || return 0
    nvidia-smi --query-gpu=clocks.sm,power.draw,utilization.gpu --format=csv,noheader,nounits -lms 200 > "$1" 2>/dev/null &
    echo $!
}
busy_median() {
    local v
    v=$(awk -F', *' -v c="$2" '$3 + 0 >= 90 {print $c}' "$1" 2>/dev/null | median)
    [ -n "$v" ] && printf '%.0f' "$v" || printf -- '-'
}

if [ $data_only = 1 ]; then # only the shards (scripts/gpu-check.sh --build makes them here to carry)
    for shape in $shapes; do make_data "${shape#*x}" || exit 1; done
    exit 0
fi

date -u +"bench-train: %Y-%m-%d %H:%M UTC, device $device, $steps steps per run${peak:+, peak $peak TFLOP/s}$([ $recompute = 1 ] && echo ', --recompute')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
printf '%-18s %-9s %12s %10s %14s %14s %7s %7s %6s\n' model BxT tokens/s step_ms alloc_GiB device_GiB MFU SM_MHz GPU_W
status=0
for shape in $shapes; do
    B=${shape%x*}
    T=${shape#*x}
    make_data "$T" || { echo "bench-train: cannot make data for T=$T" >&2; status=1; continue; }
    for m in $models; do
        if [ "$deadline" -gt 0 ] && [ $SECONDS -ge "$deadline" ]; then
            printf '%-18s %-9s %s\n' "$m" "$shape" "skipped (deadline)"
            continue
        fi
        log="$OUT/${m}_$shape"
        rm -f "$log.jsonl"
        args=(--device "$device" --model "configs/$m.json" --data "$DATA/b$T/train_*.bin" --seq-len "$T" --micro-batch "$B"
              --global-batch "$B" --tokens $((steps * B * T)) --warmup 0 --metrics "$log.jsonl")
        [ -n "$peak" ] && args+=(--peak-tflops "$peak")
        [ $recompute = 1 ] && args+=(--recompute)
        sampler=$(sample_gpu "$log.clk")
        "$TRAIN" "${args[@]}" > "$log.log" 2>&1
        rc=$?
        [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
        if [ $rc -ne 0 ] || [ ! -s "$log.jsonl" ]; then
            printf '%-18s %-9s %s\n' "$m" "$shape" "failed (rc=$rc): $(grep -m1 -iE 'error|out of memory|die|fail' "$log.log" | cut -c1-120)"
            status=1
            continue
        fi
        tps=$(tail -n +3 "$log.jsonl" | grep -o '"tok_per_s": [0-9.e+-]*' | awk '{print $2}' | median)
        mfu=$(tail -n +3 "$log.jsonl" | grep -o '"mfu": [0-9.e+-]*' | awk '{print $2}' | median)
        mem=$(grep -m1 'peak device memory' "$log.log")
        alloc=$(sed -nE 's/.*peak device memory: ([0-9.]+) GiB allocated.*/\1/p' <<< "$mem")
        used=$(sed -nE 's/.*; ([0-9.]+) GiB in use.*/\1/p' <<< "$mem")
        step_ms=$(awk -v t="$tps" -v n=$((B * T)) 'BEGIN {if (t > 0) printf "%.1f", 1000 * n / t}')
        mfu_s=$(awk -v m="$mfu" 'BEGIN {if (m != "" && m >= 0) printf "%.1f%%", 100 * m; else print "-"}')
        printf '%-18s %-9s %12.0f %10s %14s %14s %7s %7s %6s\n' "$m" "$shape" "$tps" "$step_ms" "${alloc:--}" "${used:--}" \
            "$mfu_s" "$(busy_median "$log.clk" 1)" "$(busy_median "$log.clk" 2)"
    done
done
exit $status
