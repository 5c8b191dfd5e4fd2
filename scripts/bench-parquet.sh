#!/usr/bin/env bash
# scripts/bench-parquet.sh: Parquet to JSONL speed of our reader (build/tests/parquet-cat, the same
# library scout-fetch uses) against what a user would otherwise run offline, side by side on one
# FineWeb-like file: SNAPPY, 1000-row groups, v1 pages, ~4.7 KB English documents, `text` stored as
# pyarrow stores it (a dictionary page and dictionary-encoded pages, then PLAIN pages), made by
# scripts/parquet-fixtures.mjs bench. Every reader runs on one thread; the table gives MB of text per
# second of wall time and per CPU-second (= per core, steady even on a busy machine), best of RUNS;
# "CPU vs ours" is CPU time relative to our default (mmap) run: 2.0x = takes twice our CPU time.
#   BENCH_MB=200 (text megabytes), RUNS=3, BENCH_DIR=... (kept when given).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${BENCH_MB:-200}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-$(mktemp -d /tmp/scout-bench-parquet.XXXXXX)}
[[ -n ${BENCH_DIR:-} ]] || trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR"
FIX="node scripts/parquet-fixtures.mjs"
[[ -e data/node-parquet/node_modules/hyparquet/package.json ]] || {
  echo "bench-parquet: the npm writers/readers are missing; run: bats tests/parquet.bats (installs them) or make deps" >&2; exit 1; }
tests/parquet-build.sh cat

echo "writing a FineWeb-like file with about $MB MB of text ..."
read -r docs text kind < <($FIX bench "$DIR/fw.parquet" "$MB")
size=$(stat -c %s "$DIR/fw.parquet")
mb=$(echo "$text / 1000000" | bc -l)

# best CMD...: runs CMD RUNS times; prints "wall cpu" seconds of the fastest run (by CPU time).
best() {
  local w c bw=0 bc=999999
  for _ in $(seq "$RUNS"); do
    read -r w c < <( { /usr/bin/time -f '%e %U %S' "$@" > /dev/null; } 2>&1 | tail -n 1 | awk '{ print $1, $2 + $3 }')
    if (( $(echo "$c < $bc" | bc -l) )); then bc=$c; bw=$w; fi
  done
  echo "$bw $bc"
}

read -r ours_w ours_c < <(best build/tests/parquet-cat "$DIR/fw.parquet")
read -r ranges_w ranges_c < <(best build/tests/parquet-cat --ranges "$DIR/fw.parquet")
read -r multi_w multi_c < <(best build/tests/parquet-cat --columns text,url,score "$DIR/fw.parquet")
duck_w=999999 duck_c=999999
for _ in $(seq "$RUNS"); do
  read -r w c < <($FIX duckdb-json "$DIR/fw.parquet" "$DIR/duck.json")
  if (( $(echo "$c < $duck_c" | bc -l) )); then duck_c=$c; duck_w=$w; fi
done
read -r hyp_w hyp_c < <(best $FIX hyparquet-cat "$DIR/fw.parquet")

# Correctness on the same file: our JSONL equals hyparquet's byte for byte (JSON.stringify escapes as
# we do) and DuckDB found as many documents.
build/tests/parquet-cat "$DIR/fw.parquet" > "$DIR/ours.jsonl"
$FIX hyparquet-cat "$DIR/fw.parquet" > "$DIR/hyp.jsonl"
same=no; cmp -s "$DIR/ours.jsonl" "$DIR/hyp.jsonl" && same=yes
duck_lines=$(wc -l < "$DIR/duck.json")
rss=$( { /usr/bin/time -f %M build/tests/parquet-cat "$DIR/fw.parquet" > /dev/null; } 2>&1 | tail -n 1)

rate() { printf '%.0f' "$(echo "$mb / $1" | bc -l)"; }
printf '\nParquet to JSONL: %s documents, %.1f MB of %s text, file %.1f MB (SNAPPY, 1000-row groups, dictionary then PLAIN)\n' \
  "$docs" "$mb" "$kind" "$(echo "$size / 1000000" | bc -l)"
printf '%-52s %8s %8s %10s %10s %12s\n' reader wall_s cpu_s "MB/s wall" "MB/s core" "CPU vs ours"
row() { printf '%-52s %8.3f %8.3f %10s %10s %11.2fx\n' "$1" "$2" "$3" "$(rate "$2")" "$(rate "$3")" "$(echo "$3 / $ours_c" | bc -l)"; }
row "parquet-cat (ours, mmap, text)" "$ours_w" "$ours_c"
row "parquet-cat --ranges (ours, downloader's reads)" "$ranges_w" "$ranges_c"
row "parquet-cat --columns text,url,score (ours)" "$multi_w" "$multi_c"
row "DuckDB 1.5.6 COPY text TO json, 1 thread" "$duck_w" "$duck_c"
row "hyparquet 1.31.5 (node) text to JSONL" "$hyp_w" "$hyp_c"
printf '\nour JSONL byte-identical to hyparquet'"'"'s: %s; DuckDB lines: %s (documents: %s); our peak RSS: %s KiB\n' \
  "$same" "$duck_lines" "$docs" "$rss"
target=300
ok=$(echo "$(rate "$ours_c") >= $target" | bc)
printf 'target: >= %s MB/s of text per core: %s\n' "$target" "$([ "$ok" = 1 ] && echo met || echo MISSED)"
[ "$same" = yes ] && [ "$duck_lines" -eq "$docs" ] && [ "$ok" = 1 ]
