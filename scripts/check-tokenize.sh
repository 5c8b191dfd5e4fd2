#!/usr/bin/env bash
# scripts/check-tokenize.sh: full-corpus exactness check of scout-tokenize against Hugging Face
# tokenizers (Rust, npm @anush008/tokenizers@0.6.0 through scripts/hf-encode.js), for both
# tokenizers, on every document of the demo corpora and the edge cases; then the round trip
# decode(encode(text)) == text; then long inputs (a 100 MB document, a 10 MB run without a space)
# with their speed. Prints a table; exits 1 on any mismatch. Needs `make deps` and `make`.
#
#   scripts/check-tokenize.sh            # everything (about a minute, mostly the reference)
#   scripts/check-tokenize.sh --quick    # skip the long inputs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
[[ ${1:-} == --quick ]] && quick=1
TOK=bin/scout-tokenize
for f in "$TOK" data/tokenizers/mistral.json data/tokenizers/llama2.json data/corpora/brown.jsonl; do
    [[ -e $f ]] || { echo "check-tokenize: $f is missing (run make deps && make)" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-tokenize.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

INPUTS=(data/corpora/sotu.jsonl data/corpora/moby-dick.jsonl data/corpora/brown.jsonl
        tests/fixtures/tokenizer/edge.jsonl)
fail=0
total_docs=0
total_bad=0

printf '\nExactness against Hugging Face tokenizers (ids per document, no BOS/EOS)\n\n'
printf '%-10s %-16s %9s %12s %11s %11s\n' tokenizer input documents bytes tokens mismatches
for tok in mistral llama2; do
    for in in "${INPUTS[@]}"; do
        name=$(basename "$in" .jsonl)
        node scripts/hf-encode.js "data/tokenizers/$tok.json" "$in" > "$WORK/ref.ids"
        "$TOK" -q -t "data/tokenizers/$tok.json" --ids --no-eos "$in" > "$WORK/ours.ids"
        docs=$(wc -l < "$in")
        refdocs=$(wc -l < "$WORK/ref.ids")
        ourdocs=$(wc -l < "$WORK/ours.ids")
        # Documents whose id lines differ (a missing or extra line counts as a mismatch too).
        bad=$(paste -d '\t' "$WORK/ref.ids" "$WORK/ours.ids" | awk -F '\t' '$1 != $2' | wc -l)
        if ((refdocs != docs || ourdocs != docs)); then bad=$((bad + 1)); fi
        printf '%-10s %-16s %9d %12d %11d %11d\n' "$tok" "$name" "$docs" "$(stat -c %s "$in")" \
            "$(wc -w < "$WORK/ref.ids")" "$bad"
        total_docs=$((total_docs + docs))
        total_bad=$((total_bad + bad))
        if ((bad)); then
            fail=1
            paste -d '\t' "$WORK/ref.ids" "$WORK/ours.ids" | awk -F '\t' '$1 != $2 {print "  first mismatch: line " NR; exit}'
        fi
    done
done
printf '%-27s %9d %36d\n' total "$total_docs" "$total_bad"

printf '\nRound trip: decode(encode(text)) == text\n\n'
printf '%-10s %-16s %9s %11s\n' tokenizer input documents mismatches
for tok in mistral llama2; do
    for in in data/corpora/sotu.jsonl data/corpora/moby-dick.jsonl data/corpora/brown.jsonl; do
        name=$(basename "$in" .jsonl)
        "$TOK" -q -t "data/tokenizers/$tok.json" "$in" > "$WORK/t.bin"
        "$TOK" -q --decode -t "data/tokenizers/$tok.json" "$WORK/t.bin" > "$WORK/back.jsonl"
        jq -c .text "$in" > "$WORK/a.txt"
        jq -c .text "$WORK/back.jsonl" > "$WORK/b.txt"
        bad=$(paste -d '\t' "$WORK/a.txt" "$WORK/b.txt" | awk -F '\t' '$1 != $2' | wc -l)
        [[ $(wc -l < "$WORK/a.txt") == $(wc -l < "$WORK/b.txt") ]] || bad=$((bad + 1))
        printf '%-10s %-16s %9d %11d\n' "$tok" "$name" "$(wc -l < "$in")" "$bad"
        ((bad == 0)) || fail=1
    done
done

if ((!quick)); then
    printf '\nLong inputs (mistral, 1 thread; no quadratic blow-up)\n\n'
    # One 100 MB document: the corpora's text repeated, joined into one line.
    jq -r .text data/corpora/*.jsonl | tr -d '\\"\000-\037' > "$WORK/text.txt"
    : > "$WORK/body.txt"
    while (($(stat -c %s "$WORK/body.txt") < 100000000)); do cat "$WORK/text.txt" >> "$WORK/body.txt"; done
    { printf '{"text":"'; head -c 100000000 "$WORK/body.txt"; printf '"}\n'; } > "$WORK/doc100.jsonl"
    rm -f "$WORK/body.txt"
    # A 10 MB run without a space (base64), one chunk of 10 M symbols: the heap merge.
    { printf '{"text":"'; head -c 7500000 /dev/urandom | base64 -w0 | head -c 10000000; printf '"}\n'; } > "$WORK/run10.jsonl"
    # Identical letters: 1M timed, 100k also through the reference below.
    { printf '{"text":"'; head -c 1000000 /dev/zero | tr '\0' a; printf '"}\n'; } > "$WORK/a1m.jsonl"
    { printf '{"text":"'; head -c 100000 /dev/zero | tr '\0' a; printf '"}\n'; } > "$WORK/a100k.jsonl"
    printf '%-40s %12s %10s %10s\n' input bytes seconds MB/s   # seconds: the whole command
    for in in doc100 run10 a1m; do
        bytes=$(stat -c %s "$WORK/$in.jsonl")
        t0=$(date +%s.%N)
        "$TOK" -q -j 1 -t data/tokenizers/mistral.json "$WORK/$in.jsonl" > /dev/null
        t1=$(date +%s.%N)
        case $in in
        doc100) label="one 100 MB document" ;;
        run10) label="10 MB without a space (base64)" ;;
        a1m) label="1M identical letters" ;;
        esac
        awk -v l="$label" -v b="$bytes" -v a="$t0" -v z="$t1" \
            'BEGIN { printf "%-40s %12d %10.2f %10.1f\n", l, b, z - a, b / (z - a) / 1e6 }'
    done
    # The 100k run is short enough for the reference: it must agree there too.
    node scripts/hf-encode.js data/tokenizers/mistral.json "$WORK/a100k.jsonl" > "$WORK/ref.ids"
    "$TOK" -q -t data/tokenizers/mistral.json --ids --no-eos "$WORK/a100k.jsonl" > "$WORK/ours.ids"
    if cmp -s "$WORK/ref.ids" "$WORK/ours.ids"; then echo "100k letters: ids equal the reference"; else echo "100k letters: MISMATCH"; fail=1; fi
fi

echo
if ((fail)); then echo "check-tokenize: FAILED"; exit 1; fi
echo "check-tokenize: ok ($total_docs documents compared, 0 mismatches)"
