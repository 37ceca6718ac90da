#!/usr/bin/env bash
# A full disk while checkpointing (issue 6). The checkpoints go to a 5 MB
# tmpfs (mounted here; root only), which holds checkpoint 4 (3.2 MB) and
# not checkpoint 8. Where mounting is not allowed, a file size limit on
# the ranks (ulimit -f 256 KiB, smaller than a shard) stands in for the
# full disk: then the very first checkpoint fails, with EFBIG. Either way:
#  - dml-exec stops with exit status 1 and one error line naming the
#    checkpoint, the system's reason (No space left on device / File too
#    large) and the checkpoint that is intact;
#  - the run is recorded as failed, with a checkpoint event;
#  - no temporary file is left, and the previous checkpoint is complete and
#    unchanged: copied to a disk with room, --resume continues from it and
#    ends with the weights of an uninterrupted run, bitwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
mnt=$work/small
mkdir -p "$mnt"
mounted=0
trap '[ $mounted -eq 1 ] && umount -l "$mnt"; rm -rf "$work"' EXIT
cd "$work"
DB=$work/dml.db
write_plan plan.json
run_full

if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=5m tmpfs "$mnt" 2>/dev/null; then
    mounted=1
    mode="5 MB tmpfs"
    why="No space left on device"
    failed_at=8
    prev=4
    rc=0
    run4 --checkpoint-dir "$mnt/ck" --checkpoint-every $EVERY \
        >part.out 2>part.err || rc=$?
else
    mode="ulimit -f 256 (KiB)"
    why="File too large"
    failed_at=4
    prev=
    rc=0
    # The limit on the ranks only (mpirun's own shared-memory files would
    # exceed it), SIGXFSZ ignored from the start, and TCP between the
    # ranks: Open MPI's shared-memory transport sizes a file past it.
    "$MPIEXEC" --oversubscribe -np 4 --mca btl self,tcp \
        bash -c 'trap "" XFSZ; ulimit -f 256; exec "$@"' - \
        "$DML_BIN/dml-exec" --plan plan.json --data synthetic --steps $STEPS \
        --seed 5 --shuffle epoch --db "$DB" --checkpoint-dir "$mnt/ck" \
        --checkpoint-every $EVERY >part.out 2>part.err || rc=$?
fi
echo "full disk by $mode: dml-exec exited $rc"
[ $rc -ne 0 ] || fail "dml-exec exited 0 on a full disk"
line=$(grep '^dml-exec: error:' part.err || true)
[ "$(grep -c '^dml-exec: error:' part.err)" -eq 1 ] ||
    fail "expected one error line: $(cat part.err)"
echo "$line" | grep -q "checkpoint step $failed_at not written, the run stops: .*$why" ||
    fail "the error does not name checkpoint $failed_at and '$why': $line"
if [ -n "$prev" ]; then
    echo "$line" | grep -q "checkpoint step $prev is intact" ||
        fail "the error does not name the intact checkpoint: $line"
else
    echo "$line" | grep -q "there is no earlier checkpoint" ||
        fail "the error does not say there is no earlier checkpoint: $line"
fi
run_id=$(q 'select max(id) from runs')
[ "$(q "select status from runs where id = $run_id")" = failed ] ||
    fail "run $run_id is $(q "select status from runs where id = $run_id")"
q "select error from runs where id = $run_id" | grep -q "$why" ||
    fail "the run's error does not say '$why'"
[ "$(q "select count(*) from events where run_id = $run_id and kind = 'checkpoint'
        and step = $failed_at")" -eq 1 ] || fail "no checkpoint event at step $failed_at"
left=$(find "$mnt/ck" -name '*.tmp.*' | wc -l)
[ "$left" -eq 0 ] || fail "$left temporary files left on the full disk"
[ ! -e "$mnt/ck/step-$(printf %08d $failed_at)/manifest.json" ] ||
    fail "the failed checkpoint has a manifest"
echo "ok $line"

if [ -n "$prev" ]; then
    # Room again: the intact checkpoint carries the run to the same end.
    cp -r "$mnt/ck" roomy
    run4 --checkpoint-dir roomy --checkpoint-every $EVERY --resume \
        --save-weights resumed.bin --json >res.out 2>res.err ||
        { cat res.err; fail "--resume from the intact checkpoint failed"; }
    grep -q "\"first_step\": $prev," res.out ||
        fail "did not resume from checkpoint $prev: $(grep first_step res.out)"
    cmp full.bin resumed.bin || fail "the resumed weights differ"
    echo "ok resumed from checkpoint $prev on a disk with room; weights bitwise equal"
fi
