#!/usr/bin/env bash
# Bad input to dml-plan (issue 3): an unknown model or cluster (the
# presets are listed), bad --config text, a configuration the model or
# cluster cannot take, and bad options end with exit status 2 and one line
# on stderr, before any database is created; a problem nothing fits (Llama
# 3 405B on one node) ends with exit status 3 and says why.
. "$(dirname "$0")/lib.sh"
cd "$scratch"
db=$scratch/bad.db
base=(--cluster dgx-a100-80g --nodes 128 --global-batch 1536 --db "$db")
nodb() { [ ! -e "$db" ] || fail "$1: a database was created"; }

expect_exit 2 plan --model gpt3-9000b "${base[@]}"
one_line 'unknown model "gpt3-9000b"; presets: bert-large, gpt3-1.3b'; nodb model
expect_exit 2 plan --model gpt3-175b --cluster dgx-z9 --global-batch 8 --db "$db"
one_line 'presets: cpu-node, dgx-a100-80g, dgx-h100'; nodb cluster
expect_exit 2 plan --model "$scratch/none.json" "${base[@]}"
one_line 'none.json'; nodb "model file"
expect_exit 2 plan --model gpt3-175b "${base[@]}" --config tp=three
one_line '--config: "tp=three": tp must be a positive integer'; nodb config
expect_exit 2 plan --model gpt3-175b "${base[@]}" --config tp=5
one_line '--config: tp 5 does not divide the 96 attention heads'; nodb tp
expect_exit 2 plan --model gpt3-175b "${base[@]}" --config dp=2,tp=8,pp=8
one_line 'dp x tp x pp = 2 x 8 x 8 = 128, but the plan is for 1024 devices'
nodb devices
expect_exit 2 plan --model gpt3-175b "${base[@]}" --config tp=16
one_line 'tp 16 spans nodes of 8 devices'; nodb node
expect_exit 2 plan --model gpt3-175b "${base[@]}" --why-not pp=x
one_line '--why-not: "pp=x": pp must be a positive integer'; nodb why-not
expect_exit 2 plan --model gpt3-175b --cluster dgx-a100-80g --db "$db"
one_line '--global-batch is required'; nodb batch
expect_exit 2 plan --model gpt3-175b --cluster dgx-a100-80g --nodes 128 \
    --global-batch auto --db "$db"
one_line '--noise-scale'; nodb auto
expect_exit 2 plan --model gpt3-175b "${base[@]}" --nodes 0
one_line '--nodes: "0" is not a whole number'; nodb nodes
expect_exit 2 plan --model gpt3-175b "${base[@]}" --export gromacs
one_line '--export: "gromacs"'; nodb export
expect_exit 2 plan --model mlp-fmnist --cluster cpu-node --global-batch 256 \
    --export megatron --db "$db"
one_line '--export megatron: mlp-fmnist is an mlp'; nodb mlp-export
expect_exit 2 plan --model gpt3-175b "${base[@]}" --out "$scratch/no/dir/p.json"
one_line 'p.json'; nodb out
expect_exit 2 plan --model gpt3-175b "${base[@]}" --bogus
one_line 'unknown option --bogus'; nodb option
printf '{"type":"transformer","name":"x","layers":2,"hidden":100,"heads":3,' >bad.json
printf '"seq_len":8,"vocab":10}\n' >>bad.json
expect_exit 2 plan --model bad.json "${base[@]}"
one_line 'bad.json:'; nodb "bad model"

# Nothing fits: Llama 3 405B needs 6.5 TB of model states; one node has
# 8 x 80 GB.
expect_exit 3 plan --model llama3-405b --cluster dgx-h100 --global-batch 64 \
    --db "$db"
one_line 'no plan fits in memory'; nodb infeasible
grep -qF 'GB per device' "$scratch/err" || fail "says how much memory"
echo ok
