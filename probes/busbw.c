/*
 * busbw.c: collective names, nccl-tests size/count conventions and bus
 * bandwidth factors (see busbw.h).
 */
#include "busbw.h"

#include <string.h>

bool dml_coll_op_parse(const char *name, dml_coll_op *op)
{
    if (!name)
        return false;
    for (int i = 0; i < DML_COLL_OP_COUNT; i++) {
        if (strcmp(name, dml_coll_op_name((dml_coll_op)i)) == 0) {
            *op = (dml_coll_op)i;
            return true;
        }
    }
    return false;
}

double dml_busbw_factor(dml_coll_op op, int n)
{
    if (n < 1)
        return 0;
    switch (op) {
    case DML_COLL_ALLREDUCE:
        /* A ring allreduce is a reduce-scatter then an all-gather: each
         * rank sends 2(n-1)/n of the buffer. */
        return 2.0 * (n - 1) / n;
    case DML_COLL_ALLGATHER:
    case DML_COLL_REDUCESCATTER:
    case DML_COLL_ALLTOALL:
        /* Each rank sends or receives all but its own 1/n of the size. */
        return (double)(n - 1) / n;
    case DML_COLL_BROADCAST:
        /* A pipelined broadcast moves the buffer once over each link. */
        return 1.0;
    default:
        return 0;
    }
}

bool dml_coll_count(dml_coll_op op, double bytes, int n, size_t elem_bytes,
                    size_t *count, size_t *per_rank, double *actual_bytes)
{
    if (!(bytes >= 1) || n < 1 || elem_bytes < 1 ||
        (unsigned)op >= DML_COLL_OP_COUNT)
        return false;
    size_t elems = (size_t)(bytes / (double)elem_bytes);
    switch (op) {
    case DML_COLL_ALLGATHER:
    case DML_COLL_REDUCESCATTER:
    case DML_COLL_ALLTOALL: {
        size_t chunk = elems / (size_t)n;
        if (chunk < 1)
            chunk = 1;
        *per_rank = chunk;
        *count = chunk * (size_t)n;
        break;
    }
    default:
        if (elems < 1)
            elems = 1;
        *per_rank = elems;
        *count = elems;
        break;
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
    *busbw_Bps = *algbw_Bps * dml_busbw_factor(op, n);
}
