#!/usr/bin/env bash
# Federated acceptance on Fashion-MNIST (issue 18), 2 ranks hosting 100
# clients of 600 samples, 10 a round, one local epoch of batch 10, 8
# rounds, seed 1 (bench/federated/run.sh prints the full tables, with
# FedAvg against FedSGD):
#  - label skew costs accuracy: Dirichlet alpha = 0.1 ends at least 5
#    points below IID (measured: see bench/federated/README.md);
#  - with half of each round's clients straggling under alpha = 0.1,
#    FedProx (mu 0.01) keeping their partial work ends at least 3 points
#    above FedAvg dropping them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "skip: no $data"; exit 77; }
enter_work

base='"clients": 100, "sample": 0.1, "epochs": 1, "batch": 10, "lr": 0.05'
fed_plan iid "{$base, \"split\": \"iid\"}"
fed_plan dir "{$base, \"split\": \"0.1\"}"
fed_plan prox "{$base, \"split\": \"0.1\", \"stragglers\": 0.5, \"straggler_work\": \"partial\", \"prox\": 0.01}"
fed_plan drop "{$base, \"split\": \"0.1\", \"stragglers\": 0.5, \"straggler_work\": \"drop\"}"
acc() { python3 -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["test_accuracy"])' "$1.out"; }
for p in iid dir prox drop; do
    run_exec 2 --plan $p.json --data $data --steps 8 --seed 1 \
        --db "$work/dml.db" --json >$p.out
done
echo "after 8 rounds: iid $(acc iid), alpha 0.1 $(acc dir); stragglers: FedProx partial $(acc prox), FedAvg drop $(acc drop)"
awk -v a="$(acc iid)" -v b="$(acc dir)" 'BEGIN { exit !(a >= b + 0.05) }' ||
    { echo "FAIL: alpha 0.1 is not 5 points below IID"; exit 1; }
awk -v a="$(acc prox)" -v b="$(acc drop)" 'BEGIN { exit !(a >= b + 0.03) }' ||
    { echo "FAIL: FedProx with partial work is not 3 points above dropping"; exit 1; }
