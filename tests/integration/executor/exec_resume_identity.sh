#!/usr/bin/env bash
# --resume takes only a checkpoint of the same training (issue 10, items 5
# and a low one). A run of the small MLP writes checkpoints at steps 5, 10,
# 15 and 20; then:
#  - another plan (activation, learning rate, Adam beta2, micro-batch
#    split), another seed or other starting weights: every checkpoint is
#    skipped with a warning naming the field that differs, and the run
#    starts from step 0 (as with no checkpoint; before, each resumed with
#    exit 0 and matched no uninterrupted run);
#  - --steps 7: the checkpoints past step 7 are not used (one line), the
#    run resumes from step 5 and reports 7 steps (before: "ok", 20 steps);
#  - a manifest without the identity (an older dml-exec): refused, saying
#    so;
#  - 2000 stray step-N folders: four warning lines and one checkpoint
#    event, not 2000 of each;
#  - the same plan resumes from step 20 as before.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
make_plan plan.json 1 1 1 0 8 4 1f1b adamw "$STAGES_1"
common=(--data synthetic --seed 3 --db "$work/dml.db" --checkpoint-dir ck)
fail() { echo "FAIL: $*"; exit 1; }

"$DML_BIN/dml-exec" --plan plan.json "${common[@]}" --steps 20 \
    --checkpoint-every 5 --json >first.out
[ -f ck/step-00000020/manifest.json ] || fail "no checkpoint at step 20"

# resume_from NAME WANT_FIRST PATTERN ARGS...: dml-exec --resume exits 0,
# starts at step WANT_FIRST, and (PATTERN not empty) warns PATTERN.
resume_from() {
    local name=$1 first=$2 pattern=$3
    shift 3
    "$DML_BIN/dml-exec" "${common[@]}" --resume --json "$@" \
        >"$name.out" 2>"$name.err" ||
        { cat "$name.err"; fail "$name: dml-exec --resume failed"; }
    grep -q "\"first_step\": $first," "$name.out" ||
        fail "$name: started at $(grep first_step "$name.out"), expected step $first"
    if [ -n "$pattern" ]; then
        grep -q -- "$pattern" "$name.err" ||
            { cat "$name.err"; fail "$name: no warning saying '$pattern'"; }
    fi
    echo "ok   $name: first step $first${pattern:+; warned '$pattern'}"
}

# Plans that differ in one thing that changes the result.
sed 's/"dtype": "fp32"/"dtype": "fp32", "activation": "tanh"/' plan.json >act.json
PEAK_LR=0.02 make_plan lr.json 1 1 1 0 8 4 1f1b adamw "$STAGES_1"
sed 's/"weight_decay": 0.01,/"weight_decay": 0.01, "beta2": 0.95,/' plan.json >beta2.json
make_plan split.json 1 1 1 0 16 2 1f1b adamw "$STAGES_1"
for c in "act model.activation is relu there, tanh here" \
         "lr schedule.peak_lr is 0.01 there, 0.02 here" \
         "beta2 schedule.beta2 is 0.999 there, 0.95 here" \
         "split parallel.mbs is 8 there, 16 here"; do
    read -r name why <<<"$c"
    resume_from "$name" 0 "skipping checkpoint step 20 (rank 0): .*written for another plan, data or start.*$why" \
        --plan "$name.json" --steps 20
    grep -q "no valid checkpoint under ck; starting from step 0" "$name.err" ||
        fail "$name: did not say it starts from step 0"
done
resume_from seed 0 "written with seed 3 shuffle none, this run uses seed 4" \
    --plan plan.json --steps 20 --seed 4
"$DML_BIN/dml-exec" --plan plan.json --data synthetic --steps 2 \
    --db "$work/dml.db" --save-weights start.bin >/dev/null
resume_from init 0 "init_weights is none there, sha256:" \
    --plan plan.json --steps 20 --init-weights start.bin

# --steps below the newest checkpoint: those past it are not used.
resume_from steps7 5 "3 checkpoints past --steps 7 not used (step 20, step 15, step 10)" \
    --plan plan.json --steps 7
grep -q '"steps": 7,' steps7.out || fail "steps7: $(grep '"steps"' steps7.out)"

# The same plan: resumes from the newest.
resume_from same 20 "" --plan plan.json --steps 24

# A manifest written before the identity existed.
cp -r ck ck-old
for m in ck-old/step-*/manifest.json; do
    python3 - "$m" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["identity"], m["identity_text"]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
done
"$DML_BIN/dml-exec" --plan plan.json --data synthetic --seed 3 \
    --db "$work/dml.db" --checkpoint-dir ck-old --resume --steps 24 --json \
    >old.out 2>old.err || { cat old.err; fail "old manifests: exit status $?"; }
grep -q "skipping checkpoint step 20 (rank 0): .*written by an older dml-exec" old.err ||
    { cat old.err; fail "old manifests: not refused as such"; }
grep -q '"first_step": 0,' old.out || fail "old manifests: resumed"
echo "ok   old manifests refused: $(grep -m1 'older' old.err | cut -c1-120)..."

# 2000 stray step folders (no manifest) above the real checkpoints.
for i in $(seq 21 2020); do printf 'ck/step-%08d\n' "$i"; done | xargs mkdir
run_id_before=$(sqlite3 dml.db 'select max(id) from runs')
resume_from stray 20 "1997 more checkpoints skipped, not valid on every rank (2000 in all: step 2020, step 2019, step 2018, step 2017, ...)" \
    --plan plan.json --steps 2030
lines=$(grep -c 'warning' stray.err || true)
[ "$lines" -le 4 ] || fail "stray: $lines warning lines, expected at most 4"
run=$(sqlite3 dml.db 'select max(id) from runs')
[ "$run" -gt "$run_id_before" ] || fail "stray: no new run"
ev=$(sqlite3 dml.db "select count(*) from events where run_id = $run and kind = 'checkpoint'")
[ "$ev" -eq 1 ] || fail "stray: $ev checkpoint events, expected 1"
sqlite3 dml.db "select message from events where run_id = $run and kind = 'checkpoint'" |
    grep -q "^2000 checkpoints skipped, not valid on every rank (step 2020, " ||
    fail "stray: event says $(sqlite3 dml.db "select message from events where run_id = $run and kind = 'checkpoint'")"
echo "ok   2000 stray folders: $lines warning lines, 1 event"
