/*
 * busbw.c: nccl-tests size/count conventions and bandwidths (see
 * busbw.h).
 */
#include "busbw.h"


bool dml_coll_count(dml_coll_op op, double bytes, int n, size_t elem_bytes,
                    size_t *count, size_t *per_rank, double *actual_bytes)
{
    if (!(bytes >= 1) || n < 1 || elem_bytes < 1 ||
        (unsigned)op >= DML_COLL_OP_COUNT)
        return false;
    size_t elems = (size_t)(bytes / (double)elem_bytes);
    if (dml_coll_kind_of(op)->blocks) {
        size_t chunk = elems / (size_t)n;
        if (chunk < 1)
            chunk = 1;
        *per_rank = chunk;
        *count = chunk * (size_t)n;
    } else {
        if (elems < 1)
            elems = 1;
        *per_rank = elems;
        *count = elems;
    }
    *actual_bytes = (double)*count * (double)elem_bytes;
    return true;
}

void dml_coll_bandwidth(dml_coll_op op, int n, double bytes, double time_s,
                        double *algbw_Bps, double *busbw_Bps)
{
    if (!(time_s > 0)) {
        *algbw_Bps = *busbw_Bps = 0;
        return;
    }
    *algbw_Bps = bytes / time_s;
    *busbw_Bps = *algbw_Bps * dml_collective_busbw_factor(op, n);
}
