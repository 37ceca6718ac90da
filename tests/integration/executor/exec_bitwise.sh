#!/usr/bin/env bash
# exec_bitwise.sh BASE_BIN NEW_BIN: does a change to the executor leave its
# results bitwise unchanged? (issue 13: the executor was reshaped into
# parts with behaviour unchanged.)
#
# Runs the same set of trainings with BASE_BIN/dml-exec (a build of the
# commit before the change, e.g. `git worktree add /tmp/exec-base HEAD`
# then `scripts/build /tmp/exec-base/build`, BASE_BIN=/tmp/exec-base/build/
# tools) and NEW_BIN/dml-exec, and compares with cmp:
#   - the --save-weights file of every run;
#   - every step's loss and gradient-noise estimate (--json, exactly);
#   - with checkpoints, every shard and manifest the run wrote, and the
#     weights of a run resumed from them.
# The runs cover every layout the executor supports on up to 4 ranks
# (dp, tp, pp and their products; ZeRO 0 and 1; 1F1B and GPipe; both cuts
# of the 3-layer MLP into 2 stages, and 3 stages), each optimizer, buckets
# of the default size and of 64 and 200 bytes, a batch ramp, an odd dp
# (ZeRO shards padded to a multiple of 3), --shuffle epoch and tanh/gelu
# activations, all on synthetic data with fixed seeds.
#
# Not a ctest test: it needs a second build. Exit 0 when every comparison
# is equal; prints one line per run.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BASE_BIN NEW_BIN" >&2; exit 2; }
base=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../scripts/env.sh"
. "$here/lib.sh"

# plan FILE DP TP PP ZERO MBS MB SCHEDULE OPTIMIZER STAGES [ACT]: lib.sh's
# plan, with the activation as an argument.
plan() { ACT=${11:-} make_plan "${@:1:10}"; }
MPIEXEC=${MPIEXEC:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
steps=${STEPS:-20}
failures=0
runs=0


# The losses and noise estimates of a --json summary, one per line, as
# printed (jansson writes doubles with 17 significant digits).
series() {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in ("first_step","steps","losses","noise_scale"): print(k, repr(d[k]))' "$1"
}

# once BIN TAG NAME NP EXTRA-ARGS...: one run into TAG/NAME.*
once() {
    local bin=$1 tag=$2 name=$3 np=$4
    shift 4
    mkdir -p "$tag"
    "$MPIEXEC" --oversubscribe -np "$np" "$bin/dml-exec" --plan "$name.json" \
        --data synthetic --db "$work/$tag.db" --json \
        --save-weights "$tag/$name.bin" "$@" >"$tag/$name.out" \
        2>"$tag/$name.err"
}

# run NAME NP SEED SHUFFLE BUCKET PLAN-ARGS...: the plan run by both builds.
run() {
    local name=$1 np=$2 seed=$3 shuffle=$4 bucket=$5
    shift 5
    plan "$name.json" "$@"
    local extra=(--steps "$steps" --seed "$seed" --shuffle "$shuffle")
    [ "$bucket" = - ] || extra+=(--bucket-bytes "$bucket")
    compare "$name" "$np" "${extra[@]}"
}

# compare NAME NP ARGS...: run NAME.json with both builds and compare.
compare() {
    local name=$1 np=$2
    shift 2
    runs=$((runs + 1))
    for tag in base new; do
        local bin=$base
        [ $tag = new ] && bin=$new
        if ! once "$bin" $tag "$name" "$np" "$@"; then
            echo "FAIL $name: the $tag build failed"
            cat "$tag/$name.err"
            failures=$((failures + 1))
            return
        fi
    done
    if cmp -s "base/$name.bin" "new/$name.bin" &&
        diff <(series "base/$name.out") <(series "new/$name.out") >/dev/null
    then
        echo "same $name ($(stat -c %s "new/$name.bin") bytes of weights," \
             "$(series new/$name.out | grep -c . ) series)"
    else
        echo "DIFF $name"
        cmp "base/$name.bin" "new/$name.bin" || true
        { diff <(series "base/$name.out") <(series "new/$name.out") || true; } |
            head -5
        failures=$((failures + 1))
    fi
}

for opt in sgd adamw lamb lars; do
    export PEAK_LR=0.01
    [ $opt = lars ] && PEAK_LR=2.0
    #   name             np seed shuffle bucket  dp tp pp z mbs mb sched
    run 1-$opt           1  7    none    -       1  1  1  0 8   4  1f1b  $opt "$STAGES_1"
    run dp2-$opt         2  7    epoch   -       2  1  1  0 8   2  1f1b  $opt "$STAGES_1"
    run dp2z-$opt        2  7    none    200     2  1  1  1 8   2  1f1b  $opt "$STAGES_1"
    run tp2-$opt         2  7    none    -       1  2  1  0 8   4  1f1b  $opt "$STAGES_1"
    run pp2a-$opt        2  7    none    -       1  1  2  0 8   4  1f1b  $opt "$STAGES_2A"
    run pp2bg-$opt       2  7    epoch   -       1  1  2  0 8   4  gpipe $opt "$STAGES_2B"
    run dp2tp2z-$opt     4  7    none    200     2  2  1  1 8   2  1f1b  $opt "$STAGES_1"
    run dp2pp2z-$opt     4  7    none    -       2  1  2  1 4   4  1f1b  $opt "$STAGES_2A"
    run tp2pp2g-$opt     4  7    none    -       1  2  2  0 8   4  gpipe $opt "$STAGES_2B"
    run dp4z-$opt        4  7    none    64      4  1  1  1 4   2  1f1b  $opt "$STAGES_1"
done
export PEAK_LR=0.01
run dp2tp2-adamw-b       4  3    epoch   200     2  2  1  0 8   2  1f1b  adamw "$STAGES_1"
run dp2pp2g-adamw        4  3    none    -       2  1  2  0 2   8  gpipe adamw "$STAGES_2B"
run dp2pp2zg-adamw       4  3    none    64      2  1  2  1 2   8  gpipe adamw "$STAGES_2B"
run dp4-adamw            4  3    none    200     4  1  1  0 4   2  1f1b  adamw "$STAGES_1"
run tp4-adamw            4  3    none    -       1  4  1  0 8   4  1f1b  adamw "$STAGES_1"
run pp3-adamw            3  3    none    -       1  1  3  0 4   4  1f1b  adamw "$STAGES_3"
run pp3g-lamb            3  3    none    -       1  1  3  0 4   4  gpipe lamb  "$STAGES_3"
run dp3z-adamw           3  3    none    -       3  1  1  1 4   2  1f1b  adamw "$STAGES_1"
run dp3z-lamb-b          3  3    epoch   64      3  1  1  1 4   2  1f1b  lamb  "$STAGES_1"
run dp2-m3-adamw         2  3    none    -       2  1  1  0 4   3  1f1b  adamw "$STAGES_1"
run tp2-tanh-sgd         2  5    none    -       1  2  1  0 8   4  1f1b  sgd   "$STAGES_1" tanh
run dp2z-gelu-lars       2  5    none    200     2  1  1  1 8   2  1f1b  lars  "$STAGES_1" gelu
RAMP='[{"until_step": 8, "global_batch": 16}]' \
run ramp-dp2pp2z         4  3    none    -       2  1  2  1 4   4  1f1b  adamw "$STAGES_2A"
RAMP='[{"until_step": 8, "global_batch": 16}]' \
run ramp-tp2pp2g         4  3    none    -       1  2  2  0 8   4  gpipe adamw "$STAGES_2B"

# Checkpoints and resume: the shards and manifests written on the way, and
# the weights of a run resumed from its step-8 checkpoint after the
# step-12 one is removed (optimizer state saved and restored).
ckpt() { # NAME NP PLAN-ARGS...
    local name=$1 np=$2
    shift 2
    plan "$name.json" "$@"
    cp "$name.json" "$name-resumed.json"
    runs=$((runs + 1))
    local tag bin ok=1
    for tag in base new; do
        bin=$base
        [ $tag = new ] && bin=$new
        rm -rf "$tag/$name.ck"
        once "$bin" $tag "$name" "$np" --steps 12 --seed 9 --shuffle epoch \
            --checkpoint-dir "$tag/$name.ck" --checkpoint-every 4 &&
        rm -rf "$tag/$name.ck/step-00000012" &&
        once "$bin" $tag "$name-resumed" "$np" --steps 16 --seed 9 --shuffle epoch --resume \
            --checkpoint-dir "$tag/$name.ck" --checkpoint-every 100 || {
            echo "FAIL $name: the $tag build failed"
            cat "$tag/$name.err" "$tag/$name-resumed.err" 2>/dev/null
            failures=$((failures + 1))
            return
        }
        rm -rf "$tag/$name.ck/ranks" # state files name pids and hosts
    done
    diff -r base/"$name.ck" new/"$name.ck" >/dev/null || ok=0
    cmp -s "base/$name.bin" "new/$name.bin" || ok=0
    cmp -s "base/$name-resumed.bin" "new/$name-resumed.bin" || ok=0
    diff <(series "base/$name-resumed.out") \
        <(series "new/$name-resumed.out") >/dev/null || ok=0
    if [ $ok = 1 ]; then
        echo "same $name ($(find new/$name.ck -type f | wc -l) checkpoint" \
             "files, weights, resumed weights and series)"
    else
        echo "DIFF $name"
        { diff -r base/"$name.ck" new/"$name.ck" || true; } | head -5
        failures=$((failures + 1))
    fi
}
#    name        np  dp tp pp z mbs mb sched opt  stages
ckpt ck-dp2pp2z  4   2  1  2  1 4   4  1f1b  lamb "$STAGES_2A"
ckpt ck-dp2tp2z  4   2  2  1  1 8   2  1f1b  lamb "$STAGES_1"
ckpt ck-dp2      2   2  1  1  0 8   2  1f1b  adamw "$STAGES_1"
ckpt ck-1        1   1  1  1  0 8   4  gpipe sgd  "$STAGES_1"

echo "$runs configurations, $failures differ"
[ $failures -eq 0 ]
