#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [libFuzzer flags...]: builds the libFuzzer target of the Parquet reader
# (AddressSanitizer + UBSan, clang; tests/parquet-build.sh fuzz) and runs it, one process, for SECONDS
# (default 600) on build/fuzz/corpus, seeded from tests/fuzz/corpus. A finding stops the run and is
# written to build/fuzz/crash-* (or leak-*, timeout-*, oom-*); the final lines give execs and coverage.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-600}
shift || true
tests/parquet-build.sh fuzz
mkdir -p build/fuzz/corpus
cp -n tests/fuzz/corpus/* build/fuzz/corpus/ 2>/dev/null || true
# -timeout: an input taking 10 s is a hang; -max_len: inputs past 64 KiB only slow the search.
exec build/fuzz/fuzz_parquet build/fuzz/corpus -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix=build/fuzz/ "$@"
