/*
 * allreduce.c: every replica keeps the whole model and sums the gradients
 * with one non-blocking allreduce per bucket, started as soon as backward
 * has finished the bucket's layers (sync.h); each replica then updates
 * every parameter itself. Priced by the cost model's dml_sync_dense with
 * ZeRO 0 (costmodel/sync_dense.c).
 *
 * The sum is exact for the equivalence of layouts (executor/README.md):
 * every micro-batch's gradient is already scaled by 1/global batch.
 */
#include "executor/sync/sync.h"

#include <stdlib.h>

/* This rank updates everything, reading the reduced gradient in place
 * (sync.h; also the setup of the compressed strategies). */
dml_status dml__sync_own_all(dml_sync *s, dml_error *err)
{
    s->owned = malloc(sizeof *s->owned);
    if (!s->owned)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->owned[0] = (dml_sync_owned){
        .lo = 0, .hi = s->st->nflat, .grad = s->st->grads, .state_off = 0};
    s->nowned = 1;
    s->nstate = s->st->nflat;
    s->replicas = s->dp;
    return DML_OK;
}

static void allreduce_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    int n = (int)(b->hi - b->lo);
    MPI_Iallreduce(MPI_IN_PLACE, s->st->grads + b->lo, n, MPI_FLOAT, MPI_SUM,
                   s->dp_comm, &s->req[k]);
    dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)n * sizeof(float));
}

const dml_sync_strategy dml_sync_allreduce = {
    .name = "allreduce",
    .setup = dml__sync_own_all,
    .start = allreduce_start,
};
