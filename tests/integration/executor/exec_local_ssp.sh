#!/usr/bin/env bash
# Local SGD and stale-synchronous SGD (issue 15), on 4 ranks of one
# machine (the small MLP of the equivalence tests, synthetic data):
#   - ssp:0 is synchronous SGD bitwise: every loss and weight of the
#     allreduce run, with SGD and with AdamW, dp=4 and dp=2 x pp=2;
#   - local:1 with SGD (momentum is linear in the gradients) is
#     synchronous SGD within 1e-5 (the average of the replicas' updates
#     is the update of the summed gradient, rounded differently);
#   - local:4 sends a quarter of the dense exchange's bytes per step, and
#     local:4:8 (post-local SGD) is synchronous bitwise for its first 8
#     steps (the losses of steps 0-8) and then not;
#   - ssp:2's logged staleness (--json max_staleness, steps.staleness)
#     never exceeds 2;
#   - resuming from a checkpoint ends with bitwise the uninterrupted
#     run's weights for local:4 (checkpoint at step 6, between averages:
#     every replica's own weights and the step count come back), ssp:0,
#     and ssp:2 under DML_TEST_SSP_EXACT=1 (every step exactly 2 stale,
#     so the run is reproducible; a checkpoint drains the clocks in
#     flight, so the uninterrupted run checkpoints at the same steps);
#   - ssp with tp=2 is refused in one line (exit 2).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
counted_failures

# run NAME NP ARGS...: dml-exec with the common options, JSON to NAME.out
run() {
    local name=$1 np=$2
    shift 2
    if ! run_exec "$np" --data synthetic --seed 5 --db "$work/dml.db" \
        --json --save-weights "$name.bin" "$@" >"$name.out" \
        2>"$name.err"; then
        fail "$name: dml-exec failed"
        cat "$name.err"
        return 1
    fi
}

# same REF RUN TOL: losses and weights of RUN within TOL of REF
same() {
    if "$compare" losses "$1.out" "$2.out" "$3" >"$2.cmp" &&
        "$compare" weights "$1.bin" "$2.bin" "$3" >>"$2.cmp"; then
        echo "ok   $2 = $1 within $3 ($(head -1 "$2.cmp"))"
    else
        fail "$2 differs from $1 by more than $3"
        cat "$2.cmp"
    fi
}

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

steps=(--steps 24)
for opt in sgd adamw; do
    SYNC=allreduce make_plan ar-$opt.json 4 1 1 0 4 2 1f1b $opt "$STAGES_1"
    SYNC=ssp:0 make_plan s0-$opt.json 4 1 1 0 4 2 1f1b $opt "$STAGES_1"
    run ar-$opt 4 --plan ar-$opt.json "${steps[@]}" &&
        run s0-$opt 4 --plan s0-$opt.json "${steps[@]}" &&
        same ar-$opt s0-$opt 0
done
# a pipeline: each stage's replicas exchange on their own
SYNC=allreduce make_plan arpp.json 2 1 2 0 4 4 1f1b sgd "$STAGES_2A"
SYNC=ssp:0 make_plan s0pp.json 2 1 2 0 4 4 1f1b sgd "$STAGES_2A"
run arpp 4 --plan arpp.json "${steps[@]}" &&
    run s0pp 4 --plan s0pp.json "${steps[@]}" && same arpp s0pp 0

# local:1 = synchronous SGD within rounding
SYNC=local:1 make_plan l1.json 4 1 1 0 4 2 1f1b sgd "$STAGES_1"
run l1 4 --plan l1.json "${steps[@]}" && same ar-sgd l1 1e-5

# local:4: a quarter of the bytes; post-local SGD synchronous first
SYNC=local:4 make_plan l4.json 4 1 1 0 4 2 1f1b sgd "$STAGES_1"
SYNC=local:4:8 make_plan l48.json 4 1 1 0 4 2 1f1b sgd "$STAGES_1"
if run l4 4 --plan l4.json "${steps[@]}" &&
    run l48 4 --plan l48.json "${steps[@]}"; then
    dense=$(json ar-sgd.out 'd["bytes_per_step"]["per_replica"]["intra_node"]')
    local4=$(json l4.out 'd["bytes_per_step"]["per_replica"]["intra_node"]')
    if python3 -c "import sys; d, l = map(float, sys.argv[1:]); sys.exit(0 if d > 0 and abs(l / d - 0.25) < 1e-9 else 1)" "$dense" "$local4"; then
        echo "ok   local:4 sends $local4 bytes a step, a quarter of $dense"
    else
        fail "local:4 sends $local4 bytes a step, dense $dense: not a quarter"
    fi
    python3 - ar-sgd.out l48.out <<'PY' && echo "ok   local:4:8 is synchronous for 8 steps, local after" || fail "local:4:8's warm-up is not synchronous SGD's steps"
import json, sys
a = json.load(open(sys.argv[1]))["losses"]
b = json.load(open(sys.argv[2]))["losses"]
# steps 0..8 read the weights of 0..8 synchronous updates: identical
assert a[:9] == b[:9], (a[:9], b[:9])
assert a[9:] != b[9:], "local steps equal synchronous ones"
PY
fi

# ssp:2: staleness logged, never above the bound
SYNC=ssp:2 make_plan s2.json 4 1 1 0 4 2 1f1b sgd "$STAGES_1"
if run s2 4 --plan s2.json "${steps[@]}" --eval-every 8; then
    max=$(json s2.out 'd["max_staleness"]')
    rid=$(json s2.out 'd["run_id"]')
    dbmax=$(sqlite3 dml.db "select max(staleness) from steps where run_id = $rid")
    rows=$(sqlite3 dml.db "select count(*) from steps where run_id = $rid and staleness is not null")
    acc=$(sqlite3 dml.db "select count(*) from steps where run_id = $rid and test_accuracy is not null")
    if [[ $max -le 2 && ${dbmax%.*} -le 2 && $rows -eq 24 && $acc -eq 3 ]]; then
        echo "ok   ssp:2: staleness at most $max (database: $dbmax over $rows steps), 3 evaluations recorded"
    else
        fail "ssp:2: staleness $max (database $dbmax over $rows steps, $acc evaluations)"
    fi
fi

# resuming: bitwise the uninterrupted run
# resume NAME PLAN ENV...: 24 steps at once, and 13 resumed to 24, both
# with checkpoints every 6
resume() {
    local name=$1 plan=$2
    shift 2
    env "$@" "$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" \
        --plan "$plan" --data synthetic --seed 5 --db "$work/dml.db" \
        --steps 24 --checkpoint-dir "ck-$name-full" --checkpoint-every 6 \
        --json --save-weights "$name-full.bin" >"$name-full.out" \
        2>"$name.err" &&
    env "$@" "$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" \
        --plan "$plan" --data synthetic --seed 5 --db "$work/dml.db" \
        --steps 13 --checkpoint-dir "ck-$name" --checkpoint-every 6 \
        --json >/dev/null 2>>"$name.err" &&
    env "$@" "$MPIEXEC" --oversubscribe -np 4 "$DML_BIN/dml-exec" \
        --plan "$plan" --data synthetic --seed 5 --db "$work/dml.db" \
        --steps 24 --checkpoint-dir "ck-$name" --checkpoint-every 6 \
        --resume --json --save-weights "$name-res.bin" >"$name-res.out" \
        2>>"$name.err" || { fail "$name: a run failed"; cat "$name.err"; return; }
    if grep -q '"first_step": 12' "$name-res.out" &&
        cmp -s "$name-full.bin" "$name-res.bin" &&
        "$compare" losses "$name-full.out" "$name-res.out" 0 >/dev/null; then
        echo "ok   $name: resumed from step 12, bitwise the uninterrupted run"
    else
        fail "$name: the resumed run is not the uninterrupted one"
        grep first_step "$name-res.out" || true
        "$compare" losses "$name-full.out" "$name-res.out" 0 || true
    fi
}
resume local4 l4.json A=1
resume ssp0 s0-adamw.json A=1
resume ssp2exact s2.json DML_TEST_SSP_EXACT=1

# ssp with tensor parallelism: one line, exit 2
SYNC=ssp:2 make_plan s2tp.json 2 2 1 0 4 2 1f1b sgd "$STAGES_1"
set +e
run_exec 4 --plan s2tp.json --steps 2 --data synthetic --db "$work/dml.db" \
    >tp.out 2>tp.err
rc=$?
set -e
if [[ $rc -eq 2 && $(grep -c "^dml-exec: " tp.err) -eq 1 ]] &&
    grep -q "runs with tp=1" tp.err; then
    echo "ok   ssp:2 with tp=2 refused: $(grep "^dml-exec: " tp.err)"
else
    fail "ssp:2 with tp=2: exit $rc"
    cat tp.err
fi

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
