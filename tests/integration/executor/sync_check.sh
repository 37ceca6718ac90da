#!/usr/bin/env bash
# The gradient-exchange strategies of executor/sync/ on 1 to 4 ranks
# (sync_check.c): reduced values, owned ranges, gathered parameters and
# the bytes counted against the cost model's bus bandwidth factor.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
check="$DML_BIN/../tests/integration/executor/sync_check"
for np in 1 2 3 4; do
    "$MPIEXEC" --oversubscribe -np $np "$check"
done
