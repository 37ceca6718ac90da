# lib.sh: helpers of the fault-injection tests (sourced).
#
# The workload: a 4-rank dp=2 x pp=2 ZeRO-1 AdamW run of the MLP
# 256 -> [256, 256, 256] -> 8 on synthetic data, 1024 samples a step
# (about 50 ms a step on a 2-core machine, so that a test watching the
# ranks' state files can stop one at a chosen step), 40 steps, checkpoints
# (3.2 MB each) every 4 steps, --shuffle epoch so that the data order is
# part of what a resume must restore.

STEPS=40
EVERY=4

write_plan() {
    cat >"$1" <<'JSON'
{"schema_version": 1, "kind": "plan",
 "model": {"type": "mlp", "name": "mlp-fault", "input": 256,
           "hidden": [256, 256, 256], "output": 8, "dtype": "fp32"},
 "cluster": {"name": "test-localhost", "devices": 4},
 "parallel": {"dp": 2, "tp": 1, "pp": 2, "mbs": 64, "microbatches": 8,
              "zero": 1},
 "placement": {"stages": [{"first_layer": 0, "last_layer": 1},
                          {"first_layer": 2, "last_layer": 3}]},
 "schedule": {"global_batch": 1024, "optimizer": "adamw", "peak_lr": 0.001,
              "warmup_steps": 5, "decay_steps": 100}}
JSON
}

# run4 ARGS...: the workload under mpirun (4 ranks), the common options
# first. $DB is the database.
run4() {
    "$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" --plan plan.json \
        --data synthetic --steps $STEPS --seed 5 --shuffle epoch --db "$DB" \
        "$@"
}

# hb DIR RANK KEY: a field of a rank's state file (executor/heartbeat.h).
hb() {
    sed -n "s/^$3  *\(.*[^ ]\) *$/\1/p" \
        "$1/ranks/rank-$(printf %05d "$2")" 2>/dev/null
}

# wait_step DIR RANK STEP: until the rank's state file says step >= STEP
# (at most 120 s); prints the step seen.
wait_step() {
    local s
    for _ in $(seq 12000); do
        s=$(hb "$1" "$2" step)
        if [ -n "$s" ] && [ $((10#$s)) -ge "$3" ]; then
            echo $((10#$s))
            return 0
        fi
        sleep 0.01
    done
    return 1
}

# wait_file PATH: until it exists (at most 120 s).
wait_file() {
    for _ in $(seq 12000); do
        [ -e "$1" ] && return 0
        sleep 0.01
    done
    return 1
}

fail() {
    echo "FAIL: $*"
    exit 1
}

q() { sqlite3 "$DB" "$1"; }
