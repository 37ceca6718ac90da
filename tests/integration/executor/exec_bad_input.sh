#!/usr/bin/env bash
# Bad plans and inputs (issue 4): a rank count other than dp x tp x pp, a
# transformer the executor cannot run yet, a missing data directory, a
# truncated IDX file, an image size that is not the model's input and a
# missing plan each end every rank with exit status 2 and exactly one
# error line from dml-exec, before any training: no database is created.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
fx="$DML_FIXTURES/exec"
failures=0

# expect_exit2 NAME PATTERN NP ARGS...: exit 2, one "dml-exec:" line on
# stderr that matches PATTERN, and no database file.
expect_exit2() {
    local name=$1 pattern=$2 np=$3
    shift 3
    local rc=0
    run_exec "$np" "$@" --db "$work/$name.db" >"$name.out" 2>"$name.err" ||
        rc=$?
    local lines
    lines=$(grep -c '^dml-exec:' "$name.err" || true)
    if [ $rc -ne 2 ]; then
        echo "FAIL $name: exit status $rc, expected 2"; cat "$name.err"
        failures=$((failures + 1))
    elif [ "$lines" -ne 1 ]; then
        echo "FAIL $name: $lines dml-exec lines on stderr, expected 1"
        cat "$name.err"; failures=$((failures + 1))
    elif ! grep '^dml-exec:' "$name.err" | grep -q -- "$pattern"; then
        echo "FAIL $name: the error line does not say '$pattern'"
        cat "$name.err"; failures=$((failures + 1))
    elif [ -e "$work/$name.db" ]; then
        echo "FAIL $name: a database was created for rejected input"
        failures=$((failures + 1))
    else
        echo "ok   $name: $(grep '^dml-exec:' "$name.err")"
    fi
}

expect_exit2 ranks "needs dp x tp x pp = 1 x 1 x 1 = 1 ranks, but mpirun started 2" \
    2 --plan "$fx/plan-tiny.json" --data synthetic
make_plan dp2tp2.json 2 2 1 0 8 2 1f1b adamw "$STAGES_1"
expect_exit2 ranks4 "= 4 ranks, but mpirun started 3" \
    3 --plan dp2tp2.json --data synthetic
expect_exit2 transformer "transformer model 'gpt-tiny' cannot be run" \
    1 --plan "$fx/plan-transformer.json" --data synthetic
expect_exit2 nodata "no such data directory" \
    1 --plan "$fx/plan-fmnist-small.json" --data "$work/missing"
sed -e 's/"dp": 1/"dp": 2/' -e 's/"devices": 1/"devices": 2/' \
    -e 's/"global_batch": 40/"global_batch": 80/' \
    "$fx/plan-fmnist-small.json" >fmnist-dp2.json
expect_exit2 truncated "train-images-idx3-ubyte.gz: truncated IDX file" \
    2 --plan fmnist-dp2.json --data "$fx/fmnist-truncated"
expect_exit2 input "images are 28x28 = 784 values, the model's input is 32" \
    1 --plan "$fx/plan-tiny.json" --data "$fx/fmnist-small"
expect_exit2 noplan "none.json: cannot open" 2 --plan "$work/none.json"
[ $failures -eq 0 ] || exit 1
