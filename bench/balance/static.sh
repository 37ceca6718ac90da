#!/usr/bin/env bash
# Static balance on an emulated cluster of unequal nodes (issue 16's
# acceptance): 4 nodes x 1 rank at CPU quotas 0.6, 0.6, 0.3 and 0.15 of a
# core (scripts/emu-cluster --cpu), data-parallel over the 4 ranks.
#
#   1. probe the cluster (dml-probe --quick: links, a node's figures);
#   2. run the even split (balance=equal) STEPS steps: its median step, and
#      each rank's compute per step from the database (rank_timings);
#   3. the measured speeds as a cluster spec: a group per node whose
#      device figures are the probe's scaled by predicted / measured
#      compute (a node at a fraction of a core computes that fraction as
#      fast), so the plan prices what the nodes did;
#   4. plan balance=static on it (dml-plan --config): its shares and
#      predicted step; run it STEPS steps.
#
# Prints the load average, each node's measured compute per micro-batch,
# the equal and balanced median steps, the ideal (the even split's
# compute, total work over total speed: M / sum_i(1/t_i) plus the even
# run's time outside compute), balanced / ideal (target <= 1.15), equal /
# balanced (target >= 2) and the balanced plan's prediction against the
# measured (target within 15 %). Root and namespaces needed.
#
#   bench/balance/static.sh [BUILD_DIR]
#   Environment: QUOTAS ("0.6 0.6 0.3 0.15"), MODEL (mlp-fmnist), MBS (32),
#   MICROBATCHES (8 per replica), STEPS (30), LINK (1gbit).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
read -r -a quotas <<<"${QUOTAS:-0.6 0.6 0.3 0.15}"
n=${#quotas[@]}
model=${MODEL:-mlp-fmnist}
mbs=${MBS:-32}
mb=${MICROBATCHES:-8}
steps=${STEPS:-30}
link=${LINK:-1gbit}
batch=$((n * mbs * mb))
[[ -x $build/tools/dml-exec ]] || scripts/build "$build"
build=$(cd "$build" && pwd)
emu=$PWD/scripts/emu-cluster
. scripts/env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d /tmp/dml-balance-XXXXXX)
export DML_EMU_DIR=/run/dml-emu-balance.$$ DML_EMU_PREFIX=dmlb$$
export DML_EMU_SUBNET=${DML_EMU_SUBNET:-10.213.203}
trap '"$emu" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

cpu=()
for i in "${!quotas[@]}"; do cpu+=(--cpu "$i=${quotas[$i]}"); done
echo "== $n nodes x 1 rank at CPU quotas ${quotas[*]}, $model, global batch $batch (load $(load))"
"$emu" up --nodes "$n" --ranks-per-node 1 --link "$link" "${cpu[@]}" >/dev/null
"$emu" mpirun -np "$n" "$build/tools/dml-probe" --quick --quiet \
  --db "$work/p.db" --out "$work/probe.json" >/dev/null 2>"$work/probe.err" ||
  { cat "$work/probe.err" >&2; exit 1; }

# plan SPEC NAME KNOBS: the plan of KNOBS on SPEC, its --json report
plan() {
  "$build/tools/dml-plan" --model "$model" --cluster "$1" \
    --global-batch "$batch" --no-calibration --db "$work/p.db" \
    --config "$3" --out "$work/$2.json" --json >"$work/$2.report"
}
# run NAME: dml-exec of plan NAME, STEPS steps
run() {
  "$emu" mpirun -np "$n" "$build/tools/dml-exec" --plan "$work/$1.json" \
    --steps "$steps" --data synthetic --db "$work/p.db" --json \
    >"$work/$1.out" 2>"$work/$1.err" || { cat "$work/$1.err" >&2; exit 1; }
}

# one rank a node, as the job runs (the probe counts a node's cores)
python3 - "$work/probe.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for g in spec["node_groups"]:
    g["devices_per_node"] = 1
    g["device"]["cores"] = 1
json.dump(spec, open(sys.argv[1], "w"), indent=1)
PY
plan "$work/probe.json" equal "dp=$n,tp=1,pp=1,mbs=$mbs,threads=1,balance=equal"
run equal
python3 - "$work" "$n" "$mb" <<'PY'
import json, sqlite3, sys, copy
work, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(f"{work}/p.db")
run_id = db.execute("SELECT max(id) FROM runs").fetchone()[0]
comp = [r[0] for r in db.execute(
    "SELECT compute_s FROM rank_timings WHERE run_id = ? ORDER BY rank", (run_id,))]
pred = json.load(open(f"{work}/equal.report"))["plans"][0]["prediction"]
pred_compute = pred["breakdown"]["compute_s"]
spec = json.load(open(f"{work}/probe.json"))
base = spec["node_groups"][0]
groups = []
for i, c in enumerate(comp):
    g = copy.deepcopy(base)
    g["name"], g["nodes"] = f"node{i}", 1
    s = pred_compute / c  # the node's speed against the probe's figures
    d = g["device"]
    d["peak_flops"] = {k: v * s for k, v in d["peak_flops"].items()}
    d["mem_bw_Bps"] *= s
    groups.append(g)
spec["name"] = "emu-measured"
spec["node_groups"] = groups
spec.pop("fingerprint", None)
json.dump(spec, open(f"{work}/measured.json", "w"), indent=1)
json.dump(comp, open(f"{work}/compute.json", "w"))
for i, c in enumerate(comp):
    print(f"  node {i}: compute {c * 1e3:8.2f} ms a step, {c / mb * 1e3:7.2f} ms a micro-batch")
PY
plan "$work/measured.json" static "dp=$n,tp=1,pp=1,mbs=$mbs,threads=1,balance=static"
run static
python3 - "$work" "$n" "$mb" <<'PY'
import json, sys
work, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def step(name):
    return json.load(open(f"{work}/{name}.out"))["median_step_s"]
comp = json.load(open(f"{work}/compute.json"))
eq, st = step("equal"), step("static")
t = [c / mb for c in comp]  # per micro-batch
other = eq - max(comp)      # the even run's time outside the slowest compute
ideal = n * mb / sum(1 / x for x in t) + other
rep = json.load(open(f"{work}/static.report"))["plans"][0]
shares = json.load(open(f"{work}/static.json"))["placement"].get("dp_shares", [])
pred = rep["prediction"]["step_s"]
txt = ", ".join("%d x %d" % (s["replicas"], s["microbatches"]) for s in shares)
print(f"  shares (replicas x micro-batches): {txt or 'even'}")
print(f"  equal split     {eq * 1e3:8.2f} ms a step (median of the steps after the first)")
print(f"  balanced        {st * 1e3:8.2f} ms a step")
print(f"  ideal           {ideal * 1e3:8.2f} ms a step (total work / total speed + the rest)")
print(f"  balanced / ideal {st / ideal:5.2f} (target <= 1.15); equal / balanced {eq / st:5.2f} (target >= 2)")
print(f"  predicted       {pred * 1e3:8.2f} ms, {100 * (pred - st) / st:+.1f} % of measured (target within 15 %)")
PY
echo "load after: $(load)"
