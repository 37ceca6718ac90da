#!/usr/bin/env bash
# Fault injection while a checkpoint is written (issue 6). The executor's
# test hook (executor/ckpt.c, DML_TEST_CKPT_STALL=STEP:RANK:MARKER, inert
# unless set) stops a random rank (seeded, printed) while it writes its
# shard of a random checkpoint, after the temporary file is complete and
# synced and before the rename; the test kills that rank with SIGKILL
# there. Then:
#  - mpirun stops the job with a non-zero status;
#  - that checkpoint has the killed rank's temporary file and no manifest,
#    and the previous checkpoint is complete and unchanged (same files,
#    same SHA-256);
#  - dml-exec --resume reports the partial checkpoint, resumes from the
#    previous one, records the dead run as failed with a fault event naming
#    the rank "while writing checkpoint STEP", removes the stale temporary
#    file when it writes that checkpoint again, and ends with weights
#    bitwise equal to an uninterrupted run's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fault_setup
victim=$((RANDOM % 4))
at=$(( (2 + RANDOM % (STEPS / EVERY - 3)) * EVERY ))
prev=$((at - EVERY))
echo "seed $seed: kill rank $victim while it writes checkpoint step $at"
run_full

# mpirun's local ranks inherit its environment.
DML_TEST_CKPT_STALL="$at:$victim:$work/stalled" \
    run4 --checkpoint-dir ck \
    --checkpoint-every $EVERY >part.out 2>part.err &
mpi=$!
wait_file "$work/stalled" || { cat part.err; fail "rank $victim never reached the hook"; }
dir=ck/step-$(printf %08d $at)
tmp=$(ls $dir | grep "^rank-$(printf %05d $victim).bin.tmp." || true)
[ -n "$tmp" ] || fail "no temporary shard of rank $victim in $dir: $(ls $dir)"
[ ! -e $dir/manifest.json ] || fail "checkpoint $at has a manifest before rank $victim renamed its shard"
[ "$(hb ck "$victim" state)" = ckpt ] || fail "rank $victim's state is $(hb ck "$victim" state)"
pid=$(hb ck "$victim" pid)
kill -9 "$pid"
rc=0
wait $mpi || rc=$?
mpi=
[ $rc -ne 0 ] || fail "mpirun exited 0"
pdir=ck/step-$(printf %08d $prev)
(cd $pdir && sha256sum manifest.json rank-*.bin) >prev.sha
[ -e $dir/$tmp ] || fail "the temporary shard is gone"
[ ! -e $dir/manifest.json ] || fail "checkpoint $at got a manifest"
echo "killed rank $victim (pid $pid) inside checkpoint $at: $tmp left, no manifest; mpirun exited $rc"
run_id=$(hb ck 0 run)

# Checkpoint $prev is intact: its manifest and shards verify (dml-exec
# --resume reads it), and they are the same bytes as before the resume.
run4 --checkpoint-dir ck --checkpoint-every $EVERY --resume \
    --save-weights resumed.bin --json >res.out 2>res.err ||
    { cat res.err; fail "--resume failed"; }
grep -q "skipping checkpoint step $at .*partial" res.err ||
    fail "the partial checkpoint $at was not reported: $(cat res.err)"
grep -q "\"first_step\": $prev," res.out ||
    fail "did not resume from step $prev: $(grep first_step res.out)"
(cd $pdir && sha256sum -c --quiet ../../prev.sha) ||
    fail "checkpoint $prev changed"
grep -q "rank $victim (pid $pid on .*) died while writing checkpoint step $at" res.err ||
    fail "the dead run was not reported as dying in checkpoint $at: $(cat res.err)"
[ "$(q "select status from runs where id = $run_id")" = failed ] ||
    fail "run $run_id is $(q "select status from runs where id = $run_id")"
[ "$(q "select count(*) from events where run_id = $run_id and kind = 'fault'
        and rank = $victim and step = $at")" -eq 1 ] ||
    fail "no fault event for rank $victim at step $at: $(q "select * from events")"
[ ! -e $dir/$tmp ] || fail "the stale temporary shard survived the rewrite of checkpoint $at"
[ -e $dir/manifest.json ] || fail "checkpoint $at was not written again"
cmp full.bin resumed.bin || fail "the resumed weights differ from the uninterrupted run's"
echo "ok checkpoint $prev intact and resumed from; run $run_id marked failed;" \
    "weights bitwise equal"
