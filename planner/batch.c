/*
 * batch.c: learning-rate schedule and time to train (see batch.h).
 */
#include "planner/batch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "costmodel/flops.h"
#include "costmodel/schedule.h"

/* Brown et al. 2020 (GPT-3), Table 2.1: parameters, batch size in tokens
 * and learning rate of the eight GPT-3 models. */
static const struct {
    double params, batch_tokens, lr;
} gpt3_table[] = {
    {125e6, 0.5e6, 6.0e-4}, {350e6, 0.5e6, 3.0e-4}, {760e6, 0.5e6, 2.5e-4},
    {1.3e9, 1e6, 2.0e-4},   {2.7e9, 1e6, 1.6e-4},   {6.7e9, 2e6, 1.2e-4},
    {13e9, 2e6, 1.0e-4},    {175e9, 3.2e6, 0.6e-4},
};

/* GPT-3's warmup: the first 375 million tokens (Brown et al. 2020, §B). */
#define GPT3_WARMUP_TOKENS 375e6

static bool adam_like(dml_optimizer o)
{
    return o == DML_OPT_ADAM || o == DML_OPT_ADAMW || o == DML_OPT_LAMB;
}

double dml_planner_sample_tokens(const dml_model_spec *m)
{
    return m->type == DML_MODEL_TRANSFORMER ? (double)m->seq_len : 1.0;
}

double dml_planner_train_steps(const dml_model_spec *m,
                               const dml_batch_inputs *in,
                               int64_t global_batch)
{
    if (!(in->tokens > 0) || global_batch < 1)
        return 0;
    double per_sample = dml_planner_sample_tokens(m);
    if (in->auto_batch && in->noise_scale > 0) {
        double s_min = in->tokens / (per_sample * in->noise_scale);
        return dml_schedule_steps_to_target(s_min, in->noise_scale,
                                            (double)global_batch);
    }
    return ceil(in->tokens / (per_sample * (double)global_batch));
}

/* Tokens per optimizer step at global_batch. */
static double tokens_per_step(const dml_model_spec *m, int64_t global_batch)
{
    return (double)global_batch * dml_planner_sample_tokens(m);
}

/* A step count in a plan: whole, from 0 to DML_PLANNER_STEPS_MAX. The
 * bound is checked on the double, since converting one beyond int64's
 * range is undefined (dml_planner_check_steps refuses such inputs; this
 * keeps the schedule defined for any caller). */
static int64_t plan_steps(double x)
{
    if (!(x > 0))
        return 0;
    return (int64_t)(x < DML_PLANNER_STEPS_MAX ? x : DML_PLANNER_STEPS_MAX);
}

dml_status dml_planner_check_steps(const dml_model_spec *m,
                                   const dml_batch_inputs *in,
                                   int64_t global_batch, double total_steps,
                                   dml_error *err)
{
    if (total_steps > DML_PLANNER_STEPS_MAX)
        return dml_error_msg(err, DML_EUSAGE,
                             "--tokens %g: %.3g steps at a global batch of "
                             "%lld, more than a plan holds (%g)",
                             in->tokens, total_steps,
                             (long long)global_batch, DML_PLANNER_STEPS_MAX);
    /* The steps of the ramp's tokens at the full batch: the fewest it can
     * take (its own smaller batches take more, up to about twice as many;
     * dml_planner_schedule caps them at what a plan holds). */
    double ramp = in->ramp_tokens > 0 && global_batch > 0
                      ? ceil(in->ramp_tokens /
                             tokens_per_step(m, global_batch))
                      : 0;
    if (ramp > DML_PLANNER_STEPS_MAX)
        return dml_error_msg(err, DML_EUSAGE,
                             "--batch-ramp %g: %.3g steps at a global batch "
                             "of %lld, more than a plan holds (%g)",
                             in->ramp_tokens, ramp, (long long)global_batch,
                             DML_PLANNER_STEPS_MAX);
    return DML_OK;
}

/* Tokens the ramp r[0..n) consumes: each entry's batch over its steps. */
static double ramp_tokens_of(const dml_model_spec *m, const dml_batch_ramp *r,
                             int n)
{
    double samples = 0;
    int64_t prev = 0;
    for (int i = 0; i < n; i++) {
        samples += (double)r[i].global_batch * (double)(r[i].until_step - prev);
        prev = r[i].until_step;
    }
    return samples * dml_planner_sample_tokens(m);
}

/*
 * The ramp from unit to global_batch whose steps consume `tokens` (the
 * --batch-ramp length counts the tokens the ramp trains on, not steps at
 * the full batch: those would cover about half of it). The levels are
 * fixed fractions of the way, so the steps scale with the tokens: start
 * from the steps at the full batch and rescale by what a ramp of that
 * length consumed, a few times for the rounding. Returns the entries.
 */
static int ramp_for_tokens(const dml_model_spec *m, double tokens,
                           int64_t unit, int64_t global_batch,
                           dml_batch_ramp *out)
{
    double steps = ceil(tokens / tokens_per_step(m, global_batch));
    int n = 0;
    for (int round = 0; round < 4; round++) {
        n = dml_schedule_make_ramp(unit, global_batch, plan_steps(steps),
                                   unit, 8, out, DML_PLAN_RAMP_MAX);
        double got = ramp_tokens_of(m, out, n);
        if (n == 0 || !(got > 0) || fabs(got - tokens) <= 1e-6 * tokens)
            break;
        steps = ceil(steps * tokens / got);
    }
    return n;
}

/* The default reference (lr at batch) for a model and optimizer. */
static void default_reference(const dml_model_spec *m, dml_optimizer opt,
                              dml_batch_advice *a)
{
    if (m->type == DML_MODEL_TRANSFORMER && adam_like(opt)) {
        double p = dml_flops_total_params(m);
        size_t n = sizeof gpt3_table / sizeof gpt3_table[0];
        double lr = gpt3_table[0].lr, bt = gpt3_table[0].batch_tokens;
        if (p >= gpt3_table[n - 1].params) {
            lr = gpt3_table[n - 1].lr;
            bt = gpt3_table[n - 1].batch_tokens;
        } else {
            for (size_t i = 0; i + 1 < n; i++)
                if (p >= gpt3_table[i].params &&
                    p < gpt3_table[i + 1].params) {
                    /* log-log between the two neighbours */
                    double f = log(p / gpt3_table[i].params) /
                               log(gpt3_table[i + 1].params /
                                   gpt3_table[i].params);
                    lr = exp(log(gpt3_table[i].lr) +
                             f * log(gpt3_table[i + 1].lr /
                                     gpt3_table[i].lr));
                    bt = exp(log(gpt3_table[i].batch_tokens) +
                             f * log(gpt3_table[i + 1].batch_tokens /
                                     gpt3_table[i].batch_tokens));
                }
        }
        a->base_lr = lr;
        a->base_batch = bt / (double)m->seq_len;
        snprintf(a->base_source, sizeof a->base_source,
                 "GPT-3 Table 2.1 at %.3g B parameters: %.2g at %.3g M "
                 "tokens per batch", p / 1e9, lr, bt / 1e6);
    } else if (adam_like(opt)) {
        a->base_lr = 1e-3;
        a->base_batch = 256;
        snprintf(a->base_source, sizeof a->base_source,
                 "Adam's default 1e-3 at batch 256 (Kingma and Ba 2015)");
    } else {
        a->base_lr = 0.1;
        a->base_batch = 256;
        snprintf(a->base_source, sizeof a->base_source,
                 "0.1 at batch 256 (Goyal et al. 2017)");
    }
}

static void advise(const dml_model_spec *m, dml_optimizer opt,
                   int64_t global_batch, dml_batch_advice *a)
{
    double b = (double)global_batch;
    double tokens = b * dml_planner_sample_tokens(m);
    a->recommended = opt;
    a->why[0] = '\0';
    if (m->type == DML_MODEL_TRANSFORMER && !adam_like(opt)) {
        a->recommended = tokens > 16e6 || b > 32768 ? DML_OPT_LAMB
                                                    : DML_OPT_ADAMW;
        snprintf(a->why, sizeof a->why,
                 "transformers train with Adam-type optimizers; SGD-type "
                 "ones need far more tuning");
    } else if ((opt == DML_OPT_ADAM || opt == DML_OPT_ADAMW) &&
               (tokens > 16e6 || b > 32768)) {
        a->recommended = DML_OPT_LAMB;
        snprintf(a->why, sizeof a->why,
                 "a batch of %.3g %s is very large for Adam; LAMB keeps "
                 "layer-wise trust ratios (You et al. 2019 trained BERT at "
                 "64k sequences)", m->type == DML_MODEL_TRANSFORMER
                                       ? tokens / 1e6 : b,
                 m->type == DML_MODEL_TRANSFORMER ? "M tokens" : "samples");
    } else if (opt == DML_OPT_ADAM && m->type == DML_MODEL_TRANSFORMER) {
        a->recommended = DML_OPT_ADAMW;
        snprintf(a->why, sizeof a->why,
                 "adam is Adam with L2 in the gradient, planned without "
                 "weight decay; GPT-3 and Llama train with AdamW's "
                 "decoupled decay of 0.1 (Loshchilov and Hutter 2019)");
    } else if (opt == DML_OPT_SGD && b > 8192) {
        a->recommended = DML_OPT_LARS;
        snprintf(a->why, sizeof a->why,
                 "linear LR scaling of SGD held up to batch 8k (Goyal et "
                 "al. 2017); beyond it LARS (You et al. 2017, 32k)");
    }
}

void dml_planner_schedule(const dml_model_spec *m, const dml_batch_inputs *in,
                          const dml_parallel_config *par,
                          int64_t global_batch, double total_steps,
                          dml_train_schedule *out, dml_batch_advice *advice)
{
    dml_batch_advice a;
    memset(&a, 0, sizeof a);
    dml_optimizer opt = in->optimizer;
    if (in->base_lr > 0 && in->base_batch > 0) {
        a.base_lr = in->base_lr;
        a.base_batch = in->base_batch;
        snprintf(a.base_source, sizeof a.base_source,
                 "--base-lr %g at --base-batch %g", in->base_lr,
                 in->base_batch);
    } else {
        default_reference(m, opt, &a);
    }
    a.rule = adam_like(opt) ? "square-root" : "linear";
    advise(m, opt, global_batch, &a);

    dml_train_schedule_init(out);
    out->global_batch = global_batch;
    out->optimizer = opt;
    out->peak_lr = dml_schedule_scale_lr(opt, a.base_lr, a.base_batch,
                                         (double)global_batch);
    if (out->peak_lr >= 1e3)
        out->peak_lr = 999; /* keeps the plan valid; the table shows it */
    out->min_lr = 0.1 * out->peak_lr;
    bool tf = m->type == DML_MODEL_TRANSFORMER;
    double steps = total_steps > 0 ? total_steps : 0;
    double warm = 0;
    if (adam_like(opt) && tf) {
        warm = ceil(GPT3_WARMUP_TOKENS /
                    ((double)global_batch * (double)m->seq_len));
        if (steps > 0 && warm > 0.1 * steps)
            warm = ceil(0.1 * steps);
    } else if (steps > 0) {
        warm = ceil(steps * (adam_like(opt) ? 0.01 : 5.0 / 90.0));
    }
    out->warmup_steps = plan_steps(warm);
    out->decay = opt == DML_OPT_LAMB || opt == DML_OPT_LARS
                     ? DML_DECAY_LINEAR
                     : DML_DECAY_COSINE;
    out->decay_steps = steps > warm ? plan_steps(steps - warm) : 0;
    /* No length, no horizon to decay over: the rate stays at its peak
     * after warmup (as dml-exec and the exports run it), and the plan
     * says so rather than naming a decay it does not do. */
    if (out->decay_steps == 0) {
        out->decay = DML_DECAY_CONSTANT;
        out->min_lr = out->peak_lr;
    }
    if (adam_like(opt)) {
        out->beta1 = 0.9;
        out->beta2 = tf ? 0.95 : 0.999; /* GPT-3 used 0.95 */
        out->eps = 1e-8;
        /* adam's decay would be an L2 term that Adam's scaling weakens
         * (Loshchilov and Hutter 2019): none, as torch.optim.Adam */
        out->weight_decay = !tf || opt == DML_OPT_ADAM ? 0.0
                            : opt == DML_OPT_LAMB      ? 0.01
                                                       : 0.1;
    } else {
        out->momentum = 0.9;
        out->weight_decay = 1e-4; /* Goyal et al. 2017 */
        /* A gradient S steps stale under heavy-ball momentum mu is stable
         * on a quadratic of curvature h only for lr h below 0.052 at
         * mu 0.9, S 2 (0.1 at S 1), against 3.8 synchronous, and momentum
         * then buys no speed at that limit: lr h / (1 - mu) tops out at
         * 0.52-0.62 whatever mu (bench/strategies/README.md). ssp:2 at
         * mu 0.9 diverged within 30 steps of mlp-fmnist; plain SGD, as
         * Ho et al. 2013 ran SSP, does not. */
        if (par && par->sync.kind == DML_SYNC_SSP && par->sync.param > 0)
            out->momentum = 0.0;
    }
    /* Ramp (GPT-3 grew its batch over the first 4-12 B tokens): from one
     * micro-batch per replica to the full batch in 8 equal steps, over
     * the steps in which the ramp's own (smaller) batches consume
     * --batch-ramp tokens. */
    if (in->ramp_tokens > 0 && par) {
        int64_t unit = (int64_t)par->dp * par->mbs;
        if (par->schedule == DML_PP_INTERLEAVED)
            unit *= par->pp;
        out->ramp_count = ramp_for_tokens(m, in->ramp_tokens, unit,
                                          global_batch, out->ramp);
    }
    if (advice)
        *advice = a;
}

void dml_planner_train_estimate(const dml_model_spec *m,
                                const dml_cluster_spec *c, int64_t nodes,
                                const dml_batch_inputs *in,
                                int64_t global_batch, double step_s,
                                const dml_state_bytes *sb,
                                dml_train_estimate *out)
{
    memset(out, 0, sizeof *out);
    out->steps = dml_planner_train_steps(m, in, global_batch);
    out->known = out->steps > 0;
    out->tokens = out->steps * (double)global_batch *
                  dml_planner_sample_tokens(m);
    out->compute_s = out->steps * step_s;
    out->ckpt_bytes = dml_flops_total_params(m) * (sb->param + sb->optim);
    out->job_mtbf_s = dml_schedule_job_mtbf(c, nodes);
    out->ckpt_write_s = dml_schedule_checkpoint_time(c, nodes,
                                                     out->ckpt_bytes);
    if (out->job_mtbf_s > 0 && out->ckpt_write_s > 0) {
        out->ckpt_interval_s = dml_schedule_daly_interval(out->ckpt_write_s,
                                                          out->job_mtbf_s);
        out->ckpt_interval_steps =
            step_s > 0 ? fmax(1.0, floor(out->ckpt_interval_s / step_s)) : 0;
        /* A restart reads the checkpoint back: about its write time. */
        out->overhead_fraction = dml_schedule_checkpoint_overhead(
            out->ckpt_interval_s, out->ckpt_write_s, out->ckpt_write_s,
            out->job_mtbf_s);
    }
    out->total_s = out->compute_s * (1.0 + out->overhead_fraction);
}
