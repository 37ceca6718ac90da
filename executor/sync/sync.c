/*
 * sync.c: the engine the gradient-exchange strategies share (sync.h):
 * buckets over the flat gradient buffer, starting them as backward
 * finishes their layers, letting MPI progress, waiting, timing, and the
 * count of bytes sent by link level.
 */
#include "executor/sync/sync.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "costmodel/collective.h"

const dml_sync_strategy *dml_sync_strategy_for(const dml_parallel_config *par,
                                               int dp)
{
    bool sharded = par->zero >= 1 && dp > 1;
    /* one replica: nothing to exchange, so nothing is sent in 16 bits
     * or compressed either (the engine exchanges nothing for dp < 2) */
    bool one = dp < 2;
    switch (par->sync.kind) {
    case DML_SYNC_ALLREDUCE:
        return sharded ? &dml_sync_zero1 : &dml_sync_allreduce;
    case DML_SYNC_HIERARCHICAL:
        if (one)
            return &dml_sync_allreduce;
        return sharded ? &dml_sync_hier_zero1
                       : &dml_sync_hier;
    case DML_SYNC_FP16:
        return one       ? &dml_sync_allreduce
               : sharded ? &dml_sync_fp16_zero1
                         : &dml_sync_fp16;
    case DML_SYNC_BF16:
        return one       ? &dml_sync_allreduce
               : sharded ? &dml_sync_bf16_zero1
                         : &dml_sync_bf16;
    /* top-k and PowerSGD keep a whole replica's optimizer state: the
     * plan refuses ZeRO for them (dml_sync_spec_check) */
    case DML_SYNC_TOPK:
        return one ? &dml_sync_allreduce : sharded ? NULL : &dml_sync_topk_ef;
    case DML_SYNC_TOPK_NOEF:
        return one       ? &dml_sync_allreduce
               : sharded ? NULL
                         : &dml_sync_topk_noef;
    case DML_SYNC_POWERSGD:
        return one ? &dml_sync_allreduce : sharded ? NULL : &dml_sync_psgd;
    /* local SGD and SSP keep a whole replica's optimizer state (zero=0,
     * dml_sync_spec_check); ssp.c needs tp = 1 (executor/input.c) */
    case DML_SYNC_LOCAL:
        return one ? &dml_sync_allreduce : sharded ? NULL : &dml_sync_localsgd;
    case DML_SYNC_SSP:
        return one ? &dml_sync_allreduce : sharded ? NULL : &dml_sync_stale;
    case DML_SYNC_GOSSIP:
        return one       ? &dml_sync_allreduce
               : sharded ? NULL
                         : &dml_sync_decentral;
    default: return NULL;
    }
}

/* Buckets over the flat gradient buffer, listed by increasing offset.
 * Backward finishes layers from the last, so buckets are cut from the end:
 * whole layers are gathered until the next would take the bucket past
 * bucket_bytes (then the bucket closes at that layer boundary, so it can
 * start while the earlier layers are still in backward), and a layer
 * larger than that is cut in pieces of bucket_bytes. Every boundary is a
 * multiple of dp (ZeRO-1 gives each rank 1/dp of every bucket); a layer
 * boundary is rounded up to one, so a bucket never holds values of a
 * layer that finishes later than the layer it starts with. */
static dml_status make_buckets(dml_sync *s, size_t bytes, dml_error *err)
{
    const dml_stage *st = s->st;
    size_t dp = (size_t)s->dp;
    size_t be = bytes / sizeof(float) / dp * dp;
    if (be < dp)
        be = dp;
    size_t cap = (size_t)st->nlayers + st->nflat / be + 2;
    s->buckets = calloc(cap, sizeof *s->buckets);
    s->req = calloc(cap, sizeof *s->req);
    s->order = calloc(cap, sizeof *s->order);
    s->completed = calloc(cap, sizeof *s->completed);
    if (!s->buckets || !s->req || !s->order || !s->completed)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t n = 0, hi = st->nflat, acc_lo = hi;
    for (int l = st->nlayers - 1; l >= 0; l--) {
        size_t b = (st->layers[l].w_off + dp - 1) / dp * dp;
        if (hi - b > be && acc_lo < hi) {
            s->buckets[n++] = (dml_sync_bucket){.lo = acc_lo, .hi = hi};
            hi = acc_lo;
        }
        while (hi - b > be) {
            s->buckets[n++] = (dml_sync_bucket){.lo = hi - be, .hi = hi};
            hi -= be;
        }
        acc_lo = b;
    }
    if (hi > 0)
        s->buckets[n++] = (dml_sync_bucket){.lo = 0, .hi = hi};
    s->nbuckets = (int)n;
    /* Cut from the end; list from the start. */
    for (size_t i = 0; i < n / 2; i++) {
        dml_sync_bucket t = s->buckets[i];
        s->buckets[i] = s->buckets[n - 1 - i];
        s->buckets[n - 1 - i] = t;
    }
    size_t off = 0;
    for (int k = 0; k < s->nbuckets; k++) {
        s->buckets[k].chunk = (s->buckets[k].hi - s->buckets[k].lo) / dp;
        s->buckets[k].shard_off = off;
        off += s->buckets[k].chunk;
        s->req[k] = MPI_REQUEST_NULL;
    }
    return DML_OK;
}

dml_status dml_sync_open(const dml_sync_strategy *strategy,
                         const dml_sync_spec *spec, uint64_t seed,
                         dml_stage *st, MPI_Comm dp_comm,
                         const dml_dp_nodes *nodes, size_t bucket_bytes,
                         dml_sync **out, dml_error *err)
{
    *out = NULL;
    dml_sync *s = calloc(1, sizeof *s);
    if (!s)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->strategy = strategy;
    if (spec)
        s->spec = *spec;
    else
        dml_sync_spec_init(&s->spec);
    s->seed = seed;
    s->st = st;
    s->dp_comm = dp_comm;
    MPI_Comm_size(dp_comm, &s->dp);
    MPI_Comm_rank(dp_comm, &s->dp_i);
    s->nodes = *nodes;
    dml_status r = make_buckets(s, bucket_bytes, err);
    if (r == DML_OK)
        r = strategy->setup(s, err);
    if (r == DML_OK)
        *out = s;
    else
        dml_sync_close(s);
    return r;
}

void dml_sync_take_momentum(dml_sync *s, const dml_train_schedule *sched)
{
    s->momentum = s->strategy->own_momentum && s->dp > 1 &&
                          sched->optimizer == DML_OPT_SGD
                      ? sched->momentum
                      : 0.0;
}

void dml_sync_close(dml_sync *s)
{
    if (!s)
        return;
    if (s->strategy->teardown)
        s->strategy->teardown(s);
    free(s->owned);
    free(s->buckets);
    free(s->req);
    free(s->order);
    free(s->completed);
    free(s);
}

void dml_sync_begin_step(dml_sync *s, dml_sync_pre_reduce_fn pre_reduce,
                         void *ctx)
{
    for (int k = 0; k < s->nbuckets; k++) {
        s->buckets[k].launched = false;
        s->buckets[k].phase = 0;
        s->buckets[k].done = false;
    }
    s->nstarted = 0;
    s->final_lo = s->st->nflat;
    s->pre_reduce = pre_reduce;
    s->pre_reduce_ctx = ctx;
    s->comm_s = 0.0;
    s->sent = (dml_sync_bytes){0.0, 0.0};
    s->grad_summed = true;
    s->staleness = NAN;
    s->consensus = NAN;
    s->updated = false;
}

/* Start bucket k's reduction, once per step. */
static void launch(dml_sync *s, int k)
{
    dml_sync_bucket *b = &s->buckets[k];
    if (b->launched)
        return;
    b->launched = true;
    if (s->pre_reduce)
        s->pre_reduce(s->pre_reduce_ctx, s->st->grads, b->lo, b->hi);
    s->order[s->nstarted++] = k;
    b->phase = 1;
    s->strategy->start(s, k);
}

/* Strategies with `next`: start the next collective of every bucket whose
 * last one completed (its request is MPI_REQUEST_NULL), in the order the
 * buckets were started, and never before the bucket started ahead of it
 * has started its own (sync.h): so every rank starts the collectives of
 * each communicator in one order. Returns whether every started bucket
 * is done. */
static bool advance(dml_sync *s)
{
    bool all = true;
    int ahead = -1; /* phase of the bucket started before; -1: none */
    for (int i = 0; i < s->nstarted; i++) {
        int k = s->order[i];
        dml_sync_bucket *b = &s->buckets[k];
        if (!b->done && s->req[k] == MPI_REQUEST_NULL &&
            (ahead < 0 || ahead > b->phase)) {
            if (s->strategy->next(s, k))
                b->phase++;
            else
                b->done = true;
        }
        all = all && b->done;
        ahead = b->done ? INT_MAX : b->phase;
    }
    return all;
}

void dml_sync_grad_ready(void *ctx, int local_layer)
{
    dml_sync *s = ctx;
    if (s->dp < 2) /* one replica: nothing to exchange */
        return;
    double t0 = dml_clock_now_s();
    size_t lo = s->st->layers[local_layer].w_off;
    if (lo < s->final_lo)
        s->final_lo = lo;
    for (int k = s->nbuckets - 1; k >= 0; k--)
        if (s->buckets[k].lo >= s->final_lo)
            launch(s, k);
    s->comm_s += dml_clock_now_s() - t0;
}

void dml_sync_progress(dml_sync *s)
{
    if (s->nbuckets == 0 || s->dp < 2)
        return;
    double t0 = dml_clock_now_s();
    int flag;
    if (s->strategy->progress) {
        s->strategy->progress(s);
    } else if (s->strategy->next) {
        /* Testsome frees the completed requests (Testall frees none
         * unless all are) */
        MPI_Testsome(s->nbuckets, s->req, &flag, s->completed,
                     MPI_STATUSES_IGNORE);
        advance(s);
    } else {
        MPI_Testall(s->nbuckets, s->req, &flag, MPI_STATUSES_IGNORE);
    }
    s->comm_s += dml_clock_now_s() - t0;
}

void dml_sync_reduce_finish(dml_sync *s)
{
    if (s->dp < 2)
        return;
    double t0 = dml_clock_now_s();
    for (int k = s->nbuckets - 1; k >= 0; k--)
        launch(s, k);
    if (s->strategy->next) {
        /* wait for one, start what follows it, until all are done */
        int k;
        while (!advance(s))
            MPI_Waitany(s->nbuckets, s->req, &k, MPI_STATUS_IGNORE);
    } else {
        MPI_Waitall(s->nbuckets, s->req, MPI_STATUSES_IGNORE);
    }
    s->comm_s += dml_clock_now_s() - t0;
}

void dml_sync_step_finish(dml_sync *s)
{
    if (!s->strategy->step_finish)
        return;
    double t0 = dml_clock_now_s();
    s->strategy->step_finish(s);
    s->comm_s += dml_clock_now_s() - t0;
}

bool dml_sync_next_update(dml_sync *s, int64_t step, bool drain,
                          int64_t *update_step)
{
    if (!s->strategy->next_update || s->dp < 2) {
        if (s->updated)
            return false;
        s->updated = true;
        *update_step = step;
        return true;
    }
    double t0 = dml_clock_now_s();
    bool more = s->strategy->next_update(s, drain, update_step);
    s->comm_s += dml_clock_now_s() - t0;
    return more;
}

void dml_sync_finish(dml_sync *s)
{
    if (!s->strategy->finish || s->dp < 2)
        return;
    double t0 = dml_clock_now_s();
    s->strategy->finish(s);
    s->comm_s += dml_clock_now_s() - t0;
}

size_t dml_sync_state_values(const dml_sync *s)
{
    return s->strategy->state_values ? s->strategy->state_values(s) : 0;
}

void dml_sync_state_save(const dml_sync *s, float *out)
{
    if (s->strategy->state_save)
        s->strategy->state_save(s, out);
}

void dml_sync_state_restore(dml_sync *s, const float *in)
{
    if (s->strategy->state_restore)
        s->strategy->state_restore(s, in);
}

#define COUNT_SPLIT 16777216.0 /* 2^24: each half exact in a float */

size_t dml__sync_count_values(const dml_sync *s)
{
    (void)s;
    return 2;
}

void dml__sync_count_save(int64_t count, float *out)
{
    out[0] = (float)(count / (int64_t)COUNT_SPLIT);
    out[1] = (float)(count % (int64_t)COUNT_SPLIT);
}

int64_t dml__sync_count_restore(const float *in)
{
    return (int64_t)in[0] * (int64_t)COUNT_SPLIT + (int64_t)in[1];
}

void dml__sync_free_impl(dml_sync *s)
{
    free(s->impl);
    s->impl = NULL;
}

void dml__sync_sent(dml_sync *s, dml_coll_op op, double bytes)
{
    dml__sync_sent_on(s, op, bytes, s->dp, !s->nodes.next_same_node);
}

void dml__sync_sent_on(dml_sync *s, dml_coll_op op, double bytes, int ranks,
                       bool inter)
{
    double b = bytes * dml_collective_busbw_factor(op, ranks);
    if (inter) {
        s->sent.inter_node += b;
    } else {
        s->sent.intra_node += b;
    }
}
