#!/usr/bin/env bash
# Numbers a run must not go on with (issue 10, items 6 and a low one).
# Before, only a loss that was NaN or infinite stopped a run:
#  - a NaN in a hidden unit, which ReLU written as `x > 0 ? x : 0` turned
#    into 0: starting weights where hidden unit 0 of layer 0 takes every
#    input with weight 3e38 (its value overflows to +inf) and layer 1
#    reads it with weight 0 (inf x 0 = NaN) trained 5 steps with exit 0
#    and --save-weights wrote NaN. Now the NaN reaches the loss: exit 1 at
#    step 0, a 'nan' event, the run failed, no weight file;
#  - a loss that grew to 4e8 (SGD at learning rate 5) was recorded as ok.
#    Now the run stops when the loss passes 1000 x max(first loss, 1):
#    exit 1, a 'diverged' event, the run failed.
# (Non-finite values in --init-weights and in checkpoints are refused on
# input: tests/fixtures/bad, weights/ and ckpt/ cases.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
enter_work
fail() { echo "FAIL: $*"; exit 1; }
plan=$DML_FIXTURES/exec/plan-tiny.json

# expect_stop NAME KIND PATTERN ARGS...: exit 1, one error line matching
# PATTERN, the run failed with one event of KIND.
expect_stop() {
    local name=$1 kind=$2 pattern=$3
    shift 3
    local db=$work/$name.db rc=0
    "$DML_BIN/dml-exec" --data synthetic --db "$db" "$@" >"$name.out" \
        2>"$name.err" || rc=$?
    [ $rc -eq 1 ] || { cat "$name.err"; fail "$name: exit status $rc, expected 1"; }
    [ "$(grep -c '^dml-exec:' "$name.err")" -eq 1 ] &&
        grep -q "^dml-exec: error: $pattern" "$name.err" ||
        { cat "$name.err"; fail "$name: the error line does not say '$pattern'"; }
    [ "$(sqlite3 "$db" 'select status from runs')" = failed ] ||
        fail "$name: the run is $(sqlite3 "$db" 'select status from runs')"
    [ "$(sqlite3 "$db" "select count(*) from events where kind = '$kind'")" -eq 1 ] ||
        fail "$name: no '$kind' event"
    echo "ok   $name: $(grep '^dml-exec:' "$name.err")"
}

"$DML_BIN/dml-exec" --plan "$plan" --data synthetic --steps 1 \
    --db "$work/base.db" --save-weights base.bin >/dev/null
python3 - <<'PY'
import struct
d = open("base.bin", "rb").read()
h = d.index(b"\n") + 1
v = list(struct.unpack("<%df" % ((len(d) - h) // 4), d[h:]))
for j in range(32):          # layer 0 weight [16 x 32], row 0
    v[j] = 3e38
w1 = 16 * 32 + 16            # layer 1 weight [16 x 16], column 0
for i in range(16):
    v[w1 + i * 16] = 0.0
open("hidden-nan.bin", "wb").write(d[:h] + struct.pack("<%df" % len(v), *v))
PY
expect_stop hidden-nan nan "the loss is not finite at step 0" --plan "$plan" \
    --steps 5 --init-weights hidden-nan.bin --save-weights out.bin
[ ! -e out.bin ] || fail "hidden-nan: a weight file was written"

sed -e 's/"optimizer": "adamw"/"optimizer": "sgd"/' \
    -e 's/"peak_lr": [0-9.e-]*/"peak_lr": 5/' "$plan" >diverge.json
expect_stop diverge diverged \
    "the loss diverged at step [0-9]*: .* is more than 1000 x max(first loss" \
    --plan diverge.json --steps 50
