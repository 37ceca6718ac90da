# A collective that returns a wrong result (issue 12): the probe checks
# every collective's result after timing it (nccl-tests' #wrong) and a
# wrong element fails the run with exit 1 and one line, recording nothing
# and writing no cluster spec: the planner must never price a broken
# collective as if it worked. The wrong result comes from the test hook of
# probes/collectives.c (DML_TEST_PROBE_CORRUPT, compiled only with the
# test suite): the last rank changes one element of that op's result.
# (A healthy probe's #wrong is 0: probe_mpi_quick_json.sh.)
. "$(dirname "$0")/lib.sh"
db=$scratch/p.db
for op in allreduce broadcast; do
    rc=0
    DML_TEST_PROBE_CORRUPT=$op "$MPIEXEC" -np 2 -x DML_TEST_PROBE_CORRUPT \
        "$DML_BIN/dml-probe" --quick --quiet --db "$db" \
        --out "$scratch/cluster.json" >"$scratch/out" 2>"$scratch/err" || rc=$?
    [ "$rc" -eq 1 ] || { cat "$scratch/err" >&2; fail "$op corrupted: exit $rc, expected 1"; }
    # Open MPI adds its own banner about the exit status; dml-probe says
    # one line.
    n=$(grep -c '^dml-probe:' "$scratch/err" || true)
    [ "$n" -eq 1 ] || { cat "$scratch/err" >&2; fail "$op corrupted: $n lines from dml-probe, expected 1"; }
    grep -q "^dml-probe: error: collectives intra_node: $op: 1 of [0-9]* result elements wrong at [0-9]* B (rank 1, element 0: .* instead of .*): the collective is broken" \
        "$scratch/err" || { cat "$scratch/err" >&2; fail "$op corrupted: not the line expected"; }
    [ ! -e "$scratch/cluster.json" ] || fail "$op corrupted: a cluster spec was written"
    [ ! -s "$scratch/out" ] || fail "$op corrupted: something on stdout"
    runs=$(sqlite3 "$db" 'select count(*) from probe_runs' 2>/dev/null || echo 0)
    [ "$runs" -eq 0 ] || fail "$op corrupted: a probe run was recorded"
    echo "$op corrupted: exit 1, $(grep '^dml-probe:' "$scratch/err")"
done
echo ok
