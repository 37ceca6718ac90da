#!/usr/bin/env bash
# Hierarchical against flat data-parallel synchronisation on 2 emulated
# nodes x 2 ranks, and the planner's top 3 plans predicted against
# measured (issue 14). For each rate: bring the cluster up
# (scripts/emu-cluster), probe it (dml-probe), plan the model on the probe
# (dml-plan, uncalibrated), then run, REPS times interleaved so that the
# machine's noise hits all alike:
#   - the gradient exchange alone of dp=4 with sync=allreduce and with
#     sync=hierarchical (dml-bench-exec dp: the executor's buckets, median
#     of 10 exchanges, the slowest rank's view);
#   - dml-exec of the same two plans and of the planner's top 3, STEPS
#     steps each (its median step time, after the first).
# Root and namespaces needed.
#
#   bench/emu/emu_hier.sh [BUILD_DIR] [RATE ...]
#   BUILD_DIR defaults to build-emu (built if missing), RATE to
#   100mbit 1gbit none (none: unshaped). Environment: MODEL (mlp-fmnist),
#   GLOBAL_BATCH (2048), STEPS (20), REPS (3), PROBE_ARGS (--quick).
#
# Prints, per rate: the load average before and after; flat and
# hierarchical exchange and step times (min / median of REPS) and their
# ratios; the planner's top 3 with predicted and measured step times
# (min / median) and the error of the prediction against the median.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-emu}
shift || true
rates=("$@")
((${#rates[@]})) || rates=(100mbit 1gbit none)
model=${MODEL:-mlp-fmnist}
batch=${GLOBAL_BATCH:-2048}
steps=${STEPS:-20}
reps=${REPS:-3}
read -r -a probe_args <<<"${PROBE_ARGS---quick}"
if [[ ! -x $build/tools/dml-exec || ! -x $build/bench/exec/dml-bench-exec ]]; then
  scripts/build "$build"
fi
build=$(cd "$build" && pwd)
emu=$PWD/scripts/emu-cluster
. scripts/env.sh
work=$(mktemp -d /tmp/dml-emu-hier-XXXXXX)
export DML_EMU_DIR=/run/dml-emu-hier.$$ DML_EMU_PREFIX=dmlh$$
export DML_EMU_SUBNET=${DML_EMU_SUBNET:-10.213.202}
trap '"$emu" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }

# plan_file NAME KNOBS: the plan of KNOBS on the probed cluster.
plan_file() {
  "$build/tools/dml-plan" --model "$model" --cluster "$work/cluster.json" \
    --global-batch "$batch" --no-calibration --db "$work/p.db" \
    --config "$2" --out "$work/$1.json" >/dev/null
}

for rate in "${rates[@]}"; do
  echo "== $rate: 2 nodes x 2 ranks, $model at global batch $batch (load $(load))"
  "$emu" up --nodes 2 --ranks-per-node 2 --link "$rate" >/dev/null
  "$emu" mpirun -np 4 "$build/tools/dml-probe" "${probe_args[@]}" --quiet \
    --db "$work/p.db" --out "$work/cluster.json" >/dev/null 2>"$work/probe.err" ||
    { cat "$work/probe.err" >&2; exit 1; }
  "$build/tools/dml-plan" --model "$model" --cluster "$work/cluster.json" \
    --global-batch "$batch" --no-calibration --db "$work/p.db" --top 3 \
    --json >"$work/plans.json"
  # the top 3's knobs, one line each
  python3 - "$work/plans.json" >"$work/top.txt" <<'PY'
import json, sys
for p in json.load(open(sys.argv[1]))["plans"][:3]:
    c = p["parallel"]
    print(",".join(f"{k}={c[k]}" for k in ("dp", "tp", "pp", "mbs", "zero", "sync")))
PY
  names=(flat hier)
  plan_file flat "dp=4,mbs=$((batch / 4)),sync=allreduce"
  plan_file hier "dp=4,mbs=$((batch / 4)),sync=hierarchical"
  i=0
  while read -r knobs; do
    i=$((i + 1))
    plan_file "top$i" "$knobs"
    names+=("top$i")
  done <"$work/top.txt"
  : >"$work/times.txt"
  for rep in $(seq "$reps"); do
    for s in flat hier; do
      t=$("$emu" mpirun -np 4 "$build/bench/exec/dml-bench-exec" dp \
        "$work/$s.json" 10 "$work/x.db" 2>/dev/null |
        awk '/executor \(buckets/ { print $(NF-3), $(NF-2) }')
      echo "sync $s $t" >>"$work/times.txt"
    done
    for s in "${names[@]}"; do
      "$emu" mpirun -np 4 "$build/tools/dml-exec" --plan "$work/$s.json" \
        --steps "$steps" --data synthetic --db "$work/x.db" --json \
        >"$work/run.json" 2>"$work/run.err" ||
        { cat "$work/run.err" >&2; exit 1; }
      python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("step", sys.argv[2], d["median_step_s"], d["predicted_step_s"])' \
        "$work/run.json" "$s" >>"$work/times.txt"
    done
  done
  "$emu" down >/dev/null
  python3 - "$work/times.txt" "$work/top.txt" "$work/cluster.json" <<'PY'
import json, statistics as st, sys
units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
sync, step, pred = {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "sync":
        sync.setdefault(f[1], []).append(float(f[2]) * units[f[3]])
    else:
        step.setdefault(f[1], []).append(float(f[2]))
        pred[f[1]] = float(f[3])
top = [l.strip() for l in open(sys.argv[2])]
c = json.load(open(sys.argv[3]))["node_groups"][0]["links"]["inter_node"]
ms = lambda x: f"{x * 1e3:8.1f}"
mm = lambda v: f"{ms(min(v))} {ms(st.median(v))}"
print(f"probe: inter-node {c['bw_Bps'] / 1e6:.2f} MB/s, "
      f"{c['latency_s'] * 1e6:.1f} us")
print(f"{'':28} {'min ms':>8} {'med ms':>8}")
for k in ("flat", "hier"):
    print(f"exchange alone, {k:12} {mm(sync[k])}")
for k in ("flat", "hier"):
    print(f"step (dml-exec), {k:11} {mm(step[k])}   predicted {ms(pred[k])}")
print(f"flat / hierarchical: exchange {st.median(sync['flat']) / st.median(sync['hier']):.2f}x, "
      f"step {st.median(step['flat']) / st.median(step['hier']):.2f}x (medians)")
print(f"{'#':2} {'plan':44} {'pred ms':>8} {'min ms':>8} {'med ms':>8} {'error':>7}")
for i, knobs in enumerate(top, 1):
    k = f"top{i}"
    m = st.median(step[k])
    print(f"{i:2} {knobs:44} {ms(pred[k])} {mm(step[k])} {100 * (pred[k] - m) / m:+6.1f}%")
PY
  echo "   (load after: $(load))"
done
