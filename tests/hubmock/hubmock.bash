# hubmock.bash: bats helpers around tests/hubmock/hubmock.py (the Hub stand-in on 127.0.0.1).
#
#   mock_fixture DIR             the repositories the stand-in serves (a FineWeb-Edu-shaped dataset
#                                with real Parquet files, and a model repository)
#   mock_start [FAULTS] [EXTRA]  starts it with a JSON array of faults and an extra JSON object
#                                merged into its configuration; sets HF_ENDPOINT, HUB_LOG, CDN_LOG
#   mock_stop                    (teardown)
#   hub_log / cdn_log JQ         jq -c over the request logs

DS_REPO=HuggingFaceFW/fineweb-edu
DS_COMMIT=87f09149ef4734204d70ed1d046ddc9ca3f2b8f9
MODEL_REPO=fla-hub/transformer-1.3B-100B
MODEL_COMMIT=5bf5a1e2a8d1b3c4d5e6f708192a3b4c5d6e7f80

# Deterministic bytes: python's PRNG with a seed, so a fixture is the same on every machine.
random_file() { python3 -c "import random,sys; random.seed($3); sys.stdout.buffer.write(random.randbytes($2))" > "$1"; }

mock_fixture() {
    local d=$1 root
    root="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    mkdir -p "$d/ds/sample/10BT" "$d/ds/sample/350BT" "$d/ds/data/CC-MAIN-2024-10" "$d/model" "$d/expected"
    # Real Parquet from an independent writer; expected rows beside them (tests/hubmock/make_parquet.mjs).
    local n=0 spec
    for spec in "400 1 50" "300 2 100" "1500 3 250"; do
        set -- $spec
        NODE_PARQUET="$root/data/node-parquet/node_modules" node "$root/tests/hubmock/make_parquet.mjs" \
            "$d/ds/sample/10BT/00${n}_00000.parquet" "$d/expected/00${n}.jsonl" "$1" "$2" "$3" || return 1
        n=$((n + 1))
    done
    random_file "$d/ds/sample/350BT/000_00000.parquet" 3000000 11
    random_file "$d/ds/data/CC-MAIN-2024-10/000_00000.parquet" 5000 12
    printf -- '---\nlicense: odc-by\n---\n# FineWeb-Edu stand-in\n' > "$d/ds/README.md"
    printf '*.parquet filter=lfs diff=lfs merge=lfs -text\n' > "$d/ds/.gitattributes"
    printf '{"version":"1.0","model":{"type":"BPE"}}\n' > "$d/model/tokenizer.json"
    printf '{"model_type":"transformer","hidden_size":2048}\n' > "$d/model/config.json"
    random_file "$d/model/model.safetensors" 300000 13
}

mock_start() {
    local faults=${1:-[]} extra=${2:-'{}'}
    MOCK_STATE="$BATS_TEST_TMPDIR/mock"
    mkdir -p "$MOCK_STATE"
    jq -n --arg ds "$FIX/ds" --arg model "$FIX/model" --arg dc "$DS_COMMIT" --arg mc "$MODEL_COMMIT" \
        --argjson faults "$faults" --argjson extra "$extra" '{
        repos: [{type: "dataset", name: "HuggingFaceFW/fineweb-edu", dir: $ds, commit: $dc, lfs: ["*.parquet"]},
                {type: "model", name: "fla-hub/transformer-1.3B-100B", dir: $model, commit: $mc, lfs: ["*.safetensors"]}],
        page_size: 2, lifetime: 60, faults: $faults} + $extra' > "$MOCK_STATE/config.json"
    # 3>&-: bats waits for fd 3 to close; a background server must not hold it.
    python3 "$BATS_TEST_DIRNAME/hubmock/hubmock.py" "$MOCK_STATE/config.json" "$MOCK_STATE" 3>&- &
    MOCK_PID=$!
    local i
    for i in $(seq 200); do
        [ -f "$MOCK_STATE/ports" ] && break
        kill -0 "$MOCK_PID" 2>/dev/null || { echo "hubmock.py died at start" >&2; return 1; }
        sleep 0.05
    done
    read -r HUB_PORT CDN_PORT < "$MOCK_STATE/ports" || { echo "hubmock.py wrote no ports in 10 s" >&2; return 1; }
    export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT"
    HUB_LOG="$MOCK_STATE/hub.log"
    CDN_LOG="$MOCK_STATE/cdn.log"
}

mock_stop() {
    [ -n "${MOCK_PID:-}" ] || return 0
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
}

hub_log() { jq -c "$1" "$HUB_LOG"; }
cdn_log() { jq -c "$1" "$CDN_LOG"; }
