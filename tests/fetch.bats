#!/usr/bin/env bats
# scout-fetch against a Hub stand-in on 127.0.0.1 (tests/hubmock/hubmock.py): the tree API paged by
# Link headers, /resolve/ answering 302 to a second loopback "CDN" with Range/206, and injected
# faults (429 + Retry-After or RateLimit, 503, a connection cut mid-file, a wrong byte, an expired
# signed URL, a 200 answer to a Range request, a dead network). Every download must end complete and
# verified or be refused, the token must reach the Hub and never the CDN, and every fault loop is
# bounded in count and time. Backoff "seconds" last SCOUT_FETCH_BACKOFF_MS=20 ms here.

load hubmock/hubmock

setup_file() {
    export FIX="$BATS_FILE_TMPDIR/fixture"
    mock_fixture "$FIX"
}

setup() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    PATH="$ROOT/bin:$PATH"
    T="$BATS_TEST_TMPDIR"
    # Loopback only: no proxy may see these requests, and no token of the user's may leak in.
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH
    export no_proxy='*' NO_PROXY='*'
    export HF_HOME="$T/hf-home" HF_TOKEN=hf_TestToken123
    export SCOUT_FETCH_BACKOFF_MS=20
    S10="$FIX/ds/sample/10BT"
}

teardown() { mock_stop; }

# Every file of the 10BT sample is in $1, byte-identical, with its sidecar, and no .part is left.
all_10bt_in() {
    local f
    for f in 000 001 002; do
        cmp "$S10/${f}_00000.parquet" "$1/sample/10BT/${f}_00000.parquet"
        [ -f "$1/.scout-fetch/sample/10BT/${f}_00000.parquet.verified" ]
    done
    [ -z "$(find "$1" -name '*.part')" ]
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
now() { date +%s.%N; }

# Parsed JSON lines of $1 equal those of $2 (the writer's own copy of the rows), keeping only the
# keys listed in $3 (comma-separated).
same_rows() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
keys = sys.argv[3].split(",")
want = [{k: r[k] for k in keys} for r in map(json.loads, open(sys.argv[2], encoding="utf-8"))]
for i, (g, w) in enumerate(zip(got, want)):
    if g != w or list(g) != keys:
        sys.exit("row %d differs:\n got  %r\n want %r" % (i, g, w))
if len(got) != len(want):
    sys.exit("%d rows, expected %d" % (len(got), len(want)))
EOF
}

# ---------------------------------------------------------------------------------------------
# Listing, downloading, verifying, skipping

@test "lists through several Link pages, downloads the --include set verified, token to the Hub only" {
    mock_start
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*.parquet' -o "$T/out" -j 3
    [ "$status" -eq 0 ]
    [[ "$output" == *"commit $DS_COMMIT"* ]]
    all_10bt_in "$T/out"
    [ ! -e "$T/out/README.md" ] && [ ! -e "$T/out/sample/350BT" ] && [ ! -e "$T/out/data" ]
    # 3 files + 1 directory entry at page_size 2: the listing took two pages, the second by cursor.
    [ "$(hub_log 'select(.path | contains("/tree/")) | .path' | wc -l)" -eq 2 ]
    hub_log 'select(.path | contains("/tree/")) | .path' | grep -q 'cursor=2'
    # The revision was pinned: every later request names the commit, not "main".
    [ "$(hub_log 'select(.path | contains("/resolve/")) | .path' | grep -vc "/resolve/$DS_COMMIT/")" -eq 0 ]
    # The token went with every Hub request, and never reached the CDN (which logs every header).
    [ "$(hub_log 'select(.headers.Authorization != "Bearer hf_TestToken123")' | wc -l)" -eq 0 ]
    [ "$(cdn_log '.' | wc -l)" -eq 3 ]
    ! grep -qi 'authorization' "$CDN_LOG"
    ! grep -q 'hf_TestToken123' "$CDN_LOG"
    # The sidecar holds the SHA-256 the Hub lists (the LFS oid).
    jq -e --arg s "$(sha256_of "$S10/001_00000.parquet")" '.sha256 == $s and .commit == "'$DS_COMMIT'"' \
        "$T/out/.scout-fetch/sample/10BT/001_00000.parquet.verified"
}

@test "--list prints every matching file with its size and hash, downloads nothing" {
    mock_start
    run scout-fetch "$DS_REPO" --list -q
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | wc -l)" -eq 7 ]
    echo "$output" | grep -q "^ *3000000  $(sha256_of "$FIX/ds/sample/350BT/000_00000.parquet")  sample/350BT/000_00000.parquet$"
    echo "$output" | grep -q ' README.md$'
    run scout-fetch "$DS_REPO" --list -q --include 'sample/' --exclude '*/350BT/*'
    [ "$(echo "$output" | wc -l)" -eq 3 ]
    [ "$(cdn_log '.' | wc -l)" -eq 0 ]
}

@test "a re-run skips verified files without hashing or contacting the CDN; --verify rehashes" {
    mock_start
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$(cdn_log '.' | wc -l)" -eq 3 ]
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 downloaded"*"3 already present"* ]]
    [[ "$output" != *"verifying"* ]]
    [ "$(cdn_log '.' | wc -l)" -eq 3 ]
    [ "$(hub_log 'select(.path | contains("/resolve/"))' | wc -l)" -eq 3 ]
    # A byte changed in place, size and mtime kept: the sidecar still vouches (that is its point)...
    local f="$T/out/sample/10BT/001_00000.parquet"
    local stamp
    stamp=$(stat -c %y "$f")
    printf 'Z' | dd of="$f" bs=1 seek=1000 conv=notrunc status=none
    touch -d "$stamp" "$f"
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$status" -eq 0 ]
    ! cmp -s "$S10/001_00000.parquet" "$f"
    # ...until --verify hashes it, finds the change, and downloads the file again.
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" --verify
    [ "$status" -eq 0 ]
    [[ "$output" == *"001_00000.parquet"*"SHA-256"*"downloading it again"* ]]
    [[ "$output" == *"1 downloaded"*"2 already present"* ]]
    all_10bt_in "$T/out"
    [ "$(cdn_log '.' | wc -l)" -eq 4 ]
}

@test "a file present without a sidecar is hashed once, then trusted; a wrong-size one is replaced" {
    mock_start
    mkdir -p "$T/out/sample/10BT"
    cp "$S10/000_00000.parquet" "$T/out/sample/10BT/"
    head -c 100 "$S10/001_00000.parquet" > "$T/out/sample/10BT/001_00000.parquet"
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$status" -eq 0 ]
    [[ "$output" == *"000_00000.parquet: verifying the file already there"* ]]
    [[ "$output" == *"001_00000.parquet: 100 bytes where the Hub lists"* ]]
    [[ "$output" == *"2 downloaded"*"1 already present"* ]]
    all_10bt_in "$T/out"
}

@test "model repository: a file kept in git comes from the Hub itself, checked by its git blob id" {
    mock_start
    run scout-fetch --model "$MODEL_REPO" --include tokenizer.json -o "$T/m"
    [ "$status" -eq 0 ]
    cmp "$FIX/model/tokenizer.json" "$T/m/tokenizer.json"
    [ ! -e "$T/m/config.json" ] && [ ! -e "$T/m/model.safetensors" ]
    local oid
    oid=$(python3 -c "import hashlib,sys; d=open(sys.argv[1],'rb').read(); print(hashlib.sha1(b'blob %d\0' % len(d) + d).hexdigest())" "$FIX/model/tokenizer.json")
    jq -e --arg o "$oid" '.git_oid == $o' "$T/m/.scout-fetch/tokenizer.json.verified"
    # Models live under /api/models and /{repo}/resolve (no datasets/ prefix); no CDN involved.
    hub_log 'select(.method == "GET") | .path' | grep -q "^\"/api/models/$MODEL_REPO/revision/main\"$"
    hub_log '.path' | grep -q "^\"/$MODEL_REPO/resolve/$MODEL_COMMIT/tokenizer.json\"$"
    [ "$(cdn_log '.' | wc -l)" -eq 0 ]
    # The LFS weights of the same repository go through the CDN, verified by SHA-256.
    run scout-fetch --model "$MODEL_REPO" --include '*.safetensors' -o "$T/m"
    [ "$status" -eq 0 ]
    cmp "$FIX/model/model.safetensors" "$T/m/model.safetensors"
    [ "$(cdn_log '.' | wc -l)" -eq 1 ]
}

@test "the token comes from \$HF_HOME/token (or HUGGING_FACE_HUB_TOKEN) when HF_TOKEN is unset, never reaching the CDN" {
    unset HF_TOKEN
    mkdir -p "$HF_HOME"
    printf 'hf_FromTheFile\n' > "$HF_HOME/token"
    mock_start
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/000*' -o "$T/out"
    [ "$(hub_log 'select(.headers.Authorization == "Bearer hf_FromTheFile")' | wc -l)" -eq "$(hub_log '.' | wc -l)" ]
    ! grep -q 'hf_FromTheFile' "$CDN_LOG"
    # The older variable comes before the file, as in huggingface_hub.
    local before
    before=$(wc -l < "$HUB_LOG")
    HUGGING_FACE_HUB_TOKEN=hf_OlderName scout-fetch -q "$DS_REPO" --list > /dev/null
    [ "$(tail -n +$((before + 1)) "$HUB_LOG" | jq -c 'select(.headers.Authorization != "Bearer hf_OlderName")' | wc -l)" -eq 0 ]
    [ "$(wc -l < "$HUB_LOG")" -gt "$before" ]
    # No token at all: anonymous requests, no Authorization header anywhere.
    rm "$HF_HOME/token"
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/001*' -o "$T/out"
    ! grep -qi 'authorization.*Bearer [^h]' "$HUB_LOG"
    [ "$(hub_log 'select(.path | contains("001_00000")) | select(.headers.Authorization)' | wc -l)" -eq 0 ]
}

@test "HF_ENDPOINT with a trailing slash works the same" {
    mock_start
    HF_ENDPOINT="$HF_ENDPOINT/" run scout-fetch -q "$DS_REPO" --include 'sample/10BT/000*' -o "$T/out"
    [ "$status" -eq 0 ]
    cmp "$S10/000_00000.parquet" "$T/out/sample/10BT/000_00000.parquet"
    [ "$(hub_log '.path' | grep -c '//')" -eq 0 ]
}

# ---------------------------------------------------------------------------------------------
# Faults

@test "429 with Retry-After on /resolve/: waits what the server asks (+1), then succeeds" {
    mock_start '[{"kind":"resolve_status","path":"sample/10BT/001_00000.parquet","status":429,"retry_after":4,"times":2}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" -j 1
    [ "$status" -eq 0 ]
    all_10bt_in "$T/out"
    [[ "$output" == *"HTTP 429"*"retry 1/5"* ]]
    # Retry-After 4 -> 5 backoff seconds = 100 ms here; plain backoff would be about 20 ms.
    hub_log 'select(.path | contains("resolve") and contains("001_00000")) | .t' | python3 -c '
import sys; t = [float(x) for x in sys.stdin]
assert len(t) == 3, t
assert t[1] - t[0] >= 0.095 and t[2] - t[1] >= 0.095, t'
}

@test "429 with a RateLimit t= header (no Retry-After) is honoured the same way" {
    mock_start '[{"kind":"resolve_status","path":"sample/10BT/000_00000.parquet","status":429,"ratelimit":"\"resolvers\";r=0;t=5","times":1}]'
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/000*' -o "$T/out"
    hub_log 'select(.path | contains("resolve") and contains("000_00000")) | .t' | python3 -c '
import sys; t = [float(x) for x in sys.stdin]
assert len(t) == 2 and t[1] - t[0] >= 0.115, t'
}

@test "503s from the Hub (resolve, a tree page) and from the CDN are retried with backoff" {
    mock_start '[{"kind":"resolve_status","path":"sample/10BT/000_00000.parquet","status":503,"times":2},
                 {"kind":"tree_status","page":2,"status":503,"times":1},
                 {"kind":"cdn_status","path":"sample/10BT/002_00000.parquet","status":503,"times":3}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$status" -eq 0 ]
    all_10bt_in "$T/out"
    [ "$(hub_log 'select(.status == 503)' | wc -l)" -eq 3 ]
    [ "$(cdn_log 'select(.status == 503)' | wc -l)" -eq 3 ]
    [ "$(hub_log 'select(.path | contains("cursor=2"))' | wc -l)" -eq 2 ]
}

@test "a connection cut mid-file resumes with Range from the first missing byte" {
    mock_start '[{"kind":"cdn_cut","path":"sample/10BT/002_00000.parquet","after":30000,"times":2}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/002*' -o "$T/out"
    [ "$status" -eq 0 ]
    cmp "$S10/002_00000.parquet" "$T/out/sample/10BT/002_00000.parquet"
    [ "$(cdn_log '.headers.Range' | tr '\n' ' ')" = 'null "bytes=30000-" "bytes=60000-" ' ]
    [ "$(cdn_log '.status' | tr '\n' ' ')" = '200 206 206 ' ]
    [[ "$output" == *"at byte 30000; resuming"* ]]
}

@test "an expired signed URL (403 from the CDN after some bytes) is resolved again and resumed" {
    mock_start '[{"kind":"cdn_expire","path":"sample/10BT/002_00000.parquet","after":40000,"times":1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/002*' -o "$T/out"
    [ "$status" -eq 0 ]
    cmp "$S10/002_00000.parquet" "$T/out/sample/10BT/002_00000.parquet"
    # cut at 40000 -> same URL again: 403 -> a second /resolve/ -> a new URL, from byte 40000.
    [ "$(cdn_log '.status' | tr '\n' ' ')" = '200 403 206 ' ]
    [ "$(cdn_log 'select(.status == 206) | .headers.Range')" = '"bytes=40000-"' ]
    [ "$(cdn_log 'select(.status == 206) | .path' | grep -c 'gen=2')" -eq 1 ]
    [ "$(hub_log 'select(.path | contains("/resolve/"))' | wc -l)" -eq 2 ]
    [[ "$output" == *"HTTP 403"*"asking the Hub for a new URL"* ]]
    ! grep -q 'hf_TestToken123' "$CDN_LOG"
}

@test "a 200 answer to a Range request restarts the file from byte 0" {
    mock_start '[{"kind":"cdn_cut","path":"sample/10BT/001_00000.parquet","after":20000,"times":1},
                 {"kind":"cdn_ignore_range","path":"sample/10BT/001_00000.parquet","times":1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/001*' -o "$T/out"
    [ "$status" -eq 0 ]
    cmp "$S10/001_00000.parquet" "$T/out/sample/10BT/001_00000.parquet"
    [ "$(cdn_log '[.status, .headers.Range] | tostring' | tr '\n' ' ')" = '"[200,null]" "[200,\"bytes=20000-\"]" ' ]
    [[ "$output" == *"ignored the Range request"*"from byte 0"* ]]
}

@test "a wrong byte every time: the file is refused (exit 3) after a second full download, nothing renamed" {
    mock_start '[{"kind":"cdn_corrupt","path":"sample/10BT/001_00000.parquet","offset":12345,"times":-1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out"
    [ "$status" -eq 3 ]
    [[ "$output" == *"001_00000.parquet.part: SHA-256 "*", the Hub lists $(sha256_of "$S10/001_00000.parquet")"* ]]
    [[ "$output" == *"refused, nothing renamed into place"* ]]
    [ ! -e "$T/out/sample/10BT/001_00000.parquet" ]
    [ ! -e "$T/out/sample/10BT/001_00000.parquet.part" ]
    [ ! -e "$T/out/.scout-fetch/sample/10BT/001_00000.parquet.verified" ]
    [ "$(cdn_log 'select(.path | contains("'"$(sha256_of "$S10/001_00000.parquet")"'"))' | wc -l)" -eq 2 ]
    # The other files are complete and verified.
    cmp "$S10/000_00000.parquet" "$T/out/sample/10BT/000_00000.parquet"
    cmp "$S10/002_00000.parquet" "$T/out/sample/10BT/002_00000.parquet"
}

@test "a wrong byte once: the second full download verifies" {
    mock_start '[{"kind":"cdn_corrupt","path":"sample/10BT/000_00000.parquet","offset":7,"times":1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/000*' -o "$T/out"
    [ "$status" -eq 0 ]
    [[ "$output" == *"downloading once more from byte 0"* ]]
    cmp "$S10/000_00000.parquet" "$T/out/sample/10BT/000_00000.parquet"
}

@test "a CDN that keeps failing: exit 4 after a bounded number of tries, naming file, URL and what to do" {
    mock_start '[{"kind":"cdn_status","path":"sample/10BT/001_00000.parquet","status":503,"times":-1}]'
    local t0 t1
    t0=$(now)
    run scout-fetch "$DS_REPO" --include 'sample/10BT/001*' -o "$T/out" --retries 3
    t1=$(now)
    [ "$status" -eq 4 ]
    [[ "$output" == *"error: sample/10BT/001_00000.parquet: GET http://127.0.0.1:$CDN_PORT/cdn/"*"HTTP 503"* ]]
    [[ "$output" == *"gave up after 3 retries"*"re-run the same command later to resume"* ]]
    [ "$(cdn_log '.' | wc -l)" -eq 4 ]
    python3 -c "assert $t1 - $t0 < 10"
    [ ! -e "$T/out/sample/10BT/001_00000.parquet" ]
}

@test "a Retry-After beyond the retry time budget gives up at once instead of sleeping" {
    mock_start '[{"kind":"resolve_status","path":"sample/10BT/000_00000.parquet","status":429,"retry_after":100000,"times":-1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/000*' -o "$T/out"
    [ "$status" -eq 4 ]
    [[ "$output" == *"HTTP 429"*"the server asks to wait 100000 s, beyond the retry budget of 300 s (--retry-max-time)"* ]]
    [ "$(hub_log 'select(.status == 429)' | wc -l)" -eq 1 ]
}

@test "no Hub at HF_ENDPOINT: exit 4 in bounded time with the URL in the message" {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    export HF_ENDPOINT="http://127.0.0.1:$port"
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" --retries 2
    [ "$status" -eq 4 ]
    [[ "$output" == *"pinning $DS_REPO@main: http://127.0.0.1:$port/api/datasets/$DS_REPO/revision/main"* ]]
    [[ "$output" == *"gave up after 2 retries"* ]]
}

@test "repository, revision or include that does not exist: clear messages" {
    mock_start
    run scout-fetch HuggingFaceFW/no-such-thing -o "$T/out"
    [ "$status" -eq 4 ]
    [[ "$output" == *"HTTP 404"*"no dataset repository 'HuggingFaceFW/no-such-thing' (a model? add --model)"* ]]
    run scout-fetch "$DS_REPO" --revision v9.9 -o "$T/out"
    [ "$status" -eq 4 ]
    [[ "$output" == *"no revision 'v9.9'"* ]]
    run scout-fetch "$DS_REPO" --include 'sample/999BT/*' -o "$T/out"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no file of $DS_REPO at 87f09149ef47 matches --include sample/999BT/*"* ]]
}

@test "a listing with an unsafe path ('../x') is refused before anything is written" {
    mock_start '[]' '{"extra_tree_entries":[{"type":"file","path":"../escape.parquet","size":3,"oid":"0000000000000000000000000000000000000000"}]}'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out/inner"
    [ "$status" -eq 3 ]
    [[ "$output" == *"unsafe path '../escape.parquet'"* ]]
    [ ! -e "$T/out/escape.parquet" ] && [ ! -e "$T/out/inner/sample" ]
}

# ---------------------------------------------------------------------------------------------
# Signals and concurrent runs

# Starts a throttled download of the 3 MB file in the background and waits until its .part holds
# some bytes. Sets FETCH_PID.
start_throttled() {
    mock_start '[{"kind":"cdn_throttle","path":"sample/350BT/000_00000.parquet","bytes_per_s":400000,"times":1}]'
    scout-fetch "$DS_REPO" --include 'sample/350BT/*' -o "$T/out" 2> "$T/err" 3>&- &
    FETCH_PID=$!
    local part="$T/out/sample/350BT/000_00000.parquet.part" i
    for i in $(seq 100); do
        [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt 50000 ] && return 0
        sleep 0.05
    done
    echo "no bytes arrived in 5 s" >&2
    return 1
}

@test "SIGINT mid-file: exit 130, the .part is kept, and the next run resumes it from where it stopped" {
    start_throttled
    kill -INT "$FETCH_PID"
    local status=0
    wait "$FETCH_PID" || status=$?
    [ "$status" -eq 130 ]
    grep -q 'interrupted: partial downloads are kept as .part files' "$T/err"
    local part="$T/out/sample/350BT/000_00000.parquet.part" have
    have=$(stat -c %s "$part")
    [ "$have" -gt 0 ] && [ "$have" -lt 3000000 ]
    [ ! -e "$T/out/sample/350BT/000_00000.parquet" ]
    run scout-fetch "$DS_REPO" --include 'sample/350BT/*' -o "$T/out"
    [ "$status" -eq 0 ]
    [[ "$output" == *"resuming at byte $have of 3000000"* ]]
    [ "$(cdn_log '.headers.Range' | tail -n 1)" = "\"bytes=$have-\"" ]
    cmp "$FIX/ds/sample/350BT/000_00000.parquet" "$T/out/sample/350BT/000_00000.parquet"
}

@test "SIGTERM mid-file: exit 143 with the .part kept" {
    start_throttled
    kill -TERM "$FETCH_PID"
    local status=0
    wait "$FETCH_PID" || status=$?
    [ "$status" -eq 143 ]
    [ -s "$T/out/sample/350BT/000_00000.parquet.part" ]
    [ ! -e "$T/out/sample/350BT/000_00000.parquet" ]
}

@test "a second scout-fetch on the same directory does not write into a .part being downloaded" {
    start_throttled
    run scout-fetch "$DS_REPO" --include 'sample/350BT/*' -o "$T/out"
    kill -INT "$FETCH_PID"
    wait "$FETCH_PID" || true
    [ "$status" -eq 4 ]
    [[ "$output" == *"000_00000.parquet.part is being written by another scout-fetch"* ]]
}

# ---------------------------------------------------------------------------------------------
# Parquet rows as JSONL

@test "--to jsonl with -o: every row of every file, in order, equal to what the writer wrote" {
    mock_start
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" --to jsonl > "$T/rows.jsonl"
    cat "$FIX"/expected/00{0,1,2}.jsonl > "$T/want.jsonl"
    [ "$(wc -l < "$T/rows.jsonl")" -eq 2200 ]
    same_rows "$T/rows.jsonl" "$T/want.jsonl" text
    all_10bt_in "$T/out"
}

@test "--to jsonl streams: the first file's rows are out while a later file still downloads" {
    mock_start '[{"kind":"cdn_throttle","path":"sample/10BT/002_00000.parquet","bytes_per_s":250000,"times":1}]'
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" --to jsonl -j 1 > "$T/rows.jsonl" 3>&- &
    local pid=$! i seen=0
    for i in $(seq 100); do
        if [ "$(wc -l < "$T/rows.jsonl")" -ge 700 ]; then seen=1; break; fi
        sleep 0.05
    done
    [ "$seen" -eq 1 ]
    kill -0 "$pid"                       # still running: file 002 is still coming
    [ ! -e "$T/out/sample/10BT/002_00000.parquet" ]
    wait "$pid"
    [ "$(wc -l < "$T/rows.jsonl")" -eq 2200 ]
}

@test "--to jsonl with -o and --max-rows: enough rows stop the downloads still running, .part kept, exit 0" {
    mock_start '[{"kind":"cdn_throttle","path":"sample/10BT/001_00000.parquet","bytes_per_s":20000,"times":1}]'
    run scout-fetch "$DS_REPO" --include 'sample/10BT/*' -o "$T/out" --to jsonl --max-rows 10 -j 2
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | grep -c '^{"text":')" -eq 10 ]
    cmp "$S10/000_00000.parquet" "$T/out/sample/10BT/000_00000.parquet"
    [ ! -e "$T/out/sample/10BT/001_00000.parquet" ] && [ -e "$T/out/sample/10BT/001_00000.parquet.part" ]
    [ ! -e "$T/out/sample/10BT/002_00000.parquet" ]
}

@test "--to jsonl without -o reads by Range: --max-rows fetches the footer and the row groups needed only" {
    mock_start
    cd "$T"
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' --to jsonl --max-rows 120 > rows.jsonl
    [ "$(wc -l < rows.jsonl)" -eq 120 ]
    head -n 120 "$FIX/expected/000.jsonl" > want.jsonl
    same_rows rows.jsonl want.jsonl text
    # Nothing written to disk; every CDN request was ranged, all for file 000, fewer bytes than it has.
    [ "$(ls "$T")" = "$(printf 'mock\nrows.jsonl\nwant.jsonl')" ]
    [ "$(cdn_log 'select(.headers.Range == null)' | wc -l)" -eq 0 ]
    [ "$(cdn_log 'select(.status != 206)' | wc -l)" -eq 0 ]
    local sha size
    sha=$(sha256_of "$S10/000_00000.parquet")
    size=$(stat -c %s "$S10/000_00000.parquet")
    [ "$(cdn_log '.path' | grep -vc "$sha")" -eq 0 ]
    # The last 64 KiB (trailer and footer), then one request per row group: 120 rows at 50 per row
    # group are the first 3 of the 8 row groups.
    cdn_log '.headers.Range' | python3 -c "
import sys
r = [tuple(map(int, x.strip().strip('\"')[6:].split('-'))) for x in sys.stdin]
size = $size
assert len(r) == 4 and r[0] == (size - 65536, size - 1), r
# Row groups are prefetched in parallel, so the CDN may log them in any order.
g = sorted(r[1:])
assert g[0][0] == 4 and g[0][0] < g[1][0] < g[2][0], r
assert sum(b - a + 1 for a, b in r[1:]) < size / 2, r"
}

@test "--to jsonl without -o, --columns text,url,score: every file by Range, the projection of the writer's rows" {
    mock_start
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' --to jsonl --columns text,url,score > "$T/rows.jsonl"
    cat "$FIX"/expected/00{0,1,2}.jsonl > "$T/want.jsonl"
    same_rows "$T/rows.jsonl" "$T/want.jsonl" text,url,score
}

@test "--to jsonl by Range survives a cut connection and an expired URL" {
    mock_start '[{"kind":"cdn_cut","path":"sample/10BT/002_00000.parquet","after":5000,"times":2},
                 {"kind":"cdn_expire","path":"sample/10BT/001_00000.parquet","after":3000,"times":1}]'
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' --to jsonl --columns text,id > "$T/rows.jsonl"
    cat "$FIX"/expected/00{0,1,2}.jsonl > "$T/want.jsonl"
    same_rows "$T/rows.jsonl" "$T/want.jsonl" text,id
    [ "$(cdn_log 'select(.status == 403)' | wc -l)" -eq 1 ]
}

@test "--parquet FILE...: local files as JSONL; a damaged file gets exit 3 naming it" {
    run scout-fetch --parquet "$S10/001_00000.parquet" "$S10/000_00000.parquet" --columns text,score -q
    [ "$status" -eq 0 ]
    echo "$output" > "$T/rows.jsonl"
    cat "$FIX"/expected/00{1,0}.jsonl > "$T/want.jsonl"
    same_rows "$T/rows.jsonl" "$T/want.jsonl" text,score
    head -c 30000 "$S10/000_00000.parquet" > "$T/cut.parquet"
    run scout-fetch --parquet "$T/cut.parquet"
    [ "$status" -eq 3 ]
    [[ "$output" == *"error: $T/cut.parquet: "* ]]
    run scout-fetch --parquet "$S10/000_00000.parquet" --columns text,nope
    [ "$status" -eq 2 ]
    [[ "$output" == *"no column named 'nope'"* ]]
}

@test "scout-fetch | scout-tokenize | scout-pack: the pipeline of pipelines/fineweb-edu.sh runs end to end" {
    [ -x "$ROOT/bin/scout-tokenize" ] || skip "scout-tokenize is not built"
    [ -f "$ROOT/data/tokenizers/mistral.json" ] || skip "data/tokenizers/mistral.json missing: make deps"
    mock_start
    scout-fetch -q "$DS_REPO" --include 'sample/10BT/*' --to jsonl \
        | scout-tokenize -q -t "$ROOT/data/tokenizers/mistral.json" \
        | scout-pack -q --block 255 -o "$T/shards"
    run scout-pack --inspect "$T"/shards/train_*.bin
    [ "$status" -eq 0 ]
    [ "$(ls "$T/shards" | wc -l)" -ge 1 ]
}

@test "usage errors: exit 2 with a hint" {
    run scout-fetch
    [ "$status" -eq 2 ]
    [[ "$output" == *"which repository?"* ]]
    run scout-fetch "$DS_REPO"
    [ "$status" -eq 2 ]
    [[ "$output" == *"give -o DIR"* ]]
    run scout-fetch "$DS_REPO" --to csv -o x
    [ "$status" -eq 2 ]
    run scout-fetch "$DS_REPO" -o x --max-rows 5
    [ "$status" -eq 2 ]
    run scout-fetch '../etc' -o x
    [ "$status" -eq 2 ]
    run env SCOUT_FETCH_BACKOFF_MS=abc scout-fetch "$DS_REPO" -o "$T/x"
    [ "$status" -eq 2 ]
}
