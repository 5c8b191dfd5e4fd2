#!/usr/bin/env bats
# The Parquet reader (src/parquet*.c) on files from independent writers, through the test driver
# build/tests/parquet-cat (tests/parquet-cat.c: Parquet to JSONL, as scout-fetch prints it):
#   DuckDB (npm @duckdb/node-api)      v1 pages; PLAIN, dictionary; V2: DELTA_LENGTH_BYTE_ARRAY, ...
#   hyparquet-writer (npm)             DATA_PAGE_V2; PLAIN, RLE_DICTIONARY, DELTA_*; REQUIRED columns
#   scripts/parquet-handwriter.mjs     pyarrow's dictionary-then-PLAIN chunks (checked by hyparquet)
# Every file is compared with the values its writer was given (scripts/parquet-fixtures.mjs compare),
# in both reading modes (mmap, and the downloader's trailer/footer/chunk ranges). Bad files must give
# exit 3 and a message, never a crash: they run under AddressSanitizer + UBSan.

# Pinned writer packages; installed under data/node-parquet by `make deps` (or here when missing).
NPM_PARQUET=(@duckdb/node-api@1.5.6-r.1 hyparquet-writer@0.17.0 hyparquet@1.31.5 hyparquet-compressors@1.1.2)
ALL=text,id,dump,url,language_score,token_count,score,int_score,n32,f32,flag
HAND=text,id,dump,url,language_score,token_count,score,int_score

setup_file() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    cd "$ROOT"
    if [ ! -e data/node-parquet/node_modules/hyparquet-writer/package.json ] ||
       [ ! -e data/node-parquet/node_modules/@duckdb/node-api/package.json ]; then
        npm install --silent --no-update-notifier --no-audit --no-fund --ignore-scripts \
            --prefix data/node-parquet "${NPM_PARQUET[@]}" >&2
    fi
    command -v zstd >/dev/null || { echo "the zstd command is missing (apt-get install zstd)" >&2; return 1; }
    tests/parquet-build.sh cat asan >&2
    export FIX="$BATS_FILE_TMPDIR/fixtures"
    node scripts/parquet-fixtures.mjs gen "$FIX" >&2
}

setup() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    CAT="$ROOT/build/tests/parquet-cat"
    ASAN="$ROOT/build/tests/parquet-cat-asan"
    FIXTURES="node $ROOT/scripts/parquet-fixtures.mjs"
    T="$BATS_TEST_TMPDIR"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=67
}

# check NAME COLUMNS STATS-PATTERN...: NAME's output for COLUMNS equals what its writer was given,
# read both ways, and --stats (one line per column) matches every pattern (what the file holds).
check() {
    local name=$1 cols=$2; shift 2
    "$CAT" --stats --columns "$cols" "$FIX/$name.parquet" > "$T/out.jsonl" 2> "$T/stats"
    $FIXTURES compare "$FIX/$name.expect.json" "$cols" < "$T/out.jsonl"
    "$CAT" --ranges --columns "$cols" "$FIX/$name.parquet" | cmp - "$T/out.jsonl"
    local p
    for p in "$@"; do
        grep -Eq "$p" "$T/stats" || { echo "$name: no --stats line matches '$p':"; cat "$T/stats"; return 1; }
    done
}

@test "DuckDB, v1 pages, every codec: PLAIN text, dictionary columns, every value type, nulls" {
    for codec in snappy zstd gzip uncompressed; do
        C=$(echo $codec | tr a-z A-Z)
        check duckdb-v1-$codec $ALL \
            "^text: type=BYTE_ARRAY rows=5000 nulls=294 pages_v1=[1-9].* pages_v2=0 .*codec=$C encodings=PLAIN max_def=1" \
            "^dump: .*dictionary_pages=[1-9].*encodings=(PLAIN_DICTIONARY|RLE_DICTIONARY)" \
            "^score: type=DOUBLE" "^token_count: type=INT64" "^n32: type=INT32" "^f32: type=FLOAT" "^flag: type=BOOLEAN"
    done
}

@test "DuckDB, PARQUET_VERSION V2, every codec: DELTA_LENGTH_BYTE_ARRAY, DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT" {
    for codec in snappy zstd gzip uncompressed; do
        check duckdb-v2-$codec $ALL \
            "^text: .*pages_v1=[1-9].*encodings=DELTA_LENGTH_BYTE_ARRAY " \
            "^dump: .*dictionary_pages=[1-9].*encodings=RLE_DICTIONARY " \
            "^token_count: .*encodings=DELTA_BINARY_PACKED " "^score: .*encodings=BYTE_STREAM_SPLIT "
    done
}

@test "DuckDB: a dictionary-encoded text column, and multi-MB documents" {
    check duckdb-dict-text $ALL "^text: .*nulls=272 .*dictionary_pages=[1-9].*codec=ZSTD encodings=(RLE|PLAIN)_DICTIONARY "
    check duckdb-big text,url "^text: .*codec=SNAPPY encodings=PLAIN "
    [ "$(head -c 30000000 "$T/out.jsonl" | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -gt 5000000 ]
}

@test "hyparquet-writer, v2 pages, every codec: PLAIN, RLE_DICTIONARY, DELTA_*; OPTIONAL and REQUIRED" {
    for codec in snappy zstd gzip uncompressed; do
        check hyparquet-$codec $ALL \
            "^text: .*nulls=192 pages_v1=0 pages_v2=[1-9].*encodings=PLAIN max_def=1 row_groups=3" \
            "^id: .*encodings=PLAIN max_def=0 " \
            "^dump: .*dictionary_pages=3 .*encodings=RLE_DICTIONARY " \
            "^url: .*encodings=DELTA_LENGTH_BYTE_ARRAY max_def=1" \
            "^n32: .*encodings=DELTA_BINARY_PACKED " "^flag: .*encodings=RLE "
        check hyparquet-dict-$codec $ALL "^text: .*pages_v2=[1-9].*dictionary_pages=3 .*encodings=RLE_DICTIONARY "
    done
    check hyparquet-required $ALL "^url: .*nulls=0 .*encodings=DELTA_LENGTH_BYTE_ARRAY max_def=0 " "^score: .*max_def=0 "
    check hyparquet-big text,url,score "^text: .*codec=ZSTD "
}

@test "pyarrow's dictionary-then-PLAIN fallback (hand-built, every codec, v1 and v2 pages), valid for hyparquet" {
    for codec in snappy zstd gzip uncompressed; do
        check hand-fallback-v1-$codec $HAND \
            "^text: .*nulls=184 pages_v1=[1-9][0-9].*dictionary_pages=4 .*encodings=PLAIN,RLE_DICTIONARY "
        $FIXTURES verify "$FIX/hand-fallback-v1-$codec.parquet" "$FIX/hand-fallback-v1-$codec.expect.json"
    done
    # v2 pages whose values are stored uncompressed in a SNAPPY chunk, PLAIN_DICTIONARY names, and an
    # index page closing every chunk.
    check hand-fallback-v2-snappy $HAND \
        "^text: .*pages_v1=0 pages_v2=[1-9][0-9].*dictionary_pages=4 compressed_pages=4 .*encodings=PLAIN,PLAIN_DICTIONARY "
    $FIXTURES verify "$FIX/hand-fallback-v2-snappy.parquet" "$FIX/hand-fallback-v2-snappy.expect.json"
    check hand-fallback-v2-zstd $HAND "^text: .*pages_v2=[1-9][0-9].*encodings=PLAIN,RLE_DICTIONARY "
    $FIXTURES verify "$FIX/hand-fallback-v2-zstd.parquet" "$FIX/hand-fallback-v2-zstd.expect.json"
    check hand-big text,url,score "^text: .*codec=SNAPPY"
}

@test "invalid UTF-8 becomes U+FFFD per bad byte, so every line is valid JSON" {
    run "$CAT" "$FIX/hand-invalid-utf8.parquet"
    [ "$status" -eq 0 ]
    r=$'\xef\xbf\xbd'
    [ "${lines[0]}" = '{"text":"ok"}' ]
    [ "${lines[1]}" = "{\"text\":\"$r$r\"}" ]        # ff fe
    [ "${lines[2]}" = "{\"text\":\"$r$r\"}" ]        # c0 80: overlong
    [ "${lines[3]}" = "{\"text\":\"$r$r$r\"}" ]      # ed a0 80: a UTF-16 surrogate
    [ "${lines[4]}" = "{\"text\":\"a$r$r$r\"}" ]     # f0 9f 98: cut short
    "$CAT" "$FIX/hand-invalid-utf8.parquet" | jq -e . > /dev/null
}

@test "--max-rows stops early, across row groups; missing column is a usage error" {
    "$CAT" --max-rows 2500 "$FIX/hyparquet-snappy.parquet" > "$T/a"
    "$CAT" "$FIX/hyparquet-snappy.parquet" | head -n 2500 | cmp - "$T/a"
    run "$CAT" --columns text,nope "$FIX/hyparquet-snappy.parquet"
    [ "$status" -eq 2 ]
    [[ "$output" == *"no column named 'nope'"* ]]
}

@test "unsupported features are refused with exit 3 and a message naming them" {
    for case in lz4_raw:LZ4_RAW brotli:BROTLI lzo:LZO lz4:LZ4 repeated:repeated delta_byte_array:DELTA_BYTE_ARRAY \
                encrypted:encrypted; do
        run "$ASAN" "$FIX/refuse-${case%%:*}.parquet"
        [ "$status" -eq 3 ] || { echo "$case: exit $status: $output"; return 1; }
        [[ "$output" == "parquet-cat: $FIX/refuse-${case%%:*}.parquet: "*"${case#*:}"*"not supported"* ]] ||
            { echo "$case: $output"; return 1; }
    done
}

@test "ASan+UBSan: the unit test and every fixture read cleanly under the sanitizers" {
    "$ROOT/build/tests/test_parquet-asan"
    for f in "$FIX"/duckdb-v2-zstd "$FIX"/hyparquet-gzip "$FIX"/hand-fallback-v1-snappy "$FIX"/hand-fallback-v2-snappy \
             "$FIX"/duckdb-big; do
        cols=$ALL; [[ $f == */hand-* ]] && cols=$HAND
        "$ASAN" --columns $cols "$f.parquet" > "$T/asan.jsonl"
        "$CAT" --columns $cols "$f.parquet" | cmp - "$T/asan.jsonl"
        "$ASAN" --ranges --columns $cols "$f.parquet" | cmp - "$T/asan.jsonl"
    done
}

# Runs the sanitized reader on a damaged file: exit 0 (damage inside string bytes can still be a
# valid file) or exit 3 with "parquet-cat: FILE: <message>"; anything else (a sanitizer's 66/67, a
# signal, a hang killed by timeout) fails.
damaged_ok() {
    local f=$1 cols=$2 status=0
    timeout 20 "$ASAN" --columns "$cols" "$f" > /dev/null 2> "$T/err" || status=$?
    if [ "$status" -eq 3 ]; then
        grep -Eq "^parquet-cat: $f: .{12,}" "$T/err" || { echo "exit 3 without a message:"; cat "$T/err"; return 1; }
    elif [ "$status" -ne 0 ]; then
        echo "$f: exit $status"; cat "$T/err"; return 1
    fi
}

@test "truncated files: exit 3 with a clear message at 120 lengths each, never a crash" {
    for name in duckdb-v1-snappy hyparquet-zstd hand-fallback-v1-gzip; do
        f="$FIX/$name.parquet"; size=$(stat -c %s "$f")
        for i in $(seq 0 119); do
            # Every length near both ends (magic, trailer, footer), then spread over the rest.
            if [ $i -lt 40 ]; then n=$i; elif [ $i -lt 80 ]; then n=$((size - 1 - (i - 40))); else n=$(( (i - 80) * size / 40 + 7 )); fi
            head -c $n "$f" > "$T/cut.parquet"
            run timeout 20 "$ASAN" --columns $HAND "$T/cut.parquet"
            [ "$status" -eq 3 ] || { echo "$name cut at $n: exit $status: $output"; return 1; }
            [[ "$output" == "parquet-cat: $T/cut.parquet: "* ]]
        done
    done
}

@test "randomly corrupted files (footer intact or not): exit 0 or 3, never a crash or a hang" {
    for name in duckdb-v1-gzip duckdb-v2-snappy hyparquet-dict-zstd hyparquet-uncompressed hand-fallback-v2-snappy \
                hand-fallback-v1-zstd; do
        f="$FIX/$name.parquet"
        cols=$ALL; [[ $name == hand-* ]] && cols=$HAND
        # 60 variants each: 1 to 8 random bytes replaced at random offsets (deterministic seed).
        node -e '
            const fs = require("fs"); const [src, dir, seed] = process.argv.slice(1);
            let s = Number(seed); const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
            const base = fs.readFileSync(src);
            for (let v = 0; v < 60; v++) {
                const b = Buffer.from(base); const n = 1 + Math.floor(r() * 8);
                // half the variants hit the footer region, half the pages
                const lo = v % 2 ? Math.max(0, b.length - 4096) : 0, hi = v % 2 ? b.length : b.length - 4096;
                for (let k = 0; k < n; k++) b[lo + Math.floor(r() * (hi - lo))] = Math.floor(r() * 256);
                fs.writeFileSync(`${dir}/v${v}.parquet`, b);
            }' "$f" "$T" "${#name}"
        for v in $(seq 0 59); do damaged_ok "$T/v$v.parquet" "$cols"; done
    done
}
