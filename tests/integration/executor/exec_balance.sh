#!/usr/bin/env bash
# Uneven data-parallel shares and stage boundaries (issue 16): with the
# same seed, data order and 32 steps, a run whose 4 replicas take 6, 6, 3
# and 1 micro-batches of the step's 16 (placement.dp_shares, balance=
# static: the split the planner gives nodes of speeds 1, 1, 1/2, 1/4)
# gives every step's loss and the final weights of the even split and of
# the 1-rank run within 1e-4 relative (the gradient of a step is the same
# average over the same samples), with and without ZeRO-1, under SGD and
# AdamW, and through a batch ramp (8 micro-batches for 8 steps,
# apportioned 3, 3, 1, 1). A 6-layer MLP cut into 4 pipeline stages of
# 3, 1, 1, 1 layers (and 4, 2 layers on 2 replicas taking 6 and 2
# micro-batches) agrees
# with its 1-rank run the same way. A plan whose shares do not add up is
# refused with one line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
compare="$DML_BIN/../tests/integration/executor/exec_compare"
steps=32
failures=0

# run NAME NP PLAN-ARGS...: run and keep losses (NAME.out), weights (NAME.bin)
run() {
    local name=$1 np=$2
    shift 2
    make_plan "$name.json" "$@"
    run_exec "$np" --plan "$name.json" --steps $steps --data synthetic \
        --seed 7 --shuffle none --db "$work/dml.db" --json \
        --save-weights "$name.bin" >"$name.out" 2>"$name.err" || {
        cat "$name.err"
        echo "FAIL $name: dml-exec failed"
        failures=$((failures + 1))
    }
}

# same A B: B's losses and weights within 1e-4 of A's
same() {
    if "$compare" losses "$1.out" "$2.out" 1e-4 >"$2.cmp" &&
        "$compare" weights "$1.bin" "$2.bin" 1e-4 >>"$2.cmp"; then
        echo "ok   $2 against $1 ($(head -1 "$2.cmp"))"
    else
        echo "FAIL $2: differs from $1 by more than 1e-4"
        cat "$2.cmp"
        failures=$((failures + 1))
    fi
}

uneven='[{"replicas":2,"microbatches":6},{"replicas":1,"microbatches":3},{"replicas":1,"microbatches":1}]'
for opt in sgd adamw; do
    #   name           np  dp tp pp zero mbs mb schedule opt
    run ref-$opt        1  1  1  1  0    4   16 1f1b $opt "$STAGES_1"
    run even-$opt       4  4  1  1  0    4   4  1f1b $opt "$STAGES_1"
    BALANCE=static SHARES=$uneven \
    run uneven-$opt     4  4  1  1  0    4   4  1f1b $opt "$STAGES_1"
    BALANCE=static SHARES=$uneven \
    run unevenz-$opt    4  4  1  1  1    4   4  1f1b $opt "$STAGES_1"
    same even-$opt uneven-$opt
    same ref-$opt uneven-$opt
    same ref-$opt unevenz-$opt
done

# a batch ramp: 32 samples (8 micro-batches) for 8 steps, then 64
export RAMP='[{"until_step": 8, "global_batch": 32}]'
run ramp-ref        1  1 1 1 0 4 16 1f1b adamw "$STAGES_1"
BALANCE=static SHARES=$uneven \
run ramp-uneven     4  4 1 1 0 4 4  1f1b adamw "$STAGES_1"
same ramp-ref ramp-uneven
unset RAMP

# uneven stage boundaries of a 6-layer MLP, and shares with them
export HIDDEN='[16, 16, 16, 16, 16]'
cut='[{"first_layer":0,"last_layer":2},{"first_layer":3,"last_layer":3},{"first_layer":4,"last_layer":4},{"first_layer":5,"last_layer":5}]'
cut2='[{"first_layer":0,"last_layer":3},{"first_layer":4,"last_layer":5}]'
run deep-ref        1  1 1 1 0 4 8 1f1b adamw '[{"first_layer":0,"last_layer":5}]'
run deep-pp4        4  1 1 4 0 4 8 1f1b adamw "$cut"
BALANCE=static SHARES='[{"replicas":1,"microbatches":6},{"replicas":1,"microbatches":2}]' \
run deep-dp2pp2     4  2 1 2 0 4 4 1f1b adamw "$cut2"
same deep-ref deep-pp4
same deep-ref deep-dp2pp2
unset HIDDEN

# shares that do not cover the step: one line, exit 2
BALANCE=static SHARES='[{"replicas":4,"microbatches":3}]' \
make_plan bad.json 4 1 1 0 4 4 1f1b adamw "$STAGES_1"
set +e
run_exec 4 --plan bad.json --steps 2 --data synthetic --db "$work/dml.db" \
    >bad.out 2>bad.err
rc=$?
set -e
if [ $rc -eq 2 ] && [ "$(grep -c '^dml-exec' bad.err)" -eq 1 ] &&
    grep -q "placement.dp_shares: 12 micro-batches a step, dp x microbatches = 16" bad.err; then
    echo "ok   shares not covering the step: one line, exit 2"
else
    echo "FAIL bad shares: exit $rc"; cat bad.err
    failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || { echo "$failures failures"; exit 1; }
echo "exec_balance: all checks passed"
