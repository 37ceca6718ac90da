#!/usr/bin/env bash
# Runs probes_comm_check (quick mode) under mpirun three ways; see
# CMakeLists.txt. Each run checks its own results and exits non-zero on a
# failed check.
set -euo pipefail
check=${DML_PROBES_COMM_CHECK:?path of probes_comm_check}
mpiexec=${MPIEXEC:-}
if [[ -z $mpiexec ]]; then
    echo "no MPIEXEC: skipping" >&2
    exit 77
fi
# Root, oversubscription, no single-copy transport inside containers.
. "${DML_SOURCE_DIR:?}/scripts/env.sh"
# In a sanitizer build, Open MPI's own allocations at exit read as leaks
# (none is in dml code); memory errors are still reported.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

echo "== 2 ranks, 1 node: intra_node level only"
env -u DML_PROBE_FAKE_NODES "$mpiexec" -np 2 "$check" \
    --nodes 1 --ranks-per-node 2

echo "== 4 ranks, DML_PROBE_FAKE_NODES=2: intra_node and inter_node"
DML_PROBE_FAKE_NODES=2 "$mpiexec" -np 4 --oversubscribe \
    -x DML_PROBE_FAKE_NODES "$check" --nodes 2 --ranks-per-node 2

echo "== DML_PROBE_FAKE_NODES=3 with 2 ranks: refused on every rank"
DML_PROBE_FAKE_NODES=3 "$mpiexec" -np 2 -x DML_PROBE_FAKE_NODES "$check" \
    --expect-split-error
echo "probes_comm: all runs passed"
