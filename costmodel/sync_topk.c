/*
 * sync_topk.c: top-k gradient sparsification, priced (sync=topk:K with
 * error feedback, sync=topk-noef:K without; the executor's
 * executor/sync/topk.c).
 *
 * Each replica keeps the k = K x params largest gradient entries (of the
 * gradient plus its residual, with error feedback) and all-gathers them
 * with their 4-byte indices: an allgather grows with the number of
 * replicas, unlike an allreduce. Then it sums the dp sparse vectors into
 * a dense one. Memory traffic: the selection reads the gradient (and the
 * residual, then writes the residual back: 16 bytes a parameter with
 * error feedback, 8 without, one partition pass included), the sum
 * scatters dp x k entries (8 bytes each). Once per step, behind the last
 * backward.
 */
#include "costmodel/sync.h"

static void topk_exchange(const dml__step *st, const dml_sync_rank *rank,
                          dml_sync_exchange *out)
{
    double dp = st->par->dp;
    double k = rank->params * st->sync.param;
    double ef = st->sync.kind == DML_SYNC_TOPK_NOEF ? 8.0 : 16.0;
    double gathered = dp * k * (st->wire + 4.0);
    memset(out, 0, sizeof *out);
    out->reduce_s = dml_collective_time(&st->dpg, DML_COLL_ALLGATHER,
                                        gathered, &out->algo) +
                    dml__mem_time(st->ctx,
                                  ef * rank->params + dp * k * 8.0);
    dml__ring_bytes(DML_COLL_ALLGATHER, gathered, st->dpg.ranks,
                    st->dpg.ranks_per_node, &out->bytes_intra,
                    &out->bytes_inter);
}

const dml_sync_pricer dml_sync_topk = {"topk", topk_exchange, NULL, false};
