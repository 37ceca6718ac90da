/*
 * space.c: the admissibility rules of parallel configurations (see
 * space.h).
 */
#include "planner/space.h"

#include <stdio.h>

#include "common/error.h"
#include "costmodel/framework.h"

static const char *const reject_names[DML_REJECT_COUNT] = {
    "none", "devices", "tp-model", "tp-node", "pp-layers", "interleaving",
    "sp", "zero", "batch", "microbatches", "executor", "attention",
    "framework", "cost-model", "memory"};

const char *dml_reject_name(dml_reject r)
{
    return r >= 0 && r < DML_REJECT_COUNT ? reject_names[r] : "?";
}

/* Fill msg (may be NULL) and be r: the verdict of a rule. */
#define say(r, msg, size, ...) (dml_error_why((msg), (size), __VA_ARGS__), (r))

dml_reject dml_planner_check_tp(const dml_planner_space *s, int tp, char *msg,
                                size_t size)
{
    const dml_model_spec *m = s->model;
    if (tp < 1)
        return say(DML_REJECT_TP_MODEL, msg, size, "tp must be at least 1");
    if (m->type == DML_MODEL_TRANSFORMER) {
        if (m->heads % tp)
            return say(DML_REJECT_TP_MODEL, msg, size,
                       "tp %d does not divide the %lld attention heads", tp,
                       (long long)m->heads);
        if (m->kv_heads % tp && tp % m->kv_heads)
            return say(DML_REJECT_TP_MODEL, msg, size,
                       "tp %d and the %lld key/value heads: one must divide "
                       "the other", tp, (long long)m->kv_heads);
        if (m->ffn_hidden % tp)
            return say(DML_REJECT_TP_MODEL, msg, size,
                       "tp %d does not divide ffn_hidden %lld", tp,
                       (long long)m->ffn_hidden);
    } else {
        for (int i = 0; i < m->hidden_count; i++)
            if (m->hidden_sizes[i] % tp)
                return say(DML_REJECT_TP_MODEL, msg, size,
                           "tp %d does not divide the hidden width %lld", tp,
                           (long long)m->hidden_sizes[i]);
    }
    int dpn = s->devices_per_node > 0 ? s->devices_per_node : 1;
    if (tp > 1 && !s->allow_cross_node_tp &&
        (tp > dpn || dpn % tp != 0))
        return say(DML_REJECT_TP_NODE, msg, size,
                   tp > dpn ? "tp %d spans nodes of %d devices (add "
                              "--allow-cross-node-tp to permit it)"
                            : "tp %d does not divide the %d devices of a "
                              "node, so TP groups would straddle nodes",
                   tp, dpn);
    if (tp > dpn && tp % dpn != 0)
        return say(DML_REJECT_TP_NODE, msg, size,
                   "tp %d spanning nodes must be a multiple of the %d "
                   "devices per node", tp, dpn);
    return DML_REJECT_NONE;
}

dml_reject dml_planner_check_pipeline(const dml_planner_space *s, int pp,
                                      int v, dml_pp_schedule schedule,
                                      char *msg, size_t size)
{
    const dml_model_spec *m = s->model;
    if (pp < 1 || v < 1)
        return say(DML_REJECT_PP_LAYERS, msg, size,
                   "pp and v must be at least 1");
    if ((int64_t)pp * v > m->layers)
        return say(DML_REJECT_PP_LAYERS, msg, size,
                   "pp x v = %d x %d = %lld stages for %lld layers: each "
                   "stage needs a layer", pp, v, (long long)pp * v,
                   (long long)m->layers);
    if ((int64_t)pp * v > DML_PLAN_STAGES_MAX)
        return say(DML_REJECT_PP_LAYERS, msg, size,
                   "pp x v = %lld stages, at most %d", (long long)pp * v,
                   DML_PLAN_STAGES_MAX);
    if (schedule == DML_PP_INTERLEAVED || v > 1) {
        if (s->executor_only)
            return say(DML_REJECT_EXECUTOR, msg, size,
                       "dml-exec runs 1f1b and gpipe schedules, not "
                       "interleaved (v = 1)");
        if (pp < 2)
            return say(DML_REJECT_V, msg, size,
                       "interleaving (v = %d) needs pp > 1", v);
        if (v < 2)
            return say(DML_REJECT_V, msg, size,
                       "the interleaved schedule needs v >= 2");
        if (schedule != DML_PP_INTERLEAVED)
            return say(DML_REJECT_V, msg, size,
                       "v = %d needs the interleaved schedule, not %s", v,
                       dml_pp_schedule_name(schedule));
        if (dml_plan_stage_split(m->layers, pp, v) == DML_SPLIT_NONE)
            return say(DML_REJECT_V, msg, size,
                       "interleaving needs the %lld layers to divide evenly "
                       "over pp x v = %d x %d = %lld model chunks, or the "
                       "layers + 2 with the embedding and the loss counted "
                       "as a layer each",
                       (long long)m->layers, pp, v, (long long)pp * v);
    }
    return DML_REJECT_NONE;
}

dml_reject dml_planner_check_framework(const dml_planner_space *s,
                                       const dml_parallel_config *p,
                                       char *msg, size_t size)
{
    if (p->framework != s->framework)
        return say(DML_REJECT_FRAMEWORK, msg, size,
                   "a configuration for %s, where %s is planned for",
                   dml_framework_name(p->framework),
                   dml_framework_name(s->framework));
    /* Without a message wanted, nothing is formatted: the search asks
     * this for every pipeline layout and ZeRO stage. */
    dml_error e;
    if (dml_framework_check(p, s->model, msg && size ? &e : NULL) == DML_OK)
        return DML_REJECT_NONE;
    return msg && size ? say(DML_REJECT_FRAMEWORK, msg, size, "%s", e.msg)
                       : DML_REJECT_FRAMEWORK;
}

dml_reject dml_planner_check_options(const dml_planner_space *s,
                                     const dml_parallel_config *p, char *msg,
                                     size_t size)
{
    const dml_model_spec *m = s->model;
    if (p->attention == DML_ATTN_FLASH && m->type != DML_MODEL_TRANSFORMER)
        return say(DML_REJECT_ATTENTION, msg, size,
                   "attn=flash is for transformers: an mlp has no "
                   "attention");
    if (p->sp) {
        if (m->type != DML_MODEL_TRANSFORMER)
            return say(DML_REJECT_SP, msg, size,
                       "sequence parallelism is for transformers");
        if (p->tp < 2)
            return say(DML_REJECT_SP, msg, size,
                       "sequence parallelism (sp=1) needs tp > 1");
        if (m->seq_len % p->tp)
            return say(DML_REJECT_SP, msg, size,
                       "sequence parallelism needs tp %d to divide the "
                       "sequence length %lld", p->tp, (long long)m->seq_len);
    }
    if (p->zero < 0 || p->zero > 3)
        return say(DML_REJECT_ZERO, msg, size, "zero must be 0 to 3");
    if (p->zero > 0 && p->dp < 2)
        return say(DML_REJECT_ZERO, msg, size,
                   "ZeRO stage %d shards over data-parallel ranks and needs "
                   "dp > 1 (dp = %d)", p->zero, p->dp);
    if (s->executor_only) {
        if (p->zero > 1)
            return say(DML_REJECT_EXECUTOR, msg, size,
                       "dml-exec implements ZeRO stages 0 and 1, not %d",
                       p->zero);
        if (p->recompute != DML_RECOMPUTE_NONE)
            return say(DML_REJECT_EXECUTOR, msg, size,
                       "dml-exec keeps all activations (recompute=%s is not "
                       "supported)", dml_recompute_name(p->recompute));
    }
    return DML_REJECT_NONE;
}

dml_reject dml_planner_check_sync(const dml_planner_space *s,
                                  const dml_parallel_config *p, char *msg,
                                  size_t size)
{
    dml_error e;
    if (dml_sync_spec_check(&p->sync, p->zero, p->dp, &e) != DML_OK)
        return say(DML_REJECT_ZERO, msg, size, "%s", e.msg);
    /* executor/sync/ssp.c: every rank of a stage applies its own number
     * of stale steps, which the TP ranks of one stage must not */
    if (s->executor_only && p->sync.kind == DML_SYNC_SSP && p->tp > 1 &&
        p->dp > 1)
        return say(DML_REJECT_EXECUTOR, msg, size,
                   "dml-exec runs sync=ssp:S with tp=1 only");
    return DML_REJECT_NONE;
}

bool dml_planner_sync_spans_nodes(const dml_planner_space *s, int dp, int tp,
                                  int pp)
{
    int dpn = s->devices_per_node > 0 ? s->devices_per_node : 1;
    int tpp = tp * pp;
    int per_node = tpp >= dpn ? 1 : dpn / tpp;
    if (per_node > dp)
        per_node = dp;
    return per_node > 1 && dp > per_node;
}

dml_reject dml_planner_check_batch(const dml_planner_space *s,
                                   const dml_parallel_config *p,
                                   int64_t global_batch, char *msg,
                                   size_t size)
{
    (void)s;
    int64_t unit = (int64_t)p->dp * p->mbs;
    if (global_batch < 1 || unit < 1 || global_batch % unit)
        return say(DML_REJECT_BATCH, msg, size,
                   "the global batch %lld is not a multiple of dp x mbs = "
                   "%d x %lld", (long long)global_batch, p->dp,
                   (long long)p->mbs);
    if (p->microbatches != global_batch / unit)
        return say(DML_REJECT_BATCH, msg, size,
                   "dp x mbs x microbatches = %d x %lld x %lld is not the "
                   "global batch %lld", p->dp, (long long)p->mbs,
                   (long long)p->microbatches, (long long)global_batch);
    if (p->schedule == DML_PP_INTERLEAVED && p->microbatches % p->pp)
        return say(DML_REJECT_MICROBATCHES, msg, size,
                   "interleaving needs the %lld micro-batches to be a "
                   "multiple of pp %d", (long long)p->microbatches, p->pp);
    return DML_REJECT_NONE;
}

dml_reject dml_planner_check(const dml_planner_space *s,
                             const dml_parallel_config *p,
                             int64_t global_batch, char *msg, size_t size)
{
    int64_t world = (int64_t)p->dp * p->tp * p->pp;
    if (world != s->devices)
        return say(DML_REJECT_DEVICES, msg, size,
                   "dp x tp x pp = %d x %d x %d = %lld, but the plan is for "
                   "%lld devices", p->dp, p->tp, p->pp, (long long)world,
                   (long long)s->devices);
    dml_reject r = dml_planner_check_tp(s, p->tp, msg, size);
    if (r == DML_REJECT_NONE)
        r = dml_planner_check_pipeline(s, p->pp, p->v, p->schedule, msg,
                                       size);
    if (r == DML_REJECT_NONE)
        r = dml_planner_check_framework(s, p, msg, size);
    if (r == DML_REJECT_NONE)
        r = dml_planner_check_options(s, p, msg, size);
    if (r == DML_REJECT_NONE)
        r = dml_planner_check_sync(s, p, msg, size);
    if (r == DML_REJECT_NONE)
        r = dml_planner_check_batch(s, p, global_batch, msg, size);
    return r;
}

dml_reject dml_planner_check_fixed(const dml_planner_space *s,
                                   const dml_planner_config *c,
                                   int64_t global_batch, char *msg,
                                   size_t size)
{
    const dml_parallel_config *p = &c->par;
    bool has_dp = dml_planner_config_has(c, DML_KNOB_DP);
    bool has_tp = dml_planner_config_has(c, DML_KNOB_TP);
    bool has_pp = dml_planner_config_has(c, DML_KNOB_PP);
    bool has_v = dml_planner_config_has(c, DML_KNOB_V);
    bool has_sched = dml_planner_config_has(c, DML_KNOB_SCHEDULE);
    bool has_mbs = dml_planner_config_has(c, DML_KNOB_MBS);
    if (has_tp) {
        dml_reject r = dml_planner_check_tp(s, p->tp, msg, size);
        if (r)
            return r;
    }
    int64_t d = s->devices;
    int64_t prod = (has_dp ? p->dp : 1) * (int64_t)(has_tp ? p->tp : 1) *
                   (has_pp ? p->pp : 1);
    if (has_dp && has_tp && has_pp && prod != d)
        return say(DML_REJECT_DEVICES, msg, size,
                   "dp x tp x pp = %d x %d x %d = %lld, but the plan is for "
                   "%lld devices", p->dp, p->tp, p->pp, (long long)prod,
                   (long long)d);
    if (d % prod)
        return say(DML_REJECT_DEVICES, msg, size,
                   "the fixed degrees multiply to %lld, which does not "
                   "divide the %lld devices", (long long)prod, (long long)d);
    /* Degrees the fixed ones imply. */
    int dp = has_dp ? p->dp : 0, tp = has_tp ? p->tp : 0;
    int pp = has_pp ? p->pp : 0;
    if (!has_dp && has_tp && has_pp)
        dp = (int)(d / prod);
    if (!has_pp && has_dp && has_tp)
        pp = (int)(d / prod);
    if (!has_tp && has_dp && has_pp)
        tp = (int)(d / prod);
    if (tp && !has_tp) {
        dml_reject r = dml_planner_check_tp(s, tp, msg, size);
        if (r)
            return r;
    }
    int v = has_v ? p->v : 1;
    dml_pp_schedule sched = p->schedule;
    if (!has_sched)
        sched = v > 1 ? DML_PP_INTERLEAVED : DML_PP_1F1B;
    if (pp) {
        if (has_v || has_sched || pp > 1) {
            if (sched == DML_PP_INTERLEAVED && !has_v) {
                if (pp < 2)
                    return say(DML_REJECT_V, msg, size,
                               "the interleaved schedule needs pp > 1");
                v = 2; /* the smallest the search could pick */
                if ((int64_t)pp * v > s->model->layers)
                    return say(DML_REJECT_PP_LAYERS, msg, size,
                               "interleaving pp = %d needs at least %d "
                               "layers, the model has %lld", pp, 2 * pp,
                               (long long)s->model->layers);
            } else {
                dml_reject r =
                    dml_planner_check_pipeline(s, pp, v, sched, msg, size);
                if (r)
                    return r;
            }
        }
    } else if (has_v || sched == DML_PP_INTERLEAVED) {
        if (s->executor_only)
            return say(DML_REJECT_EXECUTOR, msg, size,
                       "dml-exec runs 1f1b and gpipe schedules, not "
                       "interleaved (v = 1)");
        if (has_v && v > 1 && has_sched && sched != DML_PP_INTERLEAVED)
            return say(DML_REJECT_V, msg, size,
                       "v = %d needs the interleaved schedule, not %s", v,
                       dml_pp_schedule_name(sched));
        if (has_v && v > 1 && 2LL * v > s->model->layers)
            return say(DML_REJECT_PP_LAYERS, msg, size,
                       "v = %d needs pp > 1 and at least %d layers, the "
                       "model has %lld", v, 2 * v,
                       (long long)s->model->layers);
        if (has_v && v == 1 && has_sched && sched == DML_PP_INTERLEAVED)
            return say(DML_REJECT_V, msg, size,
                       "the interleaved schedule needs v >= 2");
    }
    /* The runtime, against the schedule and ZeRO stage the fixed knobs
     * imply (pp not known yet: the search may pick 1). */
    dml_parallel_config f = *p;
    f.framework = s->framework;
    f.pp = pp ? pp : 1;
    f.v = v;
    f.schedule = sched;
    if (!dml_planner_config_has(c, DML_KNOB_ZERO))
        f.zero = 0;
    dml_reject fr = dml_planner_check_framework(s, &f, msg, size);
    if (fr)
        return fr;
    /* Options against the degrees known so far. */
    dml_parallel_config q = *p;
    q.tp = tp ? tp : 2;            /* any tp > 1 the search may pick */
    q.dp = dp ? dp : 2;
    if (!dml_planner_config_has(c, DML_KNOB_SP))
        q.sp = false;
    if (!dml_planner_config_has(c, DML_KNOB_ZERO))
        q.zero = 0;
    if (!dml_planner_config_has(c, DML_KNOB_RECOMPUTE))
        q.recompute = DML_RECOMPUTE_NONE;
    if (q.sp && !tp && s->model->type == DML_MODEL_TRANSFORMER) {
        q.sp = false; /* the search picks a tp that divides the sequence */
        if (s->model->seq_len < 2)
            return say(DML_REJECT_SP, msg, size,
                       "sequence parallelism needs a sequence of at least 2");
    }
    dml_reject r = dml_planner_check_options(s, &q, msg, size);
    if (r)
        return r;
    /* a strategy against a fixed ZeRO stage (an unfixed one: the search
     * keeps to the stages the strategy runs with) */
    if (dml_planner_config_has(c, DML_KNOB_SYNC) &&
        (r = dml_planner_check_sync(s, &q, msg, size)))
        return r;
    if (global_batch > 0) {
        int64_t unit = (int64_t)(dp ? dp : 1) * (has_mbs ? p->mbs : 1);
        if (global_batch % unit && dp)
            return say(DML_REJECT_BATCH, msg, size,
                       "the global batch %lld is not a multiple of dp x mbs "
                       "= %d x %lld", (long long)global_batch, dp,
                       (long long)(has_mbs ? p->mbs : 1));
        if (global_batch % unit)
            return say(DML_REJECT_BATCH, msg, size,
                       "the global batch %lld is not a multiple of mbs %lld",
                       (long long)global_batch, (long long)p->mbs);
    }
    return DML_REJECT_NONE;
}
