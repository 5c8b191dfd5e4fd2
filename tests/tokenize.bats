#!/usr/bin/env bats
# scout-tokenize as a user runs it: ids equal to Hugging Face tokenizers (live, through
# scripts/hf-encode.js) on the edge cases and a fixed slice of the demo corpora for both tokenizers,
# the token stream format, threads, .zst, decoding, the pipe into scout-pack, and every bad-input
# case (message, exit code, nothing left behind). The full corpora: scripts/check-tokenize.sh.

setup() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    PATH="$ROOT/bin:$PATH"
    T="$BATS_TEST_TMPDIR"
    MI="$ROOT/data/tokenizers/mistral.json"
    L2="$ROOT/data/tokenizers/llama2.json"
    EDGE="$ROOT/tests/fixtures/tokenizer/edge.jsonl"
    HF="node $ROOT/scripts/hf-encode.js"
    [ -f "$MI" ] && [ -f "$L2" ] || { echo "data/tokenizers missing: run make deps" >&2; return 1; }
}

# The fixed corpus slice compared live in make test (31 documents, about 360 KB).
slice() {
    head -n 20 "$ROOT/data/corpora/brown.jsonl"
    head -n 7 "$ROOT/data/corpora/moby-dick.jsonl"
    head -n 4 "$ROOT/data/corpora/sotu.jsonl"
}

# u32 little-endian at byte offset $2 of file $1.
u32_at() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }

@test "Hello world: the known ids of both tokenizers" {
    run bash -c "echo '{\"text\":\"Hello world\"}' | scout-tokenize -q -t '$MI' --ids --no-eos"
    [ "$status" -eq 0 ]
    [ "$output" = "22557 1526" ]
    run bash -c "echo '{\"text\":\"Hello world\"}' | scout-tokenize -q -t '$L2' --ids --no-eos"
    [ "$output" = "15043 3186" ]
}

@test "edge cases: ids equal Hugging Face tokenizers (live), both tokenizers" {
    for tok in "$MI" "$L2"; do
        $HF "$tok" "$EDGE" > "$T/ref.ids"
        scout-tokenize -q -t "$tok" --ids --no-eos "$EDGE" > "$T/ours.ids"
        [ "$(wc -l < "$T/ours.ids")" -eq "$(wc -l < "$EDGE")" ]
        diff "$T/ref.ids" "$T/ours.ids"
    done
}

@test "corpus slice (31 documents): ids equal Hugging Face tokenizers (live), both tokenizers" {
    slice > "$T/slice.jsonl"
    for tok in "$MI" "$L2"; do
        $HF "$tok" "$T/slice.jsonl" > "$T/ref.ids"
        scout-tokenize -q -j 2 -t "$tok" --ids --no-eos "$T/slice.jsonl" > "$T/ours.ids"
        [ "$(wc -l < "$T/ours.ids")" -eq 31 ]
        diff "$T/ref.ids" "$T/ours.ids"
    done
}

@test "runs of 100k characters without a space: ids equal Hugging Face tokenizers" {
    {
        printf '{"text":"%s"}\n' "$(head -c 100000 /dev/zero | tr '\0' a)"
        printf '{"text":"%s"}\n' "$(head -c 75000 /dev/urandom | base64 -w0 | head -c 100000)"
    } > "$T/long.jsonl"
    $HF "$MI" "$T/long.jsonl" > "$T/ref.ids"
    scout-tokenize -q -t "$MI" --ids --no-eos "$T/long.jsonl" > "$T/ours.ids"
    diff "$T/ref.ids" "$T/ours.ids"
}

@test "special-token strings in text are plain text (D6): HF's ids without its added tokens" {
    printf '%s\n' '{"text":"<s>"}' '{"text":"</s> literal"}' '{"text":"a<unk>b <s></s>"}' > "$T/special.jsonl"
    for tok in "$MI" "$L2"; do
        jq -c '.added_tokens = []' "$tok" > "$T/noadded.json"
        $HF "$T/noadded.json" "$T/special.jsonl" > "$T/ref.ids"
        scout-tokenize -q -t "$tok" --ids --no-eos "$T/special.jsonl" > "$T/ours.ids"
        diff "$T/ref.ids" "$T/ours.ids"
        if grep -qwE '1|2' "$T/ours.ids"; then false; fi   # no BOS/EOS id anywhere
    done
}

@test "the Metaspace form (split false and true): ids equal Hugging Face tokenizers on the edge cases" {
    # (["a","b"] merges: test_tokenizer checks they give the ids of the "a b" file.)
    jq -c '.normalizer = null | .pre_tokenizer = {"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false}' "$MI" > "$T/meta.json"
    jq -c '.normalizer = null | .pre_tokenizer = {"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}' "$MI" > "$T/split.json"
    for tok in "$T/meta.json" "$T/split.json"; do
        $HF "$tok" "$EDGE" > "$T/ref.ids"
        scout-tokenize -q -t "$tok" --ids --no-eos "$EDGE" > "$T/ours.ids"
        diff "$T/ref.ids" "$T/ours.ids"
    done
}

@test "token stream: header fields, fingerprint, ids then EOS per document" {
    slice | head -n 3 > "$T/in.jsonl"
    scout-tokenize -q -t "$MI" "$T/in.jsonl" > "$T/t.bin"
    [ "$(head -c 8 "$T/t.bin")" = "SCOUTTOK" ]
    [ "$(u32_at "$T/t.bin" 8)" -eq 1 ]       # version
    [ "$(u32_at "$T/t.bin" 12)" -eq 2 ]      # bytes per token
    [ "$(u32_at "$T/t.bin" 16)" -eq 32000 ]  # vocab_size
    [ "$(u32_at "$T/t.bin" 20)" -eq 2 ]      # eos_id
    [ "$(od -An -tx1 -j 24 -N 8 "$T/t.bin" | tr -d ' \n')" = "$(sha256sum "$MI" | head -c 16)" ]
    # The body is the --ids output, one document per line, each ending with EOS 2.
    scout-tokenize -q -t "$MI" --ids "$T/in.jsonl" > "$T/ids.txt"
    [ "$(awk '{print $NF}' "$T/ids.txt" | sort -u)" = "2" ]
    tail -c +33 "$T/t.bin" | od -An -v -t u2 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//' > "$T/body.txt"
    [ "$(tr '\n' ' ' < "$T/ids.txt" | sed 's/ $//')" = "$(cat "$T/body.txt")" ]
}

@test "--no-eos, --bos: header eos_id none, BOS in front" {
    echo '{"text":"Hello world"}' > "$T/in.jsonl"
    scout-tokenize -q -t "$MI" --no-eos "$T/in.jsonl" > "$T/t.bin"
    [ "$(u32_at "$T/t.bin" 20)" -eq 4294967295 ]
    [ "$(stat -c %s "$T/t.bin")" -eq 36 ]
    # Without EOS the stream is one document when decoded.
    printf '%s\n' '{"text":"a"}' '{"text":"b"}' | scout-tokenize -q -t "$MI" --no-eos > "$T/t2.bin"
    [ "$(scout-tokenize -q -t "$MI" --decode "$T/t2.bin")" = '{"text":"a b"}' ]
    [ "$(scout-tokenize -q -t "$MI" --bos --ids "$T/in.jsonl")" = "1 22557 1526 2" ]
}

@test "a vocabulary above 65536: 4-byte tokens, same ids, decodes back" {
    # Mistral's file with 38000 filler pieces (never produced: no merge makes them).
    node -e '
        const fs = require("fs"); const t = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        for (let i = 32000; i < 70000; i++) t.model.vocab["filler" + i] = i;
        fs.writeFileSync(process.argv[2], JSON.stringify(t));' "$MI" "$T/big.json"
    slice | head -n 3 > "$T/in.jsonl"
    scout-tokenize -q -t "$T/big.json" "$T/in.jsonl" > "$T/t.bin"
    [ "$(u32_at "$T/t.bin" 12)" -eq 4 ]
    [ "$(u32_at "$T/t.bin" 16)" -eq 70000 ]
    [ "$(scout-tokenize -q -t "$T/big.json" --decode --ids "$T/t.bin")" = "$(scout-tokenize -q -t "$MI" --ids "$T/in.jsonl")" ]
    scout-tokenize -q -t "$T/big.json" --decode "$T/t.bin" | jq -c .text > "$T/back.txt"
    jq -c .text "$T/in.jsonl" | cmp - "$T/back.txt"
}

@test "threads: the output is byte-identical for 1, 2 and 5 threads, and equals separate runs concatenated" {
    cat "$ROOT"/data/corpora/*.jsonl > "$T/all.jsonl"
    scout-tokenize -q -j 1 -t "$L2" "$T/all.jsonl" > "$T/1.bin"
    scout-tokenize -q -j 2 -t "$L2" "$T/all.jsonl" > "$T/2.bin"
    scout-tokenize -q -j 5 -t "$L2" "$ROOT"/data/corpora/*.jsonl > "$T/5.bin"
    cmp "$T/1.bin" "$T/2.bin"
    cmp "$T/1.bin" "$T/5.bin"
    [ "$(stat -c %s "$T/1.bin")" -gt 8000000 ]
}

@test "a document longer than a read batch, between short ones, is cut nowhere" {
    # A 3 MB line (several 512 KiB batches) with short documents around it; each document must get
    # the ids it gets alone.
    {
        echo '{"text":"first"}'
        printf '{"text":"%s"}\n' "$(jq -r .text "$ROOT/data/corpora/moby-dick.jsonl" | tr -d '\\"\000-\037' | head -c 3000000)"
        echo '{"text":"last"}'
    } > "$T/in.jsonl"
    [ "$(stat -c %s "$T/in.jsonl")" -gt 1000000 ]
    scout-tokenize -q -j 2 -t "$MI" --ids "$T/in.jsonl" > "$T/all.ids"
    [ "$(wc -l < "$T/all.ids")" -eq 3 ]
    for i in 1 2 3; do
        sed -n "${i}p" "$T/in.jsonl" | scout-tokenize -q -j 1 -t "$MI" --ids > "$T/one.ids"
        [ "$(sed -n "${i}p" "$T/all.ids")" = "$(cat "$T/one.ids")" ]
    done
}

@test ".zst input is read transparently" {
    command -v zstd >/dev/null || skip "the zstd command is not installed (needed only to make the test input)"
    slice > "$T/s.jsonl"
    zstd -q "$T/s.jsonl" -o "$T/s.jsonl.zst"
    scout-tokenize -q -t "$MI" "$T/s.jsonl" > "$T/a.bin"
    scout-tokenize -q -t "$MI" "$T/s.jsonl.zst" > "$T/b.bin"
    cmp "$T/a.bin" "$T/b.bin"
    zstd -qc "$T/s.jsonl" | scout-tokenize -q -t "$MI" > "$T/c.bin"
    cmp "$T/a.bin" "$T/c.bin"
}

@test "CRLF line ends, a UTF-8 BOM, an unterminated last line and an empty input are fine" {
    printf '\xEF\xBB\xBF{"text":"a"}\r\n{"text":"b"}\r\n{"text":"c"}' > "$T/in.jsonl"
    run scout-tokenize -q -t "$L2" --ids --no-eos "$T/in.jsonl"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '263\n289\n274')" ]
    : > "$T/empty.jsonl"
    scout-tokenize -q -t "$L2" "$T/empty.jsonl" > "$T/e.bin"
    [ "$(stat -c %s "$T/e.bin")" -eq 32 ]
}

@test "decode: decode(encode(corpora)) == corpora, and --decode --ids repeats the encoded ids" {
    slice > "$T/s.jsonl"
    cat "$EDGE" >> "$T/s.jsonl"
    # A literal ▁ decodes as a space and a lone surrogate as U+FFFD (both documented): left out.
    grep -v -e "\\\\u2581" -e "\\\\ud800" "$T/s.jsonl" > "$T/in.jsonl"
    scout-tokenize -q -t "$MI" "$T/in.jsonl" > "$T/t.bin"
    scout-tokenize -q --decode -t "$MI" < "$T/t.bin" > "$T/back.jsonl"
    [ "$(wc -l < "$T/back.jsonl")" -eq "$(wc -l < "$T/in.jsonl")" ]
    jq -c .text "$T/in.jsonl" > "$T/a.txt"
    jq -c .text "$T/back.jsonl" > "$T/b.txt"
    cmp "$T/a.txt" "$T/b.txt"
    scout-tokenize -q -t "$MI" --ids "$T/in.jsonl" > "$T/ids1.txt"
    scout-tokenize -q -t "$MI" --decode --ids "$T/t.bin" > "$T/ids2.txt"
    cmp "$T/ids1.txt" "$T/ids2.txt"
}

@test "pipe: scout-tokenize | scout-pack writes shards holding every token" {
    [ -x "$ROOT/bin/scout-pack" ] || skip "bin/scout-pack is not built yet"
    slice > "$T/s.jsonl"
    scout-tokenize -q -t "$MI" "$T/s.jsonl" | scout-pack -q -o "$T/shards" --prefix demo --chunk-size 4096
    ls "$T/shards"/demo_0000000000.bin
    tokens=$(scout-tokenize -q -t "$MI" --ids "$T/s.jsonl" | wc -w)
    chunks=$(ls "$T/shards" | wc -l)
    # Every token is in a chunk; the last chunk is padded with EOS.
    [ "$chunks" -eq $(( (tokens + 4095) / 4096 )) ]
    run scout-pack --inspect "$T/shards"/demo_0000000000.bin
    [ "$status" -eq 0 ]
}

# ---------------------------------------------------------------------------------------------
# Bad input: a clear message naming what is wrong, the DESIGN.md exit code, nothing left behind.

@test "a malformed JSON line: exit 3 naming file and line; -o leaves no file" {
    printf '%s\n' '{"text":"good"}' '{"text":"good"}' '{"text": oops}' '{"text":"never read"}' > "$T/bad.jsonl"
    run scout-tokenize -q -t "$MI" -o "$T/out.bin" "$T/bad.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"bad.jsonl:3: not valid JSON"* ]]
    [[ "$output" == *"--skip-bad"* ]]
    [ -z "$(ls "$T" | grep out.bin)" ]
}

@test "a line without the field, or with a non-string field: exit 3 naming the line" {
    printf '%s\n' '{"text":"good"}' '{"body":"x"}' > "$T/a.jsonl"
    run scout-tokenize -q -t "$MI" --ids "$T/a.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"a.jsonl:2: no field \"text\""* ]]
    printf '%s\n' '{"text":12}' > "$T/b.jsonl"
    run scout-tokenize -q -t "$MI" --ids "$T/b.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"b.jsonl:1: field \"text\" is a number, not a string"* ]]
    # --field picks another field.
    run scout-tokenize -q -t "$MI" --ids --no-eos --field body "$T/a.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"a.jsonl:1: no field \"body\""* ]]
}

@test "line numbers count per file, across read batches" {
    { slice; slice; } > "$T/a.jsonl"           # 62 lines, ~720 KB: more than one batch
    { slice; slice; echo '{"text": }'; } > "$T/b.jsonl"
    run scout-tokenize -q -j 2 -t "$MI" "$T/a.jsonl" "$T/b.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"b.jsonl:63: not valid JSON"* ]]
}

@test "--skip-bad: bad lines are skipped, named and counted; the good documents are all there" {
    printf '%s\n' '{"text":"one"}' 'garbage' '{"text":"two"}' '' '{"x":1}' '{"text":"three"}' > "$T/in.jsonl"
    run scout-tokenize -t "$MI" --skip-bad --ids --no-eos -o "$T/out.txt" "$T/in.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"in.jsonl:2: skipped"* ]]
    [[ "$output" == *"in.jsonl:4: skipped: empty line"* ]]
    [[ "$output" == *"in.jsonl:5: skipped: no field"* ]]
    [[ "$output" == *"skipped 3 bad lines of 6"* ]]
    [ "$(wc -l < "$T/out.txt")" -eq 3 ]
}

@test "tokenizers of other families are refused with exit 3, not encoded" {
    jq -c '.model.type = "Unigram"' "$MI" > "$T/unigram.json"
    jq -c '.normalizer = null | .pre_tokenizer = {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}' "$MI" > "$T/bytelevel.json"
    echo '{"text":"x"}' > "$T/in.jsonl"
    # (test_tokenizer covers the other refusals: no byte fallback, NFKC, dropout, bad merges, ...)
    for f in unigram bytelevel; do
        run scout-tokenize -q -t "$T/$f.json" --ids "$T/in.jsonl"
        [ "$status" -eq 3 ]
        [[ "$output" == *"$f.json: "*"only SentencePiece-BPE tokenizers with byte fallback"* ]]
        [ "${#lines[@]}" -eq 1 ]   # the error alone, no ids
    done
    echo 'not json' > "$T/nonjson.json"
    run scout-tokenize -q -t "$T/nonjson.json" --ids "$T/in.jsonl"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not valid JSON"* ]]
}

@test "usage errors exit 2; missing files exit 4" {
    run scout-tokenize -q --ids
    [ "$status" -eq 2 ]
    [[ "$output" == *"no tokenizer"* ]]
    run scout-tokenize -q -t "$MI" --threads abc
    [ "$status" -eq 2 ]
    run scout-tokenize -q -t "$MI" --bogus
    [ "$status" -eq 2 ]
    run scout-tokenize -q -t "$MI" --decode --no-eos
    [ "$status" -eq 2 ]
    run scout-tokenize -q -t "$T/none.json" --ids
    [ "$status" -eq 4 ]
    [[ "$output" == *"none.json"* ]]
    run scout-tokenize -q -t "$MI" --ids "$T/missing.jsonl"
    [ "$status" -eq 4 ]
    [[ "$output" == *"missing.jsonl"* ]]
    run scout-tokenize --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"scout-pack"* ]]
}

@test "a binary stream is not written to a terminal" {
    command -v script >/dev/null || skip "script(1) is not installed (needed for a pseudo-terminal)"
    echo '{"text":"x"}' > "$T/in.jsonl"
    run script -qec "scout-tokenize -q -t '$MI' '$T/in.jsonl'" /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"refusing to write a binary token stream to a terminal"* ]]
}

@test "decode refuses a stream made with another tokenizer, garbage, and a truncated stream" {
    echo '{"text":"Hello world"}' > "$T/in.jsonl"
    scout-tokenize -q -t "$MI" "$T/in.jsonl" > "$T/t.bin"
    run scout-tokenize -q --decode -t "$L2" "$T/t.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"made with tokenizer fc4f0bd70b370931"* ]]
    echo "hello, this is not a token stream at all" > "$T/junk.bin"
    run scout-tokenize -q --decode -t "$MI" "$T/junk.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not a SCOUT token stream"* ]]
    head -c 37 "$T/t.bin" > "$T/cut.bin"
    run scout-tokenize -q --decode -t "$MI" "$T/cut.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"ends inside a token"* ]]
}

@test "SIGTERM while writing -o leaves no file behind (exit 143)" {
    mkfifo "$T/fifo"
    sleep 30 > "$T/fifo" &             # a writer that never finishes: the tool waits for input
    writer=$!
    scout-tokenize -q -t "$MI" -o "$T/out.bin" "$T/fifo" &
    pid=$!
    for _ in $(seq 50); do ls "$T" | grep -q 'out.bin.tmp' && break; sleep 0.1; done
    ls "$T" | grep -q 'out.bin.tmp'     # the temporary file exists while it runs
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    kill "$writer" 2>/dev/null || true
    [ "$rc" -eq 143 ]
    [ -z "$(ls "$T" | grep out.bin)" ]
}
