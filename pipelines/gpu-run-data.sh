#!/usr/bin/env bash
# pipelines/gpu-run-data.sh: the training data of a short real run on a GPU machine, as one file to carry.
#
# The GPU machine reaches no registry and takes at most 64 MiB of carried files in all, so the text travels
# compressed and is tokenized and packed there. Here:
#
#   data/corpora/{brown,docs,moby-dick,sotu}.jsonl      (make deps; scripts/docs-corpus.sh for docs.jsonl)
#     | mixed: the documents in runs of ~4 MiB (consecutive documents of one source), the runs in a
#     |        seeded random order, exact repeats dropped; so the training shards and the first validation
#     |        blocks come from every source, while zstd still finds each source's redundancy
#     | zstd -19 --long=27 -T2
#   -> build/gpu-run-data/corpus.jsonl.zst      38.5 MiB: 164 MB of text, 22,251 documents, 48.2M Mistral
#                                               tokens (EOS included); ~4 min here
#   -> build/gpu-run-data/tools.tar.gz          (--tools) scout-tokenize and scout-pack linked statically
#                                               (jansson, zstd, libcrypto; needs only libc) + mistral.json
#
# On the GPU machine (carry build/gpu-run-data; scout-tokenize reads .zst itself, no zstd program needed):
#
#   tar -xzf build/gpu-run-data/tools.tar.gz -C build/gpu-run-data      # or use bin/ when it runs there
#   T=build/gpu-run-data
#   $T/scout-tokenize -q -t $T/mistral.json -j 0 $T/corpus.jsonl.zst \
#     | $T/scout-pack -q --chunk-size 131136 --drop-last --val-fraction 0.02 -o shards
#   scout-train --device cuda --model configs/scout_swa_470m.json --seq-len 2048 \
#     --data 'shards/train_*.bin' --val-data 'shards/val_*.bin' --val-every 50 ...
#   (the same with the zstd program: zstd -dc $T/corpus.jsonl.zst | $T/scout-tokenize -q -t ... -j 0 | ...)
#
# Carry budget (64 MiB in all): corpus.jsonl.zst 38.5 MiB + tools.tar.gz 2.2 MiB = 40.7 MiB, which leaves
# 23 MiB for the trainer; build/gpu-train.tar.gz of scripts/gpu-check.sh --build-train is 24 MiB with its
# bench-data, so carry one without it, or make this file smaller with EXCLUDE (below).
#
# (7 s here on 2 cores; -j 0 = every core.) --check runs exactly that here (into CHECK_DIR, outside OUT so
# that carrying OUT never takes the shards along) and prints the counts: 359 train shards (352 read per
# pass: 46.2M tokens), 7 validation shards (458 documents, 918K tokens kept).
#
# Why these scout-pack options:
#   --chunk-size 131136 = (2048 + 1) x 64: blocks of --seq-len 2048 (+1) tile each shard exactly. scout-train
#     reads the shards in windows of 8 files and skips the files past the last full window (lit-gpt's
#     PackedDataset): with the default (2048 + 1) x 1024 chunks the 48M tokens make 23 shards, of which 7
#     (14M tokens) would never be read; with 64-block chunks it is 359 shards and at most 7 x 131K tokens.
#     For another --seq-len T use (T + 1) x 64 (BLOCK=T here).
#   --val-fraction 0.02: each document goes to validation with probability 0.02 by a hash of (seed, its
#     index in the stream), so validation and training documents are disjoint by construction (a document
#     is routed whole, EOS included). 458 documents, 1.02M tokens, 7 full shards: scout-train's validation
#     reads the first --val-batches x --micro-batch blocks of them in order (16 x 8 x 2049 = 262K tokens by
#     default; at most 448 blocks exist).
#   --drop-last: the last partial chunk of each split is dropped rather than padded with EOS, so no
#     validation block is padding.
# Caveats: disjoint documents are not disjoint content: consecutive pieces of one long source file (texts
# over 20 KB are cut into ~12 KB documents) can land on both sides, and GCIDE quotes many WordNet 1.5
# glosses that dict-wn also has. The data are reference manuals, dictionaries and old books, not web text.
#
# Usage: pipelines/gpu-run-data.sh [--tools] [--check | --check-only]
#   --tools       also build tools.tar.gz (needs build/libscout.a: `make`, or an earlier build)
#   --check       then run the GPU-side recipe here into CHECK_DIR/shards (tokens, documents, time)
#   --check-only  only that, on the corpus.jsonl.zst (and tools.tar.gz) already in OUT
# Settings: OUT=build/gpu-run-data  CHECK_DIR=build/gpu-run-data-check  SEED=3407  BLOCK=2048
#           VAL_FRACTION=0.02  LEVEL=19  THREADS=2
#   EXCLUDE="dict-wn fortunes"   leave out the documents of these packages (docs.jsonl's "src"), e.g. to
#                                make the file smaller
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-build/gpu-run-data}
CHECK_DIR=${CHECK_DIR:-build/gpu-run-data-check}
SEED=${SEED:-3407}
BLOCK=${BLOCK:-2048}
VAL_FRACTION=${VAL_FRACTION:-0.02}
LEVEL=${LEVEL:-19}
THREADS=${THREADS:-2}
TOKENIZER=${TOKENIZER:-data/tokenizers/mistral.json}
CORPORA=(data/corpora/brown.jsonl data/corpora/docs.jsonl data/corpora/moby-dick.jsonl data/corpora/sotu.jsonl)
LIMIT_MIB=40

tools=0 check=0 build=1
for a in "$@"; do
  case $a in
    --tools) tools=1 ;;
    --check) check=1 ;;
    --check-only) check=1 build=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-run-data: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'gpu-run-data: error: %s\n' "$*" >&2; exit 1; }
for f in "${CORPORA[@]}"; do
  [ "$build" = 0 ] || [ -f "$f" ] || die "$f is missing: run 'make deps' (bundled corpora) and scripts/docs-corpus.sh (docs.jsonl)"
done
command -v zstd >/dev/null || die "needs the zstd program (apt-get install zstd)"
mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ "$build" = 1 ]; then
# 1. Mix: runs of consecutive documents of ~4 MiB, in a seeded order; exact repeats dropped.
say "mixing ${CORPORA[*]} (seed $SEED)"
start=$(date +%s)
EXCLUDE=${EXCLUDE:-} nice -n 10 python3 - "$SEED" "$tmp/corpus.jsonl" "${CORPORA[@]}" <<'EOF'
import hashlib, json, os, random, sys
seed, out, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
exclude = set(os.environ["EXCLUDE"].split())
excluded = 0
RUN = 4 << 20
runs, cur, size, seen, docs, dups, nbytes = [], [], 0, set(), 0, 0, 0
for p in paths:
    with open(p, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("src") in exclude:
                excluded += 1
                continue
            text = rec["text"]
            key = hashlib.sha1(text.encode("utf-8")).digest()
            if key in seen:
                dups += 1
                continue
            seen.add(key)
            rec = (json.dumps({"text": text}, ensure_ascii=False) + "\n").encode("utf-8")
            cur.append(rec)
            size += len(rec)
            docs += 1
            nbytes += len(text.encode("utf-8"))
            if size >= RUN:
                runs.append(cur)
                cur, size = [], 0
    if cur:  # a run never spans two sources
        runs.append(cur)
        cur, size = [], 0
random.Random(seed).shuffle(runs)
with open(out, "wb") as f:
    for r in runs:
        f.writelines(r)
print(f"== {docs} documents ({nbytes:,} bytes of text) in {len(runs)} runs; {dups} exact repeats dropped"
      + (f", {excluded} documents of {' '.join(sorted(exclude))} left out" if exclude else ""), file=sys.stderr)
EOF

# 2. Compress (--long=27: a 128 MiB window, which every zstd decoder accepts without options).
say "zstd -$LEVEL --long=27 -T$THREADS (a few minutes)"
nice -n 10 zstd -q -f "-$LEVEL" --long=27 "-T$THREADS" "$tmp/corpus.jsonl" -o "$tmp/corpus.jsonl.zst"
raw=$(stat -c %s "$tmp/corpus.jsonl")
zst=$(stat -c %s "$tmp/corpus.jsonl.zst")
zstd -q -t "$tmp/corpus.jsonl.zst" || die "the compressed file does not verify"
mv -f "$tmp/corpus.jsonl.zst" "$OUT/corpus.jsonl.zst"
sha256sum "$OUT/corpus.jsonl.zst" | sed "s|  .*|  corpus.jsonl.zst|" >"$OUT/corpus.jsonl.zst.sha256"
say "$OUT/corpus.jsonl.zst: $raw bytes of JSONL -> $zst bytes ($(awk -v z="$zst" 'BEGIN { printf "%.1f", z / 1048576 }') MiB) in $(( $(date +%s) - start )) s"
if [ "$zst" -ge $((LIMIT_MIB * 1048576)) ]; then
  say "WARNING: over $LIMIT_MIB MiB: leave packages out with EXCLUDE=\"...\""
fi

fi # build

# 3. Tools that run on any x86-64 Linux with glibc: scout-tokenize and scout-pack with their libraries linked in.
if [ "$tools" = 1 ] && [ "$build" = 1 ]; then
  say "tools: static scout-tokenize, scout-pack + $TOKENIZER -> $OUT/tools.tar.gz"
  [ -f "$TOKENIZER" ] || die "$TOKENIZER is missing: run 'make deps'"
  nice make -s build/libscout.a >"$tmp/make.log" 2>&1 || {
    [ -f build/libscout.a ] || { cat "$tmp/make.log" >&2; die "cannot build build/libscout.a"; }
    say "make build/libscout.a failed (tree mid-edit?); linking with the existing build/libscout.a"
  }
  mkdir -p "$tmp/tools"
  for prog in scout-tokenize scout-pack; do
    nice gcc -std=gnu11 -D_GNU_SOURCE -Isrc -Ikernels -O2 -fvect-cost-model=dynamic "src/cmd/$prog.c" build/libscout.a \
      -Wl,-Bstatic -ljansson -lzstd -lcrypto -Wl,-Bdynamic -lpthread -lm -o "$tmp/tools/$prog" || die "linking $prog failed"
    strip "$tmp/tools/$prog"
  done
  cp "$TOKENIZER" "$tmp/tools/mistral.json"
  tar -C "$tmp/tools" -czf "$tmp/tools.tar.gz" scout-tokenize scout-pack mistral.json
  mv -f "$tmp/tools.tar.gz" "$OUT/tools.tar.gz"
  say "$OUT/tools.tar.gz: $(stat -c %s "$OUT/tools.tar.gz") bytes"
fi

# 4. The GPU-side recipe, here.
if [ "$check" = 1 ]; then
  [ -f "$OUT/corpus.jsonl.zst" ] || die "no $OUT/corpus.jsonl.zst: run without --check-only first"
  if [ -f "$OUT/tools.tar.gz" ]; then
    tar -xzf "$OUT/tools.tar.gz" -C "$tmp"
    TOK=$tmp/scout-tokenize PACK=$tmp/scout-pack TKN=$tmp/mistral.json
  else
    TOK=bin/scout-tokenize PACK=bin/scout-pack TKN=$TOKENIZER
  fi
  chunk=$(( (BLOCK + 1) * 64 ))
  say "check: $TOK -j $THREADS | $PACK --chunk-size $chunk --drop-last --val-fraction $VAL_FRACTION -> $CHECK_DIR/shards"
  rm -rf "$CHECK_DIR/shards" && mkdir -p "$CHECK_DIR"
  start=$(date +%s.%N)
  nice -n 10 "$TOK" -q -t "$TKN" -j "$THREADS" "$OUT/corpus.jsonl.zst" \
    | nice -n 10 "$PACK" --chunk-size "$chunk" --drop-last --val-fraction "$VAL_FRACTION" -o "$CHECK_DIR/shards" 2>&1 | sed 's/^/   /' >&2
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  ntrain=$(ls "$CHECK_DIR"/shards/train_*.bin | wc -l)
  nval=$(ls "$CHECK_DIR"/shards/val_*.bin | wc -l)
  say "check: $ntrain train shards, $nval val shards of $chunk tokens in $secs s; $(du -sh "$CHECK_DIR/shards" | cut -f1)"
  say "check: scout-train reads $(( ntrain / 8 * 8 )) of the $ntrain train shards ($(( ntrain / 8 * 8 * chunk )) tokens a pass)"
fi
