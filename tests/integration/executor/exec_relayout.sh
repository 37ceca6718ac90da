#!/usr/bin/env bash
# Resuming onto another layout (issue 17). A run on 4 ranks, dp=2 x pp=2
# with ZeRO-1 (every rank's parameters and optimizer-state shard differ)
# under AdamW, is checkpointed at step 6 (sample 288); the checkpoint is
# resumed on 2 ranks (dp=1 x tp=2) and on 3 ranks (dp=3 with ZeRO-1, the
# state re-sharded over three; and pp=3), the global batch of 48 kept by
# more micro-batches. Each resumed run's steps 6..13 and final weights
# equal, within 1e-4 relative, those of the same new layout run from step
# 0 (the new layout's own path through the same state: layouts agree to
# about 3e-8, exec_equivalence), and the 4-rank run's. AdamW's moments
# matter: moments lost or misplaced change the next losses by far more
# than 1e-4. Refused, one line naming why, and the run starts from step 0:
# another global batch; a strategy that keeps state per replica
# (sync=topk); a corrupt shard of the other layout. SSP's clock, the same
# on every rank, is handed on (ssp:0 from dp=2 x pp=2 to dp=3). A
# checkpoint of the same layout still resumes bitwise (exec_resume).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
fail() { echo "FAIL: $*"; exit 1; }
cmp_run() { "$DML_BIN/../tests/integration/executor/exec_compare" "$@"; }
common=(--data synthetic --seed 3 --shuffle epoch --db "$work/dml.db")

make_plan p4.json 2 1 2 1 4 6 1f1b adamw "$STAGES_2A"
make_plan p2.json 1 2 1 0 8 6 1f1b adamw "$STAGES_1"
make_plan p3dp.json 3 1 1 1 4 4 1f1b adamw "$STAGES_1"
make_plan p3pp.json 1 1 3 0 4 12 1f1b adamw \
    '[{"first_layer":0,"last_layer":0},{"first_layer":1,"last_layer":1},{"first_layer":2,"last_layer":2}]'
for p in p4 p2 p3dp p3pp; do
    grep -q '"global_batch": 48' $p.json || fail "$p: global batch not 48"
done

run_exec 4 --plan p4.json "${common[@]}" --steps 14 --save-weights w4.bin \
    --json >full4.out
run_exec 4 --plan p4.json "${common[@]}" --steps 6 --checkpoint-dir ck4 \
    --checkpoint-every 6 --json >part4.out
[ -f ck4/step-00000006/manifest.json ] || fail "no checkpoint at step 6"

# resume NAME NP PLAN: the step-6 checkpoint resumed on PLAN, compared.
resume() {
    local name=$1 np=$2 plan=$3
    rm -rf "ck-$name"
    cp -r ck4 "ck-$name"
    run_exec "$np" --plan "$plan" "${common[@]}" --steps 14 \
        --save-weights "w-ref-$name.bin" --json >"ref-$name.out"
    run_exec "$np" --plan "$plan" "${common[@]}" --steps 14 \
        --checkpoint-dir "ck-$name" --checkpoint-every 100 --resume \
        --save-weights "w-$name.bin" --json >"$name.out" 2>"$name.err" ||
        { cat "$name.err"; fail "$name: the resumed run failed"; }
    grep -q '"first_step": 6,' "$name.out" ||
        { cat "$name.err"; fail "$name: did not resume from step 6"; }
    if command -v sqlite3 >/dev/null; then
        sqlite3 dml.db "select message from events where kind = 'restart'
                        order by id desc limit 1" | grep -q \
            "written by dp=2 tp=1 pp=2 zero=1, re-sharded onto" ||
            fail "$name: no restart event saying it re-sharded"
    fi
    cmp_run losses "ref-$name.out" "$name.out" 1e-4 ||
        fail "$name: losses of steps 6..13 differ from the layout's own run"
    cmp_run weights "w-ref-$name.bin" "w-$name.bin" 1e-4 ||
        fail "$name: final weights differ from the layout's own run"
    cmp_run losses full4.out "$name.out" 1e-4 ||
        fail "$name: losses differ from the uninterrupted 4-rank run"
    cmp_run weights w4.bin "w-$name.bin" 1e-4 ||
        fail "$name: final weights differ from the 4-rank run"
    echo "ok   $name: resumed at step 6 on $np ranks, equal to its own layout's run"
}
resume two 2 p2.json
resume three-dp 3 p3dp.json
resume three-pp 3 p3pp.json

# refused PLAN NP PATTERN [ENV]: the checkpoint of directory ck-refused is
# skipped with a line matching PATTERN, and the run starts from step 0.
refused() {
    local plan=$1 np=$2 pattern=$3
    run_exec "$np" --plan "$plan" "${common[@]}" --steps 8 \
        --checkpoint-dir ck-refused --resume --json >refused.out \
        2>refused.err || { cat refused.err; fail "$plan: run failed"; }
    grep -q '"first_step": 0,' refused.out || fail "$plan: did not start at 0"
    [ "$(grep -c "skipping checkpoint step 6" refused.err)" -eq 1 ] ||
        { cat refused.err; fail "$plan: not one line skipping step 6"; }
    grep -q -- "$pattern" refused.err ||
        { cat refused.err; fail "$plan: no line saying '$pattern'"; }
    echo "ok   refused on $plan: $pattern"
}
rm -rf ck-refused && cp -r ck4 ck-refused
make_plan p3b.json 3 1 1 0 4 3 1f1b adamw "$STAGES_1"
refused p3b.json 3 "another training: schedule.global_batch is 48 there, 36 here"

rm -rf ck-refused && cp -r ck4 ck-refused
f=ck-refused/step-00000006/rank-00003.bin
printf '\xff' | dd of=$f bs=1 seek=$(($(stat -c %s $f) / 2)) count=1 \
    conv=notrunc status=none
refused p2.json 2 "rank-00003.bin: SHA-256 .* corrupt shard"

# SSP's state is its clock, the same on every rank: handed on. ssp:0 is
# synchronous SGD, so the resumed run is its own layout's run again.
SYNC=ssp:0 make_plan s4.json 2 1 2 0 4 6 1f1b adamw "$STAGES_2A"
SYNC=ssp:0 make_plan s3.json 3 1 1 0 4 4 1f1b adamw "$STAGES_1"
rm -rf ck-ssp
run_exec 4 --plan s4.json "${common[@]}" --steps 6 --checkpoint-dir ck-ssp \
    --checkpoint-every 6 --json >ssp4.out
run_exec 3 --plan s3.json "${common[@]}" --steps 14 --save-weights w-ssp-ref.bin \
    --json >ssp-ref.out
run_exec 3 --plan s3.json "${common[@]}" --steps 14 --checkpoint-dir ck-ssp \
    --resume --save-weights w-ssp.bin --json >ssp.out 2>ssp.err ||
    { cat ssp.err; fail "ssp:0: the resumed run failed"; }
grep -q '"first_step": 6,' ssp.out || { cat ssp.err; fail "ssp:0: did not resume from step 6"; }
cmp_run losses ssp-ref.out ssp.out 1e-4 || fail "ssp:0: losses differ from its own layout's run"
cmp_run weights w-ssp-ref.bin w-ssp.bin 1e-4 || fail "ssp:0: weights differ from its own layout's run"
echo "ok   sync=ssp:0 resumed on dp=3 from dp=2 x pp=2, its clock handed on"

SYNC=topk:0.5 make_plan t4.json 2 1 2 0 4 6 1f1b adamw "$STAGES_2A"
SYNC=topk:0.5 make_plan t3.json 3 1 1 0 4 4 1f1b adamw "$STAGES_1"
rm -rf ck-refused
run_exec 4 --plan t4.json "${common[@]}" --steps 6 --checkpoint-dir ck-refused \
    --checkpoint-every 6 --json >topk.out
refused t3.json 3 "sync=topk keeps state of its own per replica"
