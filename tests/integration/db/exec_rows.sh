#!/usr/bin/env bash
# What dml-exec writes to the database under schema version 5 (issue 12):
# a plan file without a plans row in this database (made by dml-plan for
# another one) is recorded with the runtime, attention kernel and
# strategy the file names, not the columns' defaults; run twice it is one
# plans row with two runs; the runs' times have milliseconds, so their
# duration is not a whole number of seconds; and each run records the
# bytes its data-parallel exchange sent per step (dp=2 on one node: the
# gradient's bytes, all inside the node), which v_strategy_comparison
# sums up. Label mpi: two ranks under mpirun.
set -euo pipefail
T=$(mktemp -d /tmp/dml-db-exec-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A DeepSpeed-priced plan for 2 ranks, recorded in plan.db only.
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster cpu-node --devices 2 \
    --global-batch 256 --config dp=2,threads=1,zero=0 --framework deepspeed \
    --out plan.json --db plan.db >plan.out ||
    { cat plan.out; fail "dml-plan wrote no plan"; }
python3 - plan.json <<'PY' || fail "the plan file"
import json, sys
p = json.load(open(sys.argv[1]))["parallel"]
assert p["framework"] == "deepspeed" and p["sync"] == "allreduce", p
PY

for i in 1 2; do
    "$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan plan.json \
        --steps 4 --data synthetic --db exec.db >exec$i.out 2>&1 ||
        { cat exec$i.out; fail "dml-exec run $i"; }
done

q() { sqlite3 exec.db "$1"; }
[ "$(q 'SELECT count(*) FROM plans')" = 1 ] ||
    fail "the plan file run twice is $(q 'SELECT count(*) FROM plans') plans rows"
[ "$(q "SELECT count(*) FROM runs WHERE status = 'ok'")" = 2 ] ||
    fail "two runs of it"
[ "$(q 'SELECT framework || " " || attention || " " || sync FROM plans')" = \
  "deepspeed materialized allreduce" ] ||
    fail "the plans row says $(q 'SELECT framework, attention, sync FROM plans')"
[ "$(q 'SELECT config FROM v_runs LIMIT 1')" = \
  "dp=2,tp=1,pp=1,v=1,mbs=$(python3 -c 'import json; print(json.load(open("plan.json"))["parallel"]["mbs"])'),zero=0,recompute=none,sp=0,schedule=1f1b" ] ||
    fail "v_runs.config: $(q 'SELECT config FROM v_runs LIMIT 1')"

# Times with milliseconds, as dml_clock_iso8601 writes them.
q 'SELECT started_at, finished_at FROM runs' | tr '|' '\n' |
    grep -Evx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z' &&
    fail "a run time without milliseconds: $(q 'SELECT started_at, finished_at FROM runs')"
q 'SELECT duration_s FROM v_runs' | python3 -c '
import sys
d = [float(x) for x in sys.stdin.read().split()]
assert len(d) == 2 and all(x > 0 for x in d), d
assert any(x != round(x) for x in d), f"whole seconds: {d}"
' || fail "duration_s has millisecond resolution"

# Bytes per step: dp=2 under allreduce sends its gradient once per step
# (busbw factor 2 (n-1)/n = 1), 4 bytes per parameter, to the rank on
# the same node.
python3 - plan.json exec.db <<'PY' || fail "bytes per step"
import json, sqlite3, sys
m = json.load(open(sys.argv[1]))["model"]
sizes = [m["input"]] + list(m["hidden"]) + [m["output"]]
params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
c = sqlite3.connect(sys.argv[2])
rows = c.execute("SELECT dp_bytes_intra_per_step, dp_bytes_inter_per_step "
                 "FROM runs").fetchall()
assert rows == [(4.0 * params, 0.0)] * 2, (rows, 4 * params)
s = c.execute("SELECT sync, runs, median_dp_bytes_intra_per_step, "
              "median_dp_bytes_inter_per_step, median_measured_step_s > 0 "
              "FROM v_strategy_comparison").fetchall()
assert s == [("allreduce", 2, 4.0 * params, 0.0, 1)], s
PY
echo "exec_rows: ok"
