/*
 * local.c: local SGD (sync=local:H) and post-local SGD (sync=local:H:W,
 * Lin et al. 2020, "Don't use large mini-batches, use local SGD"): every
 * replica steps on its own gradients, and every H steps the replicas
 * average their weights. Priced by the cost model's dml_sync_local
 * (costmodel/sync_local.c: 1/H of an allreduce of the weights per step,
 * exposed).
 *
 * A local step: the gradient a replica holds is its micro-batches' sum
 * scaled by 1/global batch (executor/README.md, "Loss"), a dp-th of its
 * own mean; `start` multiplies it by dp, so a replica steps on the mean
 * gradient of its own B/dp samples, with the plan's rate. Nothing is
 * sent. After the update of every H-th local step the weights are
 * averaged: one MPI_Iallreduce per bucket (the ring, as the dense
 * strategy's gradients, in the training dtype fp32) and a multiplication
 * by 1/dp; its bytes are counted as the allreduce's (sync.h), on the
 * steps that average, so the mean per step is 1/H of the dense one.
 *
 * The optimizer state stays local, as Lin et al. keep it: each replica's
 * momentum (or Adam moments) follows its own gradients and is never
 * averaged; only the weights are. With H = 1 and SGD (momentum is linear
 * in the gradients) the average of the replicas' updates is synchronous
 * SGD's update, so the run equals the allreduce run within rounding
 * (exec_local_ssp.sh: 1e-5 relative); with Adam it does not, since each
 * replica normalises by its own second moment.
 *
 * Post-local SGD: the first W steps reduce the gradients as allreduce.c
 * does (so the replicas, and their optimizer states, stay identical),
 * and the steps from W on are local, averaging after steps W + H - 1,
 * W + 2H - 1, ...
 *
 * State (checkpointed, sync.h): the steps this strategy has run, which
 * say where the next average falls, as two floats (high and low 2^24),
 * exact to 2^48 steps. A checkpoint holds each replica's own weights and
 * optimizer state, so a resumed run continues every replica where it
 * was: bitwise the uninterrupted run (exec_local_ssp.sh).
 *
 * finish: after the last step the replicas average once more when the
 * last step did not, so that evaluation and the weight file see one
 * model, the replicas' mean (its bytes are counted like any average).
 * The noise scale is not measured on local steps (grad_summed false):
 * no replica sees the sum of the gradients.
 */
#include "executor/sync/sync.h"

#include <stdlib.h>

typedef struct local_sgd {
    int64_t h;       /* steps between averages */
    int64_t warmup;  /* synchronous steps first (post-local SGD) */
    int64_t done;    /* steps run (the index of the step being run) */
    bool averaged;   /* the last step run ended with an average (or was
                        synchronous): finish has nothing to do */
} local_sgd;

static dml_status local_setup(dml_sync *s, dml_error *err)
{
    local_sgd *l = calloc(1, sizeof *l);
    s->impl = l;
    if (!l)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    l->h = s->spec.param >= 1 ? (int64_t)s->spec.param : 1;
    l->warmup = s->spec.warmup > 0 ? (int64_t)s->spec.warmup : 0;
    l->averaged = true;
    /* every replica updates all of its own parameters */
    return dml__sync_own_all(s, err);
}

/* A synchronous (warm-up) step reduces; a local one scales its own
 * gradient to its own mean and sends nothing. */
static void local_start(dml_sync *s, int k)
{
    const local_sgd *l = s->impl;
    const dml_sync_bucket *b = &s->buckets[k];
    float *g = s->st->grads + b->lo;
    int n = (int)(b->hi - b->lo);
    if (l->done < l->warmup) {
        MPI_Iallreduce(MPI_IN_PLACE, g, n, MPI_FLOAT, MPI_SUM, s->dp_comm,
                       &s->req[k]);
        dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)n * sizeof(float));
        return;
    }
    s->grad_summed = false;
    float scale = (float)s->dp;
    for (int i = 0; i < n; i++)
        g[i] *= scale;
    s->req[k] = MPI_REQUEST_NULL;
}

/* Replace every replica's weights by their mean: a ring allreduce per
 * bucket, as the dense gradients go, then 1/dp. */
static void average(dml_sync *s)
{
    float *w = s->st->params;
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        int n = (int)(b->hi - b->lo);
        MPI_Iallreduce(MPI_IN_PLACE, w + b->lo, n, MPI_FLOAT, MPI_SUM,
                       s->dp_comm, &s->req[k]);
        dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)n * sizeof(float));
    }
    MPI_Waitall(s->nbuckets, s->req, MPI_STATUSES_IGNORE);
    float inv = 1.0f / (float)s->dp;
    for (size_t i = 0; i < s->st->nflat; i++)
        w[i] *= inv;
}

static void local_step_finish(dml_sync *s)
{
    local_sgd *l = s->impl;
    int64_t t = l->done++;
    if (t < l->warmup) {
        l->averaged = true;
        return;
    }
    l->averaged = (t + 1 - l->warmup) % l->h == 0;
    if (l->averaged)
        average(s);
}

static void local_finish(dml_sync *s)
{
    local_sgd *l = s->impl;
    if (!l->averaged)
        average(s);
    l->averaged = true;
}

static void local_state_save(const dml_sync *s, float *out)
{
    const local_sgd *l = s->impl;
    dml__sync_count_save(l->done, out);
}

/* A checkpoint is written after a step: the replicas averaged there or
 * not, which the step count says. */
static void local_state_restore(dml_sync *s, const float *in)
{
    local_sgd *l = s->impl;
    l->done = dml__sync_count_restore(in);
    int64_t t = l->done - 1;
    l->averaged = t < l->warmup || (t + 1 - l->warmup) % l->h == 0;
}

const dml_sync_strategy dml_sync_localsgd = {
    .name = "local",
    .setup = local_setup,
    .start = local_start,
    .step_finish = local_step_finish,
    .state_values = dml__sync_count_values,
    .state_save = local_state_save,
    .state_restore = local_state_restore,
    .teardown = dml__sync_free_impl,
    .finish = local_finish,
};
