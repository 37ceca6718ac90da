#!/usr/bin/env bash
# Dynamic balance on an emulated cluster (issue 16's acceptance): 4 equal
# nodes x 1 rank at QUOTA (0.45) of a core, data-parallel MLP on
# Fashion-MNIST; node 2's quota drops to LOW (a third, 0.15) from step
# FROM to step TO while the job runs (scripts/emu-cluster set) and
# returns.
#
#   clean    balance=dynamic, no slowdown: the reference, and its events
#            (a quiet run should raise none)
#   equal    balance=equal with the slowdown: what not balancing costs
#   dynamic  balance=dynamic with the slowdown
#
# Prints the load average; the clean run's median step and events; the
# step the straggler was flagged and its cause, against the step the
# quota dropped (target: within 20 steps); each rebalance with its shares;
# throughput during the slowdown (samples a second over the steps the
# quota was low) of equal and dynamic against the clean run's over the
# same steps (target: dynamic >= 0.7 x; equal about 0.33 x); the step the
# shares were back to equal against the step the quota returned (target:
# within 20); and the test accuracy of clean and dynamic (target: within
# 0.3 points). Root and namespaces needed.
#
#   bench/balance/dynamic.sh [BUILD_DIR]
#   Environment: QUOTA (0.45), LOW (0.15), HIDDEN ("512, 512"), MBS (32),
#   MICROBATCHES (8 per replica), STEPS (160), FROM (40), TO (100),
#   LINK (1gbit), YIELD (1: Open MPI's mpi_yield_when_idle, 0: spin).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
quota=${QUOTA:-0.45}
low=${LOW:-0.15}
hidden=${HIDDEN:-512, 512}
mbs=${MBS:-32}
mb=${MICROBATCHES:-8}
steps=${STEPS:-160}
from=${FROM:-40}
to=${TO:-100}
link=${LINK:-1gbit}
n=4
[[ -x $build/tools/dml-exec ]] || scripts/build "$build"
build=$(cd "$build" && pwd)
emu=$PWD/scripts/emu-cluster
. scripts/env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=${YIELD:-1}
work=$(mktemp -d /tmp/dml-balance-XXXXXX)
export DML_EMU_DIR=/run/dml-emu-dynbal.$$ DML_EMU_PREFIX=dmld$$
export DML_EMU_SUBNET=${DML_EMU_SUBNET:-10.213.204}
trap '"$emu" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== $n nodes x 1 rank at $quota of a core; node 2 at $low from step $from to $to; MLP 784-[$hidden]-10, global batch $((n * mbs * mb)), $steps steps (load $(load), mpi_yield_when_idle=$OMPI_MCA_mpi_yield_when_idle)"
cpu=()
for i in 0 1 2 3; do cpu+=(--cpu "$i=$quota"); done
"$emu" up --nodes "$n" --ranks-per-node 1 --link "$link" "${cpu[@]}" >/dev/null

# plan NAME BALANCE
plan() {
  cat >"$work/$1.json" <<JSON
{
  "schema_version": 1, "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-fmnist-$1", "input": 784,
            "hidden": [$hidden], "output": 10, "dtype": "fp32"},
  "cluster": {"name": "emu", "devices": $n},
  "parallel": {"dp": $n, "tp": 1, "pp": 1, "mbs": $mbs, "microbatches": $mb,
               "zero": 0, "schedule": "1f1b", "threads_per_rank": 1,
               "sync": "allreduce", "balance": "$2"},
  "placement": {"order": "tp-pp-dp",
                "stages": [{"first_layer": 0, "last_layer": 2}]},
  "schedule": {"global_batch": $((n * mbs * mb)), "optimizer": "sgd",
               "peak_lr": 0.05, "momentum": 0.9}
}
JSON
}
# run NAME SLOW: dml-exec of plan NAME; SLOW=1: node 2 at $low from step
# $from to $to (the steps the quota actually changed at: NAME.slow)
run() {
  local ck=$work/ck.$1 pid s
  "$emu" mpirun -np "$n" "$build/tools/dml-exec" --plan "$work/$1.json" \
    --steps "$steps" --db "$work/d.db" --json --checkpoint-dir "$ck" \
    --checkpoint-every 1000000 >"$work/$1.out" 2>"$work/$1.err" &
  pid=$!
  if [[ $2 == 1 ]]; then
    : >"$work/$1.slow"
    for target in "$from" "$to"; do
      while kill -0 "$pid" 2>/dev/null; do
        s=$(awk '$1 == "step" { print $2 + 0 }' "$ck/ranks/rank-00002" 2>/dev/null || echo 0)
        ((${s:-0} >= target)) && break
        sleep 0.05
      done
      "$emu" set 2 --cpu "$([[ $target == "$from" ]] && echo "$low" || echo "$quota")"
      echo "$s" >>"$work/$1.slow"
    done
  fi
  wait "$pid" || { cat "$work/$1.err" >&2; exit 1; }
}
plan clean dynamic
plan equal equal
plan dynamic dynamic
run clean 0
run equal 1
run dynamic 1
python3 - "$work" "$n" <<'PY'
import json, sqlite3, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(f"{work}/d.db")
def doc(name):
    return json.load(open(f"{work}/{name}.out"))
def steps_s(name):
    rid = doc(name)["run_id"]
    return dict(db.execute("SELECT step, step_s FROM steps WHERE run_id = ?", (rid,)))
def slow(name):
    return [int(x) for x in open(f"{work}/{name}.slow").read().split()]
clean, dyn = doc("clean"), doc("dynamic")
ev = lambda d: d["balance"]["events"]
print(f"  clean run: median step {clean['median_step_s'] * 1e3:.1f} ms, "
      f"{len(ev(clean))} balance events (target 0)"
      + "".join(f"\n    step {e['step']}: {e['kind']} {e['replica']} {e['cause']}" for e in ev(clean)))
a, b = slow("dynamic")
print(f"  dynamic run: quota low from step {a} to step {b}")
for e in ev(dyn):
    if e["kind"] == "rebalance":
        print(f"    step {e['step']:4d}: rebalance {e['old_shares']} -> {e['new_shares']} "
              f"({e['ratio']:.2f} x; speeds {', '.join('%.1f' % s for s in e['speeds'])} micro-batches/s)")
    else:
        print(f"    step {e['step']:4d}: replica {e['replica']} {e['kind']} ({e['cause']}, {e['ratio']:.2f} x)")
flag = [e["step"] for e in ev(dyn) if e["kind"] == "straggler" and e["replica"] == 2]
moves = [e for e in ev(dyn) if e["kind"] == "rebalance"]
back = [moves[-1]["step"]] if moves and len(set(moves[-1]["new_shares"])) == 1 else []
print(f"  flagged after {flag[0] - a} steps (target <= 20)" if flag else "  not flagged")
print(f"  shares back to equal for good at step {back[0]}, {back[0] - b} steps after the quota returned (target <= 20)"
      if back else "  shares not back to equal")
cs = steps_s("clean")
def rate(name):
    x, y = slow(name)
    s = steps_s(name)
    t = sum(s[i] for i in range(x, y) if i in s)
    tc = sum(cs[i] for i in range(x, y) if i in cs)
    return tc / t, t / (y - x)
for name in ("equal", "dynamic"):
    r, per = rate(name)
    print(f"  {name:7s}: throughput during the slowdown {r:.2f} x the clean run's "
          f"({per * 1e3:.1f} ms a step; target dynamic >= 0.7, equal about 0.33)")
acc = lambda d: 100 * d["test_accuracy"]
print(f"  test accuracy: clean {acc(clean):.2f} %, dynamic {acc(dyn):.2f} %, "
      f"equal {acc(doc('equal')):.2f} % (target: dynamic within 0.3 points of clean)")
PY
echo "load after: $(load)"
