#!/usr/bin/env bash
# dml-plan on a cluster of unequal node groups (issue 16): 4 one-rank CPU
# nodes at speeds 1, 1, 1/2, 1/4 (tests/fixtures/specs/
# cluster-hetero-cpu.json). The search finds the balanced split, --explain
# prices the uniform split's straggler cost and names the slow node, the
# plan file carries the shares, --json and the database the knob; a
# balance the knob does not know is one line, exit 2; on alike devices
# nothing is said about balance.
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/plan.db
het=(--model mlp-fmnist --cluster "$DML_FIXTURES/specs/cluster-hetero-cpu.json"
     --global-batch 1024)

expect_exit 2 plan "${het[@]}" --db "$db" --config balance=fair
one_line "balance must be equal, static or dynamic"
[ ! -e "$db" ] || fail "a refused command created the database"

plan "${het[@]}" --db "$db" --explain >explain.txt
grep -q "balance=static: uniform split: [0-9.]* x slower than balanced" \
    explain.txt || { cat explain.txt >&2; fail "--explain prices the uniform split"; }
grep -q "; node 3 is [0-9.]* x slower than nodes 0-1" explain.txt ||
    { cat explain.txt >&2; fail "--explain names the slow node"; }

plan "${het[@]}" --db "$db" --config dp=4,mbs=64 --json --out plan.json \
    >plan.out
plan "${het[@]}" --db "$db" --config dp=4,mbs=64,balance=equal --json \
    >equal.out
python3 - plan.out equal.out plan.json <<'PY' || fail "balanced plan"
import json, sys
d = json.load(open(sys.argv[1]))
w = d["plans"][0]
assert w["parallel"]["balance"] == "static", w["parallel"]
b = w["balance"]
# speeds 1, 1, 1/2, 1/4: the even split waits for the quarter-speed node
assert b["equal_step_s"] > 2.0 * b["balanced_step_s"], b
assert abs(b["balanced_step_s"] - w["prediction"]["step_s"]) < 1e-12, b
e = json.load(open(sys.argv[2]))["plans"][0]
assert e["parallel"]["balance"] == "equal"
assert abs(e["prediction"]["step_s"] - b["equal_step_s"]) < 1e-12, (e, b)
plan = json.load(open(sys.argv[3]))
shares = plan["placement"]["dp_shares"]
assert sum(s["replicas"] for s in shares) == 4, shares
assert sum(s["replicas"] * s["microbatches"] for s in shares) == 16, shares
m = [s["microbatches"] for s in shares for _ in range(s["replicas"])]
assert m[0] == m[1] > m[2] > m[3] >= 1, m
assert shares == b["dp_shares"], (shares, b)
PY
[ "$(sqlite3 "$db" "SELECT count(*) FROM plans WHERE balance = 'static'")" -gt 0 ] ||
    fail "the database records balance=static"
[ "$(sqlite3 "$db" "SELECT count(*) FROM plans WHERE balance = 'equal'")" -gt 0 ] ||
    fail "the database records balance=equal"

# alike devices: nothing to balance, nothing said
plan --model mlp-fmnist --cluster cpu-node --global-batch 1024 --db "$db" \
    --explain --json >alike.out
python3 - alike.out <<'PY' || fail "alike devices"
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["plans"]:
    assert p["parallel"]["balance"] == "equal" and "balance" not in p, p
PY
echo "plan_balance: all checks passed"
