#!/usr/bin/env bash
# dml-plan's export options (issue 12): a plan no target can run is
# refused in one line before anything is recorded; --code-dir and the
# --slurm-* options reach the script, and values sbatch would misread, or
# options without the export they belong to, are exit 2 in one line.
. "$(dirname "$0")/../planner/lib.sh"
cd "$scratch"
db=$scratch/cli.db
llama=(--model llama3-405b --cluster dgx-h100 --nodes 64 --global-batch 1024)

small=(--model gpt3-1.3b --cluster dgx-h100 --nodes 8 --global-batch 512)
# GPipe and hierarchical gradient exchange are dml-exec's: every plan of
# these searches has one, so none is exported, and nothing is recorded.
expect_exit 2 plan "${small[@]}" --db "$db" --config pp=2,schedule=gpipe \
    --export megatron
one_line "--export megatron cannot run"
grep -qF "Megatron-LM has no GPipe schedule" "$scratch/err" ||
    fail "the refusal says why"
expect_exit 2 plan "${small[@]}" --db "$db" --config sync=hierarchical \
    --export deepspeed
one_line "sync=hierarchical has no DeepSpeed setting"
# LAMB is no Megatron-LM optimizer; a DeepSpeed-priced plan is no
# Megatron-LM launch; a batch ramp is no DeepSpeed config.
expect_exit 2 plan "${llama[@]}" --db "$db" --optimizer lamb --export torchrun
one_line "Megatron-LM has no lamb optimizer"
expect_exit 2 plan "${llama[@]}" --db "$db" --framework deepspeed \
    --export slurm
one_line "Megatron-DeepSpeed takes other arguments"
expect_exit 2 plan --model gpt3-175b --cluster dgx-h100 --nodes 128 \
    --global-batch 1536 --config tp=8,pp=4 --tokens 300e9 \
    --batch-ramp 4e9 --db "$db" --export deepspeed
one_line "no batch ramp"
[ ! -e "$db" ] || fail "a refused export recorded plans"

# Options without their export, and values sbatch would misread.
expect_exit 2 plan "${llama[@]}" --db "$db" --code-dir /x --export deepspeed
one_line "--code-dir needs --export slurm or torchrun"
expect_exit 2 plan "${llama[@]}" --db "$db" --slurm-time 1:00:00 \
    --export torchrun
one_line "--slurm-time, --slurm-partition and --slurm-account need --export slurm"
expect_exit 2 plan "${llama[@]}" --db "$db" --export slurm \
    --slurm-time '1:00:00 --wrap=x'
one_line "--slurm-time: expected Slurm's"
expect_exit 2 plan "${llama[@]}" --db "$db" --export slurm \
    --slurm-partition $'gpu\n#SBATCH --wrap=x'
one_line "--slurm-partition: expected a partition name"
expect_exit 2 plan "${llama[@]}" --db "$db" --export slurm \
    --slurm-account 'a b'
one_line "--slurm-account: expected an account name"
[ ! -e "$db" ] || fail "refused options recorded plans"

# They reach the script; the code folder is one shell word.
plan "${llama[@]}" --db "$db" --export slurm --export-out job.sh \
    --code-dir "$scratch/Mega tron" --slurm-time 2-00:00:00 \
    --slurm-partition gpu,gpu-long --slurm-account ml.team >/dev/null
bash -n job.sh || fail "the Slurm script does not parse"
grep -qx '#SBATCH --time=2-00:00:00' job.sh || fail "--slurm-time"
grep -qx '#SBATCH --partition=gpu,gpu-long' job.sh || fail "--slurm-partition"
grep -qx '#SBATCH --account=ml.team' job.sh || fail "--slurm-account"
grep -q "^cd '$scratch/Mega tron'" job.sh || fail "--code-dir"
grep -q '^unset CUDA_DEVICE_MAX_CONNECTIONS' job.sh ||
    fail "Llama 3 405B's ZeRO-3 winner runs on Megatron-FSDP"
# Without them: placeholders sbatch ignores, the checkout from the
# environment or the submission folder.
plan "${llama[@]}" --db "$db" --export slurm --export-out plain.sh >/dev/null
grep -q '^##SBATCH --partition=' plain.sh || fail "partition placeholder"
grep -q '^##SBATCH --account=' plain.sh || fail "account placeholder"
grep -q '^##SBATCH --time=' plain.sh || fail "time placeholder (no --tokens)"
grep -qF 'cd "${MEGATRON_LM:-${SLURM_SUBMIT_DIR:-.}}"' plain.sh ||
    fail "the checkout by default"
echo "export_cli: ok"
