#!/usr/bin/env bash
# Gossip (decentralised SGD, sync=gossip:G) across emulated nodes
# (issue 18):
#   - one-peer exponential gossip on 4 nodes x 2 ranks and on 4 nodes x 1
#     rank at 100 Mbit/s: each replica sends one model a step (degree 1 x
#     the model's bytes, --json bytes_per_step per replica, within 5 %),
#     the same at 8 and at 4 ranks; what dml-exec counted between nodes is
#     what the links carried (the tc counters less the framing, 1448
#     payload bytes in every 1514-byte frame) within 5 %, per step: the
#     difference of a 30-step and a 10-step run, so that start-up, the
#     final average and the evaluation cancel;
#   - on Fashion-MNIST, 4 nodes x 2 ranks, unshaped: gossip on the one-peer
#     exponential graph ends within 1 point of test accuracy of the ring
#     allreduce's training of the same plan, and its consensus distance is
#     logged (steps.consensus every 10 steps, --json consensus) and small.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
[[ -n ${MPIEXEC:-} ]] || skip "no MPIEXEC"

# run NAME NP STEPS [ARGS...]: dml-exec of plan NAME across the nodes
run() {
  local name=$1 np=$2 steps=$3
  shift 3
  timeout 240 "$emu" mpirun -np "$np" -x DML_GOSSIP_CONSENSUS_EVERY \
    "$DML_BIN/dml-exec" --plan "$scratch/$name.json" --steps "$steps" \
    --seed 5 --db "$scratch/x.db" --json "$@" >"$scratch/$name-$steps.out" \
    2>"$scratch/$name-$steps.err" ||
    { cat "$scratch/$name-$steps.err" >&2; fail "dml-exec $name across the nodes"; }
}

# -- bytes a step, against the links, at 8 and at 4 ranks
export DML_GOSSIP_CONSENSUS_EVERY=0
for layout in 2 1; do
  np=$((4 * layout))
  emu_up --nodes 4 --ranks-per-node "$layout" --link 100mbit >/dev/null
  DP=$np mlp_dp4_plan g$np gossip:onepeer-exp 64 0 '"peak_lr": 0.05'
  for steps in 10 30; do
    "$emu" stats --reset >/dev/null
    run g$np $np $steps --data synthetic
    "$emu" stats --json >"$scratch/g$np-$steps.stats"
  done
  "$emu" down >/dev/null
done
python3 - "$scratch" <<'PY'
import json, sys
d = sys.argv[1]
model = (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10) * 4
per = {}
for np in (8, 4):
    run = json.load(open(f"{d}/g{np}-30.out"))
    b = run["bytes_per_step"]
    mine = b["per_replica"]["intra_node"] + b["per_replica"]["inter_node"]
    per[np] = mine
    print(f"{np} ranks: {mine / 1e6:.4f} MB a replica a step, the model "
          f"{model / 1e6:.4f} MB ({mine / model - 1:+.2%})")
    assert abs(mine / model - 1) <= 0.05, "degree 1 x the model, within 5 %"
    wire = [sum(n["sent_bytes"] for n in
                json.load(open(f"{d}/g{np}-{s}.stats"))["nodes"])
            for s in (10, 30)]
    payload = (wire[1] - wire[0]) * 1448 / 1514 / 20
    counted = b["inter_node"]
    print(f"{np} ranks: dml-exec counted {counted / 1e6:.3f} MB between "
          f"nodes a step, the links carried {payload / 1e6:.3f} MB of "
          f"payload a step ({payload / counted - 1:+.1%})")
    assert abs(payload / counted - 1) <= 0.05, "within 5 % of the links"
assert abs(per[8] / per[4] - 1) <= 0.05, "the same at 4 and 8 ranks"
PY
unset DML_GOSSIP_CONSENSUS_EVERY

# -- accuracy against the ring allreduce, and the consensus distance
[[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] ||
  skip "no Fashion-MNIST (dataset-fashion-mnist)"
emu_up --nodes 4 --ranks-per-node 2 --link none >/dev/null
sched='"peak_lr": 0.1, "min_lr": 0.005, "warmup_steps": 10,
  "decay": "cosine", "decay_steps": 190, "momentum": 0.9'
DP=8 mlp_dp4_plan ar allreduce 256 0 "$sched"
DP=8 mlp_dp4_plan gp gossip:onepeer-exp 256 0 "$sched"
export DML_GOSSIP_CONSENSUS_EVERY=10
run ar 8 200
run gp 8 200
rid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$scratch/gp-200.out")
read -r rows top < <(sqlite3 -separator ' ' "$scratch/x.db" \
  "select count(consensus), max(consensus) from steps where run_id = $rid")
python3 - "$scratch" "$rows" "$top" <<'PY'
import json, sys
d, rows, top = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ar = json.load(open(f"{d}/ar-200.out"))["test_accuracy"]
gp = json.load(open(f"{d}/gp-200.out"))
print(f"test accuracy after 200 steps: allreduce {ar:.4f}, one-peer "
      f"gossip {gp['test_accuracy']:.4f} ({100 * (gp['test_accuracy'] - ar):+.2f} "
      f"points); consensus distance logged at {rows} steps, at most "
      f"{top:.4g}, last {gp['consensus']:.4g}")
assert abs(gp["test_accuracy"] - ar) <= 0.01, "within 1 point of allreduce"
assert rows == 20, "the consensus distance every 10 steps, in the database"
# small: the replicas' squared distance to their mean against the squared
# norm of the weights, about 10^3 for this MLP at its initialisation
# (He: 2 per output unit of each layer)
assert top < 1.0 and gp["consensus"] < 1.0, "the replicas stay close"
PY
echo "ok"
