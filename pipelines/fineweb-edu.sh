#!/usr/bin/env bash
# pipelines/fineweb-edu.sh: the reference data recipe as one pipeline (spec/model.md §11.3, D6, D7).
#
#   HuggingFaceFW/fineweb-edu  sample/10BT/*.parquet (14 files, 28.5 GB, ~9.67M documents)
#     | scout-fetch     pinned to a commit, downloaded N files at a time into $OUT/parquet, each
#     |                 verified against its SHA-256 and printed as {"text": ...} lines as soon as it
#     |                 is in place, while the next files still download
#     | scout-tokenize  the Mistral-7B-v0.1 tokenizer of fla-hub/transformer-1.3B-100B (32000 ids),
#     |                 each document followed by EOS (2), no BOS
#     | scout-pack      LITPKDS chunks of (4096 + 1) x 1024 = 4,195,328 uint16 tokens, documents back to
#                       back and split across chunks, the last chunk padded with EOS
#   -> $OUT/shards/fineweb-edu-10BT_0000000000.bin ...   (input of scout-train --data)
#
# Usage:
#   pipelines/fineweb-edu.sh                    # the whole 10BT sample (about 10B tokens, 20 GB of shards)
#   MAX_ROWS=20000 pipelines/fineweb-edu.sh     # a quick real-data run: only the rows needed are fetched
#                                               # (Range requests, no Parquet kept on disk)
# Settings (environment):
#   SAMPLE=10BT        or 100BT, 350BT (never mix samples: their documents may repeat, spec/data.md §1.1)
#   OUT=data/fineweb-edu
#   TOKENIZER=data/tokenizers/mistral.json   (from `make deps`)
#   BLOCK=4096         training context; chunk_size = (BLOCK + 1) x 1024
#   VAL_FRACTION=0     documents held out into val_* shards (the reference trains without validation)
#   JOBS=4             files downloaded at a time
#   MAX_ROWS=          stop after this many documents
#   HF_TOKEN, HF_ENDPOINT  as for scout-fetch (a token raises the Hub's rate limits)
#
# Interrupted? Run it again: verified Parquet files are kept and skipped, .part files resume; the
# tokens and shards are made again from the start (scout-pack writes its shards only when complete).
# Disk: the 10BT sample needs 28.5 GB of Parquet plus about 20 GB of shards.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

SAMPLE=${SAMPLE:-10BT}
OUT=${OUT:-data/fineweb-edu}
TOKENIZER=${TOKENIZER:-data/tokenizers/mistral.json}
BLOCK=${BLOCK:-4096}
VAL_FRACTION=${VAL_FRACTION:-0}
JOBS=${JOBS:-4}
MAX_ROWS=${MAX_ROWS:-}

say() { printf '== %s\n' "$*" >&2; }
for tool in scout-fetch scout-tokenize scout-pack; do
    [ -x "bin/$tool" ] || { echo "fineweb-edu: bin/$tool is missing; run 'make' first" >&2; exit 1; }
done
[ -f "$TOKENIZER" ] || { echo "fineweb-edu: $TOKENIZER is missing; run 'make deps' first" >&2; exit 1; }
case "$SAMPLE" in 10BT | 100BT | 350BT) ;; *) echo "fineweb-edu: SAMPLE must be 10BT, 100BT or 350BT" >&2; exit 2 ;; esac

fetch=(scout-fetch HuggingFaceFW/fineweb-edu --include "sample/$SAMPLE/*.parquet" --to jsonl --jobs "$JOBS")
if [ -n "$MAX_ROWS" ]; then
    fetch+=(--max-rows "$MAX_ROWS") # no -o: footers and the row groups needed, read in place
    say "fetch: the first $MAX_ROWS documents of FineWeb-Edu sample-$SAMPLE (Range requests, nothing kept)"
else
    fetch+=(-o "$OUT/parquet")
    say "fetch: FineWeb-Edu sample-$SAMPLE into $OUT/parquet (resumable, verified)"
fi
split=()
if [ "$VAL_FRACTION" != 0 ]; then split=(--val-fraction "$VAL_FRACTION"); fi
say "tokenize: $TOKENIZER; pack: block $BLOCK -> $OUT/shards/fineweb-edu-${SAMPLE}_*.bin"
mkdir -p "$OUT"

"${fetch[@]}" \
    | scout-tokenize -t "$TOKENIZER" \
    | scout-pack --block "$BLOCK" --prefix "fineweb-edu-$SAMPLE" "${split[@]}" --force -o "$OUT/shards"

scout-pack --inspect "$OUT/shards/fineweb-edu-${SAMPLE}"_*.bin | tail -n 3 >&2
say "done: $OUT/shards"
