#!/usr/bin/env bash
# Fault injection (issue 6): a rank of a 4-rank dml-exec run killed with
# SIGKILL at a random step, twice (a random rank other than 0, then rank 0,
# the one that records). Steps and ranks come from a seeded RNG
# ($DML_TEST_SEED, else $RANDOM; printed). The test watches the victim's
# state file (executor/heartbeat.h) until it reaches the chosen step and
# kills that process; then:
#  - mpirun stops the job with a non-zero status;
#  - while the job runs, a second dml-exec on the same checkpoint
#    directory is refused (exit 2, "in use") and records nothing;
#  - dml-exec --resume reports the dead run, marks it failed in the
#    database with a "fault" event naming the killed rank and the step it
#    died at (what its state file says), resumes from the newest
#    checkpoint before that step, and ends with final weights bitwise
#    equal (cmp) to an uninterrupted run's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fault_setup
echo "seed $seed"
run_full --json

trial=0
for victim in $((1 + RANDOM % 3)) 0; do
    trial=$((trial + 1))
    target=$((5 + RANDOM % (STEPS - 10)))
    ck=ck$trial
    echo "trial $trial: kill rank $victim at step $target"
    run4 --checkpoint-dir $ck --checkpoint-every $EVERY >part$trial.out \
        2>part$trial.err &
    mpi=$!
    wait_step $ck "$victim" 1 >/dev/null || fail "rank $victim never started"

    # A second job on the same checkpoint directory is refused.
    runs_before=$(q 'select count(*) from runs')
    rc=0
    "$DML_BIN/dml-exec" --plan "$DML_FIXTURES/exec/plan-tiny.json" \
        --data synthetic --steps 2 --checkpoint-dir $ck --checkpoint-every 1 \
        --db "$DB" >second.out 2>second.err || rc=$?
    [ $rc -eq 2 ] || fail "a second job on $ck: exit $rc, expected 2: $(cat second.err)"
    grep -q "checkpoint directory in use by a running dml-exec" second.err ||
        fail "the refusal does not say why: $(cat second.err)"
    [ "$(q 'select count(*) from runs')" -eq "$runs_before" ] ||
        fail "the refused job recorded a run"

    seen=$(wait_step $ck "$victim" "$target") ||
        fail "rank $victim never reached step $target"
    pid=$(hb $ck "$victim" pid)
    kill -9 "$pid"
    rc=0
    wait $mpi || rc=$?
    mpi=
    [ $rc -ne 0 ] || fail "mpirun exited 0 after rank $victim was killed"
    died=$((10#$(hb $ck "$victim" step)))
    state=$(hb $ck "$victim" state)
    # "ckpt" when the kill fell inside a checkpoint write.
    [ "$state" = running ] || [ "$state" = ckpt ] ||
        fail "the killed rank's state is $state"
    [ "$died" -ge "$seen" ] || fail "state file step $died < $seen"
    echo "  killed pid $pid during step $died; mpirun exited $rc"
    for r in 0 1 2 3; do
        [ "$r" -eq "$victim" ] && continue
        st=$(hb $ck $r state)
        [ "$st" = stopped ] || echo "  (rank $r's state is '$st': the launcher's signal came late)"
    done
    run_id=$(hb $ck 0 run)
    # The newest checkpoint at or before the step it died in: the one
    # being written then (if any) is not complete.
    from=$((died / EVERY * EVERY))
    [ -e $ck/step-$(printf %08d $from)/manifest.json ] || from=$((from - EVERY))
    [ "$state" = ckpt ] || [ $from -eq $((died / EVERY * EVERY)) ] ||
        fail "checkpoint $((died / EVERY * EVERY)) is incomplete though rank $victim died after it"

    run4 --checkpoint-dir $ck --checkpoint-every $EVERY --resume \
        --save-weights resumed$trial.bin --json >res$trial.out 2>res$trial.err ||
        { cat res$trial.err; fail "--resume failed"; }
    grep -q "run $run_id .*ended without recording it: rank $victim (pid $pid" res$trial.err ||
        fail "the dead run was not reported: $(cat res$trial.err)"
    grep -q "\"first_step\": $from," res$trial.out ||
        fail "did not resume from step $from: $(grep first_step res$trial.out)"
    cmp full.bin resumed$trial.bin ||
        fail "the resumed weights differ from the uninterrupted run's"
    [ "$(q "select status || ' ' || steps from runs where id = $run_id")" = "failed $died" ] ||
        fail "run $run_id: $(q "select status, steps, error from runs where id = $run_id")"
    q "select error from runs where id = $run_id" | grep -q "rank $victim (pid $pid" ||
        fail "run $run_id's error does not name rank $victim"
    ev=$(q "select count(*) from events where run_id = $run_id and kind = 'fault'
            and rank = $victim and step = $died")
    [ "$ev" -eq 1 ] || fail "no fault event naming rank $victim and step $died:
$(q "select * from events where run_id = $run_id")"
    [ "$(q "select status from runs order by id desc limit 1")" = ok ] ||
        fail "the resumed run did not end ok"
    echo "  ok run $run_id marked failed (rank $victim, step $died);" \
        "resumed from step $from; weights bitwise equal"
done
echo "ok 2 ranks killed, 2 runs resumed to the uninterrupted weights"
