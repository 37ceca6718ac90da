#!/usr/bin/env bash
# Issue 15's acceptance matrix: every data-parallel strategy on every link
# of an emulated cluster of 4 nodes x 1 rank (scripts/emu-cluster), the
# MLP on Fashion-MNIST, and what the planner chooses from the history it
# leaves. Root and namespaces needed.
#
#   bench/strategies/run.sh [BUILD_DIR] [LINK ...]
#   BUILD_DIR defaults to build-emu15 (built if missing), LINK to
#   none 100mbit 10mbit (none: unshaped).
#
# For each link: bring the cluster up, probe it (dml-probe --quick: the
# cluster spec the plans are priced on), and for each strategy plan
# dp=4 of the model with that sync= (dml-plan --config, uncalibrated), set
# the plan's training schedule (SGD, momentum 0.9 (the planner's for SGD;
# 0 for ssp:S), peak LR 0.2, 20 warmup
# steps, cosine to 0.002 over STEPS: the same for every strategy), and
# train it for STEPS steps with the test accuracy every EVAL steps
# (dml-exec --eval-every), the links' counters reset before and read
# after (emu-cluster stats). Then, unshaped, with node 3's CPU quota at
# a third of a core: allreduce against ssp:2. Then, for each link,
# dml-plan --target-accuracy TARGET over every strategy, on the history
# now in the database (calibrated from the link's runs: dml-plan
# --recalibrate). Everything is recorded in OUT/strategies.db
# (v_strategy_comparison, v_accuracy_curve).
#
# Environment: STRATEGIES (allreduce fp16 bf16 topk:0.01 topk-noef:0.01
# powersgd:2 local:16 ssp:2), STEPS (1200: where dense has converged,
# 88.8 % from step 840 on; at 600 the cosine ends at 88.0 %, below what
# dense reaches, and every slower method looks worse only for being
# slower), EVAL (20), BATCH (1024),
# TARGET (0.84), MODEL (mlp-fmnist, a preset or spec file), SEED (1),
# OUT (a new folder under /tmp), LOAD_MAX (3: before each run, wait up to
# LOAD_WAIT s (600) for the 1-minute load average to fall below it; the
# table says the load each run met), STRAGGLER (1: run the CPU-quota
# case; 0: not; only: it alone), SLOW_MOMENTUM (0: the straggler case's
# momentum, for both strategies), PROBE (new; reuse: keep OUT's
# cluster-LINK.json from an earlier run, so that a link's strategies run
# in two goes are priced on one probe).
#
# Prints one table: link x strategy, with the bytes a replica sent per
# step between nodes (counted by dml-exec, and on the wire: the tc
# counters less framing, per step and node) and their ratio to dense, the
# mean step time measured (its first step left out) and predicted, steps
# and training time to TARGET, the final test accuracy and its difference
# to dense; then the straggler case and the planner's choices against
# the measured winners.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${1:-build-emu15}
shift || true
links=("$@")
((${#links[@]})) || links=(none 100mbit 10mbit)
read -r -a strategies <<<"${STRATEGIES:-allreduce fp16 bf16 topk:0.01 topk-noef:0.01 powersgd:2 local:16 ssp:2}"
steps=${STEPS:-1200}
eval_every=${EVAL:-20}
batch=${BATCH:-1024}
target=${TARGET:-0.84}
model=${MODEL:-mlp-fmnist}
seed=${SEED:-1}
load_max=${LOAD_MAX:-3}
load_wait=${LOAD_WAIT:-600}
if [[ ! -x $build/tools/dml-exec || ! -x $build/tools/dml-plan ]]; then
  scripts/build "$build"
fi
build=$(cd "$build" && pwd)
out=${OUT:-$(mktemp -d /tmp/dml-strategies-XXXXXX)}
mkdir -p "$out"
db=$out/strategies.db
emu=$src/scripts/emu-cluster
. scripts/env.sh
export DML_EMU_DIR=/run/dml-emu-strat.$$ DML_EMU_PREFIX=dmls$$
export DML_EMU_SUBNET=${DML_EMU_SUBNET:-10.213.216}
trap '"$emu" down >/dev/null 2>&1 || true' EXIT
echo "results in $out"

load() { cut -d' ' -f1 /proc/loadavg; }
# wait_quiet: up to load_wait s for the load to fall below load_max
wait_quiet() {
  local t=0
  while awk -v l="$(load)" -v m="$load_max" 'BEGIN { exit !(l >= m) }' &&
    ((t < load_wait)); do
    sleep 15
    t=$((t + 15))
  done
}
name() { echo "${1//:/_}"; }

# plan LINK SYNC [MOMENTUM]: the plan file of dp=4 with SYNC on LINK's
# probe, with the common training schedule; its momentum the planner's
# for SGD unless given (0.9; 0 for ssp:S, whose stale gradients are
# unstable under momentum: planner/batch.c)
plan() {
  local f="$out/plan-$1-$(name "$2")${3:+-m$3}.json"
  "$build/tools/dml-plan" --model "$model" --cluster "$out/cluster-$1.json" \
    --global-batch "$batch" --no-calibration --db "$db" --top 1 \
    --optimizer sgd \
    --config "dp=4,tp=1,pp=1,mbs=$((batch / 4)),sync=$2" --out "$f" \
    >/dev/null
  python3 - "$f" "$steps" "${3:-}" <<'PY'
import json, sys
f, steps = sys.argv[1], int(sys.argv[2])
p = json.load(open(f))
momentum = float(sys.argv[3]) if sys.argv[3] else p["schedule"]["momentum"]
p["schedule"].update({"optimizer": "sgd", "momentum": momentum,
                      "peak_lr": 0.2,
                      "min_lr": 0.002, "warmup_steps": 20,
                      "decay": "cosine", "decay_steps": steps - 20,
                      "weight_decay": 0.0001, "batch_ramp": []})
json.dump(p, open(f, "w"), indent=2)
PY
  echo "$f"
}

# train TAG PLAN [DB]: dml-exec of PLAN across the nodes, counters
# around it. A run that fails (a strategy whose loss diverges under the
# common schedule) leaves TAG.failed with dml-exec's error line, and the
# matrix goes on.
train() {
  local tag=$1 planf=$2 rundb=${3:-$db}
  wait_quiet
  echo "$tag load $(load)" >>"$out/loads.txt"
  "$emu" stats --reset >/dev/null
  rm -f "$out/$tag.failed"
  if ! timeout 7200 "$emu" mpirun -np 4 "$build/tools/dml-exec" \
    --plan "$planf" --steps "$steps" --eval-every "$eval_every" \
    --shuffle epoch --seed "$seed" --db "$rundb" --json \
    >"$out/$tag.json" 2>"$out/$tag.err"; then
    grep -m1 '^dml-exec: error' "$out/$tag.err" >"$out/$tag.failed" ||
      echo "dml-exec failed" >"$out/$tag.failed"
    echo "  $tag: $(cat "$out/$tag.failed") (load $(load))"
    return 0
  fi
  "$emu" stats --json >"$out/$tag.stats"
  echo "  $tag: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f ms median step, accuracy %.4f" % (d["median_step_s"] * 1e3, d["test_accuracy"]))' "$out/$tag.json") (load $(load))"
}

# STRAGGLER=only: the straggler case alone (after a run of the links
# into the same OUT)
[[ ${STRAGGLER:-1} == only ]] && links_run=() || links_run=("${links[@]}")
for link in "${links_run[@]}"; do
  echo "== $link: 4 nodes x 1 rank, $model, global batch $batch, $steps steps"
  "$emu" up --nodes 4 --ranks-per-node 1 --link "$link" >/dev/null
  wait_quiet
  if [[ ${PROBE:-new} != reuse || ! -f $out/cluster-$link.json ]]; then
    "$emu" mpirun -np 4 "$build/tools/dml-probe" --quick --quiet --db "$db" \
      --out "$out/cluster-$link.json" >/dev/null 2>"$out/probe-$link.err" ||
      { cat "$out/probe-$link.err" >&2; exit 1; }
    python3 - "$out/cluster-$link.json" "$link" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["name"] = f"emu-4x1-{sys.argv[2]}"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
  fi
  for s in "${strategies[@]}"; do
    train "$link-$(name "$s")" "$(plan "$link" "$s")"
  done
  "$emu" down >/dev/null
done

# The straggler case trains with plain SGD (SLOW_MOMENTUM, 0), as Ho et
# al.'s SSP did: a gradient S steps stale under heavy-ball momentum mu
# is stable only for lr x curvature below 0.052 (mu 0.9, S 2) against
# 3.8 synchronous (w' = (1+mu) w - mu w_-1 - a w_-S on a quadratic;
# bench/strategies/README.md), and ssp:2 diverges at this schedule's
# peak LR. Its runs go to their own database (straggler.db): another
# schedule's steps to the target are no history for the planner's.
if [[ ${STRAGGLER:-1} != 0 ]]; then
  echo "== straggler: unshaped, node 3 at a third of a core, momentum ${SLOW_MOMENTUM:-0}"
  "$emu" up --nodes 4 --ranks-per-node 1 --link none --cpu 3=0.33 >/dev/null
  [[ -f $out/cluster-none.json ]] || {
    "$emu" mpirun -np 4 "$build/tools/dml-probe" --quick --quiet --db "$db" \
      --out "$out/cluster-none.json" >/dev/null
  }
  for s in allreduce ssp:2; do
    train "slow-$(name "$s")" "$(plan none "$s" "${SLOW_MOMENTUM:-0}")" \
      "$out/straggler.db"
  done
  "$emu" down >/dev/null
fi

# the planner's choice on each link, from the history now recorded: its
# steps to the target per strategy, and the step times of its runs (the
# link's calibration refitted from them: the plans price a rank's compute
# at the probe's GEMM rate on an idle core, the emulated nodes share the
# machine's cores)
for link in "${links_run[@]}"; do
  "$build/tools/dml-plan" --model "$model" --cluster "$out/cluster-$link.json" \
    --global-batch "$batch" --recalibrate --db "$db" --top 3 \
    --optimizer sgd --config "dp=4,tp=1,pp=1,mbs=$((batch / 4))" \
    --target-accuracy "$target" --json >"$out/pick-$link.json" \
    2>"$out/pick-$link.err"
  "$build/tools/dml-plan" --model "$model" --cluster "$out/cluster-$link.json" \
    --global-batch "$batch" --db "$db" --top 3 \
    --optimizer sgd --config "dp=4,tp=1,pp=1,mbs=$((batch / 4))" \
    --target-accuracy "$target" --explain >"$out/pick-$link.txt" 2>&1
done

python3 "$src/bench/strategies/table.py" "$out" "$target" \
  "${links[*]}" "${strategies[*]}"
