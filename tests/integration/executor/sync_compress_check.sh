#!/usr/bin/env bash
# The compressed exchanges of executor/sync/ (issue 15) on 2 to 4 ranks
# against references (sync_compress_check.c): fp16/bf16 within their
# bound, top-k equal to a reference computed on one rank (ties by index,
# residuals), PowerSGD at full rank equal to the dense sum and its
# residuals losing nothing, tensor-parallel replicas kept equal.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
check="$DML_BIN/../tests/integration/executor/sync_compress_check"
for np in 2 3 4; do
    "$MPIEXEC" --oversubscribe -np $np "$check"
done
