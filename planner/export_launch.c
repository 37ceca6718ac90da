/*
 * export_launch.c: how a plan is started: a Slurm batch script (srun of
 * Megatron-LM's training script, or of dml-exec for an MLP) and a
 * torchrun line for one node or many.
 *
 * Both carry the environment Megatron-LM asserts (export_megatron.c) and
 * change into the Megatron-LM checkout (--code-dir, else $MEGATRON_LM,
 * else the folder sbatch ran in) before starting it. #SBATCH lines are
 * read by sbatch, not by a shell: the job name is rebuilt as a name and
 * the time, partition and account come checked (export.c); what the user
 * did not give is a commented placeholder (##SBATCH, which sbatch
 * ignores), not a value sbatch would reject.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/name.h"
#include "common/units.h"
#include "planner/export_internal.h"

/* cd into the code: --code-dir quoted, else $MEGATRON_LM or the folder
 * sbatch ran in (slurm) or the current one (torchrun). */
static bool cd_code(FILE *f, const dml_export_options *o, bool in_slurm)
{
    if (o->code_dir) {
        fprintf(f, "cd ");
        if (!dml__export_word(f, o->code_dir))
            return false;
        fprintf(f, "  # the Megatron-LM checkout (dml-plan --code-dir)\n");
    } else {
        fprintf(f, "cd \"${MEGATRON_LM:-%s}\"  # the Megatron-LM checkout "
                   "(dml-plan --code-dir D, or MEGATRON_LM=D)\n",
                in_slurm ? "${SLURM_SUBMIT_DIR:-.}" : ".");
    }
    return true;
}

static void torchrun_line(FILE *f, const dml_planner *p,
                          const dml_planned *pl, bool in_slurm)
{
    int ppn = dml__export_per_node(p, pl);
    const char *script = dml__export_megatron_script(&p->model);
    if (pl->nodes <= 1 && !in_slurm)
        fprintf(f, "torchrun --standalone --nnodes=1 --nproc_per_node=%d "
                "%s \"${MEGATRON_ARGS[@]}\"\n", ppn, script);
    else
        fprintf(f, "torchrun --nnodes=%lld --nproc_per_node=%d "
                "--rdzv_id=%s --rdzv_backend=c10d "
                "--rdzv_endpoint=\"$MASTER_ADDR:$MASTER_PORT\" "
                "%s \"${MEGATRON_ARGS[@]}\"\n",
                (long long)pl->nodes, ppn,
                in_slurm ? "\"$SLURM_JOB_ID\"" : "dml-plan", script);
}

dml_status dml__export_torchrun(FILE *f, const dml_planner *p,
                                const dml_planned *pl,
                                const dml_export_options *o, dml_error *err)
{
    char cfg[256], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "# torchrun for %s on %lld nodes x %d devices (%s); run it on "
            "every node with MASTER_ADDR set to the first node's address and "
            "MEGATRON_ARGS from --export megatron.\n",
            dml__export_text(p->model.name, name), (long long)pl->nodes,
            dml__export_per_node(p, pl),
            dml__export_config_line(p, pl, cfg, sizeof cfg));
    if (!cd_code(f, o, false))
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    DML_CHECK(dml__export_megatron_env(f, pl));
    if (pl->nodes > 1)
        fprintf(f, "MASTER_PORT=${MASTER_PORT:-29500}\n");
    torchrun_line(f, p, pl, false);
    return DML_OK;
}

/* #SBATCH --time: the user's, else the prediction and a fifth more for
 * start-up and noise, else a placeholder. */
static void slurm_time(FILE *f, const dml_planned *pl,
                       const dml_export_options *o)
{
    if (o->slurm_time) {
        fprintf(f, "#SBATCH --time=%s\n", o->slurm_time);
        return;
    }
    if (pl->train.known && pl->train.total_s > 0 &&
        pl->train.total_s < 30 * 86400.0) {
        double s = ceil(pl->train.total_s * 1.2 / 60) * 60;
        long long days = (long long)(s / 86400);
        long long rest = (long long)s % 86400;
        fprintf(f, "#SBATCH --time=%lld-%02lld:%02lld:00\n", days,
                rest / 3600, rest % 3600 / 60);
        return;
    }
    fprintf(f, "##SBATCH --time=D-HH:MM:SS  # dml-plan --slurm-time "
               "(or --tokens T for the predicted time)\n");
}

dml_status dml__export_slurm(FILE *f, const dml_planner *p,
                             const dml_planned *pl,
                             const dml_export_options *o, dml_error *err)
{
    const dml_planner_split *sp = &p->splits[pl->cand.split];
    const dml_device_spec *d = &sp->cluster.groups[sp->ctx.group].device;
    bool gpu = d->type == DML_DEVICE_GPU;
    int ppn = dml__export_per_node(p, pl);
    int threads = pl->plan.par.threads_per_rank;
    char cfg[256], t1[32], t2[32], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# %s on %lld nodes x %d %s (%s)",
            dml__export_text(p->model.name, name), (long long)pl->nodes, ppn,
            gpu ? "GPUs" : "ranks",
            dml__export_config_line(p, pl, cfg, sizeof cfg));
    if (pl->plan.db_plan_id > 0)
        fprintf(f, ", dml plan %lld", (long long)pl->plan.db_plan_id);
    fprintf(f, ";\n# predicted %s per step",
            dml_units_seconds(pl->plan.pred.step_s, t1, sizeof t1));
    if (pl->train.known)
        fprintf(f, ", %s to train",
                dml_units_seconds(pl->train.total_s, t2, sizeof t2));
    fprintf(f, ".\n");
    /* sbatch reads #SBATCH lines with rules of its own, not a shell's:
     * the job name is made a name again rather than quoted. */
    dml_name_from_text(p->model.name, "model", name, sizeof name);
    fprintf(f, "#SBATCH --job-name=dml-%s\n", name);
    fprintf(f, "#SBATCH --nodes=%lld\n", (long long)pl->nodes);
    fprintf(f, "#SBATCH --ntasks-per-node=%d\n", ppn);
    if (gpu)
        fprintf(f, "#SBATCH --gpus-per-node=%d\n", ppn);
    else
        fprintf(f, "#SBATCH --cpus-per-task=%d\n", threads);
    fprintf(f, "#SBATCH --exclusive\n");
    slurm_time(f, pl, o);
    if (o->slurm_partition)
        fprintf(f, "#SBATCH --partition=%s\n", o->slurm_partition);
    else
        fprintf(f, "##SBATCH --partition=NAME  # dml-plan "
                   "--slurm-partition\n");
    if (o->slurm_account)
        fprintf(f, "#SBATCH --account=%s\n", o->slurm_account);
    else
        fprintf(f, "##SBATCH --account=NAME  # dml-plan --slurm-account\n");
    fprintf(f, "set -euo pipefail\n");
    fprintf(f, "export OMP_NUM_THREADS=%d\n", threads);
    if (p->model.type == DML_MODEL_MLP) {
        fprintf(f, "export OPENBLAS_NUM_THREADS=%d\n", threads);
        fprintf(f, "# dml-exec is an MPI program: one task per rank.\n");
        fprintf(f, "srun --ntasks=%lld --cpus-per-task=%d --cpu-bind=cores "
                "dml-exec --plan ", (long long)pl->plan.devices, threads);
        if (!dml__export_word(f, o->plan_file ? o->plan_file : "plan.json"))
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        fprintf(f, " --db \"${DML_DB:-dml.db}\"\n");
        return DML_OK;
    }
    if (!cd_code(f, o, true))
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    DML_CHECK(dml__export_megatron_env(f, pl));
    fprintf(f, "export MASTER_ADDR=$(scontrol show hostnames "
               "\"$SLURM_JOB_NODELIST\" | head -n 1)\n");
    fprintf(f, "export MASTER_PORT=${MASTER_PORT:-6000}\n");
    DML_CHECK(dml__export_megatron_args(f, p, pl, err));
    fprintf(f, "# one task per GPU; torch.distributed reads RANK, "
               "LOCAL_RANK and WORLD_SIZE; add your data and tokenizer "
               "arguments after the script's name in sbatch's command\n");
    fprintf(f, "srun --ntasks=%lld --kill-on-bad-exit=1 bash -c 'RANK="
               "$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID WORLD_SIZE="
               "$SLURM_NTASKS exec python %s \"$@\"' _ "
               "\"${MEGATRON_ARGS[@]}\" \"$@\"\n",
            (long long)pl->plan.devices,
            dml__export_megatron_script(&p->model));
    return DML_OK;
}
