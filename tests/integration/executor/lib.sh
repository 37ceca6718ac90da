# lib.sh: helpers shared by the executor's integration tests (sourced).
#
# enter_work: a fresh work folder ($work) as the current one, removed on
# exit.
enter_work() {
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    cd "$work"
}

# counted_failures: $compare (exec_compare) and fail MESSAGE, which
# prints the message and counts it in $failures (the test then exits 1).
counted_failures() {
    compare="$DML_BIN/../tests/integration/executor/exec_compare"
    failures=0
    fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
}

# make_plan FILE DP TP PP ZERO MBS MICROBATCHES SCHEDULE OPTIMIZER STAGES
#   writes a plan for the small MLP of the equivalence tests
#   (32 -> [16, 16] -> 4, synthetic data) with the given layout. STAGES is
#   the JSON list of stage objects, e.g.
#   '[{"first_layer":0,"last_layer":1},{"first_layer":2,"last_layer":2}]'.
#   $PEAK_LR (default 0.01), $RAMP (a batch_ramp list, default []),
#   $SYNC (parallel.sync, default allreduce), $ACT (the activation,
#   default the spec's, relu), $BALANCE (parallel.balance, default
#   equal), $SHARES (placement.dp_shares, default none) and $HIDDEN (the
#   hidden widths, default [16, 16]) are read from the environment.
make_plan() {
    local file=$1 dp=$2 tp=$3 pp=$4 zero=$5 mbs=$6 mb=$7 sched=$8 opt=$9
    local stages=${10}
    local gb=$((dp * mbs * mb)) shares=
    [ -z "${SHARES:-}" ] || shares=", \"dp_shares\": $SHARES"
    cat >"$file" <<JSON
{
  "schema_version": 1,
  "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-tiny", "input": 32,
            "hidden": ${HIDDEN:-[16, 16]}, "output": 4, "dtype": "fp32"${ACT:+,
            \"activation\": \"$ACT\"}},
  "cluster": {"name": "test-localhost", "devices": $((dp * tp * pp))},
  "parallel": {"dp": $dp, "tp": $tp, "pp": $pp, "mbs": $mbs,
               "microbatches": $mb, "zero": $zero, "schedule": "$sched",
               "threads_per_rank": 1, "sync": "${SYNC:-allreduce}",
               "balance": "${BALANCE:-equal}"},
  "placement": {"order": "tp-pp-dp", "stages": $stages$shares},
  "schedule": {"global_batch": $gb, "optimizer": "$opt",
               "peak_lr": ${PEAK_LR:-0.01}, "min_lr": 0.001,
               "warmup_steps": 5, "decay": "cosine", "decay_steps": 100,
               "weight_decay": 0.01, "momentum": 0.9,
               "batch_ramp": ${RAMP:-[]}},
  "prediction": {"step_s": 0.002, "mem_bytes_per_device": 1e6}
}
JSON
}

# fmnist_plan FILE DP MBS MICROBATCHES ZERO SYNC SCHEDULE
#   writes a plan of the mlp-fmnist preset (784 -> 256 -> 256 -> 10, relu)
#   on DP ranks for the real Fashion-MNIST data: the global batch is
#   DP x MBS x MICROBATCHES, SYNC parallel.sync ("" for none: the default),
#   SCHEDULE the members of the "schedule" object after its global batch
#   (optimizer, rates, warm-up, decay...).
fmnist_plan() {
    local file=$1 dp=$2 mbs=$3 mb=$4 zero=$5 sync=$6 sched=$7
    cat >"$file" <<JSON
{
  "schema_version": 1,
  "kind": "plan",
  "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
            "hidden": [256, 256], "output": 10, "activation": "relu",
            "dtype": "fp32"},
  "cluster": {"name": "test-localhost", "devices": $dp},
  "parallel": {"dp": $dp, "tp": 1, "pp": 1, "mbs": $mbs, "microbatches": $mb,
               "zero": $zero, "schedule": "1f1b", "threads_per_rank": 1${sync:+,
               \"sync\": \"$sync\"}},
  "placement": {"order": "tp-pp-dp",
                "stages": [{"stage": 0, "first_layer": 0, "last_layer": 2}]},
  "schedule": {"global_batch": $((dp * mbs * mb)), $sched}
}
JSON
}

# The usual stage lists of the 3-layer MLP.
STAGES_1='[{"first_layer":0,"last_layer":2}]'
STAGES_2A='[{"first_layer":0,"last_layer":1},{"first_layer":2,"last_layer":2}]'
STAGES_2B='[{"first_layer":0,"last_layer":0},{"first_layer":1,"last_layer":2}]'
STAGES_3='[{"first_layer":0,"last_layer":0},{"first_layer":1,"last_layer":1},{"first_layer":2,"last_layer":2}]'

# run_exec NP ARGS...: dml-exec under mpirun with NP ranks.
run_exec() {
    local np=$1
    shift
    "$MPIEXEC" --oversubscribe -np "$np" "$DML_BIN/dml-exec" "$@"
}

# fed_plan NAME FEDERATED-JSON: NAME.json, a federated plan (issue 18) of
# mlp-fmnist on 2 ranks with that federated section.
fed_plan() {
    cat >"$1.json" <<JSON
{"schema_version": 1, "kind": "plan",
 "model": {"type": "mlp", "name": "mlp-fmnist", "input": 784,
           "hidden": [256, 256], "output": 10, "dtype": "fp32"},
 "cluster": {"name": "test-localhost", "devices": 2},
 "parallel": {"dp": 2, "tp": 1, "pp": 1, "mbs": 10, "microbatches": 1,
              "mode": "federated"},
 "placement": {"order": "tp-pp-dp",
               "stages": [{"stage": 0, "first_layer": 0, "last_layer": 2}]},
 "schedule": {"global_batch": 20, "optimizer": "sgd", "peak_lr": 0.05,
              "decay": "constant"},
 "federated": $2}
JSON
}
