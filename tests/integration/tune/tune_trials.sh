#!/usr/bin/env bash
# The tuning loop with real processes (issue 5): tune_trials runs four
# small plans through the trial runner (mpirun + dml-exec), kills a fifth
# at its timeout, and calibrates. See tune_trials.c.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
driver="$DML_BIN/../tests/integration/tune/tune_trials"
[ -x "$driver" ] || { echo "FAIL: $driver not built"; exit 1; }
[ -x "$DML_BIN/dml-exec" ] || { echo "FAIL: $DML_BIN/dml-exec not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$driver" "$here/fixtures/vm-cluster.json" "$work"
