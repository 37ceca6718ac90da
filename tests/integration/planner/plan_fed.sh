#!/usr/bin/env bash
# Planning a federated run (issue 18): dml-plan --config mode=federated
# with its knobs writes a plan file whose parallel.mode is federated and
# whose federated section holds the knobs (the rest dml_fed_spec_init's
# defaults); --json gives the mode, the knobs and the round's price (the
# server's link carries (R - 1) models down and (R - 1) masked updates
# up); --explain shows the round's parts; bad knobs are one line naming
# the knob, exit 2; and 2 rounds of the plan run on 2 ranks with dml-exec
# (recorded in fed_rounds, 2 clients a round).
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/x.db
knobs=mode=federated,clients=20,sample=0.1,epochs=1,alpha=iid,prox=0.01,secagg=1
plan --model mlp-fmnist --cluster cpu-node --devices 2 --global-batch 20 \
    --config dp=2,threads=1,$knobs --out fed.json --json --db "$db" >fed.out
plan --model mlp-fmnist --cluster cpu-node --devices 2 --global-batch 20 \
    --config dp=2,threads=1,$knobs --explain --db "$db" >explain.out
grep -q "^Federated (clients=20,sample=0.1,epochs=1,alpha=iid,prox=0.01,secagg=1): #1's round" \
    explain.out || { cat explain.out; fail "the report's federated line"; }
for part in "compute of the slowest rank's 1 client (300 local steps of 10 samples each)" \
            "masking (secure aggregation, 1 mask stream a client)" \
            "server's link (inside the node, the busiest): 1.08 MB down + 1.08 MB up"; do
    grep -qF "$part" explain.out || { cat explain.out; fail "--explain: $part"; }
done

python3 - "$scratch" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
plan = json.load(open(f"{d}/fed.json"))
rep = json.load(open(f"{d}/fed.out"))
def fail(m):
    print("FAIL:", m); sys.exit(1)
P = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
par = plan["parallel"]
if par.get("mode") != "federated": fail(f"plan mode {par.get('mode')}")
if (par["dp"], par["tp"], par["pp"], par.get("zero", 0)) != (2, 1, 1, 0):
    fail(f"plan layout {par}")
f = plan["federated"]
want = {"clients": 20, "sample": 0.1, "epochs": 1.0, "batch": 10,
        "split": "iid", "prox": 0.01, "secagg": True, "lr": 0.05,
        "stragglers": 0.0, "straggler_work": "drop"}
if f != want: fail(f"federated section {f}")
e = rep["plans"][0]
if e["parallel"]["mode"] != "federated": fail("--json mode")
g = e["federated"]
for k, v in want.items():
    if g[k] != v: fail(f"--json federated.{k} {g[k]} != {v}")
r = g["round"]
if r["clients_per_round"] != 2 or r["client_steps"] != 300:
    fail(f"round clients/steps {r}")
if r["server_link_bytes"] != 4 * P + 4 * P + 8 * 2: fail(f"server link bytes {r}")
if r["logical_down_bytes"] != 2 * 4 * P: fail(f"down bytes {r}")
if abs(r["round_s"] - (r["compute_s"] + r["secagg_s"] + r["comm_s"])) > 1e-6 * r["round_s"]:
    fail(f"round_s is not its parts {r}")
if not (r["compute_s"] > 0 and r["secagg_s"] > 0 and r["comm_s"] > 0): fail(f"parts {r}")
print("ok: round %.4g s (compute %.3g, masking %.3g, exchange %.3g)" %
      (r["round_s"], r["compute_s"], r["secagg_s"], r["comm_s"]))
PY

# Bad federated knobs: one line naming the knob, exit 2, no plan file.
expect_exit 2 plan --model mlp-fmnist --cluster cpu-node --devices 2 \
    --config mode=federated,sample=1.5 --out bad.json
one_line 'sample must be a fraction of the clients in (0, 1]'
[ ! -e bad.json ] || fail "a refused --config wrote a plan file"
expect_exit 2 plan --model mlp-fmnist --cluster cpu-node --devices 2 \
    --config clients=50
one_line 'clients= is a federated knob: it needs mode=federated'
expect_exit 2 plan --model mlp-fmnist --cluster cpu-node --devices 2 \
    --config mode=federated,tp=2
one_line 'not that tp='

# The plan runs: 2 rounds on 2 ranks.
data=/usr/share/datasets/fashion-mnist
[ -f $data/train-images-idx3-ubyte.gz ] || { echo "skip: no $data"; exit 77; }
"$MPIEXEC" --oversubscribe -np 2 "$DML_BIN/dml-exec" --plan fed.json \
    --data $data --steps 2 --seed 3 --db "$db" --json >exec.out 2>exec.err ||
    { cat exec.err; fail "dml-exec ran the federated plan"; }
rounds=$(sqlite3 "$db" "SELECT count(*) || ' ' || min(clients) || ' ' || max(clients) FROM fed_rounds")
[ "$rounds" = "2 2 2" ] || fail "fed_rounds: '$rounds', expected 2 rounds of 2 clients"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["test_accuracy"]; sys.exit(0 if a > 0.3 else 1)' exec.out ||
    { cat exec.out; fail "2 federated rounds did not train"; }
echo "ok: planned federated run trained 2 rounds"
