# lib.sh: shared by the dml-plan integration scripts (sourced): a scratch
# folder, failure reporting, exit-status and one-line checks.
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-plan-it-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: run CMD with stdout in $scratch/out and stderr
# in $scratch/err; the exit status must be CODE.
expect_exit() {
    local want=$1
    shift
    set +e
    "$@" >"$scratch/out" 2>"$scratch/err"
    local got=$?
    set -e
    [ "$got" -eq "$want" ] || {
        cat "$scratch/err" >&2
        fail "'$*' exited $got, expected $want"
    }
}
# one_line PATTERN: stderr is exactly one "dml-plan: ..." line matching
# PATTERN (fixed string), and stdout is empty.
one_line() {
    local n
    n=$(grep -c . "$scratch/err" || true)
    [ "$n" -eq 1 ] || { cat "$scratch/err" >&2; fail "expected one line on stderr, got $n"; }
    grep -q '^dml-plan: ' "$scratch/err" || fail "stderr does not start with 'dml-plan: '"
    grep -qF -- "$1" "$scratch/err" || { cat "$scratch/err" >&2; fail "stderr does not say '$1'"; }
    [ ! -s "$scratch/out" ] || { cat "$scratch/out" >&2; fail "stdout is not empty"; }
}
plan() { "$DML_BIN/dml-plan" "$@"; }
