/*
 * sync_topk.c: top-k gradient sparsification, priced.
 *
 * Each replica keeps the k = ratio x params largest gradient entries and
 * all-gathers them with their 4-byte indices (an allgather grows with the
 * number of replicas, unlike an allreduce), then sums the dp sparse
 * vectors into a dense one: selecting reads the gradient and the residual
 * and writes the residual back (12 bytes per parameter), the sum scatters
 * dp x k entries (8 bytes each). Under ZeRO the updated parameters are
 * all-gathered as for dense gradients. It reduces once per step, behind
 * the last backward.
 */
#include "costmodel/sync.h"

static void topk_exchange(const dml__step *st, const dml_sync_rank *rank,
                          dml_sync_exchange *out)
{
    const dml_parallel_config *par = st->par;
    double dp = par->dp;
    double k = rank->params * par->topk_ratio;
    out->algo = DML_ALGO_NONE;
    out->reduce_s = dml_collective_time(&st->dpg, DML_COLL_ALLGATHER,
                                        dp * k * (st->wire + 4.0),
                                        &out->algo) +
                    dml__mem_time(st->ctx,
                                  12.0 * rank->params + dp * k * 8.0);
    out->gather_s = par->zero >= 1
                        ? dml_collective_time(&st->dpg, DML_COLL_ALLGATHER,
                                              rank->params *
                                                  st->ctx->state.param,
                                              NULL)
                        : 0;
}

static void topk_price(const dml__step *st, const dml_sync_rank *rank,
                       dml_sync_cost *out)
{
    dml_sync_exchange ex;
    topk_exchange(st, rank, &ex);
    dml__sync_once_per_step(st, rank, &ex, out);
}

const dml_sync_pricer dml_sync_topk = {"topk", topk_exchange, topk_price};
