#!/usr/bin/env bash
# scripts/bench-fetch.sh (make bench-fetch): scout-fetch against curl, side by side in one run, on
# the loopback Hub stand-in of the tests (tests/hubmock/hubmock.py, 127.0.0.1 only).
#
#   download   one SIZE_MB file (default 1024): scout-fetch -o DIR (resolve, GET into .part, SHA-256
#              while writing, rename, sidecar) against `curl -o` of the same CDN URL, and against
#              `curl -o` + `sha256sum` (the same guarantee as scout-fetch); then the same bytes as 4
#              files, scout-fetch --jobs 4 against 4 curls at once. Best of REPEAT runs (2).
#   jsonl      a FineWeb-shaped Parquet file of ROWS rows (default 60000, ~170 MB of JSONL) written by
#              tests/hubmock/make_parquet.mjs (or PARQUET=FILE, an existing one): scout-fetch --parquet
#              (local, mapped, one core) and --to jsonl by Range requests from the stand-in, in MB/s of
#              JSONL written.
# One file's download is bound by SHA-256 (one stream, about 1.2-2 GB/s per core with SHA-NI); files
# downloaded in parallel hash in parallel.
# Output: a table on stdout; BENCHMARKS.md records it with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MB=${SIZE_MB:-1024}
ROWS=${ROWS:-60000}
REPEAT=${REPEAT:-2}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/bench-fetch.XXXXXX)}
FETCH=$ROOT/bin/scout-fetch
[ -x "$FETCH" ] || { echo "bench-fetch: bin/scout-fetch is missing; run make" >&2; exit 1; }
command -v curl > /dev/null || { echo "bench-fetch: curl is needed for the comparison" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'

MOCK_PID=
cleanup() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2> /dev/null || true
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

now() { date +%s.%N; }
mbps() { python3 -c "print('%.0f' % ($1 / 1e6 / ($3 - $2)))"; }
best() { python3 -c "import sys; print(max(map(float, sys.argv[1:])))" "$@"; }

echo "bench-fetch: preparing a ${SIZE_MB} MB file and a ${ROWS}-row Parquet file in $BENCH_DIR" >&2
mkdir -p "$BENCH_DIR/repo/bench/multi" "$BENCH_DIR/expected"
head -c "$((SIZE_MB * 1000000))" /dev/urandom > "$BENCH_DIR/repo/bench/big.bin"
for k in 0 1 2 3; do
    dd if="$BENCH_DIR/repo/bench/big.bin" of="$BENCH_DIR/repo/bench/multi/$k.bin" bs=1000000 count=$((SIZE_MB / 4)) \
        skip=$((k * SIZE_MB / 4)) status=none
done
HAVE_PARQUET=0
if [ -n "${PARQUET:-}" ]; then
    cp "$PARQUET" "$BENCH_DIR/repo/bench/rows.parquet"
    HAVE_PARQUET=1
elif NODE_PARQUET="$ROOT/data/node-parquet/node_modules" node tests/hubmock/make_parquet.mjs \
    "$BENCH_DIR/repo/bench/rows.parquet" "$BENCH_DIR/expected/rows.jsonl" "$ROWS" 5 1000 2> /dev/null; then
    HAVE_PARQUET=1
else
    echo "bench-fetch: no Parquet writer (make deps fetches hyparquet-writer); skipping the jsonl rows" >&2
fi

cat > "$BENCH_DIR/config.json" << EOF
{"repos": [{"type": "dataset", "name": "bench/data", "dir": "$BENCH_DIR/repo",
            "commit": "0123456789abcdef0123456789abcdef01234567", "lfs": ["*.bin", "*.parquet"]}],
 "page_size": 1000, "lifetime": 1800}
EOF
python3 tests/hubmock/hubmock.py "$BENCH_DIR/config.json" "$BENCH_DIR/state" &
MOCK_PID=$!
for _ in $(seq 600); do [ -f "$BENCH_DIR/state/ports" ] && break; sleep 0.1; done
read -r HUB_PORT _ < "$BENCH_DIR/state/ports"
export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT" HF_TOKEN=
BYTES=$(stat -c %s "$BENCH_DIR/repo/bench/big.bin")
BYTES4=$(cat "$BENCH_DIR"/repo/bench/multi/*.bin | wc -c)

# The CDN URL the Hub's 302 points at, for curl.
cdn_url() {
    curl -sS -o /dev/null -w '%{redirect_url}' \
        "$HF_ENDPOINT/datasets/bench/data/resolve/0123456789abcdef0123456789abcdef01234567/bench/$1"
}

ours=() plain=() hashed=() ours4=() plain4=()
for r in $(seq "$REPEAT"); do
    rm -rf "$BENCH_DIR/ours" "$BENCH_DIR/curl"
    mkdir -p "$BENCH_DIR/curl"
    t0=$(now)
    "$FETCH" -q bench/data --include bench/big.bin -o "$BENCH_DIR/ours"
    t1=$(now)
    ours+=("$(mbps "$BYTES" "$t0" "$t1")")
    url=$(cdn_url big.bin)
    t0=$(now)
    curl -sS -o "$BENCH_DIR/curl/big.bin" "$url"
    t1=$(now)
    sha256sum "$BENCH_DIR/curl/big.bin" > /dev/null
    t2=$(now)
    plain+=("$(mbps "$BYTES" "$t0" "$t1")")
    hashed+=("$(mbps "$BYTES" "$t0" "$t2")")
    cmp "$BENCH_DIR/ours/bench/big.bin" "$BENCH_DIR/curl/big.bin"
    rm -rf "$BENCH_DIR/ours" "$BENCH_DIR/curl"
    mkdir -p "$BENCH_DIR/curl"
    t0=$(now)
    "$FETCH" -q bench/data --include 'bench/multi/*' -o "$BENCH_DIR/ours" --jobs 4
    t1=$(now)
    ours4+=("$(mbps "$BYTES4" "$t0" "$t1")")
    urls=()
    for k in 0 1 2 3; do urls+=("$(cdn_url "multi/$k.bin")"); done
    t0=$(now)
    pids=()
    for k in 0 1 2 3; do
        curl -sS -o "$BENCH_DIR/curl/$k.bin" "${urls[$k]}" &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare wait: the stand-in is a background job too
    t1=$(now)
    plain4+=("$(mbps "$BYTES4" "$t0" "$t1")")
    rm -rf "$BENCH_DIR/ours" "$BENCH_DIR/curl"
done
O=$(best "${ours[@]}")
P=$(best "${plain[@]}")
H=$(best "${hashed[@]}")
O4=$(best "${ours4[@]}")
P4=$(best "${plain4[@]}")

printf '\n%-58s %10s %8s\n' "download of a ${SIZE_MB} MB file over loopback (best of $REPEAT)" "MB/s" "ratio"
printf '%-58s %10.0f %8s\n' "curl -o (no verification)" "$P" "1.00"
printf '%-58s %10.0f %8.2f\n' "curl -o, then sha256sum" "$H" "$(python3 -c "print($H / $P)")"
printf '%-58s %10.0f %8.2f\n' "scout-fetch -o (SHA-256 while writing, rename, sidecar)" "$O" "$(python3 -c "print($O / $P)")"
printf '%-58s %10.0f %8s\n' "4 curl -o at once, the same bytes as 4 files" "$P4" "1.00"
printf '%-58s %10.0f %8.2f\n' "scout-fetch -o --jobs 4, the same 4 files" "$O4" "$(python3 -c "print($O4 / $P4)")"

if [ "$HAVE_PARQUET" = 1 ]; then
    PQ="$BENCH_DIR/repo/bench/rows.parquet"
    "$FETCH" -q --parquet "$PQ" > "$BENCH_DIR/rows.jsonl"
    JBYTES=$(stat -c %s "$BENCH_DIR/rows.jsonl")
    rm "$BENCH_DIR/rows.jsonl"
    local_runs=() remote_runs=()
    for r in $(seq "$REPEAT"); do
        t0=$(now)
        "$FETCH" -q --parquet "$PQ" > /dev/null
        t1=$(now)
        local_runs+=("$(mbps "$JBYTES" "$t0" "$t1")")
        t0=$(now)
        "$FETCH" -q bench/data --include bench/rows.parquet --to jsonl > /dev/null
        t1=$(now)
        remote_runs+=("$(mbps "$JBYTES" "$t0" "$t1")")
    done
    printf '\n%-58s %10s\n' "Parquet to JSONL, $((JBYTES / 1000000)) MB of JSONL (best of $REPEAT)" "MB/s"
    printf '%-58s %10.0f\n' "scout-fetch --parquet FILE (local, one core)" "$(best "${local_runs[@]}")"
    printf '%-58s %10.0f\n' "scout-fetch --to jsonl (Range requests over loopback)" "$(best "${remote_runs[@]}")"
fi
