#!/usr/bin/env bash
# Database under contention (issue 6): while another writer holds the
# write lock for 3 s, two dml-exec runs (one of 2 ranks under mpirun, one
# alone), a measuring dml-probe --quick and three dml-probe --topology-xml
# start on one database at once. Each waits for the lock (busy timeout)
# instead of failing: all exit 0, and afterwards every row is there: both
# runs ok with their 400 steps and 20 and 16 checkpoints, four probe runs
# (the measuring one with its measurements), the lock holder's event, and
# PRAGMA integrity_check is "ok".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
db_setup shared.db

cat >dp2.json <<'JSON'
{"schema_version": 1, "kind": "plan",
 "model": {"type": "mlp", "name": "mlp-tiny", "input": 32,
           "hidden": [16, 16], "output": 4, "dtype": "fp32"},
 "cluster": {"name": "test-localhost", "devices": 2},
 "parallel": {"dp": 2, "tp": 1, "pp": 1, "mbs": 8, "microbatches": 2},
 "placement": {"stages": [{"first_layer": 0, "last_layer": 2}]},
 "schedule": {"global_batch": 32, "optimizer": "sgd", "peak_lr": 0.01}}
JSON

"$writer" hold "$DB" 3 "$work/held" &
pids+=($!)
hold=$!
for _ in $(seq 200); do [ -e "$work/held" ] && break; sleep 0.05; done
[ -e "$work/held" ] || fail "the lock holder never took the lock"
t0=$(date +%s)

"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --steps 400 --checkpoint-dir ckA --checkpoint-every 20 \
    --db "$DB" --json >a.out 2>a.err &
a=$!
pids+=($a)
"$DML_BIN/dml-exec" --plan "$DML_FIXTURES/exec/plan-tiny.json" \
    --data synthetic --steps 400 --checkpoint-dir ckB --checkpoint-every 25 \
    --db "$DB" --json >b.out 2>b.err &
b=$!
pids+=($b)
"$DML_BIN/dml-probe" --quick --quiet --json --db "$DB" >p.out 2>p.err &
p=$!
pids+=($p)
(for i in 1 2 3; do
     "$DML_BIN/dml-probe" --topology-xml "$DML_FIXTURES/topology/this-vm.xml" \
         --quiet --db "$DB" >/dev/null || exit 1
 done) 2>t.err &
t=$!
pids+=($t)

rc=0
wait $hold || fail "the lock holder failed"
wait $a || { echo "dml-exec (2 ranks) failed:"; cat a.err; rc=1; }
wait $b || { echo "dml-exec (1 rank) failed:"; cat b.err; rc=1; }
wait $p || { echo "dml-probe --quick failed:"; cat p.err; rc=1; }
wait $t || { echo "dml-probe --topology-xml failed:"; cat t.err; rc=1; }
[ $rc -eq 0 ] || fail "a writer gave up under contention"
echo "all writers finished in $(( $(date +%s) - t0 )) s"

[ "$(q 'pragma integrity_check')" = ok ] || fail "integrity_check: $(q 'pragma integrity_check')"
[ "$(q "select count(*) from runs where status = 'ok' and steps = 400")" -eq 2 ] ||
    fail "runs: $(q 'select id, status, steps from runs')"
for r in $(q 'select id from runs'); do
    n=$(q "select count(*) from steps where run_id = $r")
    [ "$n" -eq 400 ] || fail "run $r has $n step rows, expected 400"
done
ck=$(q "select group_concat(n) from (select count(*) n from checkpoints
        group by run_id order by n desc)")
[ "$ck" = "20,16" ] || fail "checkpoints per run: $ck, expected 20,16"
[ "$(q 'select count(*) from probe_runs')" -eq 4 ] ||
    fail "$(q 'select count(*) from probe_runs') probe runs, expected 4"
m=$(q "select count(*) from measurements")
[ "$m" -gt 10 ] || fail "the measuring probe recorded $m measurements"
[ "$(q "select count(*) from events where kind = 'straggler'")" -eq 1 ] ||
    fail "the lock holder's event is missing"
echo "ok integrity ok; 2 runs x 400 steps, 36 checkpoints, 4 probe runs ($m measurements)"
