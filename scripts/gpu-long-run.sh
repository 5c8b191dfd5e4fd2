#!/usr/bin/env bash
# scripts/gpu-long-run.sh: issue 5's acceptance run on one GPU: scout_swa_470m trained by scout-train --device cuda
# on real English text (pipelines/gpu-run-data.sh: 48M Mistral tokens) with validation every 50 steps, stopped by
# SIGTERM (scout-train saves a checkpoint at the next step boundary) and resumed from that checkpoint.
#
#   here:  pipelines/gpu-run-data.sh --tools && scripts/gpu-check.sh --build-train && scripts/gpu-long-run.sh --pack
#          (-> build/gpu-longrun.tar.gz: the static scout-train alone; carry it with build/gpu-run-data)
#   there: scripts/gpu-long-run.sh start SECONDS    tokenize + pack on first use, train from scratch for SECONDS,
#                                                   then SIGTERM (exit 143 expected: checkpoint written)
#          scripts/gpu-long-run.sh resume SECONDS   continue from the run's latest checkpoint for SECONDS (or to the
#                                                   end of the token budget)
# Logs, metrics.jsonl and a summary go to $OUT (default build/gpu-longrun/logs); the run directory is
# build/gpu-longrun/run (an ignored path, so a warm machine keeps it between two calls).
#
# Recipe: sequences of 2048 tokens, micro-batch 8, global batch 32 (65,536 tokens per step), 100M tokens (1,525
# steps, ~2 epochs of the corpus; a little over 10 minutes on one H200 at ~150K tokens/s), peak lr 3e-4 (the
# reference's) after 3% warmup, cosine to 3e-5, weight decay 0.1, clip 1.0; validation on the first 8 x 8
# validation blocks (131K tokens) every 50 steps.
set -uo pipefail
cd "$(dirname "$0")/.."

W=build/gpu-longrun
DATA=build/gpu-run-data
RUN=$W/run
OUT=${OUT:-$W/logs}

if [ "${1:-}" = "--pack" ]; then
    [ -x build/gpu-dev/scout-train ] || { echo "gpu-long-run: build/gpu-dev/scout-train missing (scripts/gpu-check.sh --build-train)" >&2; exit 1; }
    tar -C build/gpu-dev -czf build/gpu-longrun.tar.gz scout-train || exit 1
    echo "gpu-long-run: carry build/gpu-longrun.tar.gz ($(du -h build/gpu-longrun.tar.gz | cut -f1)) and $DATA"
    exit 0
fi

mode=${1:-}
secs=${2:-}
{ [ "$mode" = start ] || [ "$mode" = resume ]; } && [ -n "$secs" ] ||
    { echo "usage: $0 --pack | start SECONDS | resume SECONDS" >&2; exit 2; }
mkdir -p "$W" "$OUT"
TRAIN=$W/scout-train
[ -x "$TRAIN" ] || tar -C "$W" -xzf build/gpu-longrun.tar.gz || { echo "gpu-long-run: no build/gpu-longrun.tar.gz" >&2; exit 1; }

# Shards: tokenized and packed here once (every core; ~10 s), as pipelines/gpu-run-data.sh documents.
if ! ls "$W"/shards/train_*.bin > /dev/null 2>&1; then
    [ -x "$DATA/scout-tokenize" ] || tar -xzf "$DATA/tools.tar.gz" -C "$DATA" || exit 1
    start=$SECONDS
    "$DATA/scout-tokenize" -q -t "$DATA/mistral.json" -j 0 "$DATA/corpus.jsonl.zst" |
        "$DATA/scout-pack" -q --chunk-size 131136 --drop-last --val-fraction 0.02 -o "$W/shards" || exit 1
    echo "gpu-long-run: shards in $((SECONDS - start)) s: $(ls "$W"/shards/train_*.bin | wc -l) train, $(ls "$W"/shards/val_*.bin | wc -l) val" |
        tee -a "$OUT/summary.txt"
fi

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$OUT/summary.txt"
date -u +"$mode at %Y-%m-%d %H:%M:%S UTC, for $secs s" | tee -a "$OUT/summary.txt"
if [ "$mode" = start ]; then
    rm -rf "$RUN"
    args=(--device cuda --model configs/scout_swa_470m.json --data "$W/shards/train_*.bin"
          --val-data "$W/shards/val_*.bin" --val-every 50 --val-batches 8 --seq-len 2048 --micro-batch 8
          --global-batch 32 --tokens 100M --lr 3e-4 --warmup 3% --peak-tflops 989 -o "$RUN")
else
    args=(--device cuda --resume "$RUN")
fi
t0=$SECONDS
timeout --preserve-status -s TERM "$secs" "$TRAIN" "${args[@]}" >> "$OUT/train.log" 2>&1
rc=$?
echo "$mode: exit $rc after $((SECONDS - t0)) s (143: stopped by SIGTERM, checkpoint saved; 0: budget done)" |
    tee -a "$OUT/summary.txt"
cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl" 2>/dev/null
ls "$RUN" >> "$OUT/summary.txt" 2>&1
grep -E 'peak device memory|activations:' "$OUT/train.log" | tail -2 >> "$OUT/summary.txt"
# The validation losses so far, one line each.
grep -o '"step": [0-9]*, [^}]*"val_loss": [0-9.]*' "$RUN/metrics.jsonl" 2>/dev/null |
    sed -E 's/"step": ([0-9]+).*"val_loss": ([0-9.]+)/step \1 val_loss \2/' | tail -40 >> "$OUT/summary.txt"
[ $rc -eq 0 ] || [ $rc -eq 143 ]
