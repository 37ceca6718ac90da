/*
 * sync_ssp.c: stale-synchronous parallel SGD, priced (sync=ssp:S, Ho et
 * al. 2013; the executor's executor/sync/ssp.c). ssp:1 is also how a plan
 * file's old "sync": "async" (one-step-stale reduction) reads.
 *
 * A replica applies the others' updates when they arrive and waits only
 * when it runs more than S steps ahead of the slowest. The exchange (the
 * dense gradients' allreduce volume: each replica's update reaches every
 * other) therefore runs behind the following steps' compute: none of it
 * is exposed here, all of it deferred, and step_time hides the deferred
 * time behind the pipeline and counts what does not fit. ssp:0 waits
 * every step: synchronous SGD, priced as an allreduce behind the last
 * backward. What staleness costs in convergence comes from measured runs.
 */
#include "costmodel/sync.h"

static void ssp_exchange(const dml__step *st, const dml_sync_rank *rank,
                         dml_sync_exchange *out)
{
    dml_sync_dense.exchange(st, rank, out);
}

static void ssp_price(const dml__step *st, const dml_sync_rank *rank,
                      dml_sync_cost *out)
{
    dml_sync_exchange ex;
    ssp_exchange(st, rank, &ex);
    if (st->sync.param < 1) {
        dml__sync_once_per_step(st, rank, &ex, out);
        return;
    }
    out->raw_s = ex.reduce_s + ex.gather_s;
    out->exposed_s = 0;
    out->deferred_s = out->raw_s;
    out->algo = ex.algo;
    out->bytes_intra = ex.bytes_intra;
    out->bytes_inter = ex.bytes_inter;
}

const dml_sync_pricer dml_sync_ssp = {"ssp", ssp_exchange, ssp_price, false};
