#!/usr/bin/env bash
# The executor's speed benchmark (issue 4): (a) GEMM time per step of
# dml-exec against the same cblas_sgemm calls timed directly (target >=
# 85%), (b) the executor's data-parallel allreduce against a bare
# MPI_Allreduce of the same bytes (target >= 90% of its busbw).
#
#   bench/exec/run.sh [BUILD_DIR]     (default: build)
#
# Both use the mlp-fmnist shape (784 -> 256 -> 256 -> 10, fp32) on
# synthetic data, one BLAS thread per rank. Prints two tables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
bin=$build/bench/exec/dml-bench-exec
[ -x "$bin" ] || { echo "no $bin: build the dml-bench-exec target" >&2; exit 2; }
. "$here/../../scripts/env.sh"
export OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

plan() { # FILE DP MBS MICROBATCHES
    cat >"$1" <<JSON
{
  "schema_version": 1, "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
            "hidden": [256, 256], "output": 10, "activation": "relu",
            "dtype": "fp32"},
  "cluster": {"name": "bench-localhost", "devices": $2},
  "parallel": {"dp": $2, "tp": 1, "pp": 1, "mbs": $3, "microbatches": $4,
               "zero": 0, "schedule": "1f1b", "threads_per_rank": 1},
  "placement": {"order": "tp-pp-dp",
                "stages": [{"stage": 0, "first_layer": 0, "last_layer": 2}]},
  "schedule": {"global_batch": $(($2 * $3 * $4)), "optimizer": "adamw",
               "peak_lr": 0.001, "warmup_steps": 5, "decay_steps": 100}
}
JSON
}
plan "$work/gemm.json" 1 64 4
plan "$work/dp.json" 2 64 2
mpirun -np 1 "$bin" gemm "$work/gemm.json" ${GEMM_STEPS:-20} ${ROUNDS:-5} \
    "$work/bench.db"
echo
mpirun -np 2 "$bin" dp "$work/dp.json" ${REPS:-50} "$work/bench.db"
