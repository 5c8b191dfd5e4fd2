#!/usr/bin/env bash
# tests/run.sh: runs the C unit test binaries given as arguments, then every tests/*.bats file, and
# ends with one summary line "N passed, N failed". Exit status is non-zero when anything failed.
#   tests/run.sh build/tests/test_*            unit tests + bats
#   tests/run.sh --unit-only build/tests/...   unit tests only
#   tests/run.sh --bats-only                   bats only
set -uo pipefail
cd "$(dirname "$0")/.."

mode=all
case "${1:-}" in
--unit-only) mode=unit; shift ;;
--bats-only) mode=bats; shift ;;
esac

passed=0
failed=0
failures=()

if [ "$mode" != bats ]; then
    for t in "$@"; do
        if out=$("$t" 2>&1); then
            passed=$((passed + 1))
            echo "ok   unit $(basename "$t")"
        else
            failed=$((failed + 1))
            failures+=("unit $(basename "$t")")
            echo "FAIL unit $(basename "$t")"
            echo "$out" | sed 's/^/    /' | tail -n 40
        fi
    done
fi

if [ "$mode" != unit ]; then
    shopt -s nullglob
    files=(tests/*.bats)
    if [ ${#files[@]} -gt 0 ]; then
        tap=$(mktemp)
        bats --tap "${files[@]}" | tee "$tap"
        ok=$(grep -c '^ok ' "$tap" || true)
        bad=$(grep -c '^not ok ' "$tap" || true)
        passed=$((passed + ok))
        failed=$((failed + bad))
        while IFS= read -r line; do failures+=("bats ${line#not ok }"); done < <(grep '^not ok ' "$tap")
        # bats exits non-zero on a broken file even when no test line says "not ok".
        if ! grep -q '^1\.\.' "$tap"; then failed=$((failed + 1)); failures+=("bats: no plan line (a .bats file failed to load)"); fi
        rm -f "$tap"
    fi
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "Failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
