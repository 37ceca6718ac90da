#!/usr/bin/env bash
# The compressed strategies under dml-exec (issue 15), 4 ranks of the
# small MLP on synthetic data, for sync=fp16, bf16, topk:0.1,
# topk-noef:0.1 and powersgd:2 (dp=4; top-k and PowerSGD also dp=2 x tp=2
# and dp=2 x pp=2; fp16 with ZeRO-1):
#   - deterministic with a seed: two runs end with bitwise the same
#     weights;
#   - resumable: a run checkpointed every 5 steps and stopped at 12,
#     resumed from step 10, ends with bitwise the weights and losses of the
#     uninterrupted 16-step run (top-k's residuals and PowerSGD's residual
#     and Q are in the checkpoint);
#   - the bytes per step of --json: fp16 and bf16 half of allreduce's;
#     top-k (dp-1) k (4 + 4) with k = ceil(0.1 x 868) = 87; PowerSGD the
#     two allreduces of R (rows + cols) per matrix plus the biases;
#   - a checkpoint of one strategy is refused by a run of another, naming
#     parallel.sync.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
compare="$DML_BIN/../tests/integration/executor/exec_compare"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

common=(--data synthetic --seed 5 --shuffle epoch --db "$work/dml.db"
        --json)

# per_rank_bytes OUT: bytes_per_step.per_replica.intra_node of a --json file
per_rank_bytes() {
    python3 -c 'import json,sys
print(int(json.load(open(sys.argv[1]))["bytes_per_step"]["per_replica"]["intra_node"]))' "$1"
}

# check NAME SYNC DP TP PP ZERO STAGES: determinism and resume.
check() {
    local name=$1 sync=$2 dp=$3 tp=$4 pp=$5 zero=$6 stages=$7
    local before=$failures
    SYNC=$sync make_plan "$name.json" "$dp" "$tp" "$pp" "$zero" 4 2 1f1b \
        sgd "$stages"
    local args=(--plan "$name.json" "${common[@]}")
    run_exec 4 "${args[@]}" --steps 16 --save-weights "$name-a.bin" \
        >"$name-a.out" 2>"$name-a.err" || { fail "$name: run failed";
        cat "$name-a.err"; return; }
    run_exec 4 "${args[@]}" --steps 16 --save-weights "$name-b.bin" \
        >"$name-b.out" 2>/dev/null
    cmp -s "$name-a.bin" "$name-b.bin" ||
        fail "$name: two runs with one seed differ"
    run_exec 4 "${args[@]}" --steps 12 --checkpoint-dir "ck-$name" \
        --checkpoint-every 5 >/dev/null 2>&1
    run_exec 4 "${args[@]}" --steps 16 --checkpoint-dir "ck-$name" \
        --checkpoint-every 5 --resume --save-weights "$name-r.bin" \
        >"$name-r.out" 2>"$name-r.err"
    grep -q '"first_step": 10' "$name-r.out" ||
        fail "$name: did not resume from step 10"
    cmp -s "$name-a.bin" "$name-r.bin" ||
        fail "$name: the resumed run's weights differ"
    "$compare" losses "$name-a.out" "$name-r.out" 0 >/dev/null ||
        fail "$name: the resumed run's losses differ"
    [ $failures -eq "$before" ] || return 0
    echo "ok   $name: deterministic, resumed bitwise," \
         "$(per_rank_bytes "$name-a.out") bytes/step/rank"
}

#      name         sync            dp tp pp zero stages
check  dense        allreduce       4  1  1  0    "$STAGES_1"
check  fp16         fp16            4  1  1  0    "$STAGES_1"
check  bf16         bf16            4  1  1  0    "$STAGES_1"
check  fp16z-tp2    fp16            2  2  1  1    "$STAGES_1"
check  topk         topk:0.1        4  1  1  0    "$STAGES_1"
check  topknoef     topk-noef:0.1   4  1  1  0    "$STAGES_1"
check  topk-tp2     topk:0.1        2  2  1  0    "$STAGES_1"
check  topk-pp2     topk:0.1        2  1  2  0    "$STAGES_2A"
check  psgd         powersgd:2      4  1  1  0    "$STAGES_1"
check  psgd-tp2     powersgd:2      2  2  1  0    "$STAGES_1"
check  psgd-pp2     powersgd:2      2  1  2  0    "$STAGES_2B"

# Bytes per step per rank (the MLP 32-16-16-4: 868 parameters; dense
# pads to 868, a multiple of 4): allreduce 2 (3/4) 868 x 4.
dense=$(per_rank_bytes dense-a.out)
[ "$dense" -eq 5208 ] || fail "allreduce: $dense bytes, expected 5208"
for s in fp16 bf16; do
    b=$(per_rank_bytes $s-a.out)
    [ $((2 * b)) -eq "$dense" ] || fail "$s: $b bytes, not half of $dense"
done
for s in topk topknoef; do
    b=$(per_rank_bytes $s-a.out)
    [ "$b" -eq $((3 * 87 * 8)) ] || fail "$s: $b bytes, expected 2088"
done
# PowerSGD R = 2: P 2 (16 + 16 + 4) + biases 36 = 108, Q 2 (32 + 16 + 16)
# = 128 values, each allreduced: 2 (3/4) (108 + 128) x 4
b=$(per_rank_bytes psgd-a.out)
[ "$b" -eq 1416 ] || fail "powersgd:2: $b bytes, expected 1416"

# A top-k checkpoint resumed as allreduce, and one of allreduce as
# PowerSGD: refused (the run starts afresh), naming the strategy.
run_exec 4 --plan dense.json "${common[@]}" --steps 16 \
    --checkpoint-dir ck-topk --checkpoint-every 5 --resume \
    >cross.out 2>cross.err
grep -q 'parallel.sync is topk:0.1 there, absent here' cross.err ||
    { fail "a top-k checkpoint was not refused by allreduce"; cat cross.err; }
run_exec 4 --plan psgd.json "${common[@]}" --steps 16 \
    --checkpoint-dir ck-dense --checkpoint-every 5 --resume \
    >cross2.out 2>cross2.err
grep -q 'parallel.sync is absent there, powersgd:2 here' cross2.err ||
    { fail "an allreduce checkpoint was not refused by powersgd"; cat cross2.err; }
grep -q '"first_step": 0' cross2.out || fail "powersgd resumed another's"

[ $failures -eq 0 ] || { echo "$failures failures"; exit 1; }
