#!/usr/bin/env bash
# Real data: the small Fashion-MNIST fixture trains on 2 ranks (dp=2,
# ZeRO-1) and the database holds the run, its steps and per-rank timings;
# then, when the Debian package dataset-fashion-mnist is installed, the
# mlp-fmnist preset (784 -> 256 -> 256 -> 10) trains on the real 60000
# images for 150 steps of 128 samples (a third of an epoch). A 784-256-10
# MLP reaches 0.87 after full training in the Fashion-MNIST benchmark
# (Xiao, Rasul & Vollgraf 2017, table 3, MLPClassifier); a third of an
# epoch must already be well past 0.75 (chance is 0.10).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
fx="$DML_FIXTURES/exec"

sed -e 's/"dp": 1/"dp": 2/' -e 's/"devices": 1/"devices": 2/' \
    -e 's/"global_batch": 40/"global_batch": 80/' -e 's/"zero": 0/"zero": 1/' \
    "$fx/plan-fmnist-small.json" >small.json
run_exec 2 --plan small.json --data "$fx/fmnist-small" --steps 30 \
    --db "$work/dml.db" --json >small.out
acc=$(sed -n 's/.*"test_accuracy": \([0-9.e-]*\).*/\1/p' small.out)
echo "fixture: test accuracy $acc after 30 steps on 200 samples"
if command -v sqlite3 >/dev/null; then
    row=$(sqlite3 dml.db "select status, steps, ranks, measured_step_s > 0,
                          test_accuracy = $acc from runs")
    [ "$row" = "ok|30|2|1|1" ] ||
        { echo "FAIL: run row '$row', expected ok|30|2|1|1"; exit 1; }
    n=$(sqlite3 dml.db "select count(*) from steps where loss > 0 and
                        step_s > 0 and global_batch = 80")
    [ "$n" -eq 30 ] || { echo "FAIL: $n step rows, expected 30"; exit 1; }
    n=$(sqlite3 dml.db "select count(*) from rank_timings
                        where peak_rss_bytes > 1e6")
    [ "$n" -eq 2 ] || { echo "FAIL: $n rank timing rows, expected 2"; exit 1; }
    echo "ok database: run, 30 steps, 2 rank timings"
fi

data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "skip: no $data"; exit 0; }
fmnist_plan fmnist.json 2 32 2 1 "" '"optimizer": "adamw", "peak_lr": 0.002,
    "min_lr": 0.0002, "warmup_steps": 10, "decay": "cosine", "decay_steps": 140,
    "weight_decay": 0.0'
run_exec 2 --plan fmnist.json --data $data --steps 150 --shuffle epoch \
    --db "$work/dml.db" --json >fmnist.out
acc=$(sed -n 's/.*"test_accuracy": \([0-9.e-]*\).*/\1/p' fmnist.out)
echo "Fashion-MNIST: test accuracy $acc after 150 steps"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }' ||
    { echo "FAIL: accuracy $acc below 0.75"; exit 1; }
