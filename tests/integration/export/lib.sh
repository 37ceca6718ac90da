# lib.sh: shared by the export checks (sourced). make_cases DIR writes,
# for every transformer preset on both GPU presets (and a few chosen
# plans: a batch ramp, an uneven pipeline, ZeRO-2 with a pipeline, bf16
# gradients, a runner-up), each export kind as dml-plan writes it, and
# runs it as far as launching: the Slurm script and the torchrun line
# with srun, scontrol, torchrun and python replaced by stubs that record
# the command line, the environment and the folder they were started in.
# Each case folder holds:
#   meta     "model cluster kind" and the dml-plan arguments
#   report.json  dml-plan --json (the plans; the exported one is #1 unless
#                err names another)
#   err      dml-plan's stderr (a note when a runner-up is exported)
#   export   the export
#   calls    one JSON object per line per launched command (stub records)
set -euo pipefail
scratch=$(mktemp -d /tmp/dml-export-it-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The plans: id model nodes batch [dml-plan arguments...]. Every preset
# gets a plan that fits on each GPU preset; some carry --tokens (an
# iteration count and a decay) and some not (the rate held after warmup).
cases_table() {
    cat <<'TABLE'
gpt3-125m 1 256 --tokens 300e9
gpt3-350m 1 256
gpt3-1.3b 1 512 --tokens 26e9
gpt3-2.7b 2 512
gpt3-6.7b 4 1024 --tokens 300e9
gpt3-13b 8 1024
gpt3-175b 128 1536 --tokens 300e9
llama2-7b 4 1024 --tokens 2e12
llama2-13b 8 1024
llama2-70b 64 1024 --tokens 2e12
llama3-8b 8 512 --tokens 15e12
llama3-70b 64 512
llama3-405b 64 1024
bert-large 1 256 --tokens 137e9
TABLE
}
# Chosen plans on dgx-h100 only: id model nodes batch arguments.
special_table() {
    cat <<'TABLE'
ramp gpt3-175b 128 1536 --config tp=8,pp=4 --tokens 300e9 --batch-ramp 4e9
uneven llama3-405b 128 2048 --config tp=8,pp=8,v=1 --tokens 15e12
zero2pp gpt3-13b 8 1024 --config tp=2,pp=2,v=1,zero=2
zero3 llama3-70b 16 512 --config zero=3,pp=1
bf16 gpt3-6.7b 8 1024 --config zero=1,sync=bf16 --tokens 300e9
interleaved gpt3-175b 128 1536 --config tp=8,pp=8,v=3,sp=1 --tokens 300e9
interleaved405 llama3-405b 128 2048 --config tp=8,pp=16,v=4 --tokens 15e12
TABLE
}

# The stubs: each records its command line, the environment variables
# the frameworks read and its folder as one JSON line in $CALLS. srun
# runs the task it is given (the first of them) as Slurm would.
make_stubs() {
    local d=$1
    mkdir -p "$d"
    cat >"$d/record" <<'PY'
#!/usr/bin/env python3
import json, os, sys
keys = ["CUDA_DEVICE_MAX_CONNECTIONS", "MASTER_ADDR", "MASTER_PORT",
        "RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS"]
with open(os.environ["CALLS"], "a") as f:
    f.write(json.dumps({"argv": [os.path.basename(sys.argv[1])] + sys.argv[2:],
                        "env": {k: os.environ.get(k) for k in keys},
                        "cwd": os.getcwd()}) + "\n")
PY
    chmod +x "$d/record"
    for s in python torchrun; do
        printf '#!/bin/bash\nexec "%s/record" "$0" "$@"\n' "$d" >"$d/$s"
    done
    # srun: skip its own options, run the task once as rank 0
    cat >"$d/srun" <<'SH'
#!/bin/bash
"$(dirname "$0")/record" "$0" "$@"
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift; done
SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=${SLURM_NTASKS:-1} exec "$@"
SH
    printf '#!/bin/bash\necho node1\n' >"$d/scontrol"
    chmod +x "$d"/*
}

# run_export CASE: launch the export of CASE with the stubs, in a clean
# folder, with CUDA_DEVICE_MAX_CONNECTIONS set to a value no export
# writes (so that what the launch sees is what the export set), and the
# Megatron-LM checkout at $CODE.
run_export() {
    local c=$1 kind
    kind=$(awk '{print $3}' "$c/meta")
    : >"$c/calls"
    mkdir -p "$c/run"
    local env=(env -i PATH="$scratch/stubs:$PATH" HOME="$HOME"
               CALLS="$c/calls" CUDA_DEVICE_MAX_CONNECTIONS=preset
               MEGATRON_LM="$CODE" SLURM_JOB_NODELIST=node1 SLURM_JOB_ID=1
               SLURM_NTASKS=1 SLURM_SUBMIT_DIR="$c/run")
    case $kind in
    megatron)
        # sourced: the array and the environment, then launched as the
        # header says, with the script it names
        (cd "$c/run" && "${env[@]}" bash -c '
            set -euo pipefail
            . "$1"
            script=$(sed -n "1s/^# Megatron-LM arguments for \([^:]*\):.*/\1/p" "$1")
            python "$script" "${MEGATRON_ARGS[@]}"' _ "$c/export") ||
            fail "$c: the Megatron-LM export does not run"
        ;;
    torchrun)
        (cd "$c/run" && "${env[@]}" MASTER_ADDR=node1 bash -c '
            set -euo pipefail
            . "$1"
            . "$2"' _ "$c/megatron" "$c/export") ||
            fail "$c: the torchrun export does not run"
        ;;
    slurm)
        (cd "$c/run" && "${env[@]}" bash "$c/export") ||
            fail "$c: the Slurm script does not run"
        ;;
    esac
}

# make_cases DIR: every case, planned, exported and launched ($KINDS: the
# export kinds, all four by default; torchrun needs megatron before it).
make_cases() {
    local out=$1 n=0
    mkdir -p "$out"
    make_stubs "$scratch/stubs"
    CODE=${CODE:-$scratch/megatron-lm}
    mkdir -p "$CODE"
    local db=$scratch/plans.db
    one() { # id cluster model nodes batch args...
        local id=$1 cluster=$2 model=$3 nodes=$4 batch=$5
        shift 5
        local kind
        for kind in ${KINDS:-megatron torchrun slurm deepspeed}; do
            local c=$out/$id-$cluster-$kind
            mkdir -p "$c"
            echo "$model $cluster $kind $*" >"$c/meta"
            local extra=()
            [ "$kind" = slurm ] && extra=(--slurm-time 1-00:00:00 --slurm-partition gpu --slurm-account ml.team)
            local rc=0
            "$DML_BIN/dml-plan" --model "$model" --cluster "$cluster" \
                --nodes "$nodes" --global-batch "$batch" --top 20 --json \
                --db "$db" --export "$kind" --export-out "$c/export" \
                --out "$c/plan.json" \
                "${extra[@]}" "$@" >"$c/report.json" 2>"$c/err" || rc=$?
            echo "$rc" >"$c/rc"
            # 2: the target cannot run this (the checks say whether that
            # is right); anything else is a failure here
            [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] ||
                { cat "$c/err" >&2; fail "dml-plan for $c exited $rc"; }
            if [ "$rc" -eq 0 ] && [ "$kind" = torchrun ]; then
                cp "$out/$id-$cluster-megatron/export" "$c/megatron"
            fi
            if [ "$rc" -eq 0 ] && [ "$kind" != deepspeed ]; then
                run_export "$c"
            fi
            n=$((n + 1))
        done
    }
    local cluster model nodes batch args
    for cluster in dgx-a100-80g dgx-h100; do
        while read -r model nodes batch args; do
            # shellcheck disable=SC2086
            one "$model" "$cluster" "$model" "$nodes" "$batch" $args
        done < <(cases_table)
    done
    local id
    while read -r id model nodes batch args; do
        # shellcheck disable=SC2086
        one "$id" dgx-h100 "$model" "$nodes" "$batch" $args
    done < <(special_table)
    echo "$n"
}
