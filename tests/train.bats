#!/usr/bin/env bats
# scout-train as a user runs it: real English (Moby-Dick through the Mistral tokenizer, or a synthetic
# stream when those are absent) packed into shards, tiny SCOUT-SWA and SCOUT-Mamba models trained for a
# few dozen steps, runs interrupted by SIGTERM / SIGINT and resumed (the loss sequence and the final weights
# must equal the uninterrupted run's bit for bit), --recompute (the same bits in less memory), the checkpoint
# format, and every bad-input case (message, exit code, no checkpoint left behind).

setup_file() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    export ROOT
    D="$BATS_FILE_TMPDIR/data"
    mkdir -p "$D"
    if [ -x "$ROOT/bin/scout-tokenize" ] && [ -f "$ROOT/data/tokenizers/mistral.json" ] && [ -f "$ROOT/data/corpora/moby-dick.jsonl" ]; then
        "$ROOT/bin/scout-tokenize" -q -t "$ROOT/data/tokenizers/mistral.json" "$ROOT/data/corpora/moby-dick.jsonl" > "$D/tokens.bin"
    else
        python3 "$ROOT/tests/ref/gen_tokens.py" "$D/tokens.bin" 300000 --vocab 32000 --mean-doc 2000
    fi
    # Blocks of 33 tokens (T = 32): chunks of 33 x 1024 tokens, about nine training shards.
    "$ROOT/bin/scout-pack" -q --block 32 --val-fraction 0.05 -o "$D/shards" "$D/tokens.bin"
}

setup() {
    PATH="$ROOT/bin:$PATH"
    D="$BATS_FILE_TMPDIR/data"
    T="$BATS_TEST_TMPDIR"
    SWA="$ROOT/configs/scout_swa_tiny.json"
    MAMBA="$ROOT/configs/scout_mamba_tiny.json"
    # 40 steps of 4 sequences of 32 tokens (micro-batch 2: two accumulation steps per optimizer step).
    RECIPE=(--data "$D/shards/train_*.bin" --seq-len 32 --global-batch 4 --micro-batch 2 --tokens 5120 --lr 2e-3
            --warmup 10% --val-data "$D/shards/val_*.bin" --val-every 10 --val-batches 2 -q)
}

# The deterministic fields of a metrics file, one line per step: step, tokens, loss, lr, grad_norm, val_loss.
losses() { sed -E 's/"tok_per_s": [^,]*, "mfu": [^,}]*//' "$1"; }

# Waits until the metrics file has $3 lines, then sends signal $1 to pid $2.
signal_after_steps() {
    for _ in $(seq 1 1200); do
        [ -f "$4" ] && [ "$(wc -l < "$4")" -ge "$3" ] && break
        sleep 0.05
    done
    kill -"$1" "$2"
}

# No checkpoint or temporary file under a directory (or no directory at all).
no_checkpoint() { [ -z "$(find "$1" -name 'step_*' -o -name '*.tmp*' 2>/dev/null)" ]; }

@test "SCOUT-SWA: a run interrupted by SIGTERM and resumed equals the uninterrupted run, bit for bit" {
    scout-train --model "$SWA" "${RECIPE[@]}" -o "$T/full"
    [ "$(wc -l < "$T/full/metrics.jsonl")" -eq 40 ]
    # It learns: the last loss is well below the first (ln 32000 = 10.37).
    first=$(head -1 "$T/full/metrics.jsonl" | sed -E 's/.*"loss": ([0-9.]+).*/\1/')
    last=$(tail -1 "$T/full/metrics.jsonl" | sed -E 's/.*"loss": ([0-9.]+).*/\1/')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 1.0) }'

    scout-train --model "$SWA" "${RECIPE[@]}" -o "$T/cut" & pid=$!
    signal_after_steps TERM $pid 5 "$T/cut/metrics.jsonl"
    status=0
    wait $pid || status=$?   # not `run wait`: a subshell cannot wait for this shell's child
    [ "$status" -eq 143 ]
    cut_at=$(sed 's/step_0*//' "$T/cut/latest")
    [ "$cut_at" -ge 5 ] && [ "$cut_at" -lt 40 ]
    no_checkpoint "$T/cut/step_$(printf %08d "$cut_at").tmp"

    scout-train --resume "$T/cut" -q   # the recipe, data and output directory come from the checkpoint
    diff <(losses "$T/full/metrics.jsonl") <(losses "$T/cut/metrics.jsonl")
    cmp "$T/full/step_00000040/model.safetensors" "$T/cut/step_00000040/model.safetensors"
    cmp "$T/full/step_00000040/optimizer.safetensors" "$T/cut/step_00000040/optimizer.safetensors"
}

@test "one stop request delivered twice (timeout(1) signals the process, then its group) still saves a checkpoint" {
    scout-train --model "$SWA" "${RECIPE[@]}" -o "$T/cut" & pid=$!
    signal_after_steps TERM $pid 5 "$T/cut/metrics.jsonl"
    sleep 0.2 # the first copy surely handled (signals still pending would merge into one)
    kill -TERM $pid 2>/dev/null || true # the second copy: within the first's second of grace
    status=0
    wait $pid || status=$?
    [ "$status" -eq 143 ]
    cut_at=$(sed 's/step_0*//' "$T/cut/latest")
    [ "$cut_at" -ge 5 ] && [ "$cut_at" -lt 40 ]
    [ -f "$T/cut/step_$(printf %08d "$cut_at")/optimizer.safetensors" ]
}

@test "SCOUT-Mamba: SIGINT, then --resume of an explicit step directory, equals the uninterrupted run" {
    scout-train --model "$MAMBA" "${RECIPE[@]}" --tokens 3840 -o "$T/full"
    [ "$(wc -l < "$T/full/metrics.jsonl")" -eq 30 ]
    first=$(head -1 "$T/full/metrics.jsonl" | sed -E 's/.*"loss": ([0-9.]+).*/\1/')
    last=$(tail -1 "$T/full/metrics.jsonl" | sed -E 's/.*"loss": ([0-9.]+).*/\1/')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 1.0) }'

    scout-train --model "$MAMBA" "${RECIPE[@]}" --tokens 3840 -o "$T/cut" & pid=$!
    signal_after_steps INT $pid 4 "$T/cut/metrics.jsonl"
    status=0
    wait $pid || status=$?
    [ "$status" -eq 130 ]
    step_dir="$T/cut/$(cat "$T/cut/latest")"
    [ -f "$step_dir/trainer.json" ]
    scout-train --resume "$step_dir" --model "$MAMBA" -q
    diff <(losses "$T/full/metrics.jsonl") <(losses "$T/cut/metrics.jsonl")
    cmp "$T/full/step_00000030/model.safetensors" "$T/cut/step_00000030/model.safetensors"
}

@test "checkpoint format: config bytes, reference tensor names, trainer state, latest pointer" {
    scout-train --model "$SWA" "${RECIPE[@]}" --tokens 640 --save-every 2 -o "$T/run"
    [ "$(cat "$T/run/latest")" = "step_00000005" ]
    ls "$T/run" | grep -qx step_00000002
    ls "$T/run" | grep -qx step_00000004
    c="$T/run/step_00000005"
    cmp "$SWA" "$c/config.json"
    python3 - "$c" <<'EOF'
import json, struct, sys
d = sys.argv[1]
def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))
m = header(d + "/model.safetensors")
assert m["__metadata__"] == {"format": "pt"}, m["__metadata__"]
assert m["model.embed_tokens.weight"]["shape"] == [32000, 64]
assert m["model.layers.1.swa_attn.q_proj.weight"]["shape"] == [64, 64]
assert m["model.layers.1.self_attn.k_proj.weight"]["shape"] == [32, 64]    # GQA: 2 KV heads of 16
assert m["model.layers.0.sec_mlp.down_proj.weight"]["shape"] == [64, 192]
assert "lm_head.weight" not in m                                           # tied, as save_pretrained
assert all(v["dtype"] == "F32" for k, v in m.items() if k != "__metadata__")
o = header(d + "/optimizer.safetensors")
names = set(k for k in m if k != "__metadata__")
for p in ("master.", "exp_avg.", "exp_avg_sq."):
    assert set(k[len(p):] for k in o if k.startswith(p)) == names, p
t = json.load(open(d + "/trainer.json"))
assert t["step"] == 5 and t["tokens"] == 5 * 4 * 32 and t["model_type"] == "scout_swa"
assert t["recipe"]["seq_len"] == 32 and t["recipe"]["micro_batch"] == 2 and t["recipe"]["seed"] == 3407
assert t["data"]["mode"] == "shards" and t["data"]["blocks"] == 5 * 4 and "rng" in t["data"]
assert t["args"][0].endswith("scout-train") and "--save-every" in t["args"]
EOF
}

# The activation bytes of a run's "activations: 5.5 MiB (...)" log line.
activation_bytes() {
    sed -nE 's/.*activations: ([0-9.]+) (MiB|GiB) .*/\1 \2/p' "$1" | awk '{ print $1 * ($2 == "GiB" ? 2^30 : 2^20) }'
}

@test "--recompute: the same losses, weights and moments as without it, in less activation memory; a resume may change it" {
    # Not -q: the activation report is a log line. 10 steps, saved at 5 and 10.
    args=(--data "$D/shards/train_*.bin" --seq-len 32 --global-batch 4 --micro-batch 2 --tokens 1280 --lr 2e-3
          --warmup 10% --val-data "$D/shards/val_*.bin" --val-every 5 --val-batches 2 --save-every 5)
    scout-train --model "$SWA" "${args[@]}" -o "$T/keep" 2> "$T/keep.log"
    scout-train --model "$SWA" "${args[@]}" --recompute -o "$T/rc" 2> "$T/rc.log"
    [ "$(wc -l < "$T/rc/metrics.jsonl")" -eq 10 ]
    diff <(losses "$T/keep/metrics.jsonl") <(losses "$T/rc/metrics.jsonl")
    cmp "$T/keep/step_00000010/model.safetensors" "$T/rc/step_00000010/model.safetensors"
    cmp "$T/keep/step_00000010/optimizer.safetensors" "$T/rc/step_00000010/optimizer.safetensors"
    grep -q "activations: .*(every layer kept)" "$T/keep.log"
    grep -q "activations: .*(recompute per layer)" "$T/rc.log"
    grep -q "peak memory: .* held by the model" "$T/rc.log"
    keep=$(activation_bytes "$T/keep.log")
    rc=$(activation_bytes "$T/rc.log")
    awk -v a="$rc" -v b="$keep" 'BEGIN { exit !(a > 0 && a < b) }'
    [ "$(jq .options.recompute "$T/rc/step_00000005/trainer.json")" = true ]
    [ "$(jq .options.recompute "$T/keep/step_00000005/trainer.json")" = false ]

    # A resume keeps the checkpoint's choice...
    scout-train --resume "$T/rc/step_00000005" 2> "$T/resume1.log"
    grep -q "activations: .*(recompute per layer)" "$T/resume1.log"
    cmp "$T/keep/step_00000010/model.safetensors" "$T/rc/step_00000010/model.safetensors"
    # ...or changes it, with the same result.
    scout-train --resume "$T/rc/step_00000005" --no-recompute 2> "$T/resume2.log"
    grep -q "activations: .*(every layer kept)" "$T/resume2.log"
    ! grep -q "will not match" "$T/resume2.log"
    diff <(losses "$T/keep/metrics.jsonl") <(losses "$T/rc/metrics.jsonl")
    cmp "$T/keep/step_00000010/model.safetensors" "$T/rc/step_00000010/model.safetensors"
    [ "$(jq .options.recompute "$T/rc/step_00000010/trainer.json")" = false ]
}

@test "a packed stream on stdin trains; --init starts from a checkpoint's weights" {
    cat "$D"/shards/train_*.bin | scout-train --model "$SWA" --seq-len 32 --global-batch 4 --micro-batch 4 --lr 3e-3 \
        --tokens 2560 -q -o "$T/stream"
    [ "$(wc -l < "$T/stream/metrics.jsonl")" -eq 20 ]
    [ "$(jq -r .data.mode "$T/stream/step_00000020/trainer.json")" = stream ]
    # The same first batch from the trained weights and from a fresh init: the trained model does better.
    scout-train --model "$SWA" --init "$T/stream/step_00000020/model.safetensors" --data "$D/shards/train_*.bin" \
        --seq-len 32 --global-batch 4 --micro-batch 4 --tokens 128 -q -o "$T/init"
    scout-train --model "$SWA" --data "$D/shards/train_*.bin" --seq-len 32 --global-batch 4 --micro-batch 4 \
        --tokens 128 -q -o "$T/fresh"
    init=$(jq .loss "$T/init/metrics.jsonl")
    fresh=$(jq .loss "$T/fresh/metrics.jsonl")
    awk -v a="$init" -v b="$fresh" 'BEGIN { exit !(a < b - 0.3) }'
}

@test "shards with tokens beyond the model's vocabulary are refused (exit 3), nothing written" {
    run scout-train --model "$ROOT/configs/scout_swa_tiny_v256.json" --data "$D/shards/train_*.bin" --seq-len 32 \
        --global-batch 4 --micro-batch 2 --tokens 1280 -o "$T/out"
    [ "$status" -eq 3 ]
    [[ "$output" == *"train_"*".bin"*"outside the model's vocabulary of 256"* ]]
    [ ! -e "$T/out" ]
}

@test "a config with an unknown field is refused (exit 3), nothing written" {
    sed 's/"hidden_size"/"hidden_sise"/' "$SWA" > "$T/bad.json"
    run scout-train --model "$T/bad.json" "${RECIPE[@]}" -o "$T/out"
    [ "$status" -eq 3 ]
    [[ "$output" == *"bad.json"*"hidden_sise"* ]]
    [ ! -e "$T/out" ]
}

@test "a checkpoint of another architecture is refused (exit 3), no checkpoint added" {
    scout-train --model "$SWA" "${RECIPE[@]}" --tokens 256 -o "$T/swa"
    before=$(ls "$T/swa")
    run scout-train --resume "$T/swa" --model "$MAMBA"
    [ "$status" -eq 3 ]
    [[ "$output" == *"scout_swa model"*"scout_mamba model"* ]]
    [ "$(ls "$T/swa")" = "$before" ]
    no_checkpoint "$T/swa/step_00000002.tmp"
    # The same weights through --init: params_load names the foreign tensors.
    run scout-train --model "$MAMBA" --init "$T/swa/step_00000002/model.safetensors" "${RECIPE[@]}" -o "$T/m"
    [ "$status" -eq 3 ]
    [[ "$output" == *"model.safetensors"*"is missing"* ]] || [[ "$output" == *"not part of the scout_mamba model"* ]]
    no_checkpoint "$T/m"
}

@test "bad usage: a fresh run into a directory holding checkpoints, a batch that does not divide, no model" {
    scout-train --model "$SWA" "${RECIPE[@]}" --tokens 256 -o "$T/run"
    run scout-train --model "$SWA" "${RECIPE[@]}" -o "$T/run"
    [ "$status" -eq 2 ]
    [[ "$output" == *"already holds checkpoints"*"--resume"* ]]
    run scout-train --model "$SWA" "${RECIPE[@]}" --global-batch 5 -o "$T/x"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not a multiple of micro-batch 2"* ]]
    run scout-train --data "$D/shards/train_*.bin"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--model"* ]]
    run scout-train --model "$SWA" --train-config 128x4q_15B
    [ "$status" -eq 2 ]
    [[ "$output" == *"128x4q_15B"* ]]
}
