#!/usr/bin/env bash
# bench/federated/run.sh: the federated acceptance figures of issue 18 on
# Fashion-MNIST (mlp-fmnist, 100 clients of 600 samples, C = 0.1), RANKS
# ranks (default 2) on this machine; prints the tables of README.md.
#   FedAvg (E = 5, B = 10) against FedSGD (one full-shard step a round):
#     rounds to 84 % test accuracy.
#   IID against Dirichlet alpha = 0.1, E = 1, after ROUNDS_SKEW rounds.
#   Half the clients straggling: FedProx (mu 0.01) with their partial
#     work against FedAvg dropping them, alpha = 0.1, E = 1.
# Usage: bench/federated/run.sh [BUILD_DIR]   (env: RANKS, FEDSGD_ROUNDS,
# FEDAVG_ROUNDS, ROUNDS_SKEW, SEED)
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/tools" && pwd)
ranks=${RANKS:-2}
seed=${SEED:-1}
data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

plan() { # NAME FEDERATED-JSON
    cat >"$work/$1.json" <<JSON
{"schema_version": 1, "kind": "plan",
 "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
           "hidden": [256, 256], "output": 10, "dtype": "fp32"},
 "cluster": {"name": "bench-localhost", "devices": $ranks},
 "parallel": {"dp": $ranks, "tp": 1, "pp": 1, "mbs": 10, "microbatches": 1,
              "mode": "federated"},
 "placement": {"order": "tp-pp-dp",
               "stages": [{"stage": 0, "first_layer": 0, "last_layer": 2}]},
 "schedule": {"global_batch": $((10 * ranks)), "optimizer": "sgd",
              "peak_lr": 0.05, "decay": "constant"},
 "federated": $2}
JSON
}
run() { # NAME ROUNDS
    mpirun --oversubscribe -np "$ranks" "$bin/dml-exec" --plan "$work/$1.json" \
        --data $data --steps "$2" --seed "$seed" --db "$work/$1.db" \
        >/dev/null 2>&1
}
curve() { # NAME: "round accuracy" lines
    python3 - "$work/$1.db" <<'PY'
import sqlite3, sys
for r, a, w, up, down in sqlite3.connect(sys.argv[1]).execute(
        "SELECT round, test_accuracy, wall_s, bytes_up, bytes_down FROM fed_rounds ORDER BY round"):
    print(r + 1, a, w, up, down)
PY
}
first_at() { awk -v t="$2" '$2 >= t { print $1; found = 1; exit } END { if (!found) print "none" }' <(curve "$1"); }
last_acc() { curve "$1" | awk '{ a = $2 } END { printf "%.4f", a }'; }

echo "# load: $(uptime | sed 's/.*load average: //')"
plan fedavg '{"clients": 100, "sample": 0.1, "epochs": 5, "batch": 10, "split": "iid", "lr": 0.05}'
plan fedsgd '{"clients": 100, "sample": 0.1, "epochs": "batch", "batch": 0, "split": "iid", "lr": 0.05}'
run fedavg "${FEDAVG_ROUNDS:-6}"
run fedsgd "${FEDSGD_ROUNDS:-60}"
echo "| run | rounds run | rounds to 84 % | accuracy at the end | bytes up per round |"
echo "|---|---|---|---|---|"
for p in fedavg fedsgd; do
    echo "| $p | $(curve $p | wc -l) | $(first_at $p 0.84) | $(last_acc $p) | $(curve $p | awk 'NR == 1 {print $4}') |"
done

R=${ROUNDS_SKEW:-10}
plan iid '{"clients": 100, "sample": 0.1, "epochs": 1, "batch": 10, "split": "iid", "lr": 0.05}'
plan dir '{"clients": 100, "sample": 0.1, "epochs": 1, "batch": 10, "split": "0.1", "lr": 0.05}'
plan prox '{"clients": 100, "sample": 0.1, "epochs": 1, "batch": 10, "split": "0.1", "lr": 0.05, "stragglers": 0.5, "straggler_work": "partial", "prox": 0.01}'
plan drop '{"clients": 100, "sample": 0.1, "epochs": 1, "batch": 10, "split": "0.1", "lr": 0.05, "stragglers": 0.5, "straggler_work": "drop"}'
for p in iid dir prox drop; do run $p "$R"; done
echo
echo "| run ($R rounds, E = 1) | accuracy |"
echo "|---|---|"
for p in iid dir prox drop; do echo "| $p | $(last_acc $p) |"; done
echo "# load: $(uptime | sed 's/.*load average: //')"
