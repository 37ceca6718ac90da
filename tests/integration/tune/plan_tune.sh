# dml-plan --tune on this machine: the trials run through mpirun dml-exec,
# are recorded, the measured winner is written, the calibration is refitted
# and the next dml-plan applies it (and --no-calibration does not).
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-tune-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
db=$scratch/t.db
"$MPIEXEC" -np 2 "$DML_BIN/dml-probe" --quick --quiet --db "$db" >/dev/null \
  || fail "dml-probe"
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster this --global-batch 256 \
    --db "$db" --tune 3 --tune-steps 12 --tune-data synthetic \
    --out "$scratch/plan.json" >"$scratch/out.txt" 2>"$scratch/err.txt" \
  || { cat "$scratch/err.txt" >&2; fail "dml-plan --tune exited $?"; }
grep -q '^Tuning: ' "$scratch/out.txt" || fail "prints the tuning table"
grep -q 'Measured winner' "$scratch/out.txt" || fail "names the measured winner"
runs=$(sqlite3 "$db" "select count(*) from runs where status = 'ok'")
[ "$runs" -ge 3 ] || fail "at least 3 trial runs recorded, found $runs"
python3 - "$scratch/plan.json" <<'PY' || fail "the winner's plan file"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["kind"] == "plan" and p["parallel"]["dp"] * p["parallel"]["tp"] * p["parallel"]["pp"] >= 1
PY
cal=$(sqlite3 "$db" 'select count(*) from calibrations')
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster this --global-batch 256 \
    --db "$db" >"$scratch/again.txt" || fail "dml-plan after tuning"
if grep -q '^Calibration #' "$scratch/out.txt"; then
  [ "$cal" -eq 1 ] || fail "the calibration was stored"
  grep -q '^Calibrated: predictions' "$scratch/again.txt" || fail "the next plan applies the calibration"
  grep -q '^Step times are +-' "$scratch/again.txt" || fail "the interval is shown with the ranking"
  "$DML_BIN/dml-plan" --model mlp-fmnist --cluster this --global-batch 256 \
      --db "$db" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["calibration"]["runs"] >= 3' \
    || fail "--json carries the calibration"
else
  # A noisy machine can give three trials whose fit does not beat the spec
  # on held-out plans; such a fit is reported and not stored.
  grep -q '^Calibration: a refit from' "$scratch/out.txt" || fail "the refit is reported"
  [ "$cal" -eq 0 ] || fail "a fit that does not help is not stored"
  grep -q '^Calibration: none yet' "$scratch/again.txt" || fail "no calibration applied"
fi
"$DML_BIN/dml-plan" --model mlp-fmnist --cluster this --global-batch 256 \
    --db "$db" --no-calibration >"$scratch/off.txt" || fail "--no-calibration"
grep -q '^Calibration: off' "$scratch/off.txt" || fail "--no-calibration says so"
echo ok
