/*
 * sync.c: which pricer a plan's data-parallel strategy uses (see sync.h).
 */
#include "costmodel/sync.h"

const dml_sync_pricer *dml_sync_exchange_for(const dml_parallel_config *par)
{
    if (par->grad_compression == DML_COMPRESS_TOPK)
        return &dml_sync_topk;
    return &dml_sync_dense;
}

const dml_sync_pricer *dml_sync_pricer_for(const dml_parallel_config *par)
{
    if (par->sync == DML_SYNC_ASYNC)
        return &dml_sync_async;
    return dml_sync_exchange_for(par);
}
