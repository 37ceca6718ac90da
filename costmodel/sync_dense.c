/*
 * sync_dense.c: dense gradients between data-parallel replicas, priced
 * (the executor's executor/sync/allreduce.c and zero1.c).
 *
 * Without ZeRO the gradients are allreduced once per step, in buckets that
 * start while the backward pass still runs, so the reduction hides behind
 * the last micro-batch's backward (Megatron's and DDP's overlap). ZeRO-1
 * and 2 reduce-scatter the gradients and all-gather the updated parameters
 * after the optimizer; ZeRO-2 frees the gradients after each micro-batch,
 * so it reduce-scatters once per micro-batch, each behind the next one's
 * backward. ZeRO-3 gathers every layer's weights for the forward and again
 * for the backward of each micro-batch, prefetched behind the compute, and
 * reduce-scatters gradients per micro-batch.
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
    double p_bytes = rank->params * st->ctx->state.param;
    out->algo = DML_ALGO_NONE;
    out->gather_s = 0;
    if (par->zero == 0) {
        out->reduce_s = dml_collective_time(&st->dpg, DML_COLL_ALLREDUCE,
                                            g_bytes, &out->algo);
    } else {
        out->reduce_s = dml_collective_time(&st->dpg, DML_COLL_REDUCESCATTER,
                                            g_bytes, &out->algo);
        out->gather_s = dml_collective_time(&st->dpg, DML_COLL_ALLGATHER,
                                            p_bytes, NULL);
    }
}

/* Once per step behind the last backward: no ZeRO, ZeRO-1 (and any
 * exchange that reduces once, such as top-k). */
void dml__sync_once_per_step(const dml__step *st, const dml_sync_rank *rank,
                             const dml_sync_exchange *ex, dml_sync_cost *out)
{
    double slack = rank->r * rank->t_bwd;
    double window = st->ctx->opt.dp_overlap ? rank->t_bwd : 0;
    double c = ex->reduce_s > slack ? ex->reduce_s - slack : 0;
    out->raw_s = ex->reduce_s + ex->gather_s;
    out->exposed_s = dml__exposed(c, window, st->contention) + ex->gather_s;
    out->deferred_s = 0;
    out->algo = ex->algo;
}

static void dense_price(const dml__step *st, const dml_sync_rank *rank,
                        dml_sync_cost *out)
{
    dml_sync_exchange ex;
    dense_exchange(st, rank, &ex);
    int zero = st->par->zero;
    if (zero <= 1) {
        dml__sync_once_per_step(st, rank, &ex, out);
        return;
    }
    double mb = st->microbatches;
    out->deferred_s = 0;
    out->algo = ex.algo;
    if (zero == 2) {
        /* a reduce-scatter per micro-batch, behind the next one */
        double slack = rank->r * rank->t_bwd;
        double window = st->ctx->opt.dp_overlap ? rank->t_bwd : 0;
        double c = ex.reduce_s > slack ? ex.reduce_s - slack : 0;
        out->raw_s = mb * ex.reduce_s + ex.gather_s;
        out->exposed_s =
            (mb - 1) * dml__exposed(ex.reduce_s, rank->t_bwd, st->contention) +
            dml__exposed(c, window, st->contention) + ex.gather_s;
        return;
    }
    /* ZeRO-3: gather weights for forward and backward, scatter gradients,
     * every micro-batch, prefetched */
    double ag = ex.gather_s;
    out->raw_s = mb * (2.0 * ag + ex.reduce_s);
    out->exposed_s =
        mb * (dml__exposed(ag, rank->t_fwd, st->contention) +
              dml__exposed(ag + ex.reduce_s, rank->t_bwd, st->contention));
}

const dml_sync_pricer dml_sync_dense = {"allreduce", dense_exchange,
                                        dense_price};
