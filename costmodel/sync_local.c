/*
 * sync_local.c: local SGD, priced (sync=local:H; the executor's
 * executor/sync/local.c).
 *
 * The replicas train on their own for H steps and then average their
 * weights with one allreduce (in the training dtype, the whole model);
 * the optimizer state stays local. Per step that is 1/H of an allreduce,
 * and it is not hidden: the averaging starts after the H-th step's
 * update and the next step needs its result. What local SGD costs in
 * convergence (more steps to a target) is not a time of the step: the
 * planner takes it from measured runs (planner/convergence). Post-local
 * SGD (local:H:W) is priced as its local phase: its W synchronous steps
 * first cost a dense allreduce each, which a plan's steady state does
 * not show.
 */
#include "costmodel/sync.h"

static void local_exchange(const dml__step *st, const dml_sync_rank *rank,
                           dml_sync_exchange *out)
{
    double h = st->sync.param >= 1 ? st->sync.param : 1;
    double w_bytes = rank->params * st->ctx->state.param;
    memset(out, 0, sizeof *out);
    out->reduce_s =
        dml_collective_time(&st->dpg, DML_COLL_ALLREDUCE, w_bytes,
                            &out->algo) /
        h;
    dml__ring_bytes(DML_COLL_ALLREDUCE, w_bytes, st->dpg.ranks,
                    st->dpg.ranks_per_node, &out->bytes_intra,
                    &out->bytes_inter);
    out->bytes_intra /= h;
    out->bytes_inter /= h;
}

const dml_sync_pricer dml_sync_local = {"local", local_exchange, NULL,
                                        true};
