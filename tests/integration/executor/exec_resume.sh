#!/usr/bin/env bash
# Checkpoints (issue 4): a run stopped at step 17 with checkpoints every 5
# steps, whose newest checkpoint (step 15) is then damaged (one shard
# corrupted) and whose step-10 one is complete, resumes from step 10 after
# reporting step 15, and ends with bitwise the same weights as the
# uninterrupted 24-step run. A checkpoint without its manifest (a writer
# killed half-way) is skipped too. Layout dp=2 x pp=2 with ZeRO-1, so
# every rank's shard is different; the database records the checkpoints
# and the restart.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
make_plan plan.json 2 1 2 1 4 4 1f1b adamw "$STAGES_2A"
common=(--plan plan.json --data synthetic --seed 3 --shuffle epoch
        --db "$work/dml.db")

run_exec 4 "${common[@]}" --steps 24 --save-weights full.bin --json \
    >full.out
run_exec 4 "${common[@]}" --steps 17 --checkpoint-dir ck \
    --checkpoint-every 5 --json >part.out
for s in 5 10 15; do
    [ -f ck/step-000000$(printf %02d $s)/manifest.json ] ||
        { echo "FAIL: checkpoint $s has no manifest"; ls -R ck; exit 1; }
done
n=$(ls ck/step-00000015/rank-*.bin | wc -l)
[ "$n" -eq 4 ] || { echo "FAIL: $n shards at step 15, expected 4"; exit 1; }

# Damage step 15: flip one byte in the middle of rank 2's shard.
f=ck/step-00000015/rank-00002.bin
size=$(stat -c %s $f)
printf '\xff' | dd of=$f bs=1 seek=$((size / 2)) count=1 conv=notrunc \
    status=none
# A partial checkpoint at step 16: shards but no manifest.
mkdir ck/step-00000016
cp ck/step-00000015/rank-*.bin ck/step-00000016/

run_exec 4 "${common[@]}" --steps 24 --checkpoint-dir ck --checkpoint-every 5 \
    --resume --save-weights resumed.bin --json >resumed.out 2>resumed.err
grep -q "step 16" resumed.err ||
    { echo "FAIL: the partial checkpoint 16 was not reported"; cat resumed.err; exit 1; }
grep -q "step 15.*rank 2" resumed.err ||
    { echo "FAIL: the corrupt shard of step 15 was not reported"; cat resumed.err; exit 1; }
grep -q '"first_step": 10' resumed.out ||
    { echo "FAIL: did not resume from step 10"; grep first_step resumed.out; exit 1; }
cmp full.bin resumed.bin ||
    { echo "FAIL: resumed weights differ from the uninterrupted run"; exit 1; }
echo "ok resumed from step 10; weights bitwise equal to the uninterrupted run"

# The losses of steps 10..23 are those of the uninterrupted run, exactly.
"$DML_BIN/../tests/integration/executor/exec_compare" losses full.out \
    resumed.out 0 ||
    { echo "FAIL: resumed losses differ from the uninterrupted run"; exit 1; }
if command -v sqlite3 >/dev/null; then
    ck=$(sqlite3 dml.db "select count(*) from checkpoints where valid = 1")
    [ "$ck" -ge 4 ] ||
        { echo "FAIL: $ck valid checkpoints recorded, expected >= 4"; exit 1; }
    ev=$(sqlite3 dml.db "select count(*) from events where kind = 'restart'")
    [ "$ev" -eq 1 ] || { echo "FAIL: $ev restart events"; exit 1; }
    echo "ok database: $ck checkpoints, 1 restart event"
fi
