/*
 * coll_check.c: the collective probes' data check (see coll_check.h).
 */
#include "coll_check.h"

#include <stdbool.h>

float dml_coll_check_value(int rank, size_t i)
{
    /* 37 and 11 are prime to the period: consecutive ranks and elements
     * take different values. */
    size_t r = (size_t)(rank < 0 ? -rank : rank);
    return (float)(1 + (r * 37 + i * 11) % DML_COLL_CHECK_PERIOD);
}

void dml_coll_check_lengths(dml_coll_op op, int n, size_t per_rank,
                            size_t *send_elems, size_t *recv_elems)
{
    size_t all = (size_t)(n > 0 ? n : 1) * per_rank;
    const dml_coll_kind *k = dml_coll_kind_of(op);
    if (!k) /* as allreduce */
        k = dml_coll_kind_of(DML_COLL_ALLREDUCE);
    *send_elems = k->send == DML_COLL_N ? all : per_rank * (size_t)k->send;
    *recv_elems = k->recv == DML_COLL_N ? all : per_rank * (size_t)k->recv;
}

void dml_coll_check_fill(dml_coll_op op, int rank, int n, size_t per_rank,
                         float *send, float *recv)
{
    size_t ns = 0, nr = 0;
    dml_coll_check_lengths(op, n, per_rank, &ns, &nr);
    for (size_t i = 0; i < ns; i++)
        send[i] = dml_coll_check_value(rank, i);
    for (size_t i = 0; recv && i < nr; i++)
        recv[i] = DML_COLL_CHECK_SENTINEL;
}

/* The sum over n ranks of element i's values, in whole numbers (exact). */
static float sum_over_ranks(int n, size_t i)
{
    double s = 0;
    for (int q = 0; q < n; q++)
        s += dml_coll_check_value(q, i);
    return (float)s;
}

float dml_coll_check_expected(dml_coll_op op, int rank, int n,
                              size_t per_rank, size_t i)
{
    size_t block = per_rank > 0 ? i / per_rank : 0;
    size_t at = per_rank > 0 ? i % per_rank : 0;
    switch (op) {
    case DML_COLL_ALLGATHER: /* block q is rank q's send buffer */
        return dml_coll_check_value((int)block, at);
    case DML_COLL_REDUCESCATTER: /* block `rank` of the sum */
        return sum_over_ranks(n, (size_t)rank * per_rank + i);
    case DML_COLL_ALLTOALL: /* block q is block `rank` of rank q's buffer */
        return dml_coll_check_value((int)block,
                                    (size_t)rank * per_rank + at);
    case DML_COLL_BROADCAST: /* the root's buffer */
        return dml_coll_check_value(0, i);
    default: /* allreduce */
        return sum_over_ranks(n, i);
    }
}

size_t dml_coll_check_count(dml_coll_op op, int rank, int n, size_t per_rank,
                            const float *send, const float *recv,
                            dml_coll_wrong *first)
{
    size_t ns = 0, nr = 0;
    dml_coll_check_lengths(op, n, per_rank, &ns, &nr);
    const float *result = op == DML_COLL_BROADCAST ? send : recv;
    size_t len = op == DML_COLL_BROADCAST ? ns : nr;
    bool reduce = dml_coll_kind_of(op) && dml_coll_kind_of(op)->reduces;
    /* A sum over the ranks depends on the element only through the
     * pattern's period: one table instead of n values per element. */
    float sums[DML_COLL_CHECK_PERIOD];
    for (size_t k = 0; reduce && k < DML_COLL_CHECK_PERIOD; k++)
        sums[k] = sum_over_ranks(n, k);
    size_t offset = op == DML_COLL_REDUCESCATTER ? (size_t)rank * per_rank : 0;
    size_t wrong = 0;
    for (size_t i = 0; i < len; i++) {
        float want = reduce ? sums[(offset + i) % DML_COLL_CHECK_PERIOD]
                            : dml_coll_check_expected(op, rank, n, per_rank,
                                                      i);
        /* != also counts a NaN, which never equals anything. */
        if (result[i] != want) {
            if (wrong == 0 && first)
                *first = (dml_coll_wrong){.index = i, .got = result[i],
                                          .expected = want};
            wrong++;
        }
    }
    return wrong;
}
