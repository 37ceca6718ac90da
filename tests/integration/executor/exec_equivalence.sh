#!/usr/bin/env bash
# The result must not depend on the layout (issue 4): with the same seed,
# global batch (32), data order and 32 steps, every layout with dp, tp,
# pp in {1, 2} (up to 4 ranks, ZeRO-1 on and off, 1F1B and GPipe, both
# ways of cutting the 3-layer MLP into 2 stages) gives every step's loss
# and the final weights of the 1-rank run within 1e-4 relative. AdamW runs
# every layout; SGD (with --shuffle epoch), LAMB and LARS the layouts whose
# norms and shards are the hardest to get right (their full-tensor norms
# are summed over TP and ZeRO shards). A batch-size ramp (16 samples for 8
# steps, then 32) changes the micro-batch count per step the same way in
# every layout. Some layouts cut the gradients into buckets of 200 bytes
# (many buckets, layers split across them, ZeRO shards inside each).
# sync=hierarchical (reduce-scatter, allreduce, all-gather node by node)
# runs with and without ZeRO-1 and agrees with the flat ring's run of the
# same layout within 1e-6. The compressed strategies (issue 15), each
# within its own bound of the 1-rank run: topk:1 sends every entry, so it
# is the dense sum in another order (1e-4, as every layout); SGD runs of
# a tanh MLP sending fp16 (2e-3), bf16 (2e-2) and PowerSGD at the full
# rank of every matrix (16: 2e-3) on dp 4, dp2 x tp2 and dp2 x pp2, with
# and without ZeRO-1 (measured: 8.3e-4, 8.6e-3, 7.4e-4 at most, in a
# bias; under AdamW, whose update divides by each gradient's own size,
# the small gradients' rounding is not damped, so these are checked with
# SGD; under ReLU a flipped unit makes the difference grow, see below).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
compare="$DML_BIN/../tests/integration/executor/exec_compare"
steps=32
tol=1e-4
failures=0

# run_layout NAME NP OPT SHUFFLE PLAN-ARGS...: run a layout and compare it with
# the 1-rank reference of the same optimizer, within $TOL (default 1e-4).
run_layout() {
    local name=$1 np=$2 opt=$3 shuffle=$4
    shift 4
    make_plan "$name.json" "$@"
    if ! run_exec "$np" --plan "$name.json" --steps $steps --data synthetic \
        --seed 7 --shuffle "$shuffle" --db "$work/dml.db" --json ${BUCKETS:-} \
        --save-weights "$name.bin" >"$name.out" 2>"$name.err"; then
        echo "FAIL $name: dml-exec failed"; cat "$name.err"
        failures=$((failures + 1))
        return
    fi
    [ "$name" = "ref-$opt" ] && return
    local t=${TOL:-$tol}
    if "$compare" losses "ref-$opt.out" "$name.out" $t >"$name.cmp" &&
        "$compare" weights "ref-$opt.bin" "$name.bin" $t >>"$name.cmp"; then
        echo "ok   $name ($(head -1 "$name.cmp"))"
    else
        echo "FAIL $name: differs from the 1-rank run by more than $t"
        cat "$name.cmp"
        failures=$((failures + 1))
    fi
}

for opt in adamw sgd lamb lars; do
    shuffle=none
    [ $opt = sgd ] && shuffle=epoch
    # LARS scales the rate by eta = 0.001 (You et al. 2017): a larger peak
    # rate makes its updates big enough for a wrong norm to show.
    export PEAK_LR=0.01
    [ $opt = lars ] && PEAK_LR=2.0
    # name                np  opt shuffle  dp tp pp zero mbs mb schedule
    run_layout ref-$opt     1 $opt $shuffle 1 1 1 0 8 4 1f1b $opt "$STAGES_1"
    BUCKETS="--bucket-bytes 200" \
    run_layout dp2tp2z-$opt 4 $opt $shuffle 2 2 1 1 8 2 1f1b $opt "$STAGES_1"
    run_layout dp2pp2z-$opt 4 $opt $shuffle 2 1 2 1 4 4 1f1b $opt "$STAGES_2A"
    run_layout tp2pp2-$opt  4 $opt $shuffle 1 2 2 0 8 4 1f1b $opt "$STAGES_2B"
    [ $opt != adamw ] && continue
    run_layout dp2-$opt     2 $opt $shuffle 2 1 1 0 8 2 1f1b $opt "$STAGES_1"
    BUCKETS="--bucket-bytes 200" \
    run_layout dp2z-$opt    2 $opt $shuffle 2 1 1 1 8 2 1f1b $opt "$STAGES_1"
    run_layout tp2-$opt     2 $opt $shuffle 1 2 1 0 8 4 1f1b $opt "$STAGES_1"
    run_layout pp2-$opt     2 $opt $shuffle 1 1 2 0 8 4 1f1b $opt "$STAGES_2A"
    run_layout pp2g-$opt    2 $opt $shuffle 1 1 2 0 8 4 gpipe $opt "$STAGES_2B"
    BUCKETS="--bucket-bytes 200" \
    run_layout dp2tp2-$opt  4 $opt $shuffle 2 2 1 0 8 2 1f1b $opt "$STAGES_1"
    run_layout dp2pp2-$opt  4 $opt $shuffle 2 1 2 0 2 8 gpipe $opt "$STAGES_2B"
    # sync=hierarchical (issue 14): node by node, here all on one node
    # (the emulated cluster's tests run it across nodes)
    run_layout dp4-$opt     4 $opt $shuffle 4 1 1 0 8 1 1f1b $opt "$STAGES_1"
    SYNC=hierarchical \
    run_layout dp4h-$opt    4 $opt $shuffle 4 1 1 0 8 1 1f1b $opt "$STAGES_1"
    SYNC=hierarchical BUCKETS="--bucket-bytes 200" \
    run_layout dp2tp2zh-$opt 4 $opt $shuffle 2 2 1 1 8 2 1f1b $opt "$STAGES_1"
    # top-k keeping every entry (issue 15): the same sums
    SYNC=topk:1 \
    run_layout dp4k-$opt    4 $opt $shuffle 4 1 1 0 8 1 1f1b $opt "$STAGES_1"
    SYNC=topk:1 BUCKETS="--bucket-bytes 200" \
    run_layout dp2tp2k-$opt 4 $opt $shuffle 2 2 1 0 8 2 1f1b $opt "$STAGES_1"
    SYNC=topk:1 \
    run_layout dp2pp2k-$opt 4 $opt $shuffle 2 1 2 0 2 8 gpipe $opt "$STAGES_2B"
    # the same sums in another order: within 1e-6 of the flat ring's
    if "$compare" losses dp4-$opt.out dp4h-$opt.out 1e-6 >dp4h.cmp &&
        "$compare" weights dp4-$opt.bin dp4h-$opt.bin 1e-6 >>dp4h.cmp; then
        echo "ok   dp4h-$opt against dp4-$opt within 1e-6"
    else
        echo "FAIL dp4h-$opt: differs from dp4-$opt by more than 1e-6"
        cat dp4h.cmp
        failures=$((failures + 1))
    fi
done
export PEAK_LR=0.01
# issue 15: 16-bit sums and PowerSGD at full rank, against the SGD run of
# a tanh MLP: on ReLU's kink their rounding (2^-11, 2^-8, Gram-Schmidt's)
# can flip a unit and the difference then grows past the rounding's
# scale (issue 12: 1.3e-2 in a bias measured for PowerSGD here, 1.5e-2
# for bf16 with another seed), which would test the kink, not the sums
export ACT=tanh
run_layout ref-tanh     1 tanh epoch 1 1 1 0 8 4 1f1b sgd "$STAGES_1"
TOL=2e-3 SYNC=fp16 \
run_layout dp4f-sgd     4 tanh epoch 4 1 1 0 8 1 1f1b sgd "$STAGES_1"
TOL=2e-2 SYNC=bf16 \
run_layout dp4b-sgd     4 tanh epoch 4 1 1 0 8 1 1f1b sgd "$STAGES_1"
TOL=2e-3 SYNC=fp16 BUCKETS="--bucket-bytes 200" \
run_layout dp2tp2zf-sgd 4 tanh epoch 2 2 1 1 8 2 1f1b sgd "$STAGES_1"
TOL=2e-2 SYNC=bf16 \
run_layout dp2pp2zb-sgd 4 tanh epoch 2 1 2 1 4 4 1f1b sgd "$STAGES_2A"
TOL=2e-3 SYNC=powersgd:16 \
run_layout dp4p-sgd     4 tanh epoch 4 1 1 0 8 1 1f1b sgd "$STAGES_1"
TOL=2e-3 SYNC=powersgd:16 \
run_layout dp2tp2p-sgd  4 tanh epoch 2 2 1 0 8 2 1f1b sgd "$STAGES_1"
TOL=2e-3 SYNC=powersgd:16 \
run_layout dp2pp2p-sgd  4 tanh epoch 2 1 2 0 2 8 gpipe sgd "$STAGES_2B"
unset ACT
export RAMP='[{"until_step": 8, "global_batch": 16}]'
run_layout ref-ramp     1 ramp none 1 1 1 0 8 4 1f1b adamw "$STAGES_1"
run_layout dp2pp2z-ramp 4 ramp none 2 1 2 1 4 4 1f1b adamw "$STAGES_2A"
run_layout tp2pp2-ramp  4 ramp none 1 2 2 0 8 4 gpipe adamw "$STAGES_2B"
unset RAMP
[ $failures -eq 0 ] || { echo "$failures layouts differ"; exit 1; }
