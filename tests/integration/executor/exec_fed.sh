#!/usr/bin/env bash
# Federated mode (issue 18) on Fashion-MNIST, 2 ranks hosting 20 virtual
# clients (3,000 samples each, IID), 2 a round, half of them stragglers
# that are dropped, 3 rounds: the run trains (test accuracy above 0.6),
# records each round (fed_rounds: 2 clients, 1 dropped, bytes down 2
# models, up 1 model; under secure aggregation 1 masked model and the 8
# bytes of the one revealed pair seed) and its shards (fed_runs); secure
# aggregation ends within 0.01 of the plain sum (it rounds to 2^-20);
# the same seed gives the same rounds; a bad federated value is one line
# naming federated.<field>, exit 2.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "skip: no $data"; exit 77; }
enter_work

base='"clients": 20, "sample": 0.1, "epochs": 1, "batch": 10,
      "split": "iid", "lr": 0.05, "stragglers": 0.5'
fed_plan plain "{$base}"
fed_plan masked "{$base, \"secagg\": true}"
for p in plain masked; do
    run_exec 2 --plan $p.json --data $data --steps 3 --seed 5 \
        --db "$work/dml.db" --json >$p.out
done
run_exec 2 --plan plain.json --data $data --steps 3 --seed 5 \
    --db "$work/again.db" --json >again.out

python3 - "$work" <<'PY'
import json, sqlite3, sys
work = sys.argv[1]
out = {p: json.load(open(f"{work}/{p}.out")) for p in ("plain", "masked", "again")}
db = sqlite3.connect(f"{work}/dml.db")
np_ = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
acc = {p: out[p]["test_accuracy"] for p in out}
print("test accuracy after 3 rounds: plain %.4f, secagg %.4f" % (acc["plain"], acc["masked"]))
if acc["plain"] < 0.6: fail(f"federated training reached only {acc['plain']}")
if abs(acc["plain"] - acc["masked"]) > 0.01: fail("secure aggregation moved the accuracy")
if out["again"]["losses"] != out["plain"]["losses"]: fail("the same seed gave other rounds")
runs = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY id")]
for run, secagg in zip(runs, (0, 1)):
    rows = db.execute("SELECT round, clients, dropped, bytes_down, bytes_up, "
                      "test_accuracy FROM fed_rounds WHERE run_id = ? "
                      "ORDER BY round", (run,)).fetchall()
    if [r[0] for r in rows] != [0, 1, 2]: fail(f"run {run}: rounds {rows}")
    up = 4 * np_ + (8 if secagg else 0)
    for r in rows:
        if r[1:5] != (2, 1, 2 * 4 * np_, up): fail(f"run {run}: round {r}")
    steps = db.execute("SELECT test_accuracy FROM steps WHERE run_id = ? "
                       "ORDER BY step", (run,)).fetchall()
    if [s[0] for s in steps] != [r[5] for r in rows]: fail("steps and rounds differ")
    f = db.execute("SELECT clients, per_round, split, secagg, min_samples, "
                   "max_samples, min_classes FROM fed_runs WHERE run_id = ?",
                   (run,)).fetchone()
    if f != (20, 2, "iid", secagg, 3000, 3000, 10): fail(f"fed_runs {f}")
PY

fed_plan bad "{$base, \"prox\": -1}"
set +e
run_exec 2 --plan bad.json --data $data --steps 1 --db "$work/dml.db" >bad.out 2>bad.err
rc=$?
set -e
[ $rc -eq 2 ] || { echo "FAIL: a bad federated value exits $rc"; cat bad.err; exit 1; }
grep -q 'federated.prox' bad.err || { echo "FAIL: the error does not name the field"; cat bad.err; exit 1; }
echo "ok: $(grep -m1 . bad.err)"
