#!/usr/bin/env bash
# Too little address space (issue 10, a low item). OpenBLAS maps a 128 MiB
# buffer per thread and retries a failed mmap forever: under `ulimit -v
# 100000` dml-exec hung in MPI_Init (OpenBLAS's fork handler waits for a
# worker thread that spins on its mmap), and with a few hundred MB it hung
# at its first GEMM. Now each limit ends in one error line naming the
# limit and exit status 1, at once:
#   100 MB, 1 and 2 OpenBLAS threads  refused before MPI starts
#   370 MB, 1 thread                  refused after MPI's start-up, before
#                                     OpenBLAS takes its buffer (here;
#                                     where MPI starts in less, it runs:
#                                     either way it must not hang)
#   2 GB                              runs (the limit alone is no refusal)
# Skipped in a sanitizer build, whose shadow memory alone is terabytes of
# address space.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
fail() { echo "FAIL: $*"; exit 1; }
if ldd "$DML_BIN/dml-exec" | grep -q -e libasan -e libubsan; then
    echo "skip: sanitizer build"
    exit 77
fi
plan=$DML_FIXTURES/exec/plan-tiny.json

# under KIB THREADS NAME: dml-exec under ulimit -v KIB with
# OPENBLAS_NUM_THREADS=THREADS, killed after 60 s (a hang is exit 124).
under() {
    local rc=0
    OPENBLAS_NUM_THREADS=$2 timeout -s KILL 60 bash -c \
        'ulimit -v "$1"; shift; exec "$@"' - "$1" "$DML_BIN/dml-exec" \
        --plan "$plan" --data synthetic --steps 3 --db "$work/$3.db" \
        >"$3.out" 2>"$3.err" || rc=$?
    echo $rc
}

for c in "100000 1 at-start" "100000 2 at-start-2" "370000 1 after-mpi"; do
    read -r kib threads name <<<"$c"
    rc=$(under "$kib" "$threads" "$name")
    if [ "$name" = after-mpi ] && [ "$rc" -eq 0 ]; then
        echo "ok   ulimit -v $kib: runs (MPI starts in less here)"
        continue
    fi
    [ "$rc" -eq 1 ] || { cat "$name.err"; fail "$name: exit status $rc, expected 1 (137: it hung)"; }
    [ "$(grep -c . "$name.err")" -eq 1 ] &&
        grep -q '^dml-exec: error: the address-space limit (ulimit -v) of [0-9]* MB leaves' "$name.err" ||
        { cat "$name.err"; fail "$name: not one line naming the limit"; }
    echo "ok   ulimit -v $kib, $threads thread(s): $(cat "$name.err")"
done
rc=$(under 2097152 1 roomy)
[ "$rc" -eq 0 ] || { cat roomy.err; fail "ulimit -v 2 GB: exit status $rc"; }
echo "ok   ulimit -v 2097152: runs"
