/*
 * sync.c: which pricer a plan's data-parallel strategy uses, and the bytes
 * a ring leaves on each link level (see sync.h).
 */
#include "costmodel/sync.h"

const dml_sync_pricer *dml_sync_pricer_for(const dml_sync_spec *s)
{
    switch (s->kind) {
    case DML_SYNC_HIERARCHICAL: return &dml_sync_hierarchical;
    case DML_SYNC_FP16:
    case DML_SYNC_BF16: return &dml_sync_half;
    case DML_SYNC_TOPK:
    case DML_SYNC_TOPK_NOEF: return &dml_sync_topk;
    case DML_SYNC_POWERSGD: return &dml_sync_powersgd;
    case DML_SYNC_LOCAL: return &dml_sync_local;
    case DML_SYNC_SSP: return &dml_sync_ssp;
    case DML_SYNC_GOSSIP: return &dml_sync_gossip;
    case DML_SYNC_ALLREDUCE:
    case DML_SYNC_KIND_COUNT: break;
    }
    return &dml_sync_dense;
}

static void exposed(const dml_sync_exchange *ex, dml_sync_cost *out)
{
    out->raw_s = out->exposed_s = ex->reduce_s;
    out->deferred_s = 0;
    out->algo = ex->algo;
    out->bytes_intra = ex->bytes_intra;
    out->bytes_inter = ex->bytes_inter;
}

void dml__sync_price(const dml_sync_pricer *p, const dml__step *st,
                     const dml_sync_rank *rank, dml_sync_cost *out)
{
    if (p->price) {
        p->price(st, rank, out);
        return;
    }
    dml_sync_exchange ex;
    p->exchange(st, rank, &ex);
    if (p->after_update)
        exposed(&ex, out);
    else
        dml__sync_once_per_step(st, rank, &ex, out);
}

void dml__sync_zero_gather(const dml__step *st, const dml_sync_rank *rank,
                           dml_sync_exchange *out)
{
    double p_bytes = rank->params * st->ctx->state.param;
    out->gather_s = dml_collective_time(&st->dpg, DML_COLL_ALLGATHER, p_bytes,
                                        NULL);
    dml__ring_bytes(DML_COLL_ALLGATHER, p_bytes, st->dpg.ranks,
                    st->dpg.ranks_per_node, &out->bytes_intra,
                    &out->bytes_inter);
}

void dml__ring_bytes(dml_coll_op op, double bytes, int n, int g,
                     double *intra, double *inter)
{
    if (n <= 1 || bytes <= 0)
        return;
    /* what one replica sends: (n-1)/n of the size per ring pass (the
     * kind's bus bandwidth factor) */
    double sent = dml_collective_busbw_factor(op, n) * bytes;
    if (g < 1)
        g = 1;
    if (g > n)
        g = n;
    /* one node (all n on it): nothing crosses; else one hop in g does */
    double cross = n > g ? sent / g : 0;
    *inter += cross;
    *intra += sent - cross;
}

void dml__sync_once_per_step(const dml__step *st, const dml_sync_rank *rank,
                             const dml_sync_exchange *ex, dml_sync_cost *out)
{
    double slack = rank->r * rank->t_bwd;
    double window = st->fw.dp_overlap ? rank->t_bwd : 0;
    double c = ex->reduce_s > slack ? ex->reduce_s - slack : 0;
    out->raw_s = ex->reduce_s + ex->gather_s;
    out->exposed_s = dml__exposed(c, window, st->contention) + ex->gather_s;
    out->deferred_s = 0;
    out->algo = ex->algo;
    out->bytes_intra = ex->bytes_intra;
    out->bytes_inter = ex->bytes_inter;
}
