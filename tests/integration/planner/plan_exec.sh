#!/usr/bin/env bash
# A plan dml-exec runs (issue 3): dml-plan writes an mlp-fmnist plan for 2
# ranks (from the cpu-node preset, and from --cluster this after a quick
# dml-probe), and `mpirun -np 2 dml-exec --plan ... --steps 5 --data
# synthetic` trains it. --cluster this without a probed cluster is a clear
# exit 2 asking for dml-probe; with one, the report names the probe run,
# and a newer probe run without mpirun (no links measured) is passed over
# with a warning, not taken silently (issue 12).
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/x.db
run2() { "$MPIEXEC" --oversubscribe -np 2 "$@"; }

# Without any database, and with one that holds no probe.
expect_exit 2 plan --model mlp-fmnist --cluster this --devices 2 \
    --global-batch 256 --db "$db"
one_line 'run dml-probe first'
[ ! -e "$db" ] || fail "--cluster this created a database"
plan --model mlp-fmnist --cluster cpu-node --devices 2 --global-batch 256 \
    --config dp=2,threads=1 --out preset.json --db "$db" >preset.out
expect_exit 2 plan --model mlp-fmnist --cluster this --devices 2 \
    --global-batch 256 --db "$db"
one_line 'no cluster measured by dml-probe'

# The preset's plan runs.
grep -q '"threads_per_rank": 1' preset.json || fail "threads in the plan"
run2 "$DML_BIN/dml-exec" --plan preset.json --steps 5 --data synthetic \
    --db "$db" >exec1.out 2>&1 || { cat exec1.out; fail "dml-exec ran the preset plan"; }

# Probe this machine, plan for it, run the plan.
run2 "$DML_BIN/dml-probe" --quick --quiet --db "$db" >probe.out 2>&1 ||
    { cat probe.out; fail "dml-probe --quick"; }
plan --model mlp-fmnist --cluster this --devices 2 --global-batch 256 \
    --config dp=2 --out plan.json --db "$db" >plan.out
grep -q '"dp": 2' plan.json || fail "dp=2 in the plan file"
grep -q "^Cluster this: probe run 1 (2 ranks on 1 node, .*links measured" \
    plan.out || { cat plan.out; fail "the report names the probe run"; }
grep -q '"devices": 2' plan.json || fail "2 devices in the plan file"
id=$(python3 -c 'import json; print(json.load(open("plan.json"))["db_plan_id"])')
sqlite3 "$db" "SELECT dp FROM plans WHERE id = $id" | grep -qx 2 ||
    fail "the plan file's db_plan_id names its plans row"
run2 "$DML_BIN/dml-exec" --plan plan.json --steps 5 --data synthetic \
    --db "$db" >exec2.out 2>&1 || { cat exec2.out; fail "dml-exec ran the plan for this machine"; }
n=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status = 'ok'")
[ "$n" -eq 2 ] || fail "2 finished runs recorded, found $n"

# issue 12: a newer probe without mpirun measures no links; --cluster this
# keeps the probe that did and says so, on stderr and in the report
"$DML_BIN/dml-probe" --quick --quiet --db "$db" >probe1.out 2>&1 ||
    { cat probe1.out; fail "dml-probe --quick, one rank"; }
plan --model mlp-fmnist --cluster this --devices 2 --global-batch 256 \
    --config dp=2 --db "$db" --json >this.json 2>this.err
grep -q "the newest probe, probe run 2 (1 rank on 1 node.*measured no communication between ranks; planning with probe run 1 (2 ranks" this.err ||
    { cat this.err; fail "the passed-over probe is named on stderr"; }
python3 - this.json <<'PY' || fail "--json names the probe run and the one passed over"
import json, sys
p = json.load(open(sys.argv[1]))["cluster"]["probe"]
assert p["probe_run_id"] == 1 and p["ranks"] == 2 and p["link_measurements"] > 0, p
assert p["passed_over"]["probe_run_id"] == 2 and p["passed_over"]["ranks"] == 1, p
assert p["passed_over"]["link_measurements"] == 0, p
PY
echo ok
