#!/usr/bin/env bash
# balance=dynamic across emulated nodes (issue 16): 4 equal nodes x 1 rank
# at 0.45 of a core train a 784-512-512-10 MLP on Fashion-MNIST, 110
# steps of 32 micro-batches (8 a replica).
#   clean: no slowdown; no balance event at all.
#   slow:  node 2's quota drops to LOW from step 25 to step 75 (emu-cluster
#          set while the job runs): replica 2 is flagged a straggler with
#          cause compute within 20 steps, the shares move work away from
#          it (the total unchanged), every flag ends, and the shares are
#          the plan's 8, 8, 8, 8 within 20 steps of the quota's return and
#          stay so; no other replica is flagged. The losses are the clean
#          run's to the bit until the first move and within 1e-4 for ten
#          steps after it (the step's gradient is the same average over the
#          same samples, summed in another order); the test accuracy within
#          0.3 points. The events are in the database in the same order and
#          dml-history --balance lists them.
# A quota lets short bursts through: at one micro-batch the throttled node
# computes at full speed, its flag ends, the shares go back to 8 each and
# it is flagged again, a cycle of about 15 steps during the slowdown that
# the emulation causes (executor/rebalance.h).
# LOW is 0.01 (the least quota emu-cluster sets), not the issue's third:
# on this 2-core machine under other engineers' tests the load reaches
# 25, every process gets under a tenth of a core, and a quota of 0.15 or
# even 0.05 does not bind (measured: at load 25 a node at 0.05 computed
# its step in 0.22 s against the others' 0.19); 0.01 binds at any load
# seen (2 s of compute a step against a few tenths). bench/balance/
# dynamic.sh runs the issue's third and says what it shows at the load
# of the day. Steps are counted, not timed: the assertions hold on a
# loaded machine.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"
low=${LOW:-0.01}
from=25 to=75 steps=110
export OMPI_MCA_mpi_yield_when_idle=1

emu_up --nodes 4 --ranks-per-node 1 --link 1gbit \
  --cpu 0=0.45 --cpu 1=0.45 --cpu 2=0.45 --cpu 3=0.45 >/dev/null
cd "$scratch"
db=$scratch/d.db
cat >plan.json <<'JSON'
{
  "schema_version": 1, "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-fmnist-512", "input": 784,
            "hidden": [512, 512], "output": 10, "dtype": "fp32"},
  "cluster": {"name": "emu", "devices": 4},
  "parallel": {"dp": 4, "tp": 1, "pp": 1, "mbs": 32, "microbatches": 8,
               "zero": 0, "schedule": "1f1b", "threads_per_rank": 1,
               "sync": "allreduce", "balance": "dynamic"},
  "placement": {"order": "tp-pp-dp",
                "stages": [{"first_layer": 0, "last_layer": 2}]},
  "schedule": {"global_batch": 1024, "optimizer": "sgd", "peak_lr": 0.05,
               "momentum": 0.9}
}
JSON
# run NAME [slow]: the plan across the nodes; with slow, node 2 at $low
# from step $from to $to (NAME.slow: the steps the quota changed at)
run() {
  local pid s target
  timeout 600 "$emu" mpirun -np 4 "$DML_BIN/dml-exec" --plan plan.json \
    --steps $steps --seed 5 --db "$db" --json --checkpoint-dir "ck.$1" \
    --checkpoint-every 1000000 >"$1.out" 2>"$1.err" &
  pid=$!
  if [[ ${2:-} == slow ]]; then
    for target in $from $to; do
      s=0
      while ((s < target)) && kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        s=$(awk '$1 == "step" { print $2 + 0 }' "ck.$1/ranks/rank-00002" 2>/dev/null) || s=0
        s=${s:-0}
      done
      "$emu" set 2 --cpu "$([[ $target == "$from" ]] && echo "$low" || echo 0.45)"
      echo "$s" >>"$1.slow"
    done
  fi
  wait "$pid" || { cat "$1.err" >&2; fail "dml-exec $1 across the nodes"; }
}
run clean
run slow slow
python3 - "$db" <<'PY' || fail "balance events of the clean and slowed runs"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
clean, slow = (json.load(open(f"{n}.out")) for n in ("clean", "slow"))
a, b = (int(x) for x in open("slow.slow").read().split())
ev = slow["balance"]["events"]
def show():
    return "\n".join(f"  step {e['step']}: {e['kind']} {e['replica']} {e['cause']} "
                     f"{e['old_shares']} -> {e['new_shares']} ({e['ratio']:.2f})"
                     for e in ev) + f"\n  quota low from step {a} to {b}"
def check(ok, what):
    if not ok:
        sys.exit(f"FAIL: {what}\n{show()}")
check(clean["balance"] == {"mode": "dynamic", "shares": [8] * 4, "events": []},
      f"a clean run raises no balance event: {clean['balance']}")
check(all(e["replica"] in (2, None) for e in ev), "only replica 2 is flagged")
flags = [e for e in ev if e["kind"] == "straggler"]
check(flags and all(f["cause"] == "compute" for f in flags),
      "replica 2 is flagged, cause compute")
flag = flags[0]
check(a < flag["step"] <= a + 20, f"flagged within 20 steps of step {a}")
moves = [e for e in ev if e["kind"] == "rebalance"]
check(moves and a < moves[0]["step"] < b, "the shares move during the slowdown")
first = moves[0]
# (the others' shares follow their own measured speeds: one a little
# slower in the window may keep its 8, none loses work)
check(first["old_shares"] == [8] * 4 and first["new_shares"][2] < 8
      and sum(first["new_shares"]) == 32
      and all(m >= 8 for i, m in enumerate(first["new_shares"]) if i != 2),
      "the first move takes work from replica 2 and gives it to the others")
check(all(sum(m["new_shares"]) == 32 for m in moves), "the total stays 32")
rec = [e for e in ev if e["kind"] == "recovered"]
check(len(rec) == len(flags) and all(e["cause"] == "compute" for e in rec),
      "every flag of replica 2 ends")
check(flags[-1]["step"] < b + 5, "no flag once the quota is back")
back = moves[-1]
check(back["new_shares"] == [8] * 4 and ev[-1] is back and back["step"] >= b - 10
      and back["step"] - b <= 20,
      f"the shares are 8, 8, 8, 8 again within 20 steps of step {b}, and stay")
check(slow["balance"]["shares"] == [8] * 4, "the run ends on the plan's shares")
acc = abs(clean["test_accuracy"] - slow["test_accuracy"]) * 100
check(acc <= 0.3, f"test accuracy {slow['test_accuracy']} within 0.3 points of "
      f"{clean['test_accuracy']}")
rows = db.execute("SELECT kind, replica, cause, old_shares, new_shares, step "
                  "FROM balance_events WHERE run_id = ? ORDER BY id",
                  (slow["run_id"],)).fetchall()
want = [(e["kind"], e["replica"], e["cause"], ",".join(map(str, e["old_shares"])),
         ",".join(map(str, e["new_shares"])), e["step"]) for e in ev]
check(rows == want, f"the database holds the events in order: {rows}")
check(db.execute("SELECT count(*) FROM balance_events WHERE run_id = ?",
                 (clean["run_id"],)).fetchone()[0] == 0, "none for the clean run")
# The same samples and 1/B weights whoever computes them: the losses are
# the clean run's to the bit until the first move, and within rounding
# (the sums' order) for ten steps after it; later the rounding grows
# through training (2e-3 relative after 110 steps), which the accuracy
# bounds.
lc, ls = clean["losses"], slow["losses"]
m0 = first["step"]
check(lc[:m0 + 1] == ls[:m0 + 1], f"losses bitwise equal to step {m0}")
rel = max(abs(x - y) / abs(x) for x, y in zip(lc[m0 + 1:m0 + 11], ls[m0 + 1:m0 + 11]))
check(rel <= 1e-4, f"losses within 1e-4 for ten steps after the move: {rel:.2e}")
print(f"flagged {flag['step'] - a} steps after the drop, back to equal "
      f"{back['step'] - b} steps after the return; {len(moves)} moves: "
      + "; ".join(",".join(map(str, m["new_shares"])) for m in moves))
PY
"$DML_BIN/dml-history" --db "$db" --balance --json >hist.json
[[ $(json_get hist.json 'len(d["balance_events"])') == $(json_get slow.out 'len(d["balance"]["events"])') ]] ||
  fail "dml-history --balance lists the run's events"
"$DML_BIN/dml-history" --db "$db" --balance | grep -q "straggler *2 *compute" ||
  fail "dml-history --balance shows the straggler"
echo "ok"
