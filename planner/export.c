/*
 * export.c: Megatron-LM, DeepSpeed, Slurm and torchrun renderings of a
 * plan (see export.h).
 *
 * What the exports print is run by a shell, so nothing from outside dml
 * goes into them raw, even though the readers already restrict names:
 * a value in a command is one word from dml_quote_shell (word()), a value
 * in a comment is text from dml_quote_terminal (text()), which cannot end
 * the comment's line, and the Slurm job name is rebuilt as a name. Numbers
 * and dml's own keywords are the only other things printed.
 */
#include "planner/export.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "common/quote.h"
#include "common/units.h"

static const char *const export_names[DML_EXPORT_COUNT] = {
    "megatron", "deepspeed", "slurm", "torchrun"};

const char *dml_export_name(dml_export_kind k)
{
    return k >= 0 && k < DML_EXPORT_COUNT ? export_names[k] : "?";
}

bool dml_export_parse(const char *name, dml_export_kind *out)
{
    for (int i = 0; i < DML_EXPORT_COUNT; i++)
        if (strcmp(name, export_names[i]) == 0) {
            *out = (dml_export_kind)i;
            return true;
        }
    return false;
}

bool dml_export_framework(dml_export_kind kind, dml_framework *out)
{
    if (kind == DML_EXPORT_MEGATRON)
        *out = DML_FRAMEWORK_MEGATRON;
    else if (kind == DML_EXPORT_DEEPSPEED)
        *out = DML_FRAMEWORK_DEEPSPEED;
    else
        return false;
    return true;
}

dml_status dml_export_check(dml_export_kind kind, const dml_model_spec *m,
                            dml_error *err)
{
    if (m->type == DML_MODEL_MLP &&
        (kind == DML_EXPORT_MEGATRON || kind == DML_EXPORT_TORCHRUN))
        return dml_error_msg(err, DML_EUSAGE,
                             "--export %s: %s is an mlp, which dml-exec runs "
                             "under mpirun; use --export slurm or deepspeed",
                             dml_export_name(kind), m->name);
    return DML_OK;
}

/* s for a comment or a JSON note: on one line, no control characters.
 * buf of DML_EXPORT_TEXT_MAX bytes. */
#define DML_EXPORT_TEXT_MAX 256
static const char *text(const char *s, char *buf)
{
    dml_quote_terminal(s, buf, DML_EXPORT_TEXT_MAX);
    return buf;
}

/* s as one shell word on f; false when out of memory. */
static bool word(FILE *f, const char *s)
{
    char small[256];
    size_t n = dml_quote_shell(s, small, sizeof small);
    if (n < sizeof small) {
        fputs(small, f);
        return true;
    }
    char *big = malloc(n + 1);
    if (!big)
        return false;
    dml_quote_shell(s, big, n + 1);
    fputs(big, f);
    free(big);
    return true;
}

/* The configuration, and the runtime when it is not Megatron-LM. */
static char *config_line(const dml_planner *p, const dml_planned *pl,
                         char *buf, size_t size)
{
    dml_planner_config_format(&pl->plan.par, p->model.type, buf, size);
    size_t n = strlen(buf);
    if (pl->plan.par.framework != DML_FRAMEWORK_MEGATRON && n < size)
        snprintf(buf + n, size - n, " for %s",
                 dml_framework_name(pl->plan.par.framework));
    return buf;
}

static int per_node(const dml_planner *p, const dml_planned *pl)
{
    int dpn = p->splits[pl->cand.split].ctx.devices_per_node;
    return pl->plan.devices < dpn ? (int)pl->plan.devices : dpn;
}

/* The MEGATRON_ARGS=( ... ) array, indented by `indent`. */
static void megatron_args(FILE *f, const dml_planner *p,
                          const dml_planned *pl)
{
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_train_estimate *t = &pl->train;
    fprintf(f, "MEGATRON_ARGS=(\n");
    fprintf(f, "    --tensor-model-parallel-size %d\n", c->tp);
    fprintf(f, "    --pipeline-model-parallel-size %d\n", c->pp);
    if (c->v > 1)
        fprintf(f, "    --num-layers-per-virtual-pipeline-stage %lld\n",
                (long long)(m->layers / ((int64_t)c->pp * c->v)));
    if (c->pp > 1 && m->layers % c->pp)
        fprintf(f, "    # %lld layers over %d stages is uneven: stages "
                "0..%lld hold one layer more (Megatron-LM: "
                "--decoder-first-pipeline-num-layers and "
                "--decoder-last-pipeline-num-layers)\n",
                (long long)m->layers, c->pp,
                (long long)(m->layers % c->pp - 1));
    if (c->sp)
        fprintf(f, "    --sequence-parallel\n");
    if (c->recompute == DML_RECOMPUTE_SELECTIVE)
        fprintf(f, "    --recompute-granularity selective\n");
    else if (c->recompute == DML_RECOMPUTE_FULL)
        fprintf(f, "    --recompute-granularity full\n"
                   "    --recompute-method uniform\n"
                   "    --recompute-num-layers 1\n");
    fprintf(f, "    --micro-batch-size %lld\n", (long long)c->mbs);
    fprintf(f, "    --global-batch-size %lld\n", (long long)s->global_batch);
    if (s->ramp_count > 0) {
        int64_t start = s->ramp[0].global_batch;
        int64_t incr = s->ramp_count > 1
                           ? s->ramp[1].global_batch - start
                           : s->global_batch - start;
        double samples = 0;
        int64_t prev = 0;
        for (int i = 0; i < s->ramp_count; i++) {
            samples += (double)s->ramp[i].global_batch *
                       (double)(s->ramp[i].until_step - prev);
            prev = s->ramp[i].until_step;
        }
        fprintf(f, "    --rampup-batch-size %lld %lld %.0f\n",
                (long long)start, (long long)incr, samples);
    }
    if (c->framework == DML_FRAMEWORK_DEEPSPEED) {
        /* Megatron-DeepSpeed: ZeRO and the reduction are DeepSpeed's */
        fprintf(f, "    --deepspeed\n    --deepspeed_config ds_config.json"
                   "  # from --export deepspeed (ZeRO-%d)\n", c->zero);
    } else {
        if (c->zero == 1)
            fprintf(f, "    --use-distributed-optimizer\n");
        else if (c->zero > 1)
            fprintf(f, "    --use-distributed-optimizer  # ZeRO-%d has no "
                    "Megatron-LM flag: this shards the optimizer states "
                    "(ZeRO-1); see --export deepspeed\n", c->zero);
        if (c->dp > 1)
            fprintf(f, "    --overlap-grad-reduce  # the prediction hides "
                    "the gradient reduction behind the backward pass\n");
    }
    if (c->attention == DML_ATTN_FLASH)
        fprintf(f, "    --use-flash-attn\n");
    fprintf(f, "    --num-layers %lld\n", (long long)m->layers);
    fprintf(f, "    --hidden-size %lld\n", (long long)m->hidden);
    fprintf(f, "    --num-attention-heads %lld\n", (long long)m->heads);
    if (m->kv_heads != m->heads)
        fprintf(f, "    --group-query-attention\n"
                   "    --num-query-groups %lld\n", (long long)m->kv_heads);
    fprintf(f, "    --ffn-hidden-size %lld\n", (long long)m->ffn_hidden);
    fprintf(f, "    --seq-length %lld\n", (long long)m->seq_len);
    fprintf(f, "    --max-position-embeddings %lld\n", (long long)m->seq_len);
    if (m->position == DML_POS_ROTARY)
        fprintf(f, "    --position-embedding-type rope\n");
    else if (m->position == DML_POS_NONE)
        fprintf(f, "    --position-embedding-type none\n");
    if (m->norm == DML_NORM_RMSNORM)
        fprintf(f, "    --normalization RMSNorm\n");
    if (m->activation == DML_ACT_SWIGLU)
        fprintf(f, "    --swiglu\n");
    if (!m->bias)
        fprintf(f, "    --disable-bias-linear\n");
    if (!m->tied_embeddings)
        fprintf(f, "    --untie-embeddings-and-output-weights\n");
    if (m->moe_experts > 0)
        fprintf(f, "    --num-experts %lld\n    --moe-router-topk %lld\n",
                (long long)m->moe_experts, (long long)m->moe_top_k);
    fprintf(f, "    --padded-vocab-size %lld  # or your tokenizer's\n",
            (long long)m->vocab);
    if (m->dtype == DML_DTYPE_BF16)
        fprintf(f, "    --bf16\n");
    else if (m->dtype == DML_DTYPE_FP16)
        fprintf(f, "    --fp16\n");
    if (s->optimizer == DML_OPT_ADAMW || s->optimizer == DML_OPT_LAMB) {
        if (s->optimizer == DML_OPT_LAMB)
            fprintf(f, "    # LAMB has no Megatron-LM flag: Adam below\n");
        fprintf(f, "    --optimizer adam\n");
        fprintf(f, "    --adam-beta1 %g\n    --adam-beta2 %g\n"
                   "    --adam-eps %g\n", s->beta1, s->beta2, s->eps);
    } else {
        if (s->optimizer == DML_OPT_LARS)
            fprintf(f, "    # LARS has no Megatron-LM flag: SGD below\n");
        fprintf(f, "    --optimizer sgd\n    --sgd-momentum %g\n",
                s->momentum);
    }
    fprintf(f, "    --weight-decay %g\n", s->weight_decay);
    fprintf(f, "    --clip-grad 1.0\n");
    fprintf(f, "    --lr %.6g\n", s->peak_lr);
    fprintf(f, "    --min-lr %.6g\n", s->min_lr);
    fprintf(f, "    --lr-warmup-iters %lld\n", (long long)s->warmup_steps);
    fprintf(f, "    --lr-decay-style %s\n", dml_lr_decay_name(s->decay));
    if (s->decay_steps > 0)
        fprintf(f, "    --lr-decay-iters %lld\n",
                (long long)(s->decay_steps + s->warmup_steps));
    if (t->known)
        fprintf(f, "    --train-iters %.0f\n", ceil(t->steps));
    else
        fprintf(f, "    # --train-iters: give dml-plan --tokens T\n");
    if (t->ckpt_interval_steps > 0)
        fprintf(f, "    --save-interval %.0f  # Daly's interval for the "
                "job's MTBF\n", t->ckpt_interval_steps);
    fprintf(f, ")\n");
}

static dml_status megatron(FILE *f, const dml_planner *p,
                           const dml_planned *pl)
{
    char cfg[256], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "# Megatron-LM arguments for pretrain_gpt.py: %s on %lld "
            "devices (%s)", text(p->model.name, name),
            (long long)pl->plan.devices,
            config_line(p, pl, cfg, sizeof cfg));
    if (pl->plan.db_plan_id > 0)
        fprintf(f, ", dml plan %lld", (long long)pl->plan.db_plan_id);
    fprintf(f, ".\n# Launch on every node with the line of --export "
            "torchrun and add your data and tokenizer arguments.\n");
    megatron_args(f, p, pl);
    return DML_OK;
}

static json_t *optimizer_json(const dml_train_schedule *s)
{
    switch (s->optimizer) {
    case DML_OPT_ADAMW:
    case DML_OPT_LAMB:
        return json_pack("{s:s, s:{s:f, s:[f, f], s:f, s:f}}", "type",
                         s->optimizer == DML_OPT_LAMB ? "Lamb" : "AdamW",
                         "params", "lr", s->peak_lr, "betas", s->beta1,
                         s->beta2, "eps", s->eps, "weight_decay",
                         s->weight_decay);
    default:
        return json_pack("{s:s, s:{s:f, s:f, s:f}}", "type", "SGD", "params",
                         "lr", s->peak_lr, "momentum", s->momentum,
                         "weight_decay", s->weight_decay);
    }
}

static json_t *scheduler_json(const dml_train_schedule *s)
{
    int64_t total = s->decay_steps > 0 ? s->decay_steps + s->warmup_steps
                                       : 0;
    if (total > 0 && s->decay == DML_DECAY_COSINE)
        return json_pack("{s:s, s:{s:I, s:I, s:f, s:f}}", "type",
                         "WarmupCosineLR", "params", "total_num_steps",
                         (json_int_t)total, "warmup_num_steps",
                         (json_int_t)s->warmup_steps, "warmup_min_ratio", 0.0,
                         "cos_min_ratio",
                         s->peak_lr > 0 ? s->min_lr / s->peak_lr : 0.0);
    if (total > 0 && s->decay == DML_DECAY_LINEAR)
        return json_pack("{s:s, s:{s:I, s:f, s:f, s:I}}", "type",
                         "WarmupDecayLR", "params", "total_num_steps",
                         (json_int_t)total, "warmup_min_lr", 0.0,
                         "warmup_max_lr", s->peak_lr, "warmup_num_steps",
                         (json_int_t)s->warmup_steps);
    return json_pack("{s:s, s:{s:f, s:f, s:I}}", "type", "WarmupLR", "params",
                     "warmup_min_lr", 0.0, "warmup_max_lr", s->peak_lr,
                     "warmup_num_steps", (json_int_t)s->warmup_steps);
}

static dml_status deepspeed(FILE *f, const dml_planner *p,
                            const dml_planned *pl, dml_error *err)
{
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_model_spec *m = &p->model;
    char cfg[256], note[512], name[DML_EXPORT_TEXT_MAX];
    snprintf(note, sizeof note,
             "dml-plan: %s on %lld devices (%s); tensor and pipeline degrees "
             "are also set where the model is built (Megatron-DeepSpeed: "
             "--tensor-model-parallel-size %d --pipeline-model-parallel-size "
             "%d)%s", text(m->name, name), (long long)pl->plan.devices,
             config_line(p, pl, cfg, sizeof cfg), c->tp, c->pp,
             s->optimizer == DML_OPT_LARS ? "; LARS is not a DeepSpeed "
                                            "optimizer: SGD shown" : "");
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:f, s:i, s:b, s:{s:i, s:b, s:b}, s:o, s:o}",
        "train_batch_size", (json_int_t)s->global_batch,
        "train_micro_batch_size_per_gpu", (json_int_t)c->mbs,
        "gradient_accumulation_steps", (json_int_t)c->microbatches,
        "gradient_clipping", 1.0, "steps_per_print", 10,
        "wall_clock_breakdown", 0, "zero_optimization", "stage", c->zero,
        "overlap_comm", 1, "contiguous_gradients", 1, "optimizer",
        optimizer_json(s), "scheduler", scheduler_json(s));
    if (!j)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (m->dtype == DML_DTYPE_BF16)
        json_object_set_new(j, "bf16", json_pack("{s:b}", "enabled", 1));
    else if (m->dtype == DML_DTYPE_FP16)
        json_object_set_new(j, "fp16",
                            json_pack("{s:b, s:i, s:i}", "enabled", 1,
                                      "loss_scale", 0, "initial_scale_power",
                                      16));
    if (c->pp > 1)
        json_object_set_new(
            j, "pipeline",
            json_pack("{s:i, s:s, s:i}", "stages", c->pp, "partition",
                      "parameters", "activation_checkpoint_interval",
                      c->recompute == DML_RECOMPUTE_FULL ? 1 : 0));
    if (c->recompute != DML_RECOMPUTE_NONE)
        json_object_set_new(
            j, "activation_checkpointing",
            json_pack("{s:b, s:b, s:b}", "partition_activations",
                      (int)(c->tp > 1), "contiguous_memory_optimization", 0,
                      "cpu_checkpointing", 0));
    if (c->tp > 1)
        json_object_set_new(j, "tensor_parallel",
                            json_pack("{s:i}", "autotp_size", c->tp));
    json_t *dml = json_pack("{s:i, s:i, s:i, s:i, s:b, s:s, s:s, s:s}",
                            "dp", c->dp, "tp", c->tp, "pp", c->pp, "v", c->v,
                            "sp", (int)c->sp, "recompute",
                            dml_recompute_name(c->recompute), "framework",
                            dml_framework_name(c->framework), "note", note);
    if (dml && m->type == DML_MODEL_TRANSFORMER)
        json_object_set_new(dml, "attention",
                            json_string(dml_attention_name(c->attention)));
    if (dml && pl->plan.db_plan_id > 0)
        json_object_set_new(dml, "db_plan_id",
                            json_integer((json_int_t)pl->plan.db_plan_id));
    json_object_set_new(j, "_dml", dml);
    int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                  JSON_REAL_PRECISION(6));
    json_decref(j);
    if (rc)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    fputc('\n', f);
    return DML_OK;
}

static void torchrun_line(FILE *f, const dml_planner *p,
                          const dml_planned *pl, bool in_slurm)
{
    int ppn = per_node(p, pl);
    if (pl->nodes <= 1 && !in_slurm)
        fprintf(f, "torchrun --standalone --nnodes=1 --nproc_per_node=%d "
                "pretrain_gpt.py \"${MEGATRON_ARGS[@]}\"\n", ppn);
    else
        fprintf(f, "torchrun --nnodes=%lld --nproc_per_node=%d "
                "--rdzv_id=%s --rdzv_backend=c10d "
                "--rdzv_endpoint=\"$MASTER_ADDR:$MASTER_PORT\" "
                "pretrain_gpt.py \"${MEGATRON_ARGS[@]}\"\n",
                (long long)pl->nodes, ppn,
                in_slurm ? "\"$SLURM_JOB_ID\"" : "dml-plan");
}

static dml_status torchrun(FILE *f, const dml_planner *p,
                           const dml_planned *pl)
{
    char cfg[256], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "# torchrun for %s on %lld nodes x %d devices (%s); run it on "
            "every node with MASTER_ADDR set to the first node's address and "
            "MEGATRON_ARGS from --export megatron.\n",
            text(p->model.name, name), (long long)pl->nodes, per_node(p, pl),
            config_line(p, pl, cfg, sizeof cfg));
    if (pl->nodes > 1)
        fprintf(f, "MASTER_PORT=${MASTER_PORT:-29500}\n");
    torchrun_line(f, p, pl, false);
    return DML_OK;
}

static dml_status slurm(FILE *f, const dml_planner *p, const dml_planned *pl,
                        const char *plan_file, dml_error *err)
{
    const dml_planner_split *sp = &p->splits[pl->cand.split];
    const dml_device_spec *d = &sp->cluster.groups[sp->ctx.group].device;
    bool gpu = d->type == DML_DEVICE_GPU;
    int ppn = per_node(p, pl);
    int threads = pl->plan.par.threads_per_rank;
    char cfg[256], t1[32], t2[32], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# %s on %lld nodes x %d %s (%s)", text(p->model.name, name),
            (long long)pl->nodes, ppn, gpu ? "GPUs" : "ranks",
            config_line(p, pl, cfg, sizeof cfg));
    if (pl->plan.db_plan_id > 0)
        fprintf(f, ", dml plan %lld", (long long)pl->plan.db_plan_id);
    fprintf(f, ";\n# predicted %s per step",
            dml_units_seconds(pl->plan.pred.step_s, t1, sizeof t1));
    if (pl->train.known)
        fprintf(f, ", %s to train", dml_units_seconds(pl->train.total_s, t2,
                                                      sizeof t2));
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
    if (pl->train.known && pl->train.total_s > 0 &&
        pl->train.total_s < 30 * 86400.0) {
        /* the prediction and a fifth more for start-up and noise */
        double s = ceil(pl->train.total_s * 1.2 / 60) * 60;
        long long days = (long long)(s / 86400);
        long long rest = (long long)s % 86400;
        fprintf(f, "#SBATCH --time=%lld-%02lld:%02lld:00\n", days,
                rest / 3600, rest % 3600 / 60);
    }
    fprintf(f, "set -euo pipefail\n");
    fprintf(f, "export OMP_NUM_THREADS=%d\n", threads);
    if (p->model.type == DML_MODEL_MLP) {
        fprintf(f, "export OPENBLAS_NUM_THREADS=%d\n", threads);
        fprintf(f, "# dml-exec is an MPI program: one task per rank.\n");
        fprintf(f, "srun --ntasks=%lld --cpus-per-task=%d --cpu-bind=cores "
                "dml-exec --plan ", (long long)pl->plan.devices, threads);
        if (!word(f, plan_file ? plan_file : "plan.json"))
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        fprintf(f, " --db \"${DML_DB:-dml.db}\"\n");
        return DML_OK;
    }
    fprintf(f, "export MASTER_ADDR=$(scontrol show hostnames "
               "\"$SLURM_JOB_NODELIST\" | head -n 1)\n");
    fprintf(f, "export MASTER_PORT=${MASTER_PORT:-6000}\n");
    megatron_args(f, p, pl);
    fprintf(f, "# one task per GPU; torch.distributed reads RANK, "
               "LOCAL_RANK and WORLD_SIZE\n");
    fprintf(f, "srun --ntasks=%lld --kill-on-bad-exit=1 bash -c 'RANK="
               "$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID WORLD_SIZE="
               "$SLURM_NTASKS exec python pretrain_gpt.py \"$@\"' _ "
               "\"${MEGATRON_ARGS[@]}\" \"$@\"\n",
            (long long)pl->plan.devices);
    return DML_OK;
}

dml_status dml_planner_export(dml_export_kind kind, const dml_planner *p,
                              const dml_planned *pl, const char *plan_file,
                              char **text, dml_error *err)
{
    *text = NULL;
    DML_CHECK(dml_export_check(kind, &p->model, err));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = DML_OK;
    switch (kind) {
    case DML_EXPORT_MEGATRON: s = megatron(f, p, pl); break;
    case DML_EXPORT_DEEPSPEED: s = deepspeed(f, p, pl, err); break;
    case DML_EXPORT_SLURM: s = slurm(f, p, pl, plan_file, err); break;
    case DML_EXPORT_TORCHRUN: s = torchrun(f, p, pl); break;
    default:
        s = dml_error_msg(err, DML_EUSAGE, "unknown export");
    }
    if (fclose(f) != 0 && s == DML_OK)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (s != DML_OK) {
        free(buf);
        return s;
    }
    *text = buf;
    return DML_OK;
}
