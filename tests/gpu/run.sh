#!/usr/bin/env bash
# tests/gpu/run.sh BINARIES...: `make test-gpu` (needs an NVIDIA GPU). Runs every test_* program among the
# arguments (tests/gpu/test_gpu_ops: every CUDA op against the CPU op; tests/gpu/test_gpu_train: the trainer on
# the GPU against the CPU, determinism, resume), printing each
# one's table, and ends with one summary line. Programs that are not tests (bench_gpu) are skipped: speed is
# measured by scripts/gpu-check.sh and the bench targets, never by a test. Exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

passed=0
failed=0
for t in "$@"; do
    case "$(basename "$t")" in
    test_*) ;;
    *) continue ;;
    esac
    if "$t"; then
        passed=$((passed + 1))
        echo "ok   gpu $(basename "$t")"
    else
        failed=$((failed + 1))
        echo "FAIL gpu $(basename "$t")"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
