/*
 * sync_async.c: one-step-stale data-parallel updates, priced.
 *
 * The step applies the gradients reduced during the previous step, so the
 * exchange (dense or top-k, whatever the plan sends) runs behind the next
 * step's compute instead of the end of this one's backward: none of it is
 * exposed here, all of it deferred; step_time hides the deferred time
 * behind the pipeline and counts only what does not fit.
 */
#include "costmodel/sync.h"

static void async_price(const dml__step *st, const dml_sync_rank *rank,
                        dml_sync_cost *out)
{
    dml_sync_exchange ex;
    dml_sync_exchange_for(st->par)->exchange(st, rank, &ex);
    out->raw_s = ex.reduce_s + ex.gather_s;
    out->exposed_s = 0;
    out->deferred_s = out->raw_s;
    out->algo = ex.algo;
}

const dml_sync_pricer dml_sync_async = {"async", NULL, async_price};
