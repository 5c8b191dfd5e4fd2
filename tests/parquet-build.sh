#!/usr/bin/env bash
# tests/parquet-build.sh WHAT...: builds the Parquet reader's test programs (used by tests/parquet.bats,
# scripts/bench-parquet.sh and tests/fuzz/run.sh), each only when a source is newer than it.
#   cat    build/tests/parquet-cat        tests/parquet-cat.c on build/libscout.a, the project's flags
#   asan   build/tests/parquet-cat-asan   the same with AddressSanitizer + UBSan (clang), and
#          build/tests/test_parquet-asan  tests/unit/test_parquet.c under both sanitizers
#   fuzz   build/fuzz/fuzz_parquet        the libFuzzer target tests/fuzz/fuzz_parquet.c
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-cc}
CLANG=${CLANG:-clang}
# The reader and what its JSON printer needs (jsonl.c -> xio.c -> log.c, atomic.c).
READER=(src/parquet_codec.c src/parquet_column.c src/parquet_encoding.c src/parquet_error.c src/parquet_file.c
        src/parquet_json.c src/parquet_meta.c src/thrift.c src/jsonl.c src/xio.c src/log.c src/atomic.c)
LIBS=(-lzstd -lsnappy -lz -lm)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1)

stale() { # OUT SRC...: true when OUT is missing or older than a source or header
  local out=$1; shift
  [[ -e $out ]] || return 0
  local f
  for f in "$@" src/parquet*.h src/thrift.h src/jsonl.h; do [[ $f -nt $out ]] && return 0; done
  return 1
}

mkdir -p build/tests build/fuzz
for what in "$@"; do
  case $what in
  cat)
    # build/libscout.a comes from `make` (the tools' build); it holds the reader.
    [[ -e build/libscout.a ]] || make -s build/libscout.a KCPU_SRC= >/dev/null
    if stale build/tests/parquet-cat tests/parquet-cat.c build/libscout.a; then
      $CC -std=gnu11 -D_GNU_SOURCE -Isrc -O2 -g -fvect-cost-model=dynamic -Wall -Wextra -Wshadow -Werror \
        tests/parquet-cat.c build/libscout.a "${LIBS[@]}" -o build/tests/parquet-cat
    fi ;;
  asan)
    if stale build/tests/parquet-cat-asan tests/parquet-cat.c "${READER[@]}"; then
      $CLANG -std=gnu11 -D_GNU_SOURCE -Isrc "${SAN[@]}" tests/parquet-cat.c "${READER[@]}" "${LIBS[@]}" \
        -o build/tests/parquet-cat-asan
    fi
    if stale build/tests/test_parquet-asan tests/unit/test_parquet.c "${READER[@]}"; then
      $CLANG -std=gnu11 -D_GNU_SOURCE -Isrc -Itests/unit "${SAN[@]}" tests/unit/test_parquet.c "${READER[@]}" \
        "${LIBS[@]}" -o build/tests/test_parquet-asan
    fi ;;
  fuzz)
    # Lower limits than a real build, so one input cannot spend the fuzzer's memory budget (2 GB
    # RSS); the code that enforces them is the same.
    limits=(-DPQ_MAX_PAGE_BYTES='(16u<<20)' -DPQ_MAX_CHUNK_BYTES='(64ull<<20)'
            -DPQ_MAX_ROWS_PER_ROW_GROUP='(1ull<<20)' -DPQ_MAX_FOOTER_BYTES='(16u<<20)')
    if stale build/fuzz/fuzz_parquet tests/fuzz/fuzz_parquet.c "${READER[@]}"; then
      $CLANG -std=gnu11 -D_GNU_SOURCE -Isrc -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all "${limits[@]}" tests/fuzz/fuzz_parquet.c "${READER[@]}" "${LIBS[@]}" \
        -o build/fuzz/fuzz_parquet
    fi ;;
  *) echo "parquet-build.sh: unknown target '$what' (cat, asan, fuzz)" >&2; exit 2 ;;
  esac
done
