#!/usr/bin/env python3
"""make_plans.py: the calibration grid's plan files (docs/formats.md).

    make_plans.py CLUSTER.json OUTDIR

Writes one plan of mlp-fmnist per grid entry below, for the cluster that
dml-probe wrote (its name and fingerprint go into each plan, so every run
is recorded against the probed cluster and calibration finds them). All
plans train the same global batch, so their step times compare: they are
the candidates a planner chooses among. Prints "FILE RANKS" per plan.
"""
import json
import os
import sys

GLOBAL_BATCH = 256

# dp, tp, pp, mbs, threads per rank (microbatches = batch / (dp * mbs)):
# 1 and 2 ranks, every kind of parallelism, micro-batching and threads.
GRID = [
    (1, 1, 1, 256, 1),
    (1, 1, 1, 64, 1),
    (1, 1, 1, 32, 1),
    (1, 1, 1, 128, 2),
    (1, 1, 1, 256, 2),
    (2, 1, 1, 128, 1),
    (2, 1, 1, 32, 1),
    (1, 2, 1, 128, 1),
    (1, 2, 1, 256, 1),
    (1, 1, 2, 64, 1),
    (1, 1, 2, 32, 1),
    (2, 1, 1, 128, 2),
]

MODEL = {"type": "mlp", "name": "mlp-fmnist", "input": 784,
         "hidden": [256, 256], "output": 10, "activation": "relu",
         "dtype": "fp32"}


def stages(pp):
    # mlp-fmnist has 3 linear layers; pp = 2 puts the pair first, as the
    # cost model's even split does (earlier stages take the extra layer)
    if pp == 1:
        return [{"stage": 0, "first_layer": 0, "last_layer": 2}]
    return [{"stage": 0, "first_layer": 0, "last_layer": 1},
            {"stage": 1, "first_layer": 2, "last_layer": 2}]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_plans.py CLUSTER.json OUTDIR")
    cluster = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for i, (dp, tp, pp, mbs, threads) in enumerate(GRID):
        micro = GLOBAL_BATCH // (dp * mbs)
        assert dp * mbs * micro == GLOBAL_BATCH
        plan = {
            "schema_version": 1, "kind": "plan", "model": MODEL,
            "cluster": {"name": cluster["name"],
                        "fingerprint": cluster["fingerprint"],
                        "devices": dp * tp * pp},
            "parallel": {"dp": dp, "tp": tp, "pp": pp, "v": 1, "mbs": mbs,
                         "microbatches": micro, "zero": 0,
                         "schedule": "1f1b", "threads_per_rank": threads},
            "placement": {"order": "tp-pp-dp", "stages": stages(pp)},
            "schedule": {"global_batch": GLOBAL_BATCH, "optimizer": "adamw",
                         "peak_lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 5,
                         "decay": "cosine", "decay_steps": 200},
        }
        name = os.path.join(
            out, "plan-%02d-dp%d-tp%d-pp%d-mbs%d-t%d.json"
            % (i, dp, tp, pp, mbs, threads))
        with open(name, "w") as f:
            json.dump(plan, f, indent=1)
        print(name, dp * tp * pp)


if __name__ == "__main__":
    main()
