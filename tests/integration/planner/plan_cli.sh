#!/usr/bin/env bash
# dml-plan end to end (issue 3): presets listed; GPT-3 175B on 128 DGX A100
# nodes gives a sane winner (tp = 8 inside a node, pipeline parallelism,
# memory within 80 GB) in the --json structure of the issue, a readable
# human report, --explain and --why-not, exports, a plan file that
# dml_plan_load accepts, and one database row per plan shown.
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/plan.db

plan --help >out
grep -q -- '--why-not' out || fail "--help lists --why-not"
plan --version | grep -q '^dml-plan ' || fail "--version"

plan --list-models >models
for m in gpt3-125m gpt3-350m gpt3-1.3b gpt3-2.7b gpt3-6.7b gpt3-13b gpt3-175b \
         llama2-7b llama2-13b llama2-70b llama3-8b llama3-70b llama3-405b \
         bert-large mlp-fmnist; do
    grep -q "^$m " models || fail "--list-models lacks $m"
done
plan --list-clusters >clusters
for c in dgx-a100-80g dgx-h100 cpu-node; do
    grep -q "^$c " clusters || fail "--list-clusters lacks $c"
done
plan --list-models --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["schema_version"] == 1
names = {m["name"]: m for m in d["models"]}
# SC21 Eq. 2: about 175 B parameters
assert 170e9 < names["gpt3-175b"]["params"] < 180e9, names["gpt3-175b"]
' || fail "--list-models --json"
# issue 12: both lists with --json would be two documents: refused with
# one line, exit 2; as text both come
expect_exit 2 plan --list-models --list-clusters --json
one_line "one list at a time"
plan --list-models --list-clusters >both.out || fail "both lists, no --json"
grep -q "^gpt3-175b " both.out && grep -q "^dgx-h100 " both.out ||
    fail "both lists as text"

# GPT-3 175B on 128 x 8 A100 80GB, 1536 sequences (Narayanan et al. SC21).
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --tokens 300e9 --json --db "$db" \
    --out gpt3.json >gpt3-json.out
python3 - gpt3-json.out <<'PY' || fail "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema_version"] == 1
s = d["search"]
for k in ("candidates", "feasible", "elapsed_s"):
    assert k in s, k
assert 0 < s["feasible"] <= s["candidates"]
assert len(d["plans"]) == 5
for p in d["plans"]:
    par = p["parallel"]
    for k in ("dp", "tp", "pp", "v", "mbs", "microbatches", "zero",
              "recompute", "sp"):
        assert k in par, k
    assert par["dp"] * par["tp"] * par["pp"] == 1024
    assert par["dp"] * par["mbs"] * par["microbatches"] == 1536
    pr = p["prediction"]
    for k in ("step_s", "tokens_per_s", "tflops_per_device", "mfu",
              "mem_bytes_per_device", "breakdown"):
        assert k in pr, k
    for k in ("compute_s", "tp_comm_s", "pp_comm_s", "dp_comm_s",
              "bubble_s", "optimizer_s"):
        assert k in pr["breakdown"], k
    assert pr["mem_bytes_per_device"] <= 80e9
    # executed FLOP/s (recompute included) >= model FLOP/s = MFU x peak
    assert pr["tflops_per_device"] >= pr["mfu"] * 312 * (1 - 1e-9)
    sch = p["schedule"]
    for k in ("global_batch", "peak_lr", "warmup_steps", "decay",
              "time_to_train_s"):
        assert k in sch, k
    assert "db_plan_id" in p
steps = [p["prediction"]["step_s"] for p in d["plans"]]
assert steps == sorted(steps), steps
w = d["plans"][0]["parallel"]
assert w["tp"] == 8, w   # tensor parallelism inside a DGX node
assert w["pp"] > 1, w    # and pipelines across nodes
PY
n=$(sqlite3 "$db" 'SELECT count(*) FROM plans')
[ "$n" -eq 5 ] || fail "5 plans recorded, found $n"
id=$(python3 -c 'import json; print(json.load(open("gpt3.json"))["db_plan_id"])')
first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plans"][0]["db_plan_id"])' gpt3-json.out)
[ "$id" = "$first" ] || fail "plan file names db plan $id, the winner is $first"
sqlite3 "$db" "SELECT tp FROM plans WHERE id = $id" | grep -qx 8 ||
    fail "the plans row of the winner"

# The human report: table, schedule, time to train, reason; --explain and
# --why-not answers.
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --tokens 300e9 --explain --why-not tp=4,pp=8 \
    --db "$db" >human.out
for s in ' #    dp  tp  pp   v  mbs' 'Schedule of #1: global batch 1536' \
         'peak LR' 'Time to train: 300 B tokens' 'Checkpoints: every' \
         'Why #1: ' '#1 in detail' 'exposed DP communication' \
         'memory of the fullest device' 'the runner-up lost' \
         'Why not tp=4,pp=8?' 'slower than the winner'; do
    grep -qF -- "$s" human.out || { cat human.out; fail "report lacks '$s'"; }
done
rows=$(grep -cE '^ [1-5] ' human.out)
[ "$rows" -eq 5 ] || fail "5 table rows, found $rows"
# The same five plans, planned again (with --explain and --why-not), are
# the rows already there (issue 12: no copies).
n=$(sqlite3 "$db" 'SELECT count(*) FROM plans')
[ "$n" -eq 5 ] || fail "5 plans recorded after two runs of the same plans, found $n"

# Exports of the winner.
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --export megatron --db "$db" >megatron.out
grep -q -- '--tensor-model-parallel-size 8$' megatron.out || fail "megatron tp"
grep -q -- '--global-batch-size 1536$' megatron.out || fail "megatron batch"
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --export deepspeed --export-out ds.json \
    --db "$db" >/dev/null
python3 -c '
import json
d = json.load(open("ds.json"))
assert d["train_batch_size"] == 1536
assert d["train_batch_size"] == d["train_micro_batch_size_per_gpu"] * \
    d["gradient_accumulation_steps"] * d["_dml"]["dp"]
' || fail "deepspeed export"
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --export slurm --db "$db" >slurm.sh
grep -q '^#SBATCH --nodes=' slurm.sh || fail "slurm --nodes"
grep -q '^#SBATCH --gpus-per-node=8' slurm.sh || fail "slurm gpus"
bash -n slurm.sh || fail "the Slurm script is valid bash"
plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch 1536 --export torchrun --db "$db" >torchrun.sh
grep -q 'torchrun --nnodes=' torchrun.sh || fail "torchrun line"

# Automatic global batch with a noise scale: the batch is one of the
# choices and the plan carries the time to train.
plan --model gpt3-1.3b --cluster dgx-a100-80g --nodes 4 --global-batch auto \
    --noise-scale 512 --tokens 26e9 --json --db "$db" >auto.out
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["global_batch"]["auto"] is True
b = d["plans"][0]["schedule"]["global_batch"]
assert 32 <= b <= 8192, b
assert d["plans"][0]["schedule"]["time_to_train_s"] > 0
' auto.out || fail "--global-batch auto"
echo "ok"
