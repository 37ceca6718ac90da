# Numbers on the command line that no integer can hold (issue 10): a
# double turned into int64 out of range is undefined behaviour, which
# showed as "internal: the plan made is not valid" (--tokens 1e30), a
# batch ramp dropped without a word (--batch-ramp 1e308), and seeds past
# 2^64 saturated or shown as -1 in dml-exec's --json summary. Each is now
# refused before conversion: exit 2, one line naming the option, nothing
# recorded; values in range still work.
source "$(dirname "$0")/lib.sh"
db=$scratch/dml.db
base=(--model gpt3-125m --cluster dgx-a100-80g --global-batch 512 --db "$db")

# refused OPTION VALUE WANT [ARGS...]: exit 2, one line saying WANT, no
# database made.
refused() {
    local opt=$1 val=$2 want=$3
    shift 3
    expect_exit 2 plan "${base[@]}" "$@" "$opt" "$val"
    one_line "$want"
    [ ! -e "$db" ] || fail "$opt $val: a database was made"
}
refused --tokens 1e30 '--tokens: "1e30" is not a number from 1 to 1e+18'
refused --tokens 1e400 '--tokens: "1e400" is not a number'
refused --tokens inf '--tokens: "inf" is not a number'
refused --tokens nan '--tokens: "nan" is not a number'
refused --batch-ramp 1e308 '--batch-ramp: "1e308" is not a number'
refused --noise-scale 1e300 '--noise-scale: "1e300" is not a number'
refused --base-lr 1e300 '--base-lr: "1e300" is not a number' --base-batch 512
refused --base-batch 1e300 '--base-batch: "1e300" is not a number' --base-lr 1e-4
# In range as numbers, but more steps than a plan holds at this batch.
expect_exit 2 plan --model mlp-fmnist --cluster dgx-a100-80g \
    --global-batch 1 --db "$db" --tokens 1e17
one_line '--tokens 1e+17: 1e+17 steps at a global batch of 1, more than a plan holds'
[ ! -e "$db" ] || fail "--tokens 1e17: a database was made"
expect_exit 2 plan --model mlp-fmnist --cluster dgx-a100-80g \
    --global-batch 1 --db "$db" --batch-ramp 1e13
one_line '--batch-ramp 1e+13: 1e+13 steps at a global batch of 1, more than a plan holds'
[ ! -e "$db" ] || fail "--batch-ramp 1e13: a database was made"

# Controls: a long ramp in range is planned, not dropped.
expect_exit 0 plan "${base[@]}" --tokens 300e9 --batch-ramp 1e17
grep -q 'batch ramp from' "$scratch/out" || fail "--batch-ramp 1e17: no ramp in the schedule"

# dml-exec --seed: 0 to 2^63 - 1, printed back exactly. (In a sanitizer
# build, Open MPI's own allocations at exit read as leaks, none in dml
# code; memory errors are still reported.)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
plan_tiny=$DML_FIXTURES/exec/plan-tiny.json
for seed in 9223372036854775808 18446744073709551615 18446744073709551616 \
            99999999999999999999999 -1 ' 7' 7x ''; do
    expect_exit 2 "$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic \
        --steps 1 --db "$scratch/exec.db" --seed "$seed"
    [ "$(grep -c . "$scratch/err")" -eq 1 ] \
        && grep -qF -- "--seed: '$seed' is not a whole number from 0 to 9223372036854775807" "$scratch/err" \
        || { cat "$scratch/err" >&2; fail "--seed '$seed': not the one line expected"; }
done
expect_exit 0 "$DML_BIN/dml-exec" --plan "$plan_tiny" --data synthetic \
    --steps 1 --db "$scratch/exec.db" --seed 9223372036854775807 --json
python3 - "$scratch/out" <<'PY' || fail "--seed 2^63-1 is not printed back exactly"
import json, sys
assert json.load(open(sys.argv[1]))["seed"] == 9223372036854775807
PY
echo ok
