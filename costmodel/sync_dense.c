/*
 * sync_dense.c: dense gradients between data-parallel replicas, priced
 * (the executor's executor/sync/allreduce.c and zero1.c).
 *
 * Without ZeRO the gradients are allreduced once per step, in buckets that
 * start while the backward pass still runs, so the reduction hides behind
 * the last micro-batch's backward (Megatron's and DDP's overlap). ZeRO-1
 * and 2 reduce-scatter the gradients and all-gather the updated parameters
 * after the optimizer, once per step (Megatron's distributed optimizer,
 * DeepSpeed's ZeRO-1: gradients accumulate locally until the
 * accumulation boundary); ZeRO-2 keeps only its shard of the gradients, so
 * it reduce-scatters after every micro-batch (DeepSpeed stage_1_and_2.py
 * reduces when partition_gradients is set, whatever the boundary), each
 * behind the next micro-batch's backward.
 *
 * ZeRO-3 keeps only a shard of the weights too: every layer's weights are
 * all-gathered before its forward and again before its backward (and once
 * more before the forward that full recomputation repeats inside the
 * backward), for every micro-batch, and the layer's gradients are
 * reduce-scattered after its backward. Prefetching overlaps a layer's
 * gather with the compute of the layer before it, never more: a layer's
 * collectives hide behind one layer's compute, and the first gather of a
 * micro-batch behind nothing. So ZeRO-3 stops scaling where the per-layer
 * collectives (their latency grows with the data-parallel degree) outgrow
 * one layer's compute, which shrinks with the micro-batch.
 *
 * Pipeline rank r finishes its last backward about r stage-backwards
 * before rank 0 does, so its reduction has that much slack.
 */
#include "costmodel/sync.h"

static void dense_exchange(const dml__step *st, const dml_sync_rank *rank,
                           dml_sync_exchange *out)
{
    const dml_parallel_config *par = st->par;
    double g_bytes = rank->params * st->wire;
    int n = st->dpg.ranks, g = st->dpg.ranks_per_node;
    out->algo = DML_ALGO_NONE;
    out->gather_s = 0;
    out->bytes_intra = out->bytes_inter = 0;
    dml_coll_op op = par->zero == 0 || (par->zero == 1 && st->fw.zero1_allreduce)
                         ? DML_COLL_ALLREDUCE
                         : DML_COLL_REDUCESCATTER;
    out->reduce_s = dml_collective_time(&st->dpg, op, g_bytes, &out->algo);
    dml__ring_bytes(op, g_bytes, n, g, &out->bytes_intra, &out->bytes_inter);
    if (par->zero >= 1)
        dml__sync_zero_gather(st, rank, out);
}

/* ZeRO-3, layer by layer (see above). The rank's parameters and compute
 * are spread evenly over its layers. */
static void zero3_price(const dml__step *st, const dml_sync_rank *rank,
                        dml_sync_cost *out)
{
    double layers = (double)rank->layers;
    double p_layer = rank->params / layers;
    double ag = dml_collective_time(&st->dpg, DML_COLL_ALLGATHER,
                                    p_layer * st->ctx->state.param, NULL);
    double rs = dml_collective_time(&st->dpg, DML_COLL_REDUCESCATTER,
                                    p_layer * st->wire, &out->algo);
    double tf = rank->t_fwd / layers, tb = rank->t_bwd / layers;
    double bwd_gathers =
        st->par->recompute == DML_RECOMPUTE_FULL ? 2.0 : 1.0;
    double mb = st->microbatches;
    out->raw_s = mb * layers * ((1.0 + bwd_gathers) * ag + rs);
    double fwd = ag + (layers - 1.0) * dml__exposed(ag, tf, st->contention);
    double bwd = layers * dml__exposed(bwd_gathers * ag + rs, tb,
                                       st->contention);
    out->exposed_s = mb * (fwd + bwd);
    out->deferred_s = 0;
    double gi = 0, go = 0, ri = 0, ro = 0;
    int n = st->dpg.ranks, g = st->dpg.ranks_per_node;
    dml__ring_bytes(DML_COLL_ALLGATHER, p_layer * st->ctx->state.param, n, g,
                    &gi, &go);
    dml__ring_bytes(DML_COLL_REDUCESCATTER, p_layer * st->wire, n, g, &ri,
                    &ro);
    out->bytes_intra = mb * layers * ((1.0 + bwd_gathers) * gi + ri);
    out->bytes_inter = mb * layers * ((1.0 + bwd_gathers) * go + ro);
}

static void dense_price(const dml__step *st, const dml_sync_rank *rank,
                        dml_sync_cost *out)
{
    int zero = st->par->zero;
    if (zero >= 3) {
        zero3_price(st, rank, out);
        return;
    }
    dml_sync_exchange ex;
    dense_exchange(st, rank, &ex);
    if (zero <= 1) {
        dml__sync_once_per_step(st, rank, &ex, out);
        return;
    }
    /* ZeRO-2: a reduce-scatter per micro-batch, behind the next one */
    double mb = st->microbatches;
    double slack = rank->r * rank->t_bwd;
    double window = st->fw.dp_overlap ? rank->t_bwd : 0;
    double c = ex.reduce_s > slack ? ex.reduce_s - slack : 0;
    out->raw_s = mb * ex.reduce_s + ex.gather_s;
    out->exposed_s =
        (mb - 1) * dml__exposed(ex.reduce_s, rank->t_bwd, st->contention) +
        dml__exposed(c, window, st->contention) + ex.gather_s;
    out->deferred_s = 0;
    out->algo = ex.algo;
    /* the reduce-scatter's bytes once per micro-batch */
    double rs_intra = 0, rs_inter = 0;
    dml__ring_bytes(DML_COLL_REDUCESCATTER, rank->params * st->wire,
                    st->dpg.ranks, st->dpg.ranks_per_node, &rs_intra,
                    &rs_inter);
    out->bytes_intra = ex.bytes_intra + (mb - 1) * rs_intra;
    out->bytes_inter = ex.bytes_inter + (mb - 1) * rs_inter;
}

const dml_sync_pricer dml_sync_dense = {"allreduce", dense_exchange,
                                        dense_price, false};
