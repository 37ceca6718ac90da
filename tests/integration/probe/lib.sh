# Shared by the integration scripts: scratch folder, failure reporting.
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-it-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: run CMD, capture stderr in $scratch/err, check status.
expect_exit() {
  local want=$1; shift
  set +e
  "$@" >"$scratch/out" 2>"$scratch/err"
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || { cat "$scratch/err" >&2; fail "'$*' exited $got, expected $want"; }
}
# The error is one line (Open MPI may add its own banner under mpirun; the
# bad-input tests run without mpirun).
one_line() {
  local n
  n=$(grep -c . "$scratch/err" || true)
  [ "$n" -eq 1 ] || { cat "$scratch/err" >&2; fail "expected one line on stderr, got $n"; }
}
