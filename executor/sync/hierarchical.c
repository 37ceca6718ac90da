/*
 * hierarchical.c: data-parallel gradients reduced node by node (sync=
 * hierarchical), beside the flat ring of allreduce.c. Priced by the cost
 * model's dml_sync_hierarchical (costmodel/sync_hierarchical.c).
 *
 * The dp ranks of the group sit g to a node on N nodes (dml_dp_nodes:
 * `node` holds the g ranks of this rank's node, `cross` the N ranks that
 * hold this rank's place l in their nodes). Each bucket of n values goes
 * through three collectives, one after the other (the engine's `next`,
 * sync.h), the first started as soon as backward has finished the
 * bucket's layers, like the flat allreduce:
 *
 *   1. reduce-scatter inside the node: rank l gets the node's sum of the
 *      l-th n/g of the bucket (shared memory);
 *   2. allreduce of that shard among the N ranks of `cross` (the network:
 *      each node's link carries g shards of n/g, one gradient size, where
 *      a flat ring carries 2(dp-1)/dp of it through the busiest hop);
 *   3. all-gather inside the node (on `node_late`, as a bucket's gather
 *      may start while a later bucket's reduce-scatter runs on `node`).
 *
 * ZeRO-1 (hierarchical-zero1): step 2 is a reduce-scatter instead, so rank
 * (l, j), the j-th node's l-th rank, holds the sum of chunk l*N + j of
 * n/dp values and updates those parameters with its shard of the
 * optimizer state; after the optimizer the parameters come back the same
 * two ways, an all-gather among the nodes and then inside the node. The
 * chunk a rank owns depends on which ranks share its node, so a ZeRO-1
 * checkpoint resumes correctly on the same placement of ranks only (as a
 * flat ZeRO-1 one does on the same dp).
 *
 * Every rank's sums are the same numbers added in another order than the
 * flat ring's: the results agree to rounding (tests: sync_check).
 */
#include "executor/sync/sync.h"

#include <stdlib.h>

typedef struct hier {
    int g;        /* DP ranks on each node */
    int nodes;    /* nodes the DP group spans, N */
    int local;    /* this rank's place on its node, l */
    int node_i;   /* its node's place in `cross`, j */
    float *shard; /* [nflat / g] the node's reduced shard of each bucket,
                     bucket [lo, hi) at lo / g */
    float *chunk; /* ZeRO-1: [nflat / dp] the reduced chunk this rank
                     owns of each bucket, at its shard_off */
} hier;

static dml_status hier_common(dml_sync *s, hier **out, dml_error *err)
{
    const dml_dp_nodes *n = &s->nodes;
    *out = NULL;
    if (n->node == MPI_COMM_NULL || n->cross == MPI_COMM_NULL)
        return dml_error_msg(err, DML_ERUNTIME, "sync=hierarchical: the "
                             "data-parallel group was not split by node");
    if (n->per_node_min != n->per_node_max)
        return dml_error_msg(err, DML_EINPUT,
                             "sync=hierarchical needs as many data-parallel "
                             "ranks on every node; this job has %d to %d "
                             "(use sync=allreduce, or place ranks evenly)",
                             n->per_node_min, n->per_node_max);
    hier *h = calloc(1, sizeof *h);
    if (!h)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->impl = h;
    MPI_Comm_size(n->node, &h->g);
    MPI_Comm_rank(n->node, &h->local);
    MPI_Comm_size(n->cross, &h->nodes);
    MPI_Comm_rank(n->cross, &h->node_i);
    if (h->g * h->nodes != s->dp)
        return dml_error_msg(err, DML_ERUNTIME, "sync=hierarchical: %d nodes "
                             "of %d ranks are not the %d of the group",
                             h->nodes, h->g, s->dp);
    /* bucket boundaries are multiples of dp, so of g (sync.c) */
    size_t nshard = s->st->nflat / (size_t)h->g;
    h->shard = calloc(nshard ? nshard : 1, sizeof(float));
    if (!h->shard)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "node's gradient shard");
    *out = h;
    return DML_OK;
}

/* Without ZeRO every rank updates everything from the gathered sum. */
static dml_status hier_setup(dml_sync *s, dml_error *err)
{
    hier *h;
    DML_CHECK(hier_common(s, &h, err));
    return dml__sync_own_all(s, err);
}

/* 1. the node's reduce-scatter of bucket k */
static void hier_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    hier *h = s->impl;
    size_t n = b->hi - b->lo, part = n / (size_t)h->g;
    MPI_Ireduce_scatter_block(s->st->grads + b->lo, h->shard + b->lo / h->g,
                              (int)part, MPI_FLOAT, MPI_SUM, s->nodes.node,
                              &s->req[k]);
    dml__sync_sent_on(s, DML_COLL_REDUCESCATTER, (double)n * sizeof(float),
                      h->g, false);
}

/* 2. the shard's allreduce among the nodes, 3. the node's all-gather */
static bool hier_next(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    hier *h = s->impl;
    size_t n = b->hi - b->lo, part = n / (size_t)h->g;
    float *mine = h->shard + b->lo / h->g;
    if (b->phase == 1) {
        MPI_Iallreduce(MPI_IN_PLACE, mine, (int)part, MPI_FLOAT, MPI_SUM,
                       s->nodes.cross, &s->req[k]);
        dml__sync_sent_on(s, DML_COLL_ALLREDUCE,
                          (double)part * sizeof(float), h->nodes, true);
        return true;
    }
    if (b->phase == 2) {
        MPI_Iallgather(mine, (int)part, MPI_FLOAT, s->st->grads + b->lo,
                       (int)part, MPI_FLOAT, s->nodes.node_late, &s->req[k]);
        dml__sync_sent_on(s, DML_COLL_ALLGATHER, (double)n * sizeof(float),
                          h->g, false);
        return true;
    }
    return false;
}

/* ZeRO-1: one owned chunk per bucket, chunk l*N + j of its dp. */
static dml_status hier_zero1_setup(dml_sync *s, dml_error *err)
{
    hier *h;
    DML_CHECK(hier_common(s, &h, err));
    s->nstate = s->st->nflat / (size_t)s->dp;
    h->chunk = calloc(s->nstate ? s->nstate : 1, sizeof(float));
    s->owned = calloc((size_t)(s->nbuckets ? s->nbuckets : 1),
                      sizeof *s->owned);
    if (!h->chunk || !s->owned)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "ZeRO-1 gradient shard");
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        size_t part = (b->hi - b->lo) / (size_t)h->g;
        size_t own = b->lo + (size_t)h->local * part +
                     (size_t)h->node_i * b->chunk;
        s->owned[k] = (dml_sync_owned){.lo = own,
                                       .hi = own + b->chunk,
                                       .grad = h->chunk + b->shard_off,
                                       .state_off = b->shard_off};
    }
    s->nowned = s->nbuckets;
    s->replicas = 1;
    return DML_OK;
}

/* 2. ZeRO-1: the node shard reduce-scattered among the nodes */
static bool hier_zero1_next(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    hier *h = s->impl;
    if (b->phase != 1)
        return false;
    size_t part = (b->hi - b->lo) / (size_t)h->g;
    MPI_Ireduce_scatter_block(h->shard + b->lo / h->g,
                              h->chunk + b->shard_off, (int)b->chunk,
                              MPI_FLOAT, MPI_SUM, s->nodes.cross,
                              &s->req[k]);
    dml__sync_sent_on(s, DML_COLL_REDUCESCATTER,
                      (double)part * sizeof(float), h->nodes, true);
    return true;
}

/* After the optimizer: every chunk to the node peers that hold the same
 * place (the node's part of the bucket), then the parts inside the node.
 * Each wave waits for the one before; nothing runs behind compute here. */
static void hier_zero1_gather(dml_sync *s)
{
    hier *h = s->impl;
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        size_t part = (b->hi - b->lo) / (size_t)h->g;
        MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                       s->st->params + b->lo + (size_t)h->local * part,
                       (int)b->chunk, MPI_FLOAT, s->nodes.cross, &s->req[k]);
        dml__sync_sent_on(s, DML_COLL_ALLGATHER,
                          (double)part * sizeof(float), h->nodes, true);
    }
    MPI_Waitall(s->nbuckets, s->req, MPI_STATUSES_IGNORE);
    for (int k = 0; k < s->nbuckets; k++) {
        const dml_sync_bucket *b = &s->buckets[k];
        size_t n = b->hi - b->lo;
        MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                       s->st->params + b->lo, (int)(n / (size_t)h->g),
                       MPI_FLOAT, s->nodes.node, &s->req[k]);
        dml__sync_sent_on(s, DML_COLL_ALLGATHER, (double)n * sizeof(float),
                          h->g, false);
    }
    MPI_Waitall(s->nbuckets, s->req, MPI_STATUSES_IGNORE);
}

static void hier_teardown(dml_sync *s)
{
    hier *h = s->impl;
    if (h) {
        free(h->shard);
        free(h->chunk);
        free(h);
    }
    s->impl = NULL;
}

const dml_sync_strategy dml_sync_hier = {
    .name = "hierarchical",
    .setup = hier_setup,
    .start = hier_start,
    .next = hier_next,
    .teardown = hier_teardown,
};

const dml_sync_strategy dml_sync_hier_zero1 = {
    .name = "hierarchical-zero1",
    .setup = hier_zero1_setup,
    .start = hier_start,
    .next = hier_zero1_next,
    .step_finish = hier_zero1_gather,
    .teardown = hier_teardown,
};
