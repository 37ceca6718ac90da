#!/usr/bin/env bash
# bench/gossip: one-peer exponential-graph gossip (sync=gossip:onepeer-exp,
# one model a replica a step) against the ring allreduce (2(n-1)/n models)
# to a test accuracy, in wall time, on 8 emulated nodes of one rank each,
# with every link at each RATE (default 100mbit and none, unshaped); and
# whether dml-plan, on the probe of that cluster and the history of these
# runs, predicts which of the two gets there first.
#
#   bench/gossip/gossip_vs_ring.sh [BUILD_DIR] [RATE ...]
#
# Environment: TARGET (test accuracy, default 0.80), STEPS (default 300),
# EVAL (evaluate every EVAL steps, default 20). Time to the target: the
# steps' times summed up to the first evaluation at or above it
# (v_accuracy_curve.train_time_s; evaluations not counted). Needs root,
# namespaces and Fashion-MNIST. Prints one line per rate and strategy and
# one verdict per rate.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
shift || true
rates=("$@")
((${#rates[@]})) || rates=(100mbit none)
target=${TARGET:-0.80} steps=${STEPS:-300} eval=${EVAL:-20}
emu=$here/scripts/emu-cluster
export DML_EMU_PREFIX=dmlbg DML_EMU_DIR=/run/dml-emu-bench-gossip
export DML_EMU_SUBNET=10.213.${SUBNET_K:-77}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=/dev/null
. "$here/scripts/env.sh"
work=$(mktemp -d /tmp/dml-bench-gossip-XXXXXX)
trap '"$emu" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

plan() { # NAME SYNC: dp=8 of mlp-fmnist's MLP, batch 256, SGD momentum
  cat >"$work/$1.json" <<JSON
{"schema_version": 1, "kind": "plan",
 "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
           "hidden": [256, 256], "output": 10, "dtype": "fp32"},
 "cluster": {"name": "emu", "devices": 8},
 "parallel": {"dp": 8, "tp": 1, "pp": 1, "mbs": 32, "microbatches": 1,
              "zero": 0, "schedule": "1f1b", "threads_per_rank": 1,
              "sync": "$2"},
 "placement": {"order": "tp-pp-dp",
               "stages": [{"first_layer": 0, "last_layer": 2}]},
 "schedule": {"global_batch": 256, "optimizer": "sgd", "peak_lr": 0.1,
              "min_lr": 0.005, "warmup_steps": 10, "decay": "cosine",
              "decay_steps": $((steps - 10)), "momentum": 0.9}}
JSON
}
plan ar allreduce
plan gp gossip:onepeer-exp
echo "load before: $(uptime)"
printf '%-8s %-20s %10s %12s %14s %14s\n' rate sync "final acc" "steps>=tgt" \
  "time>=tgt (s)" "predicted (s)"
for rate in "${rates[@]}"; do
  db=$work/$rate.db
  "$emu" up --nodes 8 --ranks-per-node 1 --link "$rate" >/dev/null
  timeout 600 "$emu" mpirun -np 8 "$build/tools/dml-probe" --quick --quiet \
    --db "$db" --out "$work/$rate.cluster.json" >/dev/null 2>"$work/probe.err" ||
    { cat "$work/probe.err" >&2; exit 1; }
  for p in ar gp; do
    timeout 1200 "$emu" mpirun -np 8 "$build/tools/dml-exec" \
      --plan "$work/$p.json" --steps "$steps" --eval-every "$eval" \
      --seed 11 --db "$db" --json >"$work/$rate.$p.out" 2>"$work/$rate.$p.err" ||
      { cat "$work/$rate.$p.err" >&2; exit 1; }
  done
  "$emu" down >/dev/null
  for p in ar gp; do
    sync=$( [[ $p == ar ]] && echo "sync=allreduce" || echo "graph=onepeer-exp")
    "$build/tools/dml-plan" --model mlp-fmnist --cluster "$work/$rate.cluster.json" \
      --global-batch 256 --no-calibration --db "$db" --target-accuracy "$target" \
      --config "dp=8,tp=1,pp=1,mbs=32,zero=0,$sync" --top 1 --json \
      >"$work/$rate.$p.plan.json" 2>"$work/$rate.$p.plan.err" ||
      { cat "$work/$rate.$p.plan.err" >&2; exit 1; }
  done
  python3 - "$work" "$rate" "$target" "$db" <<'PY'
import json, sqlite3, sys
work, rate, target, db = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
con = sqlite3.connect(db)
res = {}
for p, name in (("ar", "allreduce"), ("gp", "gossip:onepeer-exp")):
    run = json.load(open(f"{work}/{rate}.{p}.out"))
    row = con.execute(
        "SELECT steps, train_time_s FROM v_accuracy_curve WHERE run_id = ? "
        "AND test_accuracy >= ? ORDER BY steps LIMIT 1",
        (run["run_id"], target)).fetchone()
    plan = json.load(open(f"{work}/{rate}.{p}.plan.json"))["plans"][0]
    pred = (plan.get("time_to_target") or {}).get("time_s")
    res[p] = (row[1] if row else float("inf"), pred)
    print(f"{rate:<8} {name:<20} {run['test_accuracy']:10.4f} "
          f"{row[0] if row else 'never':>12} "
          f"{row[1] if row else float('inf'):14.2f} "
          f"{pred if pred is not None else float('nan'):14.2f}")
won = "gossip" if res["gp"][0] < res["ar"][0] else "allreduce"
pa, pg = res["ar"][1], res["gp"][1]
said = None if pa is None or pg is None else ("gossip" if pg < pa else "allreduce")
print(f"{rate}: measured winner {won}; planner predicts {said}: "
      f"{'right' if said == won else 'wrong'}")
PY
done
echo "load after: $(uptime)"
