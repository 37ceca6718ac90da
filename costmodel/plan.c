/*
 * plan.c: plan defaults, validation, reading and writing (see plan.h).
 */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "costmodel/framework.h"

static const char *const recompute_names[] = {"none", "selective", "full",
                                              NULL};
static const char *const schedule_names[] = {"1f1b", "gpipe", "interleaved",
                                             NULL};
static const char *const optimizer_names[] = {"sgd", "adamw", "lamb", "lars",
                                              "adam", NULL};
static const char *const decay_names[] = {"cosine", "linear", "constant",
                                          NULL};
static const char *const attention_names[] = {"materialized", "flash", NULL};
static const char *const framework_names[] = {"megatron", "deepspeed", NULL};

/* table[v], or "?" for a value outside the enum (the tables end with
 * NULL, which is not a name). */
static const char *name_of(const char *const table[], size_t size, int v)
{
    return v >= 0 && (size_t)v + 1 < size ? table[v] : "?";
}

/* The public name functions, one a table. */
#define DML__NAME_FN(fn, type, table)                                         \
    const char *fn(type v)                                                    \
    {                                                                         \
        return name_of(table, sizeof table / sizeof *table, (int)v);          \
    }
DML__NAME_FN(dml_recompute_name, dml_recompute, recompute_names)
DML__NAME_FN(dml_pp_schedule_name, dml_pp_schedule, schedule_names)
DML__NAME_FN(dml_optimizer_name, dml_optimizer, optimizer_names)
DML__NAME_FN(dml_lr_decay_name, dml_lr_decay, decay_names)
DML__NAME_FN(dml_attention_name, dml_attention_impl, attention_names)
DML__NAME_FN(dml_framework_name, dml_framework, framework_names)
#undef DML__NAME_FN

static bool parse_name(const char *const table[], const char *name, int *out)
{
    for (int i = 0; table[i]; i++)
        if (strcmp(table[i], name) == 0) {
            *out = i;
            return true;
        }
    return false;
}

bool dml_attention_parse(const char *name, dml_attention_impl *out)
{
    int v;
    if (!parse_name(attention_names, name, &v))
        return false;
    *out = (dml_attention_impl)v;
    return true;
}

bool dml_framework_parse(const char *name, dml_framework *out)
{
    int v;
    if (!parse_name(framework_names, name, &v))
        return false;
    *out = (dml_framework)v;
    return true;
}

void dml_parallel_config_init(dml_parallel_config *p)
{
    memset(p, 0, sizeof *p);
    p->dp = p->tp = p->pp = p->v = 1;
    p->mbs = 1;
    p->microbatches = 1;
    p->recompute = DML_RECOMPUTE_NONE;
    p->schedule = DML_PP_1F1B;
    dml_sync_spec_init(&p->sync);
    p->threads_per_rank = 1;
    p->attention = DML_ATTN_MATERIALIZED;
    p->framework = DML_FRAMEWORK_MEGATRON;
}

bool dml_parallel_config_equal(const dml_parallel_config *a,
                               const dml_parallel_config *b)
{
    return a->dp == b->dp && a->tp == b->tp && a->pp == b->pp &&
           a->v == b->v && a->mbs == b->mbs &&
           a->microbatches == b->microbatches && a->zero == b->zero &&
           a->recompute == b->recompute && a->sp == b->sp &&
           a->schedule == b->schedule &&
           dml_sync_spec_equal(&a->sync, &b->sync) &&
           a->threads_per_rank == b->threads_per_rank &&
           a->attention == b->attention && a->framework == b->framework &&
           a->balance == b->balance && a->mode == b->mode;
}

void dml_train_schedule_init(dml_train_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->global_batch = 1;
    s->optimizer = DML_OPT_ADAMW;
    s->peak_lr = 1e-3;
    s->min_lr = 0;
    s->decay = DML_DECAY_COSINE;
    s->momentum = 0.9;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-8;
}

void dml_plan_init(dml_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    dml_model_spec_init(&plan->model, DML_MODEL_TRANSFORMER);
    dml_parallel_config_init(&plan->par);
    dml_train_schedule_init(&plan->sched);
    dml_fed_spec_init(&plan->fed);
    plan->devices = 1;
}

dml_stage_split dml_plan_stage_split(int64_t layers, int pp, int v)
{
    int64_t n = (int64_t)pp * v;
    if (v <= 1 || layers % n == 0)
        return DML_SPLIT_EVEN;
    if ((layers + 2) % n == 0 && (layers + 2) / n >= 2)
        return DML_SPLIT_EMBED_LOSS;
    return DML_SPLIT_NONE;
}

int64_t dml_plan_chunk_layers(int64_t layers, int pp, int v, int64_t i)
{
    int64_t n = (int64_t)pp * v;
    if (dml_plan_stage_split(layers, pp, v) == DML_SPLIT_EMBED_LOSS) {
        int64_t base = (layers + 2) / n;
        return i == 0 || i == n - 1 ? base - 1 : base;
    }
    return layers / n + (i < layers % n ? 1 : 0);
}

dml_status dml_plan_split_stages(dml_plan *plan, dml_error *err)
{
    int64_t n = (int64_t)plan->par.pp * plan->par.v;
    int64_t layers = plan->model.layers;
    if (n < 1 || n > DML_PLAN_STAGES_MAX)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "parallel",
                             "pp x v = %lld stages, allowed 1 to %d",
                             (long long)n, DML_PLAN_STAGES_MAX);
    if (layers < n)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "parallel",
                             "%lld layers cannot fill pp x v = %lld stages",
                             (long long)layers, (long long)n);
    if (dml_plan_stage_split(layers, plan->par.pp, plan->par.v) ==
        DML_SPLIT_NONE)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, "parallel.v",
                             "%lld layers cannot be interleaved over pp x v "
                             "= %lld chunks: neither they nor they + 2 "
                             "divide evenly",
                             (long long)layers, (long long)n);
    int64_t next = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t len =
            dml_plan_chunk_layers(layers, plan->par.pp, plan->par.v, i);
        plan->stages[i].first_layer = next;
        plan->stages[i].last_layer = next + len - 1;
        next += len;
    }
    plan->stage_count = (int)n;
    return DML_OK;
}

/*
 * Cross-field rules. On failure err names the field path to blame (in file
 * terms, no file) and says why; the caller attaches a position when it has
 * a document. One function per part of the plan, in file order.
 */
#define DML__BAD(f, ...)                                                      \
    return dml_error_set(err, DML_EINPUT, NULL, 0, 0, f, __VA_ARGS__)

static dml_status consistent_cluster(const dml_plan *p, dml_error *err)
{
    char why[DML_ERROR_MSG_MAX];
    if (!dml_name_valid(p->cluster_name, why, sizeof why))
        DML__BAD("cluster.name", "%s", why);
    if (p->cluster_fingerprint[0] &&
        !dml_fingerprint_valid(p->cluster_fingerprint, why, sizeof why))
        DML__BAD("cluster.fingerprint", "%s", why);
    return DML_OK;
}

/* Degrees in range, the world, and the knobs that depend on each other. */
static dml_status consistent_parallel(const dml_plan *p, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    const dml_model_spec *m = &p->model;
    struct {
        const char *f;
        int64_t v, lo, hi;
    } ranges[] = {
        {"parallel.dp", c->dp, 1, DML_PLAN_MAX_DEGREE},
        {"parallel.tp", c->tp, 1, DML_PLAN_MAX_DEGREE},
        {"parallel.pp", c->pp, 1, DML_PLAN_STAGES_MAX},
        {"parallel.v", c->v, 1, DML_PLAN_STAGES_MAX},
        {"parallel.mbs", c->mbs, 1, 1000000000},
        {"parallel.microbatches", c->microbatches, 1, 1000000000},
        {"parallel.zero", c->zero, 0, 3},
        {"parallel.threads_per_rank", c->threads_per_rank, 1, 4096},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi)
            DML__BAD(ranges[i].f, "%lld is out of range [%lld, %lld]",
                     (long long)ranges[i].v, (long long)ranges[i].lo,
                     (long long)ranges[i].hi);
    int64_t world = (int64_t)c->dp * c->tp * c->pp;
    if (world > 100000000)
        DML__BAD("parallel", "dp x tp x pp = %lld ranks is absurd",
                 (long long)world);
    if (p->devices != world)
        DML__BAD("cluster.devices",
                 "%lld devices but dp x tp x pp = %d x %d x %d = %lld",
                 (long long)p->devices, c->dp, c->tp, c->pp,
                 (long long)world);
    if (c->sp && c->tp < 2)
        DML__BAD("parallel.sp", "sequence parallel needs tp > 1");
    if (c->sp && m->type == DML_MODEL_MLP)
        DML__BAD("parallel.sp", "sequence parallel is for transformers");
    if (c->attention == DML_ATTN_FLASH && m->type == DML_MODEL_MLP)
        DML__BAD("parallel.attention", "an mlp has no attention");
    dml_error fw;
    if (dml_framework_check(c, m, &fw) != DML_OK) {
        char f[64];
        snprintf(f, sizeof f, "parallel.%s", fw.field);
        DML__BAD(f, "%s", fw.msg);
    }
    if (c->schedule == DML_PP_INTERLEAVED) {
        if (c->v < 2)
            DML__BAD("parallel.v", "the interleaved schedule needs v >= 2");
        if (c->pp < 2)
            DML__BAD("parallel.schedule", "interleaved needs pp > 1");
        if (c->microbatches % c->pp != 0)
            DML__BAD("parallel.microbatches",
                     "interleaved needs microbatches (%lld) to be a multiple "
                     "of pp (%d)", (long long)c->microbatches, c->pp);
    } else if (c->v != 1) {
        DML__BAD("parallel.v", "v > 1 needs the interleaved schedule");
    }
    dml_error se;
    if (dml_sync_spec_check(&c->sync, c->zero, c->dp, &se) != DML_OK)
        DML__BAD("parallel.sync", "%s", se.msg);
    /* Federated: every rank hosts whole clients (one model each), the
     * server averages models, not gradients. */
    if (c->mode == DML_MODE_FEDERATED &&
        (c->tp != 1 || c->pp != 1 || c->zero != 0 ||
         c->sync.kind != DML_SYNC_ALLREDUCE))
        DML__BAD("parallel.mode", "federated needs tp = pp = 1, zero 0 and "
                 "sync allreduce (each rank trains whole clients)");
    if ((c->mode == DML_MODE_GOSSIP) != (c->sync.kind == DML_SYNC_GOSSIP))
        DML__BAD("parallel.mode", "mode gossip goes with sync gossip:G (the "
                 "graph: gossip:ring, gossip:onepeer-exp, ...) and sync "
                 "gossip:G with mode gossip");
    return DML_OK;
}

/* tp divides the widths it splits. */
static dml_status consistent_widths(const dml_plan *p, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    const dml_model_spec *m = &p->model;
    if (m->type == DML_MODEL_TRANSFORMER) {
        if (m->heads % c->tp != 0)
            DML__BAD("parallel.tp", "tp %d does not divide heads %lld", c->tp,
                     (long long)m->heads);
        if (m->ffn_hidden % c->tp != 0)
            DML__BAD("parallel.tp", "tp %d does not divide ffn_hidden %lld",
                     c->tp, (long long)m->ffn_hidden);
        if (m->kv_heads % c->tp != 0 && c->tp % m->kv_heads != 0)
            DML__BAD("parallel.tp", "tp %d and kv_heads %lld: one must "
                     "divide the other", c->tp, (long long)m->kv_heads);
        if (c->sp && m->seq_len % c->tp != 0)
            DML__BAD("parallel.sp", "tp %d does not divide seq_len %lld",
                     c->tp, (long long)m->seq_len);
    } else {
        for (int i = 0; i < m->hidden_count; i++)
            if (m->hidden_sizes[i] % c->tp != 0)
                DML__BAD("parallel.tp", "tp %d does not divide hidden "
                         "width %lld", c->tp, (long long)m->hidden_sizes[i]);
    }
    return DML_OK;
}

/* pp x v stages cover the layers contiguously. */
static dml_status consistent_stages(const dml_plan *p, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    const dml_model_spec *m = &p->model;
    int64_t nst = (int64_t)c->pp * c->v;
    if (nst > DML_PLAN_STAGES_MAX)
        DML__BAD("parallel", "pp x v = %lld stages, at most %d",
                 (long long)nst, DML_PLAN_STAGES_MAX);
    if (m->layers < nst)
        DML__BAD("parallel.pp", "%lld layers cannot fill pp x v = %lld stages",
                 (long long)m->layers, (long long)nst);
    if (p->stage_count != nst)
        DML__BAD("placement.stages", "%d stages given, pp x v = %lld",
                 p->stage_count, (long long)nst);
    int64_t next = 0;
    for (int i = 0; i < p->stage_count; i++) {
        char f[64];
        snprintf(f, sizeof f, "placement.stages[%d]", i);
        if (p->stages[i].first_layer != next)
            DML__BAD(f, "first_layer %lld, expected %lld (stages must cover "
                     "the layers contiguously from 0)",
                     (long long)p->stages[i].first_layer, (long long)next);
        if (p->stages[i].last_layer < p->stages[i].first_layer)
            DML__BAD(f, "last_layer %lld is before first_layer %lld",
                     (long long)p->stages[i].last_layer,
                     (long long)p->stages[i].first_layer);
        next = p->stages[i].last_layer + 1;
    }
    if (next != m->layers)
        DML__BAD("placement.stages", "stages cover %lld layers, the model "
                 "has %lld", (long long)next, (long long)m->layers);
    return DML_OK;
}

/* The data-parallel shares: runs of replicas covering dp, the step's
 * micro-batches all given out, and only where they can be run. */
static dml_status consistent_shares(const dml_plan *p, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    if (p->share_count == 0)
        return DML_OK;
    if (p->share_count < 0 || p->share_count > DML_PLAN_SHARES_MAX)
        DML__BAD("placement.dp_shares", "1 to %d runs, found %d",
                 DML_PLAN_SHARES_MAX, p->share_count);
    int64_t replicas = 0, mbs = 0;
    bool uneven = false;
    for (int i = 0; i < p->share_count; i++) {
        const dml_dp_share *s = &p->shares[i];
        char f[64];
        snprintf(f, sizeof f, "placement.dp_shares[%d]", i);
        if (s->replicas < 1 || s->replicas > DML_PLAN_MAX_DEGREE ||
            s->microbatches < 1 || s->microbatches > 1000000000)
            DML__BAD(f, "replicas and microbatches must be positive");
        replicas += s->replicas;
        mbs += s->replicas * s->microbatches;
        uneven |= s->microbatches != c->microbatches;
    }
    if (replicas != c->dp)
        DML__BAD("placement.dp_shares", "runs of %lld replicas, dp is %d",
                 (long long)replicas, c->dp);
    if (mbs != (int64_t)c->dp * c->microbatches)
        DML__BAD("placement.dp_shares",
                 "%lld micro-batches a step, dp x microbatches = %lld",
                 (long long)mbs, (long long)c->dp * c->microbatches);
    if (!uneven)
        return DML_OK;
    if (c->balance == DML_BALANCE_EQUAL)
        DML__BAD("placement.dp_shares",
                 "uneven shares need balance static or dynamic");
    if (c->schedule == DML_PP_INTERLEAVED)
        DML__BAD("placement.dp_shares", "uneven shares do not combine with "
                 "the interleaved schedule (micro-batches a multiple of pp "
                 "on every replica)");
    if (c->sync.kind == DML_SYNC_LOCAL)
        DML__BAD("placement.dp_shares", "uneven shares need a strategy that "
                 "sums gradients (local SGD averages the replicas' weights "
                 "as equals)");
    return DML_OK;
}

/* The batch, the learning-rate schedule and the ramp. */
static dml_status consistent_schedule(const dml_plan *p, dml_error *err)
{
    const dml_parallel_config *c = &p->par;
    const dml_train_schedule *s = &p->sched;
    /* Each factor is in range, but their product need not fit in 64 bits
     * (1e6 x 1e9 x 1e9); one that does not cannot equal any batch. */
    int64_t batch = 0;
    bool huge = __builtin_mul_overflow((int64_t)c->dp, c->mbs, &batch) ||
                __builtin_mul_overflow(batch, c->microbatches, &batch);
    if (huge || s->global_batch != batch) {
        char prod[32];
        if (huge)
            snprintf(prod, sizeof prod, "%.3g",
                     (double)c->dp * (double)c->mbs * (double)c->microbatches);
        else
            snprintf(prod, sizeof prod, "%lld", (long long)batch);
        DML__BAD("schedule.global_batch",
                 "%lld but dp x mbs x microbatches = %d x %lld x %lld = %s",
                 (long long)s->global_batch, c->dp, (long long)c->mbs,
                 (long long)c->microbatches, prod);
    }
    if (!(s->peak_lr > 0 && s->peak_lr < 1e3))
        DML__BAD("schedule.peak_lr", "must be in (0, 1000)");
    if (!(s->min_lr >= 0 && s->min_lr <= s->peak_lr))
        DML__BAD("schedule.min_lr", "must be in [0, peak_lr]");
    if (s->warmup_steps < 0 || s->decay_steps < 0)
        DML__BAD("schedule", "warmup_steps and decay_steps must not be "
                 "negative");
    if (!(s->weight_decay >= 0 && s->weight_decay < 10))
        DML__BAD("schedule.weight_decay", "must be in [0, 10)");
    if (!(s->momentum >= 0 && s->momentum < 1))
        DML__BAD("schedule.momentum", "must be in [0, 1)");
    if (!(s->beta1 >= 0 && s->beta1 < 1))
        DML__BAD("schedule.beta1", "must be in [0, 1)");
    if (!(s->beta2 >= 0 && s->beta2 < 1))
        DML__BAD("schedule.beta2", "must be in [0, 1)");
    if (!(s->eps > 0 && s->eps < 1))
        DML__BAD("schedule.eps", "must be in (0, 1)");
    if (s->ramp_count < 0 || s->ramp_count > DML_PLAN_RAMP_MAX)
        DML__BAD("schedule.batch_ramp", "at most %d entries",
                 DML_PLAN_RAMP_MAX);
    int64_t unit = (int64_t)c->dp * c->mbs;
    for (int i = 0; i < s->ramp_count; i++) {
        char f[64];
        snprintf(f, sizeof f, "schedule.batch_ramp[%d]", i);
        const dml_batch_ramp *r = &s->ramp[i];
        if (r->until_step < 1 ||
            (i > 0 && r->until_step <= s->ramp[i - 1].until_step))
            DML__BAD(f, "until_step must be positive and increasing");
        if (r->global_batch < 1 || r->global_batch % unit != 0 ||
            r->global_batch > s->global_batch)
            DML__BAD(f, "global_batch %lld must be a multiple of dp x mbs = "
                     "%lld and at most the global batch %lld",
                     (long long)r->global_batch, (long long)unit,
                     (long long)s->global_batch);
        if (c->schedule == DML_PP_INTERLEAVED &&
            (r->global_batch / unit) % c->pp != 0)
            DML__BAD(f, "the interleaved schedule needs its micro-batch "
                     "count to be a multiple of pp");
    }
    return DML_OK;
}

#undef DML__BAD

static dml_status consistent(const dml_plan *p, dml_error *err)
{
    DML_CHECK(consistent_cluster(p, err));
    DML_CHECK(consistent_parallel(p, err));
    DML_CHECK(consistent_widths(p, err));
    DML_CHECK(consistent_stages(p, err));
    DML_CHECK(consistent_shares(p, err));
    return consistent_schedule(p, err);
}

dml_status dml_plan_validate(const dml_plan *plan, dml_error *err)
{
    DML_CHECK(dml_model_spec_validate(&plan->model, err));
    return consistent(plan, err);
}

/* ---- reading ------------------------------------------------------------- */

static dml_status get_int(const dml_json_obj *o, const char *key,
                          bool required, int64_t lo, int64_t hi, int *out,
                          dml_error *err)
{
    int64_t v = *out;
    DML_CHECK(dml_json_get_i64(o, key, required, lo, hi, &v, err));
    *out = (int)v;
    return DML_OK;
}

static dml_status get_enum(const dml_json_obj *o, const char *key,
                           bool required, const char *const names[], int *out,
                           dml_error *err)
{
    return dml_json_get_enum(o, key, required, names, out, err);
}

/* parallel.sync as knob text ("topk:0.01"), and the fields plan files
 * of schema 1 wrote before it: "sync": "sync" (allreduce) or "async" (a
 * one-step-stale reduction, ssp:1), with "grad_compression": "fp16" or
 * "topk" and "topk_ratio". */
static dml_status parse_sync(const dml_json_obj *o, dml_sync_spec *out,
                             dml_error *err)
{
    static const char *const compressions[] = {"none", "fp16", "topk", NULL};
    const char *text = NULL;
    DML_CHECK(dml_json_get_str(o, "sync", false, &text, err));
    char path[DML_JSON_PATH_MAX], why[160];
    dml_sync_spec_init(out);
    if (text && strcmp(text, "async") == 0) {
        out->kind = DML_SYNC_SSP;
        out->param = 1;
    } else if (text && strcmp(text, "sync") != 0 &&
               !dml_sync_spec_parse(text, out, why, sizeof why)) {
        dml_json_path_key(path, sizeof path, o->path, "sync");
        return dml_json_doc_error(o->doc, err, path, false, "%s", why);
    }
    int comp = 0;
    DML_CHECK(dml_json_get_enum(o, "grad_compression", false, compressions,
                                &comp, err));
    double ratio = 0.01;
    DML_CHECK(dml_json_get_f64(o, "topk_ratio", false, 1e-6, 1, &ratio, err));
    if (comp == 0)
        return DML_OK;
    if (out->kind != DML_SYNC_ALLREDUCE) {
        dml_json_path_key(path, sizeof path, o->path, "grad_compression");
        return dml_json_doc_error(o->doc, err, path, false,
                                  "does not combine with sync \"%s\" (give "
                                  "the strategy as sync alone)",
                                  text);
    }
    out->kind = comp == 1 ? DML_SYNC_FP16 : DML_SYNC_TOPK;
    out->param = comp == 1 ? 0 : ratio;
    return DML_OK;
}

static dml_status parse_parallel(const dml_json_obj *o, dml_parallel_config *c,
                                 dml_error *err)
{
    static const char *const keys[] = {
        "dp",       "tp",   "pp",       "v",    "mbs",
        "microbatches", "zero", "recompute", "sp", "schedule",
        "grad_compression", "topk_ratio", "sync", "threads_per_rank",
        "attention", "framework", "balance", "mode", NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    DML_CHECK(get_int(o, "dp", true, 1, DML_PLAN_MAX_DEGREE, &c->dp, err));
    DML_CHECK(get_int(o, "tp", true, 1, DML_PLAN_MAX_DEGREE, &c->tp, err));
    DML_CHECK(get_int(o, "pp", true, 1, DML_PLAN_STAGES_MAX, &c->pp, err));
    DML_CHECK(get_int(o, "v", false, 1, DML_PLAN_STAGES_MAX, &c->v, err));
    DML_CHECK(dml_json_get_i64(o, "mbs", true, 1, 1000000000, &c->mbs, err));
    DML_CHECK(dml_json_get_i64(o, "microbatches", true, 1, 1000000000,
                               &c->microbatches, err));
    DML_CHECK(get_int(o, "zero", false, 0, 3, &c->zero, err));
    int v = (int)c->recompute;
    DML_CHECK(get_enum(o, "recompute", false, recompute_names, &v, err));
    c->recompute = (dml_recompute)v;
    DML_CHECK(dml_json_get_bool(o, "sp", false, &c->sp, err));
    v = (int)c->schedule;
    DML_CHECK(get_enum(o, "schedule", false, schedule_names, &v, err));
    c->schedule = (dml_pp_schedule)v;
    DML_CHECK(parse_sync(o, &c->sync, err));
    DML_CHECK(get_int(o, "threads_per_rank", false, 1, 4096,
                      &c->threads_per_rank, err));
    v = (int)c->attention;
    DML_CHECK(get_enum(o, "attention", false, attention_names, &v, err));
    c->attention = (dml_attention_impl)v;
    v = (int)c->framework;
    DML_CHECK(get_enum(o, "framework", false, framework_names, &v, err));
    c->framework = (dml_framework)v;
    static const char *const balance_names[] = {"equal", "static", "dynamic",
                                                NULL};
    v = (int)c->balance;
    DML_CHECK(get_enum(o, "balance", false, balance_names, &v, err));
    c->balance = (dml_balance)v;
    static const char *const mode_names[] = {"sync", "federated", "gossip",
                                             NULL};
    v = (int)c->mode;
    DML_CHECK(get_enum(o, "mode", false, mode_names, &v, err));
    c->mode = (dml_run_mode)v;
    /* gossip is a strategy of its own (sync gossip:G): the mode follows
     * it, so that a plan file giving the strategy alone is one */
    if (c->sync.kind == DML_SYNC_GOSSIP && c->mode == DML_MODE_SYNC)
        c->mode = DML_MODE_GOSSIP;
    return DML_OK;
}

/* The array o[key] of 1 to max entries (`what` names them in the error). */
static dml_status get_list(const dml_json_obj *o, const char *key,
                           bool required, int max, const char *what,
                           json_t **arr, size_t *n, bool *have,
                           dml_error *err)
{
    bool here = false;
    DML_CHECK(dml_json_get_array(o, key, required, arr, n, &here, err));
    if (have)
        *have = here;
    if (here && (*n < 1 || *n > (size_t)max)) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, key);
        return dml_json_doc_error(o->doc, err, path, false,
                                  "needs 1 to %d %s, found %zu", max, what,
                                  *n);
    }
    return DML_OK;
}

static dml_status parse_shares(const dml_json_obj *o, dml_plan *p,
                               dml_error *err)
{
    json_t *arr = NULL;
    size_t n = 0;
    bool have = false;
    DML_CHECK(get_list(o, "dp_shares", false, DML_PLAN_SHARES_MAX, "runs",
                       &arr, &n, &have, err));
    if (!have)
        return DML_OK;
    static const char *const keys[] = {"replicas", "microbatches", NULL};
    for (size_t i = 0; i < n; i++) {
        dml_json_obj s;
        DML_CHECK(dml_json_array_obj(o, "dp_shares", arr, i, &s, err));
        DML_CHECK(dml_json_check_keys(&s, keys, err));
        DML_CHECK(dml_json_get_i64(&s, "replicas", true, 1,
                                   DML_PLAN_MAX_DEGREE,
                                   &p->shares[i].replicas, err));
        DML_CHECK(dml_json_get_i64(&s, "microbatches", true, 1, 1000000000,
                                   &p->shares[i].microbatches, err));
    }
    p->share_count = (int)n;
    return DML_OK;
}

static dml_status parse_placement(const dml_json_obj *o, dml_plan *p,
                                  dml_error *err)
{
    static const char *const keys[] = {"order", "stages", "dp_shares", NULL};
    static const char *const orders[] = {"tp-pp-dp", NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    int order = 0;
    DML_CHECK(dml_json_get_enum(o, "order", false, orders, &order, err));
    json_t *arr = NULL;
    size_t n = 0;
    DML_CHECK(get_list(o, "stages", true, DML_PLAN_STAGES_MAX, "stages", &arr,
                       &n, NULL, err));
    static const char *const skeys[] = {"stage", "first_layer", "last_layer",
                                        NULL};
    for (size_t i = 0; i < n; i++) {
        dml_json_obj s;
        DML_CHECK(dml_json_array_obj(o, "stages", arr, i, &s, err));
        DML_CHECK(dml_json_check_keys(&s, skeys, err));
        int64_t idx = (int64_t)i;
        DML_CHECK(dml_json_get_i64(&s, "stage", false, (int64_t)i, (int64_t)i,
                                   &idx, err));
        DML_CHECK(dml_json_get_i64(&s, "first_layer", true, 0,
                                   DML_MODEL_MAX_LAYERS,
                                   &p->stages[i].first_layer, err));
        DML_CHECK(dml_json_get_i64(&s, "last_layer", true, 0,
                                   DML_MODEL_MAX_LAYERS,
                                   &p->stages[i].last_layer, err));
    }
    p->stage_count = (int)n;
    return parse_shares(o, p, err);
}

static dml_status parse_schedule(const dml_json_obj *o, dml_train_schedule *s,
                                 dml_error *err)
{
    static const char *const keys[] = {
        "global_batch", "optimizer",   "peak_lr",      "min_lr",
        "warmup_steps", "decay",       "decay_steps",  "weight_decay",
        "momentum",     "beta1",       "beta2",        "eps",
        "batch_ramp",   NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    DML_CHECK(dml_json_get_i64(o, "global_batch", true, 1, 1000000000000LL,
                               &s->global_batch, err));
    int v = (int)s->optimizer;
    DML_CHECK(get_enum(o, "optimizer", false, optimizer_names, &v, err));
    s->optimizer = (dml_optimizer)v;
    DML_CHECK(dml_json_get_f64(o, "peak_lr", false, 1e-30, 1e3, &s->peak_lr,
                               err));
    DML_CHECK(dml_json_get_f64(o, "min_lr", false, 0, 1e3, &s->min_lr, err));
    DML_CHECK(dml_json_get_i64(o, "warmup_steps", false, 0, 1000000000000LL,
                               &s->warmup_steps, err));
    v = (int)s->decay;
    DML_CHECK(get_enum(o, "decay", false, decay_names, &v, err));
    s->decay = (dml_lr_decay)v;
    DML_CHECK(dml_json_get_i64(o, "decay_steps", false, 0, 1000000000000LL,
                               &s->decay_steps, err));
    DML_CHECK(dml_json_get_f64(o, "weight_decay", false, 0, 10,
                               &s->weight_decay, err));
    DML_CHECK(dml_json_get_f64(o, "momentum", false, 0, 0.999999999,
                               &s->momentum, err));
    DML_CHECK(dml_json_get_f64(o, "beta1", false, 0, 0.999999999, &s->beta1,
                               err));
    DML_CHECK(dml_json_get_f64(o, "beta2", false, 0, 0.999999999, &s->beta2,
                               err));
    DML_CHECK(dml_json_get_f64(o, "eps", false, 1e-30, 0.999999, &s->eps,
                               err));
    json_t *arr = NULL;
    size_t n = 0;
    bool have = false;
    DML_CHECK(dml_json_get_array(o, "batch_ramp", false, &arr, &n, &have,
                                 err));
    if (have && n > DML_PLAN_RAMP_MAX) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "batch_ramp");
        return dml_json_doc_error(o->doc, err, path, false,
                                  "%zu entries, at most %d", n,
                                  DML_PLAN_RAMP_MAX);
    }
    static const char *const rkeys[] = {"until_step", "global_batch", NULL};
    for (size_t i = 0; have && i < n; i++) {
        dml_json_obj r;
        DML_CHECK(dml_json_array_obj(o, "batch_ramp", arr, i, &r, err));
        DML_CHECK(dml_json_check_keys(&r, rkeys, err));
        DML_CHECK(dml_json_get_i64(&r, "until_step", true, 1,
                                   1000000000000LL, &s->ramp[i].until_step,
                                   err));
        DML_CHECK(dml_json_get_i64(&r, "global_batch", true, 1,
                                   1000000000000LL, &s->ramp[i].global_batch,
                                   err));
    }
    s->ramp_count = have ? (int)n : 0;
    return DML_OK;
}

static dml_status parse_prediction(const dml_json_obj *o, dml_prediction *p,
                                   dml_error *err)
{
    static const char *const keys[] = {
        "step_s",       "mem_bytes_per_device", "breakdown", "memory",
        "tokens_per_s", "flops_per_device",     "mfu",       NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    DML_CHECK(dml_json_get_f64(o, "step_s", true, 0, 1e12, &p->step_s, err));
    DML_CHECK(dml_json_get_f64(o, "mem_bytes_per_device", true, 0, 1e20,
                               &p->mem_bytes_per_device, err));
    DML_CHECK(dml_json_get_f64(o, "tokens_per_s", false, 0, 1e20,
                               &p->tokens_per_s, err));
    DML_CHECK(dml_json_get_f64(o, "flops_per_device", false, 0, 1e20,
                               &p->flops_per_device, err));
    DML_CHECK(dml_json_get_f64(o, "mfu", false, 0, 10, &p->mfu, err));
    dml_json_obj b;
    bool have = false;
    DML_CHECK(dml_json_get_obj(o, "breakdown", false, &b, &have, err));
    if (have) {
        static const char *const bkeys[] = {"compute_s", "tp_comm_s",
                                            "pp_comm_s", "dp_comm_s",
                                            "bubble_s",  "optimizer_s",
                                            "overhead_s", NULL};
        double *dst[] = {&p->time.compute_s, &p->time.tp_comm_s,
                         &p->time.pp_comm_s, &p->time.dp_comm_s,
                         &p->time.bubble_s,  &p->time.optimizer_s,
                         &p->time.overhead_s};
        DML_CHECK(dml_json_check_keys(&b, bkeys, err));
        for (int i = 0; bkeys[i]; i++)
            DML_CHECK(dml_json_get_f64(&b, bkeys[i], false, 0, 1e12, dst[i],
                                       err));
    }
    DML_CHECK(dml_json_get_obj(o, "memory", false, &b, &have, err));
    if (have) {
        static const char *const mkeys[] = {
            "params_bytes", "grads_bytes", "optimizer_bytes",
            "activations_bytes", "buffers_bytes", NULL};
        double *dst[] = {&p->mem.params_bytes, &p->mem.grads_bytes,
                         &p->mem.optimizer_bytes, &p->mem.activations_bytes,
                         &p->mem.buffers_bytes};
        DML_CHECK(dml_json_check_keys(&b, mkeys, err));
        for (int i = 0; mkeys[i]; i++)
            DML_CHECK(dml_json_get_f64(&b, mkeys[i], false, 0, 1e20, dst[i],
                                       err));
    }
    p->present = true;
    return DML_OK;
}

static dml_status parse_into(const dml_json_obj *o, dml_plan *p,
                             dml_error *err)
{
    static const char *const keys[] = {"schema_version", "kind",
                                       "model",          "cluster",
                                       "parallel",       "placement",
                                       "schedule",       "prediction",
                                       "db_plan_id",     "federated",
                                       NULL};
    static const char *const kinds[] = {"plan", NULL};
    DML_CHECK(dml_json_check_keys(o, keys, err));
    int64_t version = 1;
    DML_CHECK(dml_json_get_i64(o, "schema_version", true, 1, 1, &version,
                               err));
    int kind = 0;
    DML_CHECK(dml_json_get_enum(o, "kind", false, kinds, &kind, err));
    DML_CHECK(dml_json_get_i64(o, "db_plan_id", false, 1, INT64_MAX,
                               &p->db_plan_id, err));
    dml_json_obj sub;
    DML_CHECK(dml_json_get_obj(o, "model", true, &sub, NULL, err));
    DML_CHECK(dml_model_spec_parse(&sub, &p->model, err));

    DML_CHECK(dml_json_get_obj(o, "cluster", true, &sub, NULL, err));
    static const char *const ckeys[] = {"name", "fingerprint", "devices",
                                        NULL};
    DML_CHECK(dml_json_check_keys(&sub, ckeys, err));
    DML_CHECK(dml_name_get(&sub, "name", true, p->cluster_name,
                           sizeof p->cluster_name, err));
    DML_CHECK(dml_fingerprint_get(&sub, "fingerprint", p->cluster_fingerprint,
                                  sizeof p->cluster_fingerprint, err));
    DML_CHECK(dml_json_get_i64(&sub, "devices", true, 1, 100000000,
                               &p->devices, err));

    DML_CHECK(dml_json_get_obj(o, "parallel", true, &sub, NULL, err));
    /* a plan that does not say runs the model's own attention kernel */
    if (p->model.attention_set)
        p->par.attention = p->model.attention;
    DML_CHECK(parse_parallel(&sub, &p->par, err));
    DML_CHECK(dml_json_get_obj(o, "placement", true, &sub, NULL, err));
    DML_CHECK(parse_placement(&sub, p, err));
    DML_CHECK(dml_json_get_obj(o, "schedule", true, &sub, NULL, err));
    DML_CHECK(parse_schedule(&sub, &p->sched, err));
    bool have = false;
    DML_CHECK(dml_json_get_obj(o, "prediction", false, &sub, &have, err));
    if (have)
        DML_CHECK(parse_prediction(&sub, &p->pred, err));
    DML_CHECK(dml_json_get_obj(o, "federated", false, &sub, &have, err));
    if (have && p->par.mode != DML_MODE_FEDERATED) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, "federated");
        return dml_json_doc_error(o->doc, err, path, true,
                                  "a federated section needs "
                                  "parallel.mode \"federated\"");
    }
    if (have)
        DML_CHECK(dml_fed_spec_parse(&sub, &p->fed, err));

    dml_error bad;
    if (consistent(p, &bad) != DML_OK) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, bad.field);
        return dml_json_doc_error(o->doc, err, path, false, "%s", bad.msg);
    }
    return DML_OK;
}

dml_status dml_plan_parse(const dml_json_obj *o, dml_plan *out,
                          dml_error *err)
{
    dml_plan *p = malloc(sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_plan_init(p);
    dml_status s = parse_into(o, p, err);
    if (s == DML_OK)
        *out = *p;
    free(p);
    return s;
}

/* dml_json_parse_fn for plans. */
static dml_status parse_any(const dml_json_obj *root, void *out,
                            dml_error *err)
{
    return dml_plan_parse(root, out, err);
}

dml_status dml_plan_load(const char *path, dml_plan *out, dml_error *err)
{
    return dml_json_parse_file(path, parse_any, out, err);
}

dml_status dml_plan_from_json(const json_t *j, const char *name,
                              dml_plan *out, dml_error *err)
{
    return dml_json_parse_value(j, name, "plan", parse_any, out,
                                err);
}

/* ---- writing ------------------------------------------------------------- */

json_t *dml_plan_to_json(const dml_plan *p)
{
    const dml_parallel_config *c = &p->par;
    const dml_train_schedule *s = &p->sched;
    json_t *model = dml_model_spec_to_json(&p->model);
    json_t *stages = json_array();
    json_t *ramp = json_array();
    if (!model || !stages || !ramp) {
        json_decref(model);
        json_decref(stages);
        json_decref(ramp);
        return NULL;
    }
    int bad = 0;
    for (int i = 0; i < p->stage_count; i++)
        bad |= json_array_append_new(
            stages, json_pack("{s:i, s:I, s:I}", "stage", i, "first_layer",
                              (json_int_t)p->stages[i].first_layer,
                              "last_layer",
                              (json_int_t)p->stages[i].last_layer));
    for (int i = 0; i < s->ramp_count; i++)
        bad |= json_array_append_new(
            ramp, json_pack("{s:I, s:I}", "until_step",
                            (json_int_t)s->ramp[i].until_step, "global_batch",
                            (json_int_t)s->ramp[i].global_batch));
    json_t *cluster = json_pack("{s:s, s:I}", "name", p->cluster_name,
                                "devices", (json_int_t)p->devices);
    if (cluster && p->cluster_fingerprint[0])
        bad |= json_object_set_new(cluster, "fingerprint",
                                   json_string(p->cluster_fingerprint));
    char sync[48];
    json_t *par = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:i, s:s, s:b, s:s, s:s, s:i}",
        "dp", c->dp, "tp", c->tp, "pp", c->pp, "v", c->v, "mbs",
        (json_int_t)c->mbs, "microbatches", (json_int_t)c->microbatches,
        "zero", c->zero, "recompute", dml_recompute_name(c->recompute), "sp",
        (int)c->sp, "schedule", dml_pp_schedule_name(c->schedule), "sync",
        dml_sync_spec_format(&c->sync, sync, sizeof sync), "threads_per_rank",
        c->threads_per_rank);
    if (par && p->model.type == DML_MODEL_TRANSFORMER)
        bad |= json_object_set_new(
            par, "attention", json_string(dml_attention_name(c->attention)));
    if (par)
        bad |= json_object_set_new(
            par, "framework", json_string(dml_framework_name(c->framework)));
    if (par && c->balance != DML_BALANCE_EQUAL)
        bad |= json_object_set_new(par, "balance",
                                   json_string(dml_balance_name(c->balance)));
    if (par && c->mode != DML_MODE_SYNC)
        bad |= json_object_set_new(par, "mode",
                                   json_string(dml_run_mode_name(c->mode)));
    json_t *placement = json_pack("{s:s, s:o}", "order", "tp-pp-dp",
                                  "stages", stages);
    if (placement && p->share_count > 0) {
        json_t *sh = json_array();
        for (int i = 0; sh && i < p->share_count; i++)
            bad |= json_array_append_new(
                sh, json_pack("{s:I, s:I}", "replicas",
                              (json_int_t)p->shares[i].replicas,
                              "microbatches",
                              (json_int_t)p->shares[i].microbatches));
        bad |= !sh || json_object_set_new(placement, "dp_shares", sh);
    }
    json_t *sched = json_pack(
        "{s:I, s:s, s:f, s:f, s:I, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:o}",
        "global_batch", (json_int_t)s->global_batch, "optimizer",
        dml_optimizer_name(s->optimizer), "peak_lr", s->peak_lr, "min_lr",
        s->min_lr, "warmup_steps", (json_int_t)s->warmup_steps, "decay",
        dml_lr_decay_name(s->decay), "decay_steps",
        (json_int_t)s->decay_steps, "weight_decay", s->weight_decay,
        "momentum", s->momentum, "beta1", s->beta1, "beta2", s->beta2, "eps",
        s->eps, "batch_ramp", ramp);
    json_t *j = json_pack("{s:i, s:s, s:o, s:o, s:o, s:o, s:o}",
                          "schema_version", 1, "kind", "plan", "model", model,
                          "cluster", cluster, "parallel", par, "placement",
                          placement, "schedule", sched);
    if (!j || bad) {
        json_decref(j);
        return NULL;
    }
    if (c->mode == DML_MODE_FEDERATED &&
        json_object_set_new(j, "federated", dml_fed_spec_to_json(&p->fed))) {
        json_decref(j);
        return NULL;
    }
    if (p->db_plan_id > 0 &&
        json_object_set_new(j, "db_plan_id",
                            json_integer((json_int_t)p->db_plan_id))) {
        json_decref(j);
        return NULL;
    }
    if (p->pred.present) {
        const dml_prediction *q = &p->pred;
        json_t *pred = json_pack(
            "{s:f, s:f, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, "
            "s:{s:f, s:f, s:f, s:f, s:f}, s:f, s:f, s:f}",
            "step_s", q->step_s, "mem_bytes_per_device",
            q->mem_bytes_per_device, "breakdown", "compute_s",
            q->time.compute_s, "tp_comm_s", q->time.tp_comm_s, "pp_comm_s",
            q->time.pp_comm_s, "dp_comm_s", q->time.dp_comm_s, "bubble_s",
            q->time.bubble_s, "optimizer_s", q->time.optimizer_s,
            "overhead_s", q->time.overhead_s, "memory",
            "params_bytes", q->mem.params_bytes, "grads_bytes",
            q->mem.grads_bytes, "optimizer_bytes", q->mem.optimizer_bytes,
            "activations_bytes", q->mem.activations_bytes, "buffers_bytes",
            q->mem.buffers_bytes, "tokens_per_s", q->tokens_per_s,
            "flops_per_device", q->flops_per_device, "mfu", q->mfu);
        if (!pred || json_object_set_new(j, "prediction", pred)) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* ---- ranks and stages ---------------------------------------------------- */

dml_status dml_plan_rank_coords(const dml_plan *plan, int rank, int *dp_i,
                                int *pp_i, int *tp_i)
{
    int tp = plan->par.tp, pp = plan->par.pp, dp = plan->par.dp;
    if (rank < 0 || (int64_t)rank >= (int64_t)dp * pp * tp)
        return DML_ERANGE;
    if (tp_i)
        *tp_i = rank % tp;
    if (pp_i)
        *pp_i = (rank / tp) % pp;
    if (dp_i)
        *dp_i = rank / (tp * pp);
    return DML_OK;
}

int dml_plan_rank_of(const dml_plan *plan, int dp_i, int pp_i, int tp_i)
{
    return (dp_i * plan->par.pp + pp_i) * plan->par.tp + tp_i;
}

int dml_plan_stage_of_layer(const dml_plan *plan, int64_t layer)
{
    for (int i = 0; i < plan->stage_count; i++)
        if (layer >= plan->stages[i].first_layer &&
            layer <= plan->stages[i].last_layer)
            return i;
    return -1;
}

int64_t dml_plan_global_batch_at(const dml_plan *plan, int64_t step)
{
    for (int i = 0; i < plan->sched.ramp_count; i++)
        if (step < plan->sched.ramp[i].until_step)
            return plan->sched.ramp[i].global_batch;
    return plan->sched.global_batch;
}

bool dml_plan_replica_microbatches(const dml_plan *plan, int64_t step,
                                   int64_t *m)
{
    const dml_parallel_config *c = &plan->par;
    int64_t total = dml_plan_global_batch_at(plan, step) / c->mbs;
    if (plan->share_count == 0) {
        for (int i = 0; i < c->dp; i++)
            m[i] = total / c->dp;
        return true;
    }
    int64_t i = 0;
    for (int r = 0; r < plan->share_count; r++)
        for (int64_t k = 0; k < plan->shares[r].replicas; k++)
            m[i++] = plan->shares[r].microbatches;
    if (total == (int64_t)c->dp * c->microbatches)
        return true;
    /* a step of the batch ramp: the shares as weights */
    double *weight = malloc((size_t)c->dp * sizeof *weight);
    if (!weight)
        return false;
    for (i = 0; i < c->dp; i++)
        weight[i] = (double)m[i];
    dml_balance_apportion(total, weight, c->dp, 1, m);
    free(weight);
    return true;
}
