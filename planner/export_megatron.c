/*
 * export_megatron.c: a plan as Megatron-LM arguments (the MEGATRON_ARGS
 * array of --export megatron and of the Slurm script) and the environment
 * Megatron-LM asserts.
 *
 * Every flag is one of current Megatron-LM's (megatron/training/
 * arguments.py and the config dataclasses it builds its parser from),
 * checked there by tests/integration/export (the parser and validate_args
 * run on each export where a checkout and torch are at hand). Where the
 * plan needs more than a flag (the vocabulary padded by 128 x TP, an
 * uneven pipeline's first and last stages, a batch ramp counted in
 * samples), the numbers are worked out here as Megatron-LM works them
 * out, so that what it builds is what dml priced.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner/export_internal.h"

dml_status dml__export_megatron_env(FILE *f, const dml_planned *pl)
{
    const dml_parallel_config *c = &pl->plan.par;
    /* megatron/training/arguments.py, validate_args: Megatron-FSDP
     * asserts CUDA_DEVICE_MAX_CONNECTIONS != "1"; otherwise tensor (or
     * context) parallelism before Blackwell asserts it is "1", which
     * keeps the tensor-parallel communication kernels in issue order. */
    if (c->zero >= 2)
        fprintf(f, "unset CUDA_DEVICE_MAX_CONNECTIONS  # Megatron-FSDP "
                   "asserts it is not 1\n");
    else if (c->tp > 1)
        fprintf(f, "export CUDA_DEVICE_MAX_CONNECTIONS=1  # Megatron-LM "
                   "asserts it with tensor parallelism (before Blackwell)\n");
    return DML_OK;
}

/* --step-batch-size-schedule "0:b0 T1:b1 ... Tn:B": the batch from each
 * threshold on, thresholds in tokens (Megatron-LM divides them by
 * --seq-length into samples consumed; the samples of the plan's ramp,
 * times the sequence, divide exactly). */
static void ramp_schedule(FILE *f, const dml_model_spec *m,
                          const dml_train_schedule *s)
{
    fprintf(f, "    --step-batch-size-schedule \"0:%lld",
            (long long)s->ramp[0].global_batch);
    for (int i = 1; i <= s->ramp_count; i++) {
        double samples = dml__export_samples_until(
            s, (double)s->ramp[i - 1].until_step);
        int64_t batch = i < s->ramp_count ? s->ramp[i].global_batch
                                          : s->global_batch;
        fprintf(f, " %.0f:%lld", samples * (double)m->seq_len,
                (long long)batch);
    }
    fprintf(f, "\"  # the plan's batch ramp, from each token count on\n");
}

/* The learning rate and the length: in iterations with a constant batch,
 * in samples with a ramp (Megatron-LM's schedule with a changing batch
 * counts samples: megatron/training/training.py,
 * get_optimizer_param_scheduler and update_train_iters). */
static void lr_and_length(FILE *f, const dml_planner *p,
                          const dml_planned *pl)
{
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_train_estimate *t = &pl->train;
    bool constant = s->decay == DML_DECAY_CONSTANT || s->decay_steps <= 0;
    fprintf(f, "    --lr %.10g\n", s->peak_lr);
    fprintf(f, "    --min-lr %.10g\n", constant ? s->peak_lr : s->min_lr);
    fprintf(f, "    --lr-decay-style %s%s\n",
            constant ? "constant" : dml_lr_decay_name(s->decay),
            constant ? "  # the plan's learning rate stays at its peak "
                       "after warmup: no training length (dml-plan "
                       "--tokens T)"
                     : "");
    double end = (double)s->warmup_steps + (double)s->decay_steps;
    if (s->ramp_count > 0) {
        fprintf(f, "    # with the ramp, warmup, decay and length count "
                   "samples: the plan's steps at its batches (during the "
                   "decay the rate runs a little above the plan's)\n");
        fprintf(f, "    --lr-warmup-samples %.0f\n",
                dml__export_samples_until(s, (double)s->warmup_steps));
        if (!constant)
            fprintf(f, "    --lr-decay-samples %.0f\n",
                    dml__export_samples_until(s, end));
        if (t->known)
            fprintf(f, "    --train-samples %.0f\n",
                    dml__export_samples_until(s, ceil(t->steps)));
        else
            fprintf(f, "    # --train-samples: give dml-plan --tokens T\n");
    } else {
        fprintf(f, "    --lr-warmup-iters %lld\n",
                (long long)s->warmup_steps);
        if (!constant)
            fprintf(f, "    --lr-decay-iters %.0f\n", end);
        if (t->known)
            fprintf(f, "    --train-iters %.0f\n", ceil(t->steps));
        else
            fprintf(f, "    # --train-iters: give dml-plan --tokens T\n");
    }
    (void)p;
}

/* ZeRO and the data-parallel reduction. */
static void data_parallel(FILE *f, const dml_model_spec *m,
                          const dml_parallel_config *c)
{
    if (c->zero == 1)
        fprintf(f, "    --use-distributed-optimizer\n");
    else if (c->zero >= 2)
        /* Megatron-FSDP: optim_grads shards optimizer states and
         * gradients (ZeRO-2), optim_grads_params the weights too
         * (ZeRO-3); it asserts the fsdp_dtensor checkpoint format. */
        fprintf(f, "    --use-megatron-fsdp\n"
                   "    --data-parallel-sharding-strategy %s  # ZeRO-%d\n"
                   "    --ckpt-format fsdp_dtensor\n",
                c->zero == 2 ? "optim_grads" : "optim_grads_params",
                c->zero);
    if (c->dp > 1)
        fprintf(f, "    --overlap-grad-reduce  # the prediction hides the "
                   "gradient reduction behind the backward pass\n");
    if (c->sync.kind == DML_SYNC_BF16 && m->dtype == DML_DTYPE_BF16)
        fprintf(f, "    --grad-reduce-in-bf16  # sync=bf16: 16 bits on the "
                   "wire\n"
                   "    --ddp-reduce-scatter-with-fp32-accumulation  # "
                   "summed in fp32\n");
}

/* The model: shape, architecture, vocabulary, dtype. */
static void model_args(FILE *f, const dml_model_spec *m,
                       const dml_parallel_config *c)
{
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
        fprintf(f, "    --position-embedding-type rope\n"
                   "    --rotary-base %.0f\n",
                m->rope_theta > 0 ? m->rope_theta
                                  : DML_MODEL_ROPE_THETA_DEFAULT);
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
    fprintf(f, "    --attention-dropout %g\n    --hidden-dropout %g\n",
            m->dropout, m->dropout);
    if (m->moe_experts > 0) {
        /* dml shards the experts over the data-parallel ranks */
        int64_t ep = m->moe_experts, b = c->dp;
        while (b) {
            int64_t r = ep % b;
            ep = b;
            b = r;
        }
        fprintf(f, "    --num-experts %lld\n    --moe-router-topk %lld\n"
                   "    --expert-model-parallel-size %lld\n",
                (long long)m->moe_experts, (long long)m->moe_top_k,
                (long long)ep);
    }
    fprintf(f, "    --padded-vocab-size %lld  # vocabulary %lld padded as "
               "Megatron-LM pads it: a multiple of 128 x TP\n",
            (long long)dml__export_padded_vocab(m->vocab, c->tp),
            (long long)m->vocab);
    if (m->dtype == DML_DTYPE_BF16)
        fprintf(f, "    --bf16\n");
    else if (m->dtype == DML_DTYPE_FP16)
        fprintf(f, "    --fp16\n");
}

dml_status dml__export_megatron_args(FILE *f, const dml_planner *p,
                                     const dml_planned *pl, dml_error *err)
{
    const dml_model_spec *m = &p->model;
    const dml_parallel_config *c = &pl->plan.par;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_train_estimate *t = &pl->train;
    dml__export_split split;
    if (!dml__export_megatron_split(m, c, &split))
        return dml_error_msg(err, DML_EUSAGE, "uneven pipeline");
    fprintf(f, "MEGATRON_ARGS=(\n");
    fprintf(f, "    --tensor-model-parallel-size %d\n", c->tp);
    fprintf(f, "    --pipeline-model-parallel-size %d\n", c->pp);
    if (split.account)
        fprintf(f, "    --num-virtual-stages-per-pipeline-rank %d\n"
                   "    --account-for-embedding-in-pipeline-split\n"
                   "    --account-for-loss-in-pipeline-split\n",
                c->v);
    else if (c->v > 1)
        fprintf(f, "    --num-layers-per-virtual-pipeline-stage %lld\n",
                (long long)(m->layers / ((int64_t)c->pp * c->v)));
    if (split.uneven) {
        if (c->pp > 2)
            fprintf(f, "    # %lld layers over %d stages: %lld, %d x %lld, "
                       "%lld (the plan's fullest stage holds %lld)\n",
                    (long long)m->layers, c->pp, (long long)split.first,
                    c->pp - 2, (long long)split.middle,
                    (long long)split.last,
                    (long long)((m->layers + c->pp - 1) / c->pp));
        fprintf(f, "    --decoder-first-pipeline-num-layers %lld\n"
                   "    --decoder-last-pipeline-num-layers %lld\n",
                (long long)split.first, (long long)split.last);
    }
    if (c->sp && c->tp > 1)
        fprintf(f, "    --sequence-parallel\n");
    if (c->recompute == DML_RECOMPUTE_SELECTIVE)
        fprintf(f, "    --recompute-granularity selective\n");
    else if (c->recompute == DML_RECOMPUTE_FULL)
        fprintf(f, "    --recompute-granularity full\n"
                   "    --recompute-method uniform\n"
                   "    --recompute-num-layers 1\n");
    fprintf(f, "    --micro-batch-size %lld\n", (long long)c->mbs);
    /* Megatron-LM refuses --global-batch-size beside a step schedule,
     * whose last entry is the batch (validate_args). */
    if (s->ramp_count > 0)
        ramp_schedule(f, m, s);
    else
        fprintf(f, "    --global-batch-size %lld\n",
                (long long)s->global_batch);
    data_parallel(f, m, c);
    /* The attention kernel priced: fused (flash) or the scores in memory
     * (Megatron-LM's unfused backend). */
    fprintf(f, "    --attention-backend %s\n",
            c->attention == DML_ATTN_FLASH ? "flash" : "unfused");
    model_args(f, m, c);
    if (s->optimizer == DML_OPT_ADAMW || s->optimizer == DML_OPT_ADAM) {
        /* Megatron-LM's adam decouples the weight decay (AdamW:
         * OptimizerConfig.decoupled_weight_decay, no flag); a plan's adam
         * comes here only without weight decay, where the two agree
         * (export.c refuses it otherwise) */
        fprintf(f, "    --optimizer adam\n");
        fprintf(f, "    --adam-beta1 %g\n    --adam-beta2 %g\n"
                   "    --adam-eps %g\n", s->beta1, s->beta2, s->eps);
    } else {
        fprintf(f, "    --optimizer sgd\n    --sgd-momentum %g\n",
                s->momentum);
    }
    fprintf(f, "    --weight-decay %g\n", s->weight_decay);
    fprintf(f, "    --clip-grad 1.0\n");
    lr_and_length(f, p, pl);
    if (t->ckpt_interval_steps > 0)
        fprintf(f, "    --save-interval %.0f  # Daly's interval for the "
                "job's MTBF\n", t->ckpt_interval_steps);
    fprintf(f, ")\n");
    return DML_OK;
}

dml_status dml__export_megatron(FILE *f, const dml_planner *p,
                                const dml_planned *pl,
                                const dml_export_options *o, dml_error *err)
{
    (void)o;
    char cfg[256], name[DML_EXPORT_TEXT_MAX];
    fprintf(f, "# Megatron-LM arguments for %s: %s on %lld devices (%s)",
            dml__export_megatron_script(&p->model),
            dml__export_text(p->model.name, name),
            (long long)pl->plan.devices,
            dml__export_config_line(p, pl, cfg, sizeof cfg));
    if (pl->plan.db_plan_id > 0)
        fprintf(f, ", dml plan %lld", (long long)pl->plan.db_plan_id);
    fprintf(f, ".\n# Source this file, launch on every node with the line "
               "of --export torchrun and add your data and tokenizer "
               "arguments.\n");
    DML_CHECK(dml__export_megatron_env(f, pl));
    return dml__export_megatron_args(f, p, pl, err);
}
