#!/usr/bin/env bash
# scripts/bench-train-cpu.sh: training throughput of scout-train on this CPU for the tiny configs (and the
# demo config), as a Markdown table for BENCHMARKS.md.
#
#   scripts/bench-train-cpu.sh [STEPS]      (default 12 steps per config; the first two are not counted)
#
# Each config trains on synthetic tokens (uniform ids: speed does not depend on the text) with micro-batch
# 8 x 256 tokens, one micro-batch per step. tokens/s is the median over the counted steps of the step's
# tokens / wall time, forward + backward + AdamW (scout-train's own tok_per_s). OpenBLAS uses every core
# unless OPENBLAS_NUM_THREADS is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
STEPS=${1:-12}
T=256
B=8
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# A packed stream of uniform ids below V: header of SCOUTTOK (DESIGN.md format 2), then uint16 tokens.
make_shards() { # vocab dir
    python3 - "$1" "$W/tok$1.bin" <<'EOF'
import random, struct, sys
V, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(1)
n = 300000
hdr = b"SCOUTTOK" + struct.pack("<IIII", 1, 2, V, 2) + bytes(8)
with open(out, "wb") as f:
    f.write(hdr)
    f.write(struct.pack("<%dH" % n, *(rng.randrange(V) for _ in range(n))))
EOF
    scout-pack -q --block $T -o "$2" "$W/tok$1.bin"
}
make_shards 32000 "$W/s32000"
make_shards 256 "$W/s256"

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; OpenBLAS threads: ${OPENBLAS_NUM_THREADS:-$(nproc)}"
echo
echo "| config | parameters | micro-batch x T | tokens/s | ms/step |"
echo "|---|---:|---:|---:|---:|"
for cfg in scout_swa_tiny scout_mamba_tiny qwen2_tiny qwen2_alternate_swa_tiny mamba_tiny \
           scout_swa_tiny_v256 scout_mamba_tiny_v256 qwen2_tiny_v256 mamba_tiny_v256 scout_swa_demo; do
    V=$(jq .vocab_size "configs/$cfg.json")
    shards="$W/s32000"
    [ "$V" -le 256 ] && shards="$W/s256"
    log="$W/$cfg.log"
    scout-train --model "configs/$cfg.json" --data "$shards/train_*.bin" --seq-len $T --global-batch $B \
        --micro-batch $B --tokens $((STEPS * B * T)) --metrics "$W/$cfg.jsonl" > "$log" 2>&1
    params=$(sed -nE 's/.* ([0-9]+) parameters$/\1/p' "$log" | head -1)
    tps=$(jq -r "select(.step > 2) | .tok_per_s" "$W/$cfg.jsonl" | median)
    printf '| %s | %s | %d x %d | %.0f | %.0f |\n' "$cfg" "$params" $B $T "$tps" "$(awk -v t="$tps" -v n=$((B * T)) 'BEGIN { print 1000 * n / t }')"
done
