#!/usr/bin/env bash
# pipelines/demo.sh (make demo): real English text through every stage of the toolkit that exists.
#
#   [scout-fetch FineWeb-Edu | data/corpora/*.jsonl] --scout-tokenize--> tokens.bin --scout-pack--> shards/ --scout-train--> ckpt/ ...
#
# The corpora (State of the Union addresses, Moby-Dick, the Brown corpus; ~18 MB) and the Mistral
# tokenizer come from `make deps`. A stage whose tool is not built yet is reported and the demo stops
# there: it never fakes a result.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
OUT=${DEMO_DIR:-data/demo}
TOK=data/tokenizers/mistral.json
BLOCK=${DEMO_BLOCK:-256}

say() { printf '\n== %s\n' "$*" >&2; }
missing() {
    say "$1 is not built yet ($2); the demo stops here."
    exit 0
}

[ -f "$TOK" ] || { echo "demo: $TOK missing; run 'make deps' first" >&2; exit 1; }
mkdir -p "$OUT"

# Real FineWeb-Edu rows when the Hub answers (a few row groups by Range requests, no 2 GB download);
# the bundled corpora otherwise. Either way the demo says which it used.
TEXT=(data/corpora/sotu.jsonl data/corpora/moby-dick.jsonl data/corpora/brown.jsonl)
if [ -x bin/scout-fetch ] && [ -z "${DEMO_OFFLINE:-}" ] &&
    scout-fetch HuggingFaceFW/fineweb-edu --include 'sample/10BT/*.parquet' --list -q --retries 1 \
        --retry-max-time 10 > /dev/null 2>&1; then
    say "fetch: the Hub answers; ${DEMO_FINEWEB_ROWS:-20000} FineWeb-Edu rows (sample-10BT) -> $OUT/fineweb-edu.jsonl"
    scout-fetch HuggingFaceFW/fineweb-edu --include 'sample/10BT/*.parquet' --to jsonl \
        --max-rows "${DEMO_FINEWEB_ROWS:-20000}" > "$OUT/fineweb-edu.jsonl.tmp"
    mv "$OUT/fineweb-edu.jsonl.tmp" "$OUT/fineweb-edu.jsonl"
    TEXT=("$OUT/fineweb-edu.jsonl")
else
    say "fetch: the Hugging Face Hub is not reachable from here; using the bundled corpora (SOTU, Moby-Dick, Brown; ~18 MB)"
fi

[ -x bin/scout-tokenize ] || missing scout-tokenize "issue 3"
say "tokenize: ${TEXT[*]} -> $OUT/tokens.bin"
scout-tokenize -t "$TOK" -o "$OUT/tokens.bin" "${TEXT[@]}"

say "pack: $OUT/tokens.bin -> $OUT/shards (block $BLOCK, 2% of the documents held out for validation)"
scout-pack --force --block "$BLOCK" --val-fraction 0.02 -o "$OUT/shards" "$OUT/tokens.bin"
scout-pack --inspect "$OUT"/shards/*.bin >&2

[ -x bin/scout-train ] || missing scout-train "issue 4"
say "train: a small SCOUT-SWA (configs/scout_swa_demo.json, 15M parameters) on $OUT/shards"
pipelines/demo-train.sh "$OUT/shards" "$OUT/ckpt"

[ -x bin/scout-sample ] || missing scout-sample "not yet filed"
[ -x bin/scout-eval ] || missing scout-eval "not yet filed"
