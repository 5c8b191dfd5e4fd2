#!/usr/bin/env bats
# scout-pack as a user runs it: byte equality with the reference PackedDatasetBuilder
# (tests/ref/packed_dataset_builder.py, written from spec/data.md independently of our C code),
# --inspect, the validation split, and every bad-input case (message, exit code, nothing left behind).

setup() {
    ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
    PATH="$ROOT/bin:$PATH"
    GEN="python3 $ROOT/tests/ref/gen_tokens.py"
    REF="python3 $ROOT/tests/ref/packed_dataset_builder.py"
    T="$BATS_TEST_TMPDIR"
}

# Files in a directory, temporary ones included (a leftover .tmp.* must fail the test).
files_in() { find "$1" -type f 2>/dev/null | sort; }

# Tokens of a stream without its 32-byte header.
body() { tail -c +33 "$1"; }

@test "shards are byte-identical to the reference builder (default chunk size, random documents)" {
    $GEN "$T/t.bin" 5000000 --mean-doc 700
    run scout-pack -q -o "$T/ours" "$T/t.bin"
    [ "$status" -eq 0 ]
    $REF "$T/t.bin" "$T/ref" train 2098176
    [ "$(ls "$T/ours" | wc -l)" -eq 3 ]
    diff -r "$T/ours" "$T/ref"
}

@test "documents that fill a chunk exactly, span several chunks, or are one token long" {
    # chunk 1000: 400+600 fill chunk 0 exactly; 2500 spans three chunks; then 1-token documents.
    $GEN "$T/t.bin" 0 --doc-lengths 400,600,2500,1,1,1,999,1,3000
    scout-pack -q --chunk-size 1000 -o "$T/ours" --prefix x "$T/t.bin"
    $REF "$T/t.bin" "$T/ref" x 1000
    diff -r "$T/ours" "$T/ref"
    [ "$(ls "$T/ours" | wc -l)" -eq 8 ]   # 7503 tokens
}

@test "a stream ending exactly at a chunk boundary gets no padding chunk" {
    $GEN "$T/t.bin" 0 --doc-lengths 500,500,1000
    scout-pack -q --chunk-size 1000 -o "$T/ours" "$T/t.bin"
    $REF "$T/t.bin" "$T/ref" train 1000
    diff -r "$T/ours" "$T/ref"
    [ "$(ls "$T/ours" | wc -l)" -eq 2 ]
}

@test "a vocabulary of 65500 or more gives int32 chunks, equal to the reference" {
    $GEN "$T/t.bin" 300000 --vocab 100000 --eos 99999
    scout-pack -q --block 127 -o "$T/ours" "$T/t.bin"
    $REF "$T/t.bin" "$T/ref" train 131072
    diff -r "$T/ours" "$T/ref"
    run scout-pack --inspect --eos 99999 "$T/ours/train_0000000000.bin"
    [[ "$output" == *"dtype=int32"* ]]
}

@test "several inputs pack as one concatenated stream" {
    $GEN "$T/a.bin" 150000 --seed 1
    $GEN "$T/b.bin" 170000 --seed 2
    { head -c 32 "$T/a.bin"; body "$T/a.bin"; body "$T/b.bin"; } > "$T/ab.bin"
    scout-pack -q --block 99 -o "$T/ours" "$T/a.bin" "$T/b.bin"
    $REF "$T/ab.bin" "$T/ref" train 102400
    diff -r "$T/ours" "$T/ref"
}

@test "a packed stream on stdout is the reference shards back to back" {
    $GEN "$T/t.bin" 700000
    scout-pack -q --block 255 < "$T/t.bin" > "$T/stream.bin"
    $REF "$T/t.bin" "$T/ref" train 262144
    cat "$T"/ref/train_*.bin | cmp - "$T/stream.bin"
    scout-pack -q --block 255 -o - "$T/t.bin" | cmp - "$T/stream.bin"
}

@test "--drop-last drops only the partial last chunk" {
    $GEN "$T/t.bin" 250000
    scout-pack -q --block 99 --drop-last -o "$T/ours" "$T/t.bin"
    $REF "$T/t.bin" "$T/ref" train 102400
    [ "$(ls "$T/ref" | wc -l)" -eq 3 ]
    rm "$T/ref/train_0000000002.bin"
    diff -r "$T/ours" "$T/ref"
}

@test "--inspect reports header, tokens and documents, and agrees with the input" {
    $GEN "$T/t.bin" 400000 --mean-doc 300
    docs=$(body "$T/t.bin" | od -An -v -tu2 -w2 | grep -cx ' *2')
    scout-pack -q --block 199 -o "$T/ours" "$T/t.bin"
    run scout-pack --inspect "$T"/ours/*.bin
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" == *"format=LITPKDS version=1 dtype=uint16 chunk_size=204800 chunks=1 tokens=204800"* ]]
    total_docs=$(echo "$output" | sed -n 's/.* docs=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
    [ "$total_docs" -eq "$docs" ]
    # The padding of the last chunk is reported: 2 x 204800 - 400000 tokens.
    [[ "${lines[1]}" == *"padding=9600"* ]]
}

@test "--inspect on a packed stream counts its chunks" {
    $GEN "$T/t.bin" 300000
    scout-pack -q --block 99 "$T/t.bin" > "$T/s.bin"
    run scout-pack --inspect "$T/s.bin"
    [ "$status" -eq 0 ]
    [[ "$output" == *"chunks=3 tokens=307200"* ]]
}

@test "--inspect refuses a file whose size disagrees with its header" {
    $GEN "$T/t.bin" 100000
    scout-pack -q --block 99 -o "$T/o" "$T/t.bin"
    f="$T/o/train_0000000000.bin"
    head -c 1000 "$f" > "$T/short.bin"
    run scout-pack --inspect "$T/short.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"short.bin: chunk at byte 0 is truncated: header says 102400 tokens, file holds 488"* ]]
    { cat "$f"; printf 'LITP'; } > "$T/long.bin"
    run scout-pack --inspect "$T/long.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"long.bin: truncated LITPKDS header at byte 204824"* ]]
    printf 'NOTAPACKEDSHARDATALL1234' > "$T/bad.bin"
    run scout-pack --inspect "$T/bad.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"bad.bin: not a packed shard (magic is not LITPKDS)"* ]]
}

@test "validation split by document is deterministic, disjoint and complete" {
    $GEN "$T/t.bin" 600000 --mean-doc 200
    docs=$(body "$T/t.bin" | od -An -v -tu2 -w2 | grep -cx ' *2')
    scout-pack -q --block 1023 --val-fraction 0.1 -o "$T/a" "$T/t.bin"
    scout-pack -q --block 1023 --val-fraction 0.1 -o "$T/b" "$T/t.bin"
    diff -r "$T/a" "$T/b"
    run scout-pack --inspect "$T"/a/val_*.bin
    val=$(echo "$output" | sed -n 's/.* docs=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
    run scout-pack --inspect "$T"/a/train_*.bin
    train=$(echo "$output" | sed -n 's/.* docs=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
    [ $((train + val)) -eq "$docs" ]
    # About 10% of the documents, well inside binomial noise for ~3000 documents.
    [ "$val" -gt $((docs / 20)) ] && [ "$val" -lt $((docs / 5)) ]
    # Token multiset is preserved: every document lands in exactly one of the two sets.
    strip() { for f in "$@"; do tail -c +25 "$f"; done | od -An -v -tu2 -w2 | grep -vx ' *2' | sort | md5sum; }
    [ "$(strip "$T"/a/*.bin)" = "$(body "$T/t.bin" | od -An -v -tu2 -w2 | grep -vx ' *2' | sort | md5sum)" ]
}

@test "--val-every K sends exactly documents K-1, 2K-1, ... to validation" {
    # Documents of lengths 1..6 (EOS included); with K=3 documents 2 and 5 (lengths 3 and 6) go to val.
    $GEN "$T/t.bin" 0 --doc-lengths 1,2,3,4,5,6
    scout-pack -q --chunk-size 9 --val-every 3 -o "$T/o" "$T/t.bin"
    $GEN "$T/val.bin" 0 --doc-lengths 3,6 --seed 9
    run scout-pack --inspect "$T/o/val_0000000000.bin"
    [[ "$output" == *"tokens=9 eos=2 docs=2 padding=0"* ]]
    run scout-pack --inspect "$T"/o/train_*.bin
    [[ "${lines[0]}" == *"tokens=9 eos=3 docs=3"* ]]
    [[ "${lines[1]}" == *"tokens=9 eos=7 docs=1 padding=6"* ]]
}

@test "bad input: wrong magic is refused with file and offset, exit 3, nothing written" {
    printf 'GARBAGE!%024d' 0 > "$T/bad.bin"
    run scout-pack -o "$T/out" "$T/bad.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"bad.bin: not a SCOUT token stream (magic is not SCOUTTOK) (at byte 0"* ]]
    [ -z "$(files_in "$T/out")" ]
}

@test "bad input: a truncated stream is refused, exit 3, no shard left" {
    $GEN "$T/t.bin" 3000000
    head -c 5000001 "$T/t.bin" > "$T/trunc.bin"
    run scout-pack --block 99 -o "$T/out" "$T/trunc.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"trunc.bin: stream ends inside a token: 1 trailing byte(s) at offset 5000000"* ]]
    [ -z "$(files_in "$T/out")" ]
    head -c 20 "$T/t.bin" > "$T/hdr.bin"
    run scout-pack -o "$T/out" "$T/hdr.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"hdr.bin: too short for a token stream header"* ]]
    [ -z "$(files_in "$T/out")" ]
}

@test "bad input: a token id >= vocab_size is refused with its offset, exit 3, no shard left" {
    $GEN "$T/t.bin" 2000000
    # Token index 1500000 sits at byte 32 + 2 * 1500000.
    printf '\x80\x7d' | dd of="$T/t.bin" bs=1 seek=3000032 conv=notrunc status=none
    run scout-pack --block 99 -o "$T/out" "$T/t.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"t.bin: token 32128 at byte offset 3000032 >= vocab_size 32000 (was this stream made with another tokenizer?)"* ]]
    [ -z "$(files_in "$T/out")" ]
}

@test "bad input: inputs from different tokenizers are refused, exit 3, no shard left" {
    $GEN "$T/a.bin" 300000 --fingerprint 1111111111111111
    $GEN "$T/b.bin" 1000 --fingerprint 2222222222222222
    run scout-pack --block 99 -o "$T/out" "$T/a.bin" "$T/b.bin"
    [ "$status" -eq 3 ]
    [[ "$output" == *"mixed tokenizers: $T/b.bin (tokenizer 2222222222222222"* ]]
    [[ "$output" == *"differs from $T/a.bin (tokenizer 1111111111111111"* ]]
    [ -z "$(files_in "$T/out")" ]
}

@test "SIGTERM while packing exits 143 and leaves no shard" {
    $GEN "$T/t.bin" 3000000
    mkfifo "$T/fifo"
    scout-pack -q --block 99 -o "$T/out" < "$T/fifo" 9>&- & PACK_PID=$!
    exec 9> "$T/fifo"
    head -c 5000032 "$T/t.bin" >&9   # several chunks' worth, then the writer stalls without closing
    for _ in $(seq 50); do [ -n "$(files_in "$T/out")" ] && break; sleep 0.1; done
    [ -n "$(files_in "$T/out")" ]     # temporary shards exist while it runs...
    [ -z "$(find "$T/out" -name '*.bin')" ]
    kill -TERM "$PACK_PID"
    # wait in this shell: under `run` it would run in a subshell, which cannot always wait for our child.
    local rc=0
    wait "$PACK_PID" || rc=$?
    PACK_PID=
    exec 9>&-
    [ "$rc" -eq 143 ]
    [ -z "$(files_in "$T/out")" ]     # ...and none survives the signal
}

teardown() {
    # A failed assertion must not leave a packer blocked on the fifo (bats would wait for it).
    if [ -n "${PACK_PID:-}" ]; then kill -KILL "$PACK_PID" 2>/dev/null || true; fi
    exec 9>&- 2>/dev/null || true
}

@test "existing shards are refused without --force and replaced, stale ones removed, with it" {
    $GEN "$T/big.bin" 500000 --seed 1
    $GEN "$T/small.bin" 150000 --seed 2
    scout-pack -q --block 99 -o "$T/o" "$T/big.bin"
    [ "$(ls "$T/o" | wc -l)" -eq 5 ]
    run scout-pack -q --block 99 -o "$T/o" "$T/small.bin"
    [ "$status" -eq 2 ]
    [[ "$output" == *"already holds 5 train_*.bin shard(s)"*"use --force"* ]]
    scout-pack -q --block 99 -f -o "$T/o" "$T/small.bin"
    [ "$(ls "$T/o" | wc -l)" -eq 2 ]
    $REF "$T/small.bin" "$T/ref" train 102400
    diff -r "$T/o" "$T/ref"
}

@test "usage errors exit 2; --help and --version exit 0" {
    run scout-pack --block
    [ "$status" -eq 2 ]
    [[ "$output" == *"option '--block' needs a value"* ]]
    run scout-pack --no-such-flag
    [ "$status" -eq 2 ]
    run scout-pack --val-fraction 0.1 -o - /dev/null
    [ "$status" -eq 2 ]
    [[ "$output" == *"validation split needs -o DIR"* ]]
    run scout-pack --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: scout-pack"*"Examples:"* ]]
    run scout-pack --version
    [ "$status" -eq 0 ]
    [[ "$output" == "scout-pack "* ]]
}
