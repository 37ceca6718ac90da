# lib.sh: helpers of the fault-injection and database tests (sourced).
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

# fault_setup: a fresh work folder ($work) as the current one, removed on
# exit with the mpirun of $mpi (when set) killed; $DB in it, plan.json
# written, and RANDOM seeded with $seed ($DML_TEST_SEED, else random).
fault_setup() {
    work=$(mktemp -d)
    mpi=
    trap '[ -n "$mpi" ] && kill -9 $mpi 2>/dev/null; rm -rf "$work"' EXIT
    cd "$work"
    DB=$work/dml.db
    write_plan plan.json
    seed=${DML_TEST_SEED:-$RANDOM}
    RANDOM=$seed
}

# run_full [ARGS...]: the uninterrupted run the others are compared with,
# its final weights in full.bin; its output in full.out and full.err.
run_full() {
    run4 --save-weights full.bin "$@" >full.out 2>full.err ||
        { cat full.err; fail "the uninterrupted run failed"; }
}

# db_setup NAME: for the database tests: a fresh work folder ($work) as
# the current one, removed on exit with the processes listed in the array
# pids killed; $DB the database NAME in it, $writer the db_writer program.
db_setup() {
    writer=$DML_BIN/../tests/integration/reliability/db_writer
    work=$(mktemp -d)
    pids=()
    trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
    cd "$work"
    DB=$work/$1
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
