#!/usr/bin/env bash
# Uneven data-parallel shares across emulated nodes of unequal CPU quota
# (issue 16): 4 nodes x 1 rank at 0.6, 0.6, 0.3 and 0.15 of a core. The
# even split and shares 6, 6, 3, 1 of the step's 16 micro-batches
# (balance=static, the split for those speeds) train the same MLP on the
# same samples: every step's loss and the final weights agree within 1e-4;
# the run's plan is recorded with balance=static and its node names are
# the emulated hosts'. No timing is asserted (bench/balance/static.sh
# measures the speed-up).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"
# shellcheck source=../executor/lib.sh
. "$(dirname "$0")/../executor/lib.sh"
compare="$DML_BIN/../tests/integration/executor/exec_compare"

emu_up --nodes 4 --ranks-per-node 1 --link 1gbit \
  --cpu 0=0.6 --cpu 1=0.6 --cpu 2=0.3 --cpu 3=0.15 >/dev/null
cd "$scratch"
db=$scratch/b.db
# run NAME: the plan NAME.json across the 4 nodes, 8 steps
run() {
  timeout 240 "$emu" mpirun -np 4 "$DML_BIN/dml-exec" --plan "$1.json" \
    --steps 8 --data synthetic --seed 3 --db "$db" --json \
    --save-weights "$scratch/$1.bin" >"$1.out" 2>"$1.err" ||
    { cat "$1.err" >&2; fail "dml-exec $1 across the nodes"; }
}
make_plan even.json 4 1 1 0 4 4 1f1b sgd "$STAGES_1"
BALANCE=static \
SHARES='[{"replicas":2,"microbatches":6},{"replicas":1,"microbatches":3},{"replicas":1,"microbatches":1}]' \
  make_plan uneven.json 4 1 1 0 4 4 1f1b sgd "$STAGES_1"
run even
run uneven
"$compare" losses even.out uneven.out 1e-4 && "$compare" weights even.bin uneven.bin 1e-4 ||
  fail "uneven shares across the nodes give the even split's losses and weights"
[[ $(sqlite3 "$db" "SELECT group_concat(balance) FROM (SELECT p.balance FROM runs r JOIN plans p ON p.id = r.plan_id ORDER BY r.id)") == equal,static ]] ||
  fail "the runs' plans are recorded with their balance"
hosts=$(sqlite3 "$db" "SELECT group_concat(host) FROM (SELECT host FROM rank_timings WHERE run_id = (SELECT max(id) FROM runs) ORDER BY rank)")
[[ $hosts == dmlnode0,dmlnode1,dmlnode2,dmlnode3 ]] ||
  fail "one rank on each emulated node: $hosts"
echo "ok"
