#!/usr/bin/env bash
# The whole check, as CI runs it: setup, ruff, mypy, then the full pytest suite on 2 workers.
#
#   bash scripts/test.sh            # from anywhere; extra arguments go to pytest
#
# Every step runs even when an earlier lint step failed (so one run shows everything); the
# exit status is non-zero if any step failed. pytest's exit 5 ("no tests collected") counts
# as a failure: this project has tests, so collecting none means something broke.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONDONTWRITEBYTECODE=1

failed=()
summary=()

step() {  # step NAME COMMAND...
    local name=$1 start end rc
    shift
    printf '\n=== %s: %s\n' "$name" "$*"
    start=$(date +%s.%N)
    "$@"
    rc=$?
    end=$(date +%s.%N)
    local elapsed
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [[ $name == pytest && $rc -eq 5 ]]; then
        printf '=== pytest collected no tests (exit 5): that is a failure here\n'
    fi
    if ((rc == 0)); then
        summary+=("$(printf '%-7s ok      %7ss' "$name" "$elapsed")")
    else
        summary+=("$(printf '%-7s FAILED  %7ss  (exit %d)' "$name" "$elapsed" "$rc")")
        failed+=("$name")
    fi
    printf '=== %s: exit %d after %ss\n' "$name" "$rc" "$elapsed"
    return "$rc"
}

pytest_log=$(mktemp)
trap 'rm -f "$pytest_log"' EXIT

run_pytest() {
    # A hung test must not eat CI's whole budget: stop pytest after 40 minutes.
    timeout --kill-after=60 "${SIGNWIRE_TEST_TIMEOUT:-2400}" \
        .venv/bin/python -m pytest -n 2 "$@" 2>&1 | tee "$pytest_log"
    return "${PIPESTATUS[0]}"
}

count() {  # count WORD LINE: the number before WORD in pytest's closing line, or 0
    local n
    n=$(grep -oE "[0-9]+ $1" <<<"$2" | grep -oE '^[0-9]+' | head -1)
    echo "${n:-0}"
}

finish() {
    local status=0 closing
    printf '\n=== summary\n'
    printf '%s\n' "${summary[@]}"
    if ((${#failed[@]} > 0)); then
        printf 'FAILED: %s\n' "${failed[*]}"
        status=1
    else
        printf 'all steps passed\n'
    fi
    closing=$(grep -E '^=+ .* in [0-9.]+s' "$pytest_log" | tail -1 || true)
    if [[ -n $closing ]]; then
        # pytest's count as the last line, in the plain 'N passed, N failed' form.
        printf 'pytest: %d passed, %d failed, %d skipped\n' "$(count passed "$closing")" \
            $(($(count failed "$closing") + $(count error "$closing"))) "$(count skipped "$closing")"
    fi
    exit "$status"
}

if ! step setup bash scripts/setup-tests.sh; then
    finish  # nothing else can run without the environment
fi

lint_paths=()
for p in src tests bench; do [[ -e $p ]] && lint_paths+=("$p"); done
step ruff .venv/bin/ruff check "${lint_paths[@]}"
step mypy .venv/bin/mypy

step pytest run_pytest "$@"

finish
