#!/usr/bin/env bash
# dml-plan and the runtime, the attention kernel and a user's own
# configuration (issue 11): --framework restricts the search to what the
# runtime runs and agrees with --export (or exit 2, one line, nothing
# recorded); a Llama preset plans with flash attention, and attn= changes
# that; --json, the plan file, the database and dml-history carry both;
# --config says where its best plan ranks among the plans of the search
# without it, in the order --top all lists them.
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/plan.db
gpt=(--model gpt3-175b --cluster dgx-a100-80g --nodes 128 --global-batch 1536)

# What DeepSpeed's pipeline engine cannot run: refused before the search.
expect_exit 2 plan "${gpt[@]}" --db "$db" --framework deepspeed \
    --config schedule=interleaved,v=2
one_line "--config: DeepSpeed's pipeline engine has no interleaved schedule"
expect_exit 2 plan "${gpt[@]}" --db "$db" --framework deepspeed \
    --config pp=8,zero=3
one_line "ZeRO-3 only without pipeline parallelism"
# A runtime the export contradicts, or none dml knows.
expect_exit 2 plan "${gpt[@]}" --db "$db" --framework megatron \
    --export deepspeed
one_line "--framework megatron and --export deepspeed disagree"
expect_exit 2 plan "${gpt[@]}" --db "$db" --framework deepspeed \
    --export megatron
one_line "--framework deepspeed and --export megatron disagree"
expect_exit 2 plan "${gpt[@]}" --db "$db" --framework jax
one_line '--framework: "jax" is not megatron or deepspeed'
expect_exit 2 plan "${gpt[@]}" --db "$db" --config attn=fast
one_line 'attn must be flash or materialized'
expect_exit 2 plan --model mlp-fmnist --cluster cpu-node --global-batch 256 \
    --db "$db" --config attn=flash
one_line "attn=flash is for transformers"
[ ! -e "$db" ] || fail "a refused command created the database"

# --export deepspeed alone: DeepSpeed plans, and the export, the plan file
# and the database say so.
plan "${gpt[@]}" --db "$db" --top 10 --export deepspeed \
    --export-out ds.json --out ds-plan.json --json >ds.out
python3 - ds.out ds.json ds-plan.json <<'PY' || fail "--export deepspeed plans"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["framework"] == "deepspeed", d["framework"]
assert len(d["plans"]) == 10
for p in d["plans"]:
    par = p["parallel"]
    assert par["schedule"] == "1f1b" and par["v"] == 1, par
    assert not (par["pp"] > 1 and par["zero"] >= 2), par
    assert par["attention"] in ("flash", "materialized"), par
assert d["search"]["rejected"].get("framework", 0) > 0, d["search"]
ds = json.load(open(sys.argv[2]))
assert ds["_dml"]["framework"] == "deepspeed", ds["_dml"]
plan = json.load(open(sys.argv[3]))
assert plan["parallel"]["framework"] == "deepspeed", plan["parallel"]
assert plan["parallel"]["attention"] == d["plans"][0]["parallel"]["attention"]
PY
[ "$(sqlite3 "$db" 'SELECT DISTINCT framework FROM plans')" = deepspeed ] ||
    fail "the DeepSpeed plans are recorded as such"
# --export megatron implies megatron: interleaving is back.
plan "${gpt[@]}" --db "$db" --export megatron --export-out mt.sh --json \
    >mt.out
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["framework"] == "megatron"
assert d["plans"][0]["parallel"]["schedule"] == "interleaved", d["plans"][0]
' mt.out || fail "--export megatron plans for Megatron-LM"

# Llama 3 is trained with flash attention: its preset says so, every plan
# uses it; attn=materialized changes the numbers (slower, and the winner
# needs recomputation to fit the s x s scores).
llama=(--model llama3-70b --cluster dgx-h100 --nodes 64 --global-batch 512)
plan "${llama[@]}" --db "$db" --json >flash.out
plan "${llama[@]}" --db "$db" --json --config attn=materialized >mat.out
python3 - flash.out mat.out <<'PY' || fail "Llama plans with flash by default"
import json, sys
f = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
assert f["attention"] == {"kernels": ["flash"], "source": "model spec"}
assert m["attention"] == {"kernels": ["materialized"], "source": "--config"}
assert all(p["parallel"]["attention"] == "flash" for p in f["plans"])
assert all(p["parallel"]["attention"] == "materialized" for p in m["plans"])
fs = f["plans"][0]["prediction"]["step_s"]
ms = m["plans"][0]["prediction"]["step_s"]
assert ms > 1.2 * fs, (fs, ms)
PY
plan "${llama[@]}" --db "$db" --top 3 >flash.txt
grep -q "attention flash (model spec)" flash.txt ||
    fail "the table's header names the kernel and where it comes from"
grep -Eq '^ 1 .* flash ' flash.txt || fail "the table has an attention column"

# --config: where its best plan ranks among the plans of the search without
# it, and how far #1 is; the same place as in --top all.
plan "${gpt[@]}" --db "$db" --config tp=4,pp=8 --top 1 >rank.txt
grep -Eq '^Where --config tp=4,pp=8 ranks: its best plan \(#1 above\) is #[0-9,]+ of [0-9,]+ feasible plans' rank.txt ||
    { cat rank.txt >&2; fail "--config prints its rank"; }
grep -Eq '#1 is [0-9.]+ % faster: dp=[0-9]+,tp=8,' rank.txt ||
    { cat rank.txt >&2; fail "--config says how far #1 is"; }
plan "${gpt[@]}" --db "$db" --config tp=4,pp=8 --top 1 --json >rank.out
plan "${gpt[@]}" --db "$db" --top all --json >all.out
python3 - rank.out all.out <<'PY' || fail "--config rank against --top all"
import json, sys
r = json.load(open(sys.argv[1]))
a = json.load(open(sys.argv[2]))
k = r["config_rank"]
assert k["config"] == "tp=4,pp=8", k
assert k["proposed"], k
plans = a["plans"]
# --top all: every feasible plan, well past the old cap of 64
assert len(plans) == a["search"]["feasible"] > 64, len(plans)
assert k["feasible"] == len(plans), (k["feasible"], len(plans))
mine = r["plans"][0]["parallel"]
at = [i for i, p in enumerate(plans) if p["parallel"] == mine]
assert at == [k["rank"] - 1], (at, k["rank"])
best = plans[0]
assert k["best"]["step_s"] == best["prediction"]["step_s"], k["best"]
assert abs(k["slower_fraction"] - (r["plans"][0]["prediction"]["step_s"]
                                   / best["prediction"]["step_s"] - 1)) < 1e-6
PY
plan "${gpt[@]}" --db "$db" --top 0 2>err && fail "--top 0 is accepted"
grep -q -- '--top' err || fail "--top 0 names the option"

# The database has the columns (schema 4, and the migrations since: the
# version this build writes) and dml-history shows them.
want=$(sed -n 's/^#define DML_DB_SCHEMA_VERSION \([0-9]*\)$/\1/p' "$DML_SOURCE_DIR/db/db.h")
[ -n "$want" ] || fail "DML_DB_SCHEMA_VERSION not found in db/db.h"
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = "$want" ] || fail "schema version $want"
sqlite3 "$db" "SELECT count(*) FROM v_tuning_history WHERE framework = 'deepspeed' AND attention IN ('flash', 'materialized')" |
    grep -qx 10 || fail "v_tuning_history shows framework and attention"
"$DML_BIN/dml-history" --db "$db" --plans --limit 0 >history.txt
grep -q 'framework *attention' history.txt ||
    fail "dml-history has framework and attention columns"
grep -q ' deepspeed  *flash ' history.txt ||
    fail "dml-history shows a DeepSpeed plan with flash attention"
"$DML_BIN/dml-history" --db "$db" --plans --limit 1 --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
par = d["plans"][0]["parallel"]
assert par["framework"] == "megatron" and par["attention"] in ("flash", "materialized"), par
' || fail "dml-history --json carries framework and attention"
echo "plan_framework: ok"
