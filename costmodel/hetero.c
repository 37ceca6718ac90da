/*
 * hetero.c: a step on a cluster whose node groups differ in device speed
 * (step_time.h, balance.h). Ranks fill the nodes in the order of the
 * groups; each data-parallel replica is a pipeline whose ranks sit on
 * known groups, and replicas alike (the same group at every pipeline
 * rank) form a class. Each group used is priced as a cluster of its own
 * (the ordinary step_time on a context pointed at it) and each of its
 * pipeline ranks per micro-batch (stage_cost.c); a class's pipeline then
 * takes each rank's time from its own group. The step is the slowest
 * replica's pipeline plus the slowest group's work after it (the exposed
 * gradient exchange, the optimizer). balance=equal gives every replica
 * the same micro-batches on the even layer split; static balances the
 * shares over the classes (dml_balance_shares) and, where a pipeline
 * spans groups, its boundaries (dml_balance_partition[_uniform]) for the
 * slowest such class. Configurations beyond what is priced rank by rank
 * (more than HET_PP_MAX pipeline ranks, more classes or share runs than
 * fit) are priced as before balancing was known: every rank on the
 * slowest group.
 */
#include <math.h>
#include <string.h>

#include "costmodel/balance.h"
#include "costmodel/pipeline.h"
#include "costmodel/step_internal.h"

#define HET_PP_MAX 256     /* pipeline ranks priced rank by rank */
#define HET_CLASSES_MAX 16 /* kinds of replica */
#define GROUPS DML_CLUSTER_GROUPS_MAX

typedef struct het {
    const dml_costmodel_ctx *ctx;
    const dml_parallel_config *par;
    int pp;
    int nclass;                        /* kinds of replica */
    int64_t count[HET_CLASSES_MAX];    /* replicas of each */
    unsigned char sig[HET_CLASSES_MAX][HET_PP_MAX]; /* group of each of
                                          its pipeline ranks */
    int nruns;                         /* runs of alike replicas */
    int run_class[DML_PLAN_SHARES_MAX];
    int64_t run_len[DML_PLAN_SHARES_MAX];
    bool used[GROUPS];                 /* some rank is on the group */
    dml_dtype dtype[GROUPS];           /* it computes the model in */
    double peak[GROUPS];               /* FLOP/s per device */
    double t[GROUPS][HET_PP_MAX];      /* pipeline rank r on the group,
                                          per micro-batch, s */
    double layer_s[GROUPS][DML_BALANCE_ITEMS_MAX]; /* one layer (a
                                          transformer's: [0]) fwd + bwd */
    double extra_first[GROUPS];        /* embedding, first rank, s */
    double extra_last[GROUPS];         /* head, last rank, s */
    double extra_all[GROUPS];          /* sends and fixed cost, s */
    double rest[GROUPS];               /* its step after the pipeline, s */
    dml_prediction pred[GROUPS];       /* the group as a cluster */
    dml_costmodel_detail det[GROUPS];
} het;

static int rank_group(const dml_cluster_spec *c, int64_t rank)
{
    int64_t end = 0;
    for (int g = 0; g < c->group_count; g++) {
        end += c->groups[g].nodes * c->groups[g].devices_per_node;
        if (rank < end)
            return g;
    }
    return c->group_count - 1;
}

/* First rank after group g's. */
static int64_t group_end(const dml_cluster_spec *c, int g)
{
    int64_t end = 0;
    for (int i = 0; i <= g; i++)
        end += c->groups[i].nodes * c->groups[i].devices_per_node;
    return end;
}

/* Add `len` replicas of signature sig (a new class when unseen). */
static bool add_run(het *h, const unsigned char *sig, int64_t len)
{
    int k = 0;
    while (k < h->nclass && memcmp(h->sig[k], sig, (size_t)h->pp) != 0)
        k++;
    if (k == h->nclass) {
        if (k == HET_CLASSES_MAX)
            return false;
        memcpy(h->sig[k], sig, (size_t)h->pp);
        h->count[h->nclass++] = 0;
    }
    h->count[k] += len;
    if (h->nruns > 0 && h->run_class[h->nruns - 1] == k) {
        h->run_len[h->nruns - 1] += len;
        return true;
    }
    if (h->nruns == DML_PLAN_SHARES_MAX)
        return false;
    h->run_class[h->nruns] = k;
    h->run_len[h->nruns++] = len;
    return true;
}

/* The replicas as runs of classes, in rank order: replicas wholly on one
 * group in one run, those across a boundary one by one. false when the
 * classes or runs do not fit. */
static bool find_classes(het *h)
{
    const dml_cluster_spec *c = &h->ctx->cluster;
    const dml_parallel_config *par = h->par;
    int64_t size = (int64_t)par->pp * par->tp;
    unsigned char sig[HET_PP_MAX];
    for (int64_t i = 0; i < par->dp;) {
        int g = rank_group(c, i * size);
        if (rank_group(c, i * size + size - 1) == g) {
            int64_t end = group_end(c, g) / size; /* replicas ending in g */
            if (end > par->dp)
                end = par->dp;
            memset(sig, g, (size_t)h->pp);
            if (!add_run(h, sig, end - i))
                return false;
            h->used[g] = true;
            i = end;
            continue;
        }
        for (int r = 0; r < h->pp; r++) {
            sig[r] = (unsigned char)rank_group(c, (i * par->pp + r) *
                                                      par->tp);
            h->used[sig[r]] = true;
        }
        if (!add_run(h, sig, 1))
            return false;
        i++;
    }
    return true;
}

/* Group g as a cluster of its own: its step (rest: after the pipeline),
 * each pipeline rank per micro-batch, and each layer for the stage
 * boundaries. */
static dml_status price_group(het *h, int g, const dml_stage_range *stages,
                              int stage_count, dml_error *err)
{
    dml_costmodel_ctx gctx = *h->ctx;
    gctx.hetero = false;
    dml__ctx_set_group(&gctx, g, h->dtype[g]);
    h->peak[g] = gctx.peak_flops;
    const dml_parallel_config *par = h->par;
    DML_CHECK(dml_costmodel_step_time(&gctx, par, stages, stage_count,
                                      &h->pred[g], &h->det[g], err));
    h->rest[g] = h->pred[g].step_s - h->det[g].pipeline_s;
    dml__step st;
    dml__step_setup(&gctx, par, stages, stage_count, &st);
    dml__layer_cost lc;
    memset(&lc, 0, sizeof lc);
    dml_coll_algo algo;
    if (st.transformer)
        dml__transformer_layer(&st, &lc, &algo);
    double t_embed = dml__embed_time(&st), t_head = dml__head_time(&st);
    h->extra_first[g] = t_embed;
    h->extra_last[g] = t_head;
    h->extra_all[g] = dml__p2p_time(&st) +
                      gctx.opt.calib.microbatch_overhead_s;
    for (int r = 0; r < h->pp; r++) {
        dml__stage s;
        dml__stage_cost(&st, &lc, t_embed, t_head, r, &s);
        h->t[g][r] = s.t_fwd + s.t_bwd + h->extra_all[g];
    }
    h->layer_s[g][0] = lc.fwd + lc.bwd;
    int64_t n = gctx.model.layers;
    for (int i = 0; !st.transformer && i < n && i < DML_BALANCE_ITEMS_MAX;
         i++) {
        double act;
        dml__mlp_layer(&st, i, 0, n - 1, &lc, &act);
        h->layer_s[g][i] = lc.fwd + lc.bwd;
    }
    return DML_OK;
}

static dml_status price_groups(het *h, const dml_stage_range *stages,
                               int stage_count, dml_error *err)
{
    for (int g = 0; g < h->ctx->cluster.group_count; g++)
        if (h->used[g])
            DML_CHECK(price_group(h, g, stages, stage_count, err));
    return DML_OK;
}

static void class_times(const het *h, int k, double *t_max, double *t_sum)
{
    *t_max = *t_sum = 0;
    for (int r = 0; r < h->pp; r++) {
        double t = h->t[h->sig[k][r]][r];
        *t_max = fmax(*t_max, t);
        *t_sum += t;
    }
}

static bool mixed(const het *h, int k)
{
    for (int r = 1; r < h->pp; r++)
        if (h->sig[k][r] != h->sig[k][0])
            return true;
    return false;
}

/* Balanced boundaries for the slowest class whose pipeline spans groups,
 * as pp ranges; false when no class does or no cut fits. */
static bool balance_stages(const het *h, dml_stage_range *out)
{
    const dml_costmodel_ctx *ctx = h->ctx;
    const dml_model_spec *m = &ctx->model;
    const dml_parallel_config *par = h->par;
    int worst = -1;
    double worst_t = -1;
    for (int k = 0; k < h->nclass; k++) {
        double t_max, t_sum;
        class_times(h, k, &t_max, &t_sum);
        if (mixed(h, k) && t_max > worst_t) {
            worst_t = t_max;
            worst = k;
        }
    }
    if (worst < 0 || par->pp < 2 || h->pp > DML_BALANCE_ITEMS_MAX)
        return false;
    dml_balance_stage stage[DML_BALANCE_ITEMS_MAX];
    int64_t count[DML_BALANCE_ITEMS_MAX];
    int slow = ctx->group; /* the layers' work: their time on the slowest */
    double total_slow = 0;
    int64_t n = m->layers;
    for (int64_t i = 0; i < n && i < DML_BALANCE_ITEMS_MAX; i++)
        total_slow += h->layer_s[slow][i];
    bool ok;
    if (m->type == DML_MODEL_TRANSFORMER) {
        /* model states and activations of one layer on one rank */
        const dml_state_bytes *sb = &ctx->state;
        double per = ctx->layer_params / par->tp;
        double states = per * (sb->param + sb->grad +
                               sb->optim / (par->zero >= 1 ? par->dp : 1));
        dml__step st;
        dml__step_setup(ctx, par, NULL, 0, &st);
        for (int r = 0; r < h->pp; r++) {
            int g = h->sig[worst][r];
            stage[r] = (dml_balance_stage){
                .time_per_work = h->layer_s[g][0],
                .extra_s = h->extra_all[g] +
                           (r == 0 ? h->extra_first[g] : 0) +
                           (r == h->pp - 1 ? h->extra_last[g] : 0),
                .inflight = dml_memory_inflight(par->schedule, par->pp, 1,
                                                (double)par->microbatches, r),
                .mem_cap_bytes = ctx->mem_bytes - ctx->opt.workspace_bytes,
            };
        }
        ok = dml_balance_partition_uniform(n, 1.0, states, st.act_layer,
                                           h->pp, stage, count);
    } else {
        /* MLP layers are small next to any device's memory: no cap */
        if (n > DML_BALANCE_ITEMS_MAX)
            return false;
        for (int r = 0; r < h->pp; r++) {
            int g = h->sig[worst][r];
            double total_g = 0;
            for (int64_t i = 0; i < n; i++)
                total_g += h->layer_s[g][i];
            stage[r] = (dml_balance_stage){
                .time_per_work = total_g / total_slow,
                .extra_s = h->extra_all[g],
                .inflight = 1,
                .mem_cap_bytes = INFINITY,
            };
        }
        ok = dml_balance_partition((int)n, h->layer_s[slow], NULL, NULL,
                                   h->pp, stage, count);
    }
    if (!ok)
        return false;
    int64_t next = 0;
    for (int r = 0; r < h->pp; r++) {
        out[r].first_layer = next;
        out[r].last_layer = next + count[r] - 1;
        next += count[r];
    }
    return true;
}

/* The slowest replica's pipeline under equal shares (m NULL) or the
 * balanced ones (m[k], up[k] per class, dml_balance_shares); *crit gets
 * its class and *crit_m its micro-batches. */
static double pipeline_step(const het *h, bool balanced, int64_t *m,
                            int64_t *up, int *crit, int64_t *crit_m)
{
    const dml_parallel_config *par = h->par;
    int v = par->schedule == DML_PP_INTERLEAVED && par->v > 1 ? par->v : 1;
    double first[HET_CLASSES_MAX], slope[HET_CLASSES_MAX];
    double t_max[HET_CLASSES_MAX], t_sum[HET_CLASSES_MAX];
    for (int k = 0; k < h->nclass; k++) {
        class_times(h, k, &t_max[k], &t_sum[k]);
        first[k] = dml_pipeline_time(par->schedule, par->pp, v, 1, t_max[k],
                                     t_sum[k], NULL);
        slope[k] = t_max[k];
        m[k] = par->microbatches;
        up[k] = 0;
    }
    if (balanced && v == 1 && h->nclass > 1)
        dml_balance_shares(h->nclass, h->count, first, slope,
                           (int64_t)par->dp * par->microbatches, m, up);
    double worst = -1;
    for (int k = 0; k < h->nclass; k++) {
        int64_t mk = m[k] + (up[k] > 0 ? 1 : 0);
        double t = dml_pipeline_time(par->schedule, par->pp, v, (double)mk,
                                     t_max[k], t_sum[k], NULL);
        if (t > worst) {
            worst = t;
            *crit = k;
            *crit_m = mk;
        }
    }
    return worst;
}

/* The group whose work after the pipeline is longest. */
static int rest_group(const het *h)
{
    int best = -1;
    for (int g = 0; g < h->ctx->cluster.group_count; g++)
        if (h->used[g] && (best < 0 || h->rest[g] > h->rest[best]))
            best = g;
    return best;
}

/* The prediction of a step whose pipeline is class crit's with crit_m
 * micro-batches (pipe_s): parts from the groups that set them. */
static void fill_out(const het *h, double pipe_s, int crit, int64_t crit_m,
                     dml_prediction *out, dml_costmodel_detail *detail)
{
    const dml_parallel_config *par = h->par;
    int rg = rest_group(h);
    double t_max, t_sum;
    class_times(h, crit, &t_max, &t_sum);
    int slow_g = h->sig[crit][0], fullest = rg;
    for (int r = 0; r < h->pp; r++)
        if (h->t[h->sig[crit][r]][r] == t_max)
            slow_g = h->sig[crit][r];
    double peaks = 0;
    for (int k = 0; k < h->nclass; k++)
        for (int r = 0; r < h->pp; r++)
            peaks += (double)h->count[k] * par->tp * h->peak[h->sig[k][r]];
    for (int g = 0; g < h->ctx->cluster.group_count; g++)
        if (h->used[g] && h->pred[g].mem_bytes_per_device >
                              h->pred[fullest].mem_bytes_per_device)
            fullest = g;
    const dml_prediction *base = &h->pred[slow_g];
    double scale = (double)crit_m / (double)par->microbatches;
    double step = pipe_s + h->rest[rg];
    *out = *base;
    out->step_s = step;
    out->time.tp_comm_s = base->time.tp_comm_s * scale;
    out->time.pp_comm_s = base->time.pp_comm_s * scale;
    out->time.compute_s = (double)crit_m * t_max - out->time.tp_comm_s -
                          out->time.pp_comm_s;
    out->time.bubble_s = pipe_s - (double)crit_m * t_max;
    out->time.dp_comm_s = h->pred[rg].time.dp_comm_s;
    out->time.optimizer_s = h->pred[rg].time.optimizer_s;
    out->time.overhead_s = h->pred[rg].time.overhead_s;
    out->mem = h->pred[fullest].mem;
    out->mem_bytes_per_device = h->pred[fullest].mem_bytes_per_device;
    out->tokens_per_s = base->tokens_per_s * base->step_s / step;
    out->flops_per_device = base->flops_per_device * base->step_s / step;
    double world = (double)par->dp * par->tp * par->pp;
    out->mfu = base->mfu * base->step_s * world * h->peak[slow_g] /
               (step * peaks);
    if (detail) {
        *detail = h->det[slow_g];
        detail->stage_max_s = t_max;
        detail->stage_sum_s = t_sum;
        detail->pipeline_s = pipe_s;
        detail->mem_rank = h->det[fullest].mem_rank;
        detail->fits = out->mem_bytes_per_device <= h->ctx->mem_bytes;
    }
}

/* Class k's replicas in rank order, micro-batches each: the first up[k]
 * one above m[k]. */
static bool fill_shares(const het *h, const int64_t *m, const int64_t *up,
                        dml_costmodel_balance *bal)
{
    int64_t seen[HET_CLASSES_MAX] = {0};
    int n = 0;
    for (int i = 0; i < h->nruns; i++) {
        int k = h->run_class[i];
        int64_t left = h->run_len[i];
        while (left > 0) {
            int64_t hi_left = up[k] - seen[k] > 0 ? up[k] - seen[k] : 0;
            int64_t take = hi_left > 0 ? (hi_left < left ? hi_left : left)
                                       : left;
            int64_t mb = m[k] + (hi_left > 0 ? 1 : 0);
            if (n > 0 && bal->shares[n - 1].microbatches == mb) {
                bal->shares[n - 1].replicas += take;
            } else {
                if (n == DML_PLAN_SHARES_MAX)
                    return false;
                bal->shares[n++] = (dml_dp_share){take, mb};
            }
            seen[k] += take;
            left -= take;
        }
    }
    bal->share_count = n;
    for (int i = 0; i < n; i++)
        if (bal->shares[i].microbatches != h->par->microbatches)
            return true;
    bal->share_count = 0; /* even after all */
    return true;
}

static void fill_groups(const het *h, dml_costmodel_balance *bal)
{
    const dml_cluster_spec *c = &h->ctx->cluster;
    int64_t node = 0;
    bal->sum.group_count = c->group_count;
    for (int g = 0; g < c->group_count; g++) {
        bal->sum.group_used[g] = h->used[g];
        bal->sum.group_mb_s[g] = h->used[g] ? h->det[g].stage_max_s : 0;
        bal->sum.group_first_node[g] = node;
        bal->sum.group_nodes[g] = c->groups[g].nodes;
        node += c->groups[g].nodes;
    }
}

/* Every rank on the slowest group: what configurations beyond the rank
 * by rank pricing get. */
static dml_status slowest_only(const dml_costmodel_ctx *ctx,
                               const dml_parallel_config *par,
                               const dml_stage_range *stages,
                               int stage_count, dml_prediction *out,
                               dml_costmodel_detail *detail, dml_error *err)
{
    dml_costmodel_ctx one = *ctx;
    one.hetero = false;
    return dml_costmodel_step_time(&one, par, stages, stage_count, out,
                                   detail, err);
}

dml_status dml__step_hetero(const dml_costmodel_ctx *ctx,
                            const dml_parallel_config *par,
                            const dml_stage_range *stages, int stage_count,
                            dml_prediction *out, dml_costmodel_detail *detail,
                            dml_costmodel_balance *bal, dml_error *err)
{
    het h;
    memset(&h, 0, sizeof h);
    h.ctx = ctx;
    h.par = par;
    h.pp = par->pp;
    if (par->pp > HET_PP_MAX || !find_classes(&h))
        return slowest_only(ctx, par, stages, stage_count, out, detail, err);
    for (int g = 0; g < ctx->cluster.group_count; g++)
        if (h.used[g] && !dml__group_dtype(ctx, g, &h.dtype[g]))
            return slowest_only(ctx, par, stages, stage_count, out, detail,
                                err);
    DML_CHECK(price_groups(&h, stages, stage_count, err));
    int64_t m[HET_CLASSES_MAX], up[HET_CLASSES_MAX], crit_m;
    int crit = 0;
    double pipe = pipeline_step(&h, false, m, up, &crit, &crit_m);
    bool balanced = par->balance != DML_BALANCE_EQUAL;
    if (bal) {
        memset(bal, 0, sizeof *bal);
        bal->sum.hetero = true;
        bal->sum.equal_step_s = pipe + h.rest[rest_group(&h)];
        bal->stage_count = h.pp;
        fill_groups(&h, bal);
    }
    if (!balanced && !bal) {
        fill_out(&h, pipe, crit, crit_m, out, detail);
        return DML_OK;
    }
    /* the boundaries first (they change every rank's time), then the
     * shares on them */
    dml_stage_range cut[HET_PP_MAX];
    het hb, *b = &h;
    if (!stages && balance_stages(&h, cut)) {
        hb = h;
        DML_CHECK(price_groups(&hb, cut, h.pp, err));
        b = &hb;
    }
    int64_t bm[HET_CLASSES_MAX], bup[HET_CLASSES_MAX], bcrit_m;
    int bcrit = 0;
    double bpipe = pipeline_step(b, true, bm, bup, &bcrit, &bcrit_m);
    if (bal) {
        bal->sum.balanced_step_s = bpipe + b->rest[rest_group(b)];
        if (!fill_shares(b, bm, bup, bal))
            bal->share_count = 0;
        bal->stages_balanced = b != &h;
        if (b != &h)
            memcpy(bal->stages, cut, (size_t)h.pp * sizeof cut[0]);
    }
    if (balanced)
        fill_out(b, bpipe, bcrit, bcrit_m, out, detail);
    else
        fill_out(&h, pipe, crit, crit_m, out, detail);
    return DML_OK;
}

dml_status dml_costmodel_balance_of(const dml_costmodel_ctx *ctx,
                                    const dml_parallel_config *par,
                                    const dml_stage_range *stages,
                                    int stage_count,
                                    dml_costmodel_balance *out,
                                    dml_error *err)
{
    dml_prediction pred;
    DML_CHECK(dml__step_check(ctx, par, stage_count, stages != NULL, err));
    if (ctx->hetero)
        return dml__step_hetero(ctx, par, stages, stage_count, &pred, NULL,
                                out, err);
    DML_CHECK(dml_costmodel_step_time(ctx, par, stages, stage_count, &pred,
                                      NULL, err));
    memset(out, 0, sizeof *out);
    out->sum.equal_step_s = out->sum.balanced_step_s = pred.step_s;
    out->stage_count = par->pp;
    return DML_OK;
}
