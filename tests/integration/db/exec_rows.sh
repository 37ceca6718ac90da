#!/usr/bin/env bash
# What dml-exec writes to the database under schema version 5 (issue 12):
# a plan file without a plans row in this database (made by dml-plan for
# another one) is recorded with the runtime, attention kernel and
# strategy the file names, not the columns' defaults; run twice it is one
# plans row with two runs; the runs' times have milliseconds, so their
# duration is not a whole number of seconds; and each run records the
# bytes its data-parallel exchange sent per step (dp=2 on one node: the
# gradient's bytes, all inside the node), which v_strategy_comparison
# sums up. With dp=2 x pp=2 (4 ranks) the --json bytes_per_step.per_replica
# is the runs row's dp_bytes_*_per_step exactly (one definition: a replica
# of the busiest stage, issue 12), and its job total the sum over the
# ranks. Label mpi: two and four ranks under mpirun.
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

# One definition of bytes per step: --json and the runs row agree, also
# where the stages differ (stage 0 holds layers 0-1, 784-256-256, stage 1
# layer 2, 256-10; each stage's pair of replicas allreduces its own).
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster cpu-node --devices 4 \
    --global-batch 256 --config dp=2,pp=2,threads=1,zero=0 --out pp.json \
    --db plan.db >pp-plan.out || { cat pp-plan.out; fail "dml-plan dp=2,pp=2"; }
"$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" --plan pp.json \
    --steps 3 --data synthetic --db exec.db --json >pp.out 2>pp.err ||
    { cat pp.err; fail "dml-exec dp=2 x pp=2"; }
python3 - pp.json pp.out exec.db <<'PY' || fail "bytes per step: --json against the runs row"
import json, sqlite3, sys
plan = json.load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))
m = plan["model"]
sizes = [m["input"]] + list(m["hidden"]) + [m["output"]]
layer = [(a + 1) * b for a, b in zip(sizes, sizes[1:])]
stage = [sum(layer[s["first_layer"]:s["last_layer"] + 1])
         for s in plan["placement"]["stages"]]
row = sqlite3.connect(sys.argv[3]).execute(
    "SELECT dp_bytes_intra_per_step, dp_bytes_inter_per_step FROM runs "
    "WHERE id = ?", (run["run_id"],)).fetchone()
b = run["bytes_per_step"]
rep = b["per_replica"]
assert (rep["intra_node"], rep["inter_node"]) == row, (rep, row)
# a replica of the busiest stage sends its stage's gradient once a step
assert rep["intra_node"] == 4.0 * max(stage), (rep, stage)
# the job: every rank's, 2 replicas of each stage
assert b["intra_node"] == sum(2 * 4.0 * p for p in stage), (b, stage)
assert b["inter_node"] == 0 and rep["inter_node"] == 0, b
print(f"ok   bytes per step: per replica {rep['intra_node']:.0f} (the runs "
      f"row), the job {b['intra_node']:.0f}")
PY
echo "exec_rows: ok"
