/*
 * search.c: the enumeration, pruning and top-K heap (see search.h).
 */
#include "planner/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "planner/convergence.h"

#define DIVISORS_MAX 2048 /* a number below 2^31 has at most 1600 */

void dml_search_result_init(dml_search_result *r, int top_k)
{
    memset(r, 0, sizeof *r);
    if (top_k < 1)
        top_k = 1;
    if (top_k > DML_PLANNER_TOP_MAX)
        top_k = DML_PLANNER_TOP_MAX;
    r->top_k = top_k;
}

void dml_search_result_free(dml_search_result *r)
{
    if (!r)
        return;
    free(r->top);
    dml_search_result_init(r, 1);
}

bool dml_candidate_better(const dml_candidate *a, const dml_candidate *b)
{
    if (a->score_s != b->score_s)
        return a->score_s < b->score_s;
    if (a->split != b->split)
        return a->split < b->split;
    return a->order < b->order;
}

bool dml_candidate_same_plan(const dml_candidate *a, const dml_candidate *b)
{
    return a->global_batch == b->global_batch &&
           dml_parallel_config_equal(&a->par, &b->par);
}

/* top[0..count) is a heap with the worst kept plan at the root. */
static void heap_down(dml_candidate *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && dml_candidate_better(&h[w], &h[l]))
            w = l;
        if (r < n && dml_candidate_better(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        dml_candidate t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Room for one more kept plan: the heap doubles as plans arrive, so that
 * a large top_k costs only what fits. */
static bool heap_room(dml_search_result *r)
{
    if (r->count < r->cap)
        return true;
    int cap = r->cap ? 2 * r->cap : 16;
    if (cap > r->top_k)
        cap = r->top_k;
    dml_candidate *t = realloc(r->top, (size_t)cap * sizeof *t);
    if (!t) {
        r->oom = true;
        return false;
    }
    r->top = t;
    r->cap = cap;
    return true;
}

static void heap_offer(dml_search_result *r, const dml_candidate *c)
{
    if (r->count < r->top_k) {
        if (!heap_room(r))
            return;
        dml_candidate *h = r->top;
        int i = r->count++;
        h[i] = *c;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!dml_candidate_better(&h[p], &h[i]))
                break;
            dml_candidate t = h[p];
            h[p] = h[i];
            h[i] = t;
            i = p;
        }
    } else if (dml_candidate_better(c, &r->top[0])) {
        r->top[0] = *c;
        heap_down(r->top, r->count, 0);
    }
}

/* Count c for the rank of r->rank.target (search.h). Candidates arrive in
 * enumeration order, so an exact tie met before the target ranks ahead of
 * it, as the ranking's tie-break on the order would put it. */
static void rank_count(dml_search_rank *k, const dml_candidate *c)
{
    const dml_candidate *t = &k->target;
    if (c->score_s != t->score_s) {
        k->before += c->score_s < t->score_s;
        return;
    }
    if (c->split != t->split) {
        k->before += c->split < t->split;
        return;
    }
    if (dml_candidate_same_plan(c, t))
        k->seen = true;
    else if (!k->seen)
        k->before++;
}

void dml_search_result_finish(dml_search_result *r)
{
    /* Heap sort in place: the worst goes to the end each round. */
    for (int n = r->count; n > 1; n--) {
        dml_candidate t = r->top[0];
        r->top[0] = r->top[n - 1];
        r->top[n - 1] = t;
        heap_down(r->top, n - 1, 0);
    }
}

dml_reject dml_search_main_rejection(const dml_search_result *r)
{
    dml_reject best = DML_REJECT_NONE;
    int64_t most = 0;
    for (int i = 1; i < DML_REJECT_COUNT; i++)
        if (r->rejected[i] > most) {
            most = r->rejected[i];
            best = (dml_reject)i;
        }
    return best;
}

/* Divisors of n in increasing order; returns how many (at most max). */
static int divisors(int64_t n, int64_t *out, int max)
{
    int lo = 0, hi = 0;
    int64_t high[DIVISORS_MAX];
    for (int64_t d = 1; d * d <= n; d++)
        if (n % d == 0) {
            if (lo < max)
                out[lo++] = d;
            if (d * d != n && hi < DIVISORS_MAX)
                high[hi++] = n / d;
        }
    for (int i = hi - 1; i >= 0 && lo < max; i--)
        out[lo++] = high[i];
    return lo;
}

typedef struct walk {
    const dml_search_request *req;
    dml_search_result *res;
    uint64_t order;
    dml_candidate cand;  /* scratch, reused: no allocation per candidate */
    char msg[DML_PLANNER_MSG_MAX];
    dml_attention_impl attn[2];   /* attention kernels to try */
    int attn_count;               /* entries in attn */
    int64_t mbs_key;              /* batch per replica of mbs_list */
    int mbs_count;                /* its divisors in mbs_list */
    int64_t mbs_list[DIVISORS_MAX];
    double factor;                /* the strategy's convergence factor */
} walk;

static void reject(walk *w, dml_reject why)
{
    dml_search_result *r = w->res;
    if (r->rejected[why]++ == 0)
        memcpy(r->example[why], w->msg, sizeof w->msg);
}

/* The runtime cannot run w->cand.par: the message is formatted only for
 * the first such rejection, the one kept as the example. */
static void reject_framework(walk *w)
{
    if (w->res->rejected[DML_REJECT_FRAMEWORK] == 0)
        dml_planner_check_framework(&w->req->space, &w->cand.par, w->msg,
                                    sizeof w->msg);
    reject(w, DML_REJECT_FRAMEWORK);
}

static bool fixed(const walk *w, dml_knob k)
{
    return dml_planner_config_has(&w->req->fixed, k);
}

/* Price w->cand.par; true when it fits. */
static bool price_one(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_search_result *r = w->res;
    dml_candidate *c = &w->cand;
    dml_error err;
    c->global_batch = global_batch;
    c->order = w->order++;
    c->split = q->split;
    if (dml_costmodel_step_time(q->ctx, &c->par, NULL, 0, &c->pred, NULL,
                                &err) != DML_OK) {
        snprintf(w->msg, sizeof w->msg, "%s", err.msg);
        reject(w, DML_REJECT_COSTMODEL);
        return false;
    }
    r->candidates++;
    c->score_s = c->pred.step_s * w->factor;
    if (q->global_batch <= 0) {
        double s_min = q->s_min > 0 ? q->s_min : 1.0;
        c->score_s = s_min * (1.0 + q->noise_scale / (double)global_batch) *
                     c->pred.step_s * w->factor;
    }
    double need = c->pred.mem_bytes_per_device;
    double cap = q->space.mem_capacity_bytes;
    if (need <= cap) {
        r->feasible++;
        heap_offer(r, c);
        if (r->rank.on)
            rank_count(&r->rank, c);
        return true;
    }
    snprintf(w->msg, sizeof w->msg,
             "needs %.1f GB per device, %.1f GB more than the %.1f GB there",
             need / 1e9, (need - cap) / 1e9, cap / 1e9);
    reject(w, DML_REJECT_MEMORY);
    if (!r->have_smallest ||
        need < r->smallest.pred.mem_bytes_per_device) {
        r->smallest = *c;
        r->have_smallest = true;
    }
    return false;
}

/* w->cand.par under its balance: the fixed one; else the even split,
 * and on a cluster of unequal groups the balanced one too where it is
 * faster (the same plan otherwise). True when one fits. */
static bool price(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_parallel_config *p = &w->cand.par;
    if (fixed(w, DML_KNOB_BALANCE)) {
        p->balance = q->fixed.par.balance;
        return price_one(w, global_batch);
    }
    p->balance = DML_BALANCE_EQUAL;
    bool fits = price_one(w, global_batch);
    if (!q->ctx->hetero)
        return fits;
    double equal_s = w->cand.pred.step_s;
    dml_prediction bal;
    dml_error err;
    p->balance = DML_BALANCE_STATIC;
    if (dml_costmodel_step_time(q->ctx, p, NULL, 0, &bal, NULL, &err) ==
            DML_OK &&
        bal.step_s < equal_s * (1 - 1e-9))
        fits |= price_one(w, global_batch);
    p->balance = DML_BALANCE_EQUAL;
    return fits;
}

/* The micro-batch sizes and recompute choices of one (B, dp, tp, pp, v,
 * sp, zero). */
static void walk_mbs(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_parallel_config *p = &w->cand.par;
    static const dml_recompute all_rc[] = {DML_RECOMPUTE_NONE,
                                           DML_RECOMPUTE_SELECTIVE,
                                           DML_RECOMPUTE_FULL};
    dml_recompute rcs[3];
    int nrc = 0;
    if (fixed(w, DML_KNOB_RECOMPUTE))
        rcs[nrc++] = q->fixed.par.recompute;
    else if (q->space.executor_only)
        rcs[nrc++] = DML_RECOMPUTE_NONE;
    else
        for (int i = 0; i < 3; i++)
            /* flash keeps no scores: selective would price as none */
            if (all_rc[i] != DML_RECOMPUTE_SELECTIVE ||
                p->attention != DML_ATTN_FLASH)
                rcs[nrc++] = all_rc[i];

    int64_t per_replica = global_batch / p->dp;
    int64_t one[1];
    const int64_t *mbs_list = one;
    int nmbs = 1;
    if (fixed(w, DML_KNOB_MBS)) {
        one[0] = q->fixed.par.mbs;
    } else {
        /* the same (B, dp) comes back for every v, sp and ZeRO stage */
        if (w->mbs_key != per_replica) {
            w->mbs_count = divisors(per_replica, w->mbs_list, DIVISORS_MAX);
            w->mbs_key = per_replica;
        }
        mbs_list = w->mbs_list;
        nmbs = w->mbs_count;
    }
    for (int i = 0; i < nmbs; i++) {
        p->mbs = mbs_list[i];
        if (per_replica % p->mbs) {
            snprintf(w->msg, sizeof w->msg,
                     "the global batch %lld is not a multiple of dp x mbs "
                     "= %d x %lld", (long long)global_batch, p->dp,
                     (long long)p->mbs);
            reject(w, DML_REJECT_BATCH);
            continue;
        }
        p->microbatches = per_replica / p->mbs;
        if (p->schedule == DML_PP_INTERLEAVED &&
            p->microbatches % p->pp) {
            snprintf(w->msg, sizeof w->msg,
                     "interleaving needs the %lld micro-batches to be a "
                     "multiple of pp %d", (long long)p->microbatches, p->pp);
            reject(w, DML_REJECT_MICROBATCHES);
            continue;
        }
        bool any = false;
        for (int j = 0; j < nrc; j++) {
            p->recompute = rcs[j];
            dml_reject rr = dml_planner_check_options(&q->space, p, w->msg,
                                                      sizeof w->msg);
            if (rr) {
                reject(w, rr);
                continue;
            }
            if (price(w, global_batch)) {
                any = true;
                if (q->prune) {
                    w->res->pruned += nrc - 1 - j;
                    break;
                }
            }
        }
        if (!any && q->prune && i + 1 < nmbs) {
            /* Larger micro-batches need at least as much memory: count
             * them as the exhaustive search would have seen them. */
            for (int k = i + 1; k < nmbs; k++) {
                int64_t mb = per_replica / mbs_list[k];
                if (p->schedule == DML_PP_INTERLEAVED && mb % p->pp) {
                    snprintf(w->msg, sizeof w->msg,
                             "interleaving needs the %lld micro-batches to "
                             "be a multiple of pp %d", (long long)mb, p->pp);
                    reject(w, DML_REJECT_MICROBATCHES);
                } else {
                    w->res->pruned += nrc;
                }
            }
            break;
        }
    }
}

/* mode fixed, sync not: gossip's graphs (with the request's convergence
 * factors where it has them), or every strategy but gossip. */
static int mode_choices(const walk *w, bool gossip, bool spans,
                        dml_sync_spec *out, double *factor)
{
    const dml_search_request *q = w->req;
    if (w->cand.par.dp < 2 && gossip)
        return 0; /* one replica has no neighbours */
    dml_sync_spec menu[DML_SEARCH_SYNC_MAX];
    int nmenu = q->syncs ? q->nsyncs : dml_convergence_strategies(NULL, menu,
                                                                  DML_SEARCH_SYNC_MAX);
    const dml_sync_spec *from = q->syncs ? q->syncs : menu;
    int n = 0;
    for (int i = 0; i < nmenu && n < DML_SEARCH_SYNC_MAX; i++) {
        dml_sync_kind k = from[i].kind;
        if ((k == DML_SYNC_GOSSIP) != gossip ||
            (k == DML_SYNC_HIERARCHICAL && !spans) ||
            (!gossip && i > 0 && w->cand.par.dp < 2) ||
            (!gossip && !q->syncs && k != DML_SYNC_ALLREDUCE &&
             k != DML_SYNC_HIERARCHICAL))
            continue;
        out[n] = from[i];
        factor[n++] = q->syncs && q->sync_factor ? q->sync_factor[i] : 1.0;
    }
    return n;
}

/* The data-parallel strategies to try for w->cand's dp, tp, pp, with
 * their convergence factors: the fixed one; else the flat ring, node by
 * node where that differs from it (space.h,
 * dml_planner_sync_spans_nodes), and the request's other strategies
 * where there is more than one replica. */
static int sync_choices(const walk *w, dml_sync_spec *out, double *factor)
{
    const dml_search_request *q = w->req;
    const dml_parallel_config *p = &w->cand.par;
    if (fixed(w, DML_KNOB_SYNC)) {
        out[0] = q->fixed.par.sync;
        factor[0] = q->fixed_factor > 0 ? q->fixed_factor : 1.0;
        return 1;
    }
    bool spans = dml_planner_sync_spans_nodes(&q->space, p->dp, p->tp,
                                              p->pp);
    if (fixed(w, DML_KNOB_MODE))
        return mode_choices(w, q->fixed.par.mode == DML_MODE_GOSSIP, spans,
                            out, factor);
    if (!q->syncs) {
        dml_sync_spec_init(&out[0]);
        factor[0] = factor[1] = 1.0;
        if (!spans)
            return 1;
        out[1] = (dml_sync_spec){.kind = DML_SYNC_HIERARCHICAL, .param = 0};
        return 2;
    }
    int n = 0;
    for (int i = 0; i < q->nsyncs && n < DML_SEARCH_SYNC_MAX; i++) {
        dml_sync_kind k = q->syncs[i].kind;
        /* one replica: every strategy is the flat ring's nothing */
        if ((k == DML_SYNC_HIERARCHICAL && !spans) || (i > 0 && p->dp < 2))
            continue;
        out[n] = q->syncs[i];
        factor[n++] = q->sync_factor ? q->sync_factor[i] : 1.0;
    }
    return n;
}

/* sp, ZeRO, the data-parallel strategy and the attention kernel for one
 * (B, dp, tp, pp, v). */
static void walk_options(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_parallel_config *p = &w->cand.par;
    dml_sync_spec syncs[DML_SEARCH_SYNC_MAX];
    double factors[DML_SEARCH_SYNC_MAX];
    int nsync = sync_choices(w, syncs, factors);
    bool tf = q->space.model->type == DML_MODEL_TRANSFORMER;
    int sp_lo = 0, sp_hi = tf && p->tp > 1 ? 1 : 0;
    if (fixed(w, DML_KNOB_SP))
        sp_lo = sp_hi = q->fixed.par.sp ? 1 : 0;
    int z_lo = 0, z_hi = p->dp > 1 ? (q->space.executor_only ? 1 : 3) : 0;
    if (fixed(w, DML_KNOB_ZERO))
        z_lo = z_hi = q->fixed.par.zero;
    for (int sp = sp_lo; sp <= sp_hi; sp++) {
        p->sp = sp != 0;
        for (int z = z_lo; z <= z_hi; z++) {
            p->zero = z;
            p->recompute = DML_RECOMPUTE_NONE;
            /* ZeRO-2/3 with a pipeline, for DeepSpeed */
            if (dml_planner_check_framework(&q->space, p, NULL, 0)) {
                reject_framework(w);
                continue;
            }
            for (int y = 0; y < nsync; y++) {
                p->sync = syncs[y];
                /* gossip is its own mode (plan.c keeps the two agreeing) */
                p->mode = p->sync.kind == DML_SYNC_GOSSIP ? DML_MODE_GOSSIP
                          : p->mode == DML_MODE_GOSSIP    ? DML_MODE_SYNC
                                                          : p->mode;
                w->factor = factors[y];
                /* a fixed strategy refuses ZeRO stages (a rejection); a
                 * searched one is only proposed where it runs */
                dml_reject sr = dml_planner_check_sync(&q->space, p, w->msg,
                                                       sizeof w->msg);
                if (sr) {
                    if (fixed(w, DML_KNOB_SYNC))
                        reject(w, sr);
                    continue;
                }
                for (int a = 0; a < w->attn_count; a++) {
                    p->attention = w->attn[a];
                    p->recompute = DML_RECOMPUTE_NONE;
                    dml_reject rr = dml_planner_check_options(
                        &q->space, p, w->msg, sizeof w->msg);
                    if (rr) {
                        reject(w, rr);
                        continue;
                    }
                    walk_mbs(w, global_batch);
                }
            }
        }
    }
}

/* v and the schedule for one (B, dp, tp, pp). */
static void walk_pipeline(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_parallel_config *p = &w->cand.par;
    int64_t layers = q->space.model->layers;
    bool fix_v = fixed(w, DML_KNOB_V), fix_s = fixed(w, DML_KNOB_SCHEDULE);
    dml_pp_schedule fs = q->fixed.par.schedule;
    int64_t vs[DIVISORS_MAX];
    int nv = 0;
    if (fix_v) {
        vs[nv++] = q->fixed.par.v;
    } else if (p->pp == 1 || q->space.executor_only ||
               (fix_s && fs != DML_PP_INTERLEAVED)) {
        vs[nv++] = 1;
    } else {
        if (!(fix_s && fs == DML_PP_INTERLEAVED))
            vs[nv++] = 1;
        /* interleaving: chunks that split the layers evenly, else the
         * layers with the embedding and the loss as one each
         * (dml_plan_stage_split) */
        int64_t even = layers % p->pp == 0 ? layers : layers + 2;
        if (even % p->pp == 0) {
            int64_t d[DIVISORS_MAX];
            int nd = divisors(even / p->pp, d, DIVISORS_MAX);
            for (int i = 0; i < nd; i++)
                if (d[i] > 1 && dml_plan_stage_split(layers, p->pp,
                                                     (int)d[i]) !=
                                    DML_SPLIT_NONE)
                    vs[nv++] = d[i];
        }
    }
    for (int i = 0; i < nv; i++) {
        p->v = (int)vs[i];
        if (fix_s)
            p->schedule = fs;
        else
            p->schedule = p->v > 1 ? DML_PP_INTERLEAVED : DML_PP_1F1B;
        dml_reject rr = dml_planner_check_pipeline(&q->space, p->pp, p->v,
                                                   p->schedule, w->msg,
                                                   sizeof w->msg);
        if (rr) {
            reject(w, rr);
            continue;
        }
        /* the schedule, for the runtime (ZeRO is walk_options') */
        p->zero = 0;
        if (dml_planner_check_framework(&q->space, p, NULL, 0)) {
            reject_framework(w);
            continue;
        }
        walk_options(w, global_batch);
    }
}

/* The kernels to try: the fixed one; an MLP's (none: materialized); the
 * one the transformer's spec names; else both. */
static void attention_choices(walk *w)
{
    const dml_search_request *q = w->req;
    const dml_model_spec *m = q->space.model;
    w->attn_count = 0;
    if (fixed(w, DML_KNOB_ATTN))
        w->attn[w->attn_count++] = q->fixed.par.attention;
    else if (m->type != DML_MODEL_TRANSFORMER)
        w->attn[w->attn_count++] = DML_ATTN_MATERIALIZED;
    else if (m->attention_set)
        w->attn[w->attn_count++] = m->attention;
    else {
        w->attn[w->attn_count++] = DML_ATTN_MATERIALIZED;
        w->attn[w->attn_count++] = DML_ATTN_FLASH;
    }
}

static void walk_batch(walk *w, int64_t global_batch)
{
    const dml_search_request *q = w->req;
    dml_parallel_config *p = &w->cand.par;
    int64_t d = q->space.devices;
    int64_t tps[DIVISORS_MAX], pps[DIVISORS_MAX];
    int ntp;
    if (fixed(w, DML_KNOB_TP)) {
        tps[0] = q->fixed.par.tp;
        ntp = 1;
    } else {
        ntp = divisors(d, tps, DIVISORS_MAX);
    }
    for (int i = 0; i < ntp; i++) {
        p->tp = (int)tps[i];
        if (d % p->tp) {
            snprintf(w->msg, sizeof w->msg,
                     "tp %d does not divide the %lld devices", p->tp,
                     (long long)d);
            reject(w, DML_REJECT_DEVICES);
            continue;
        }
        dml_reject rr = dml_planner_check_tp(&q->space, p->tp, w->msg,
                                             sizeof w->msg);
        if (rr) {
            reject(w, rr);
            continue;
        }
        int npp;
        if (fixed(w, DML_KNOB_PP)) {
            pps[0] = q->fixed.par.pp;
            npp = 1;
        } else if (fixed(w, DML_KNOB_DP)) {
            pps[0] = d / p->tp / q->fixed.par.dp;
            npp = pps[0] >= 1 ? 1 : 0;
        } else {
            npp = divisors(d / p->tp, pps, DIVISORS_MAX);
        }
        for (int j = 0; j < npp; j++) {
            p->pp = (int)pps[j];
            int64_t rest = d / p->tp;
            if (rest % p->pp ||
                (fixed(w, DML_KNOB_DP) &&
                 (int64_t)q->fixed.par.dp * p->pp != rest)) {
                snprintf(w->msg, sizeof w->msg,
                         "dp x tp x pp cannot make %lld devices with tp %d "
                         "and pp %d", (long long)d, p->tp, p->pp);
                reject(w, DML_REJECT_DEVICES);
                continue;
            }
            p->dp = (int)(rest / p->pp);
            if (p->pp > q->space.model->layers) {
                snprintf(w->msg, sizeof w->msg,
                         "pp %d is more stages than the %lld layers", p->pp,
                         (long long)q->space.model->layers);
                reject(w, DML_REJECT_PP_LAYERS);
                continue;
            }
            if (global_batch % p->dp) {
                snprintf(w->msg, sizeof w->msg,
                         "the global batch %lld is not a multiple of dp %d",
                         (long long)global_batch, p->dp);
                reject(w, DML_REJECT_BATCH);
                continue;
            }
            walk_pipeline(w, global_batch);
        }
    }
}

dml_status dml_planner_search(const dml_search_request *req,
                              dml_search_result *r, dml_error *err)
{
    if (!req->ctx || !req->space.model || req->space.devices < 1)
        return dml_error_msg(err, DML_EINPUT,
                             "search: no cost model, model or devices");
    if (req->global_batch <= 0 && (!req->batches || req->batch_count < 1))
        return dml_error_msg(err, DML_EINPUT,
                             "search: no global batch to plan for");
    double t0 = dml_clock_now_s();
    walk w;
    memset(&w, 0, sizeof w);
    w.req = req;
    w.res = r;
    w.order = (uint64_t)r->candidates + (uint64_t)r->pruned;
    dml_parallel_config_init(&w.cand.par);
    w.cand.par.threads_per_rank = req->fixed.par.threads_per_rank;
    w.cand.par.framework = req->space.framework;
    w.factor = 1.0;
    attention_choices(&w);
    if (req->global_batch > 0) {
        walk_batch(&w, req->global_batch);
    } else {
        for (int i = 0; i < req->batch_count; i++)
            if (req->batches[i] >= 1)
                walk_batch(&w, req->batches[i]);
    }
    r->elapsed_s += dml_clock_now_s() - t0;
    if (r->oom)
        return dml_error_msg(err, DML_ENOMEM,
                             "out of memory keeping %d plans", r->top_k);
    return DML_OK;
}
