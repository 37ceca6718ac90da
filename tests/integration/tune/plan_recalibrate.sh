#!/usr/bin/env bash
# dml-plan --recalibrate (issue 15): the cluster's calibration refitted
# from dml-exec runs already in the database, made outside --tune (as
# bench/strategies/run.sh makes them, one per strategy), then applied to
# the plans priced in the same call; refused together with
# --no-calibration (exit 2).
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-recal-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
db=$scratch/t.db
plan=("$DML_BIN/dml-plan" --model mlp-fmnist --cluster this
      --global-batch 256 --db "$db")
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --quiet --db "$db" >/dev/null \
  || fail "dml-probe"
# Before any run: nothing to fit from, said in one line, plans as usual.
"${plan[@]}" --recalibrate >"$scratch/none.txt" \
  || fail "dml-plan --recalibrate without runs exited $?"
grep -q '^Calibration: not enough runs yet (0 distinct plans' \
  "$scratch/none.txt" || { cat "$scratch/none.txt"; fail "says no runs"; }
# Three plans of two ranks, each run once and recorded.
for c in "dp=2,mbs=128" "dp=2,mbs=64" "dp=1,tp=2"; do
  f=$scratch/plan-${c//[=,]/_}.json
  "${plan[@]}" --no-calibration --top 1 --config "$c" --out "$f" >/dev/null \
    || fail "dml-plan --config $c"
  "$MPIEXEC" -np 2 "$DML_BIN/dml-exec" --plan "$f" --steps 12 \
    --data synthetic --db "$db" >/dev/null 2>"$scratch/exec.err" \
    || { cat "$scratch/exec.err"; fail "dml-exec of $c"; }
done
"${plan[@]}" --recalibrate >"$scratch/out.txt" \
  || fail "dml-plan --recalibrate exited $?"
line=$(grep '^Calibration' "$scratch/out.txt" | head -1)
echo "$line"
cal=$(sqlite3 "$db" 'select count(*) from calibrations')
case $line in
  "Calibration #1 from "*" runs of 3 plans"*)
    [ "$cal" -eq 1 ] || fail "calibration #1 announced, $cal stored"
    grep -q '^Calibrated: predictions' "$scratch/out.txt" \
      || fail "the refit is applied to the plans of the same call" ;;
  "Calibration: a refit from "*" runs of 3 plans predicts held-out"*)
    [ "$cal" -eq 0 ] || fail "a fit not kept was stored" ;;
  *) fail "no refit from the 3 plans run: $line" ;;
esac
set +e
"${plan[@]}" --recalibrate --no-calibration >/dev/null 2>"$scratch/both.err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "--recalibrate --no-calibration exited $rc, not 2"
grep -q 'one or the other' "$scratch/both.err" || fail "says why"
echo "ok"
