/*
 * sync_hierarchical.c: dense gradients reduced node by node, priced (the
 * executor's executor/sync/hierarchical.c).
 *
 * The replicas of a node reduce-scatter their gradients over the node's
 * fast link; the peers that hold the same shard on every node allreduce
 * it across the nodes (a 1/g-sized message, g replicas to a node); the
 * node all-gathers the result. A flat ring puts 2(n-1)/n gradient sizes
 * through each node's link (1.5 for 2 nodes x 2 replicas); this puts
 * 2(N-1)/N of a 1/g shard per replica, g of them per node: one gradient
 * size for 2 x 2. Under ZeRO-1 the shards are reduce-scattered across the
 * nodes instead and the updated parameters come back the same two ways.
 * Each level is priced from its own link (and its own measured fits,
 * where the probe measured the level). Once per step, behind the last
 * backward, like a flat allreduce.
 */
#include "costmodel/sync.h"

static void hier_exchange(const dml__step *st, const dml_sync_rank *rank,
                          dml_sync_exchange *out)
{
    const dml_coll_group *in = &st->dp_intra, *across = &st->dp_inter;
    int g = in->ranks, nodes = across->ranks;
    double g_bytes = rank->params * st->wire;
    double shard = g_bytes / g;
    bool zero = st->par->zero >= 1;
    dml_coll_op cross = zero ? DML_COLL_REDUCESCATTER : DML_COLL_ALLREDUCE;
    memset(out, 0, sizeof *out);
    out->algo = DML_ALGO_HIER;
    out->reduce_s =
        dml_collective_time(in, DML_COLL_REDUCESCATTER, g_bytes, NULL) +
        dml_collective_time(across, cross, shard, NULL);
    dml__ring_bytes(DML_COLL_REDUCESCATTER, g_bytes, g, g, &out->bytes_intra,
                    &out->bytes_inter);
    dml__ring_bytes(cross, shard, nodes, 1, &out->bytes_intra,
                    &out->bytes_inter);
    if (!zero) {
        out->reduce_s +=
            dml_collective_time(in, DML_COLL_ALLGATHER, g_bytes, NULL);
        dml__ring_bytes(DML_COLL_ALLGATHER, g_bytes, g, g, &out->bytes_intra,
                        &out->bytes_inter);
        return;
    }
    double p_bytes = rank->params * st->ctx->state.param;
    out->gather_s =
        dml_collective_time(across, DML_COLL_ALLGATHER, p_bytes / g, NULL) +
        dml_collective_time(in, DML_COLL_ALLGATHER, p_bytes, NULL);
    dml__ring_bytes(DML_COLL_ALLGATHER, p_bytes / g, nodes, 1,
                    &out->bytes_intra, &out->bytes_inter);
    dml__ring_bytes(DML_COLL_ALLGATHER, p_bytes, g, g, &out->bytes_intra,
                    &out->bytes_inter);
}

const dml_sync_pricer dml_sync_hierarchical = {"hierarchical", hier_exchange,
                                               NULL, false};
