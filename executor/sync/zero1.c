/*
 * zero1.c: ZeRO stage 1 (Rajbhandari et al. 2020): the optimizer state is
 * sharded over the data-parallel group. Each bucket's gradients are
 * reduce-scattered (non-blocking, started as backward finishes the
 * bucket, sync.h), so that rank d receives the summed gradient of the
 * d-th 1/dp of every bucket; it updates those parameters with its own
 * shard of the optimizer state, and the updated parameters are then
 * all-gathered. Priced by the cost model's dml_sync_dense with ZeRO 1
 * (costmodel/sync_dense.c: reduce-scatter behind the backward pass, the
 * gather after the optimizer, exposed).
 *
 * Bucket boundaries are multiples of dp (sync.c), so every rank's shard
 * of a bucket is the same size and the compact shard arrays (reduced
 * gradient here, optimizer state in update.c) list the shards bucket by
 * bucket, at dml_sync_bucket.shard_off.
 */
#include "executor/sync/sync.h"

#include <stdlib.h>

/* This rank's 1/dp of every bucket (sync.h); also half.c's. */
dml_status dml__sync_own_shards(dml_sync *s, const float *shard,
                                dml_error *err)
{
    s->nstate = s->st->nflat / (size_t)s->dp;
    s->owned = calloc((size_t)(s->nbuckets ? s->nbuckets : 1),
                      sizeof *s->owned);
    if (!s->owned)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        size_t own = b->lo + (size_t)s->dp_i * b->chunk;
        s->owned[k] = (dml_sync_owned){.lo = own,
                                       .hi = own + b->chunk,
                                       .grad = shard + b->shard_off,
                                       .state_off = b->shard_off};
    }
    s->nowned = s->nbuckets;
    s->replicas = 1;
    return DML_OK;
}

/* One owned range per bucket: this rank's 1/dp of it. */
static dml_status zero1_setup(dml_sync *s, dml_error *err)
{
    size_t n = s->st->nflat / (size_t)s->dp;
    float *shard = calloc(n ? n : 1, sizeof(float));
    s->impl = shard;
    if (!shard)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "ZeRO-1 gradient shard");
    return dml__sync_own_shards(s, shard, err);
}

static void zero1_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    float *shard = s->impl;
    MPI_Ireduce_scatter_block(s->st->grads + b->lo, shard + b->shard_off,
                              (int)b->chunk, MPI_FLOAT, MPI_SUM, s->dp_comm,
                              &s->req[k]);
    dml__sync_sent(s, DML_COLL_REDUCESCATTER,
                   (double)(b->hi - b->lo) * sizeof(float));
}

/* Every rank updated its shard of every bucket: gather the parameters
 * (sync.h; also half.c's). */
void dml__sync_gather_shards(dml_sync *s)
{
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                       s->st->params + b->lo, (int)b->chunk, MPI_FLOAT,
                       s->dp_comm, &s->req[k]);
        dml__sync_sent(s, DML_COLL_ALLGATHER,
                       (double)(b->hi - b->lo) * sizeof(float));
    }
    MPI_Waitall(s->nbuckets, s->req, MPI_STATUSES_IGNORE);
}

const dml_sync_strategy dml_sync_zero1 = {
    .name = "zero1",
    .setup = zero1_setup,
    .start = zero1_start,
    .step_finish = dml__sync_gather_shards,
    .teardown = dml__sync_free_impl,
};
