#!/usr/bin/env bash
# SIGTERM and SIGINT stop dml-exec at a step boundary (issue 10, item 7).
# Before, without --checkpoint-dir, the run stayed 'running' forever, with
# no line and exit status 143 or 130. Now, in each case below, the run is
# recorded 'interrupted' with the steps it did (every one of them in the
# steps table), one error line says so, and dml-exec exits 128 + signal:
#  - one process, SIGTERM (143) and SIGINT (130), no checkpoint directory;
#  - two ranks under mpirun, SIGTERM sent to rank 1 only: both ranks stop
#    after the same step, rank 0 records it; with --checkpoint-dir a
#    checkpoint is written at the stop, and --resume from it ends with
#    bitwise the weights of an uninterrupted run;
#  - SIGTERM to mpirun, which forwards it to every rank.
# Each run is long (it would take minutes); the signal is sent once its
# first steps are in the database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { sqlite3 "$1" "$2"; }
fx=$DML_FIXTURES/exec
LONG=200000

# wait_steps DB PID: until the run has steps in DB (at most 60 s) while
# PID lives.
wait_steps() {
    for _ in $(seq 600); do
        n=$(q "$1" "select count(*) from steps" 2>/dev/null || echo 0)
        [ "${n:-0}" -gt 0 ] && return 0
        kill -0 "$2" 2>/dev/null || fail "dml-exec ended before it was signalled"
        sleep 0.1
    done
    fail "no steps recorded after 60 s"
}

# check_interrupted NAME DB ERRFILE SIGNAME: the run of DB is interrupted,
# with as many step rows as steps, and ERRFILE has one dml-exec line
# saying so. Prints the steps.
check_interrupted() {
    local name=$1 db=$2 errf=$3 sig=$4
    local lines
    lines=$(grep -c '^dml-exec:' "$errf" || true)
    [ "$lines" -eq 1 ] || { cat "$errf"; fail "$name: $lines dml-exec lines, expected 1"; }
    grep -q "^dml-exec: error: interrupted by $sig after [0-9]* of $LONG steps" "$errf" ||
        { cat "$errf"; fail "$name: the line does not say 'interrupted by $sig'"; }
    [ "$(q "$db" 'select status from runs')" = interrupted ] ||
        fail "$name: the run is $(q "$db" 'select status from runs')"
    local steps rows
    steps=$(q "$db" 'select steps from runs')
    rows=$(q "$db" 'select count(*) from steps')
    [ "$steps" -gt 0 ] && [ "$steps" -eq "$rows" ] ||
        fail "$name: run says $steps steps, $rows step rows"
    q "$db" 'select error from runs' | grep -q "interrupted by $sig" ||
        fail "$name: the run's error is '$(q "$db" 'select error from runs')'"
    [ "$(q "$db" "select count(*) from events where kind = 'interrupted'")" -eq 1 ] ||
        fail "$name: no interrupted event"
    echo "$steps"
}

# One process: SIGTERM, then SIGINT (a background job of a script starts
# with SIGINT ignored; env --default-signal gives it back its default).
for sig in TERM INT; do
    db=$work/one-$sig.db
    env --default-signal=INT "$DML_BIN/dml-exec" --plan "$fx/plan-tiny.json" \
        --data synthetic --steps $LONG --db "$db" >"one-$sig.out" \
        2>"one-$sig.err" &
    p=$!
    pids+=($p)
    wait_steps "$db" $p
    kill -$sig $p
    rc=0
    wait $p || rc=$?
    want=$((128 + $(kill -l $sig)))
    [ $rc -eq $want ] || { cat "one-$sig.err"; fail "one process, SIG$sig: exit status $rc, expected $want"; }
    steps=$(check_interrupted "one process, SIG$sig" "$db" "one-$sig.err" SIG$sig)
    echo "ok   one process, SIG$sig: exit $rc, run interrupted after $steps steps"
done

# Two ranks, SIGTERM to rank 1 only, with a checkpoint directory.
make_plan dp2.json 2 1 1 0 8 2 1f1b adamw "$STAGES_1"
db=$work/mpi.db
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --seed 7 --steps $LONG --db "$db" --checkpoint-dir ck \
    --checkpoint-every 100000 >mpi.out 2>mpi.err &
m=$!
pids+=($m)
wait_steps "$db" $m
ranks=($(pgrep -P $m -f dml-exec || true))
[ ${#ranks[@]} -eq 2 ] || fail "found ${#ranks[@]} ranks under mpirun"
kill -TERM "${ranks[1]}"
rc=0
wait $m || rc=$?
[ $rc -ne 0 ] || fail "mpirun exited 0 after SIGTERM"
steps=$(check_interrupted "two ranks, SIGTERM to rank 1" "$db" mpi.err SIGTERM)
grep -q "checkpoint step $steps written, --resume continues from it" mpi.err ||
    { cat mpi.err; fail "no checkpoint at the stop (step $steps)"; }
[ -f "ck/step-$(printf %08d "$steps")/manifest.json" ] ||
    fail "checkpoint step $steps has no manifest"
for f in ck/ranks/rank-*; do
    grep -q '^state *failed' "$f" || fail "$f: $(head -1 "$f")"
done
echo "ok   two ranks, SIGTERM to rank 1: both stopped after step $steps, checkpoint written, mpirun exit $rc"

# Resumed from the stop, it ends where an uninterrupted run ends.
end=$((steps + 20))
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --seed 7 --steps $end --db "$db" --checkpoint-dir ck \
    --resume --save-weights resumed.bin --json >res.out 2>res.err ||
    { cat res.err; fail "--resume after the stop failed"; }
grep -q "\"first_step\": $steps," res.out ||
    fail "--resume started at $(grep first_step res.out), expected $steps"
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --seed 7 --steps $end --db "$work/ref.db" \
    --save-weights full.bin >/dev/null 2>ref.err ||
    { cat ref.err; fail "the uninterrupted run failed"; }
cmp full.bin resumed.bin || fail "resumed weights differ from the uninterrupted run"
echo "ok   resumed from the stop at step $steps: weights bitwise those of an uninterrupted run"

# A stop asked through the checkpoint directory (dml-run's re-plan up,
# executor/ckpt.h): the run stops right after its next scheduled
# checkpoint (step 10), exits 75, is recorded interrupted with a 'stopped'
# event, and the file is gone; --resume from there ends bitwise where the
# uninterrupted run ends.
db=$work/stop.db
rm -rf ck2
mkdir ck2
: >ck2/stop-at-checkpoint
rc=0
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --seed 7 --steps $end --db "$db" --checkpoint-dir ck2 \
    --checkpoint-every 10 >stop.out 2>stop.err || rc=$?
[ $rc -eq 75 ] || { cat stop.err; fail "stop asked: exit status $rc, expected 75"; }
[ ! -e ck2/stop-at-checkpoint ] || fail "the stop request is still there"
[ "$(q "$db" 'select status || " " || steps from runs')" = "interrupted 10" ] ||
    fail "stop asked: run $(q "$db" 'select status, steps from runs')"
q "$db" "select message from events where kind = 'stopped' and step = 10" |
    grep -q "checkpoint written, --resume continues from it" ||
    fail "stop asked: no 'stopped' event at step 10"
[ -f ck2/step-00000010/manifest.json ] || fail "stop asked: no checkpoint 10"
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan dp2.json \
    --data synthetic --seed 7 --steps $end --db "$db" --checkpoint-dir ck2 \
    --checkpoint-every 10 --resume --save-weights stopped.bin >/dev/null \
    2>stop2.err || { cat stop2.err; fail "--resume after the stop asked failed"; }
cmp full.bin stopped.bin || fail "weights after the stop asked differ from the uninterrupted run"
echo "ok   stop asked by ck/stop-at-checkpoint: stopped after checkpoint 10, exit 75, resumed bitwise"

# SIGTERM to mpirun: Open MPI 4.1 sends every rank SIGCONT, SIGTERM
# odls_base_sigkill_timeout seconds later and SIGKILL as long again after
# that (1 s by default; 3 here, so that a slow machine is not a failure,
# and the test takes 6 s).
db=$work/mpirun.db
"$MPIEXEC" --oversubscribe --mca odls_base_sigkill_timeout 3 -np 2 \
    "$DML_BIN/dml-exec" --plan dp2.json --data synthetic --steps $LONG \
    --db "$db" >mpirun.out 2>mpirun.err &
m=$!
pids+=($m)
wait_steps "$db" $m
kill -TERM $m
rc=0
wait $m || rc=$?
steps=$(check_interrupted "SIGTERM to mpirun" "$db" mpirun.err SIGTERM)
echo "ok   SIGTERM to mpirun: run interrupted after $steps steps, mpirun exit $rc"
