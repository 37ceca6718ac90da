/*
 * sync_half.c: dense gradients sent in 16 bits (sync=fp16, sync=bf16),
 * priced (the executor's executor/sync/half.c).
 *
 * Each replica casts its fp32 gradients to 16 bits (4 bytes read, 2
 * written per parameter), the allreduce moves 2 bytes an element, and the
 * sum comes back to fp32 (2 read, 4 written): half the bytes of an fp32
 * reduction for 12 bytes of memory traffic a parameter. The sum itself is
 * kept in fp32 on the way (the executor adds in fp32 and rounds once per
 * hop), so the accuracy lost is the rounding of each replica's gradient
 * and of each partial sum to 16 bits. Under ZeRO-1 the reduce-scatter is
 * in 16 bits and the parameters are gathered as usual.
 */
#include "costmodel/sync.h"

static void half_exchange(const dml__step *st, const dml_sync_rank *rank,
                          dml_sync_exchange *out)
{
    double g_bytes = rank->params * 2.0;
    int n = st->dpg.ranks, g = st->dpg.ranks_per_node;
    bool zero = st->par->zero >= 1;
    dml_coll_op op = zero ? DML_COLL_REDUCESCATTER : DML_COLL_ALLREDUCE;
    memset(out, 0, sizeof *out);
    out->reduce_s = dml_collective_time(&st->dpg, op, g_bytes, &out->algo) +
                    dml__mem_time(st->ctx, 12.0 * rank->params);
    dml__ring_bytes(op, g_bytes, n, g, &out->bytes_intra, &out->bytes_inter);
    if (zero)
        dml__sync_zero_gather(st, rank, out);
}

const dml_sync_pricer dml_sync_half = {"fp16", half_exchange, NULL, false};
