#!/usr/bin/env bash
# make bench-pack: scout-pack on a synthetic 100M-token stream, side by side with the reference
# builder (tests/ref/packed_dataset_builder.py, lit-gpt's PackedDatasetBuilder semantics) on the same
# input in one run. Checks the shards are byte-identical and that --inspect agrees with the input,
# then prints a table. N_TOKENS=... to change the size; BENCH_DIR=... to choose where files go.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N_TOKENS:-100000000}
DIR=${BENCH_DIR:-$(mktemp -d /tmp/scout-bench-pack.XXXXXX)}
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR"
export PATH="$PWD/bin:$PATH"

echo "generating $N synthetic tokens (vocab 32000, mean document 500 tokens) ..."
python3 tests/ref/gen_tokens.py "$DIR/tokens.bin" "$N" --mean-doc 500
bytes=$(stat -c %s "$DIR/tokens.bin")
docs=$(python3 -c "import array,sys; a=array.array('H'); f=open(sys.argv[1],'rb'); f.seek(32); a.frombytes(f.read()); print(a.count(2))" "$DIR/tokens.bin")

# Best of 3 wall-clock runs; the input is in the page cache after the first.
best() {
    local best=999999 t0 t1 dt
    for _ in 1 2 3; do
        rm -rf "$DIR/out"
        t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N)
        dt=$(echo "$t1 - $t0" | bc -l)
        best=$(echo "if ($dt < $best) $dt else $best" | bc -l)
    done
    echo "$best"
}
t_dir=$(best scout-pack -q -o "$DIR/out" "$DIR/tokens.bin")
t_null=$(best sh -c "scout-pack -q -o - '$DIR/tokens.bin' > /dev/null")
t_pipe=$(best sh -c "cat '$DIR/tokens.bin' | scout-pack -q -o - > /dev/null")
rss=$( { /usr/bin/time -f %M scout-pack -q -o - "$DIR/tokens.bin" > /dev/null; } 2>&1 )

rm -rf "$DIR/out" "$DIR/ref"
scout-pack -q -o "$DIR/out" "$DIR/tokens.bin"
t0=$(date +%s.%N)
python3 tests/ref/packed_dataset_builder.py "$DIR/tokens.bin" "$DIR/ref" train 2098176
t1=$(date +%s.%N)
t_ref=$(echo "$t1 - $t0" | bc -l)

if diff -rq "$DIR/out" "$DIR/ref" > /dev/null; then same="yes"; else same="NO"; fi
shards=$(ls "$DIR/out" | wc -l)
inspect_tokens=$(scout-pack --inspect "$DIR"/out/*.bin | sed -n 's/.* tokens=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
inspect_docs=$(scout-pack --inspect "$DIR"/out/*.bin | sed -n 's/.* docs=\([0-9]*\).*/\1/p' | paste -sd+ | bc)
chunk=2098176

gbs() { printf "%.2f" "$(echo "$bytes / $1 / 1000000000" | bc -l)"; }
printf '\nscout-pack, %s tokens (%s bytes of token data), %s documents, %s shards of %s tokens\n' "$N" "$bytes" "$docs" "$shards" "$chunk"
printf '%-44s %10s %10s %8s\n' "run" "seconds" "GB/s" "vs ref"
printf '%-44s %10.3f %10s %8s\n' "reference PackedDatasetBuilder (python)" "$t_ref" "$(gbs "$t_ref")" "1.0x"
for row in "scout-pack -o DIR (shards on disk)@$t_dir" "scout-pack -o - > /dev/null (file input)@$t_null" "cat | scout-pack -o - > /dev/null (pipe)@$t_pipe"; do
    name=${row%@*}; t=${row#*@}
    printf '%-44s %10.3f %10s %7.1fx\n' "$name" "$t" "$(gbs "$t")" "$(echo "$t_ref / $t" | bc -l)"
done
printf '\nshards byte-identical to the reference: %s\n' "$same"
printf -- '--inspect: %s tokens (expected %s = %s shards x %s), %s documents (input has %s)\n' \
    "$inspect_tokens" "$((shards * chunk))" "$shards" "$chunk" "$inspect_docs" "$docs"
printf 'peak memory (max RSS) of scout-pack: %s KiB (one chunk is %s KiB)\n' "$rss" "$((chunk * 2 / 1024))"
[ "$same" = yes ] && [ "$inspect_tokens" -eq $((shards * chunk)) ] && [ "$inspect_docs" -eq "$docs" ]
