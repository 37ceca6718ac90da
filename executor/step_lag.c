/*
 * step_lag.c: each step's statistics summed over the ranks, at once or a
 * few steps late (see step_lag.h).
 */
#include "executor/step_lag.h"

#include <stdlib.h>
#include <string.h>

dml_status dml_step_lag_init(dml_step_lag *q, int lag, int replicas,
                             MPI_Comm world, dml_error *err)
{
    memset(q, 0, sizeof *q);
    q->lag = lag > 0 ? lag : 0;
    q->nmax = DML_STEP_MAX_COUNT + 3 * replicas;
    q->world = world;
    q->ring = calloc((size_t)q->lag + 1, sizeof *q->ring);
    if (!q->ring)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    return DML_OK;
}

void dml_step_lag_free(dml_step_lag *q)
{
    if (q->ring)
        for (int64_t i = 0; i < q->count; i++) {
            dml_step_lag_entry *e = &q->ring[(q->first + i) % (q->lag + 1)];
            MPI_Waitall(2, e->req, MPI_STATUSES_IGNORE);
        }
    free(q->ring);
    memset(q, 0, sizeof *q);
}

void dml_step_lag_push(dml_step_lag *q, int64_t step, int64_t global_batch,
                       const dml_step_stats *mine, const double *max)
{
    int64_t size = q->lag + 1;
    if (q->count == size) { /* a caller that never pops: make room */
        dml_step_lag_entry drop;
        dml_step_lag_pop(q, step, true, &drop);
    }
    dml_step_lag_entry *e = &q->ring[(q->first + q->count) % size];
    q->count++;
    e->step = step;
    e->global_batch = global_batch;
    e->sum = *mine;
    memcpy(e->max, max, (size_t)q->nmax * sizeof *max);
    if (q->lag == 0) {
        /* as the loop always reduced them: blocking, same values */
        MPI_Allreduce(MPI_IN_PLACE, &e->sum, DML_STEP_STATS_COUNT,
                      MPI_DOUBLE, MPI_SUM, q->world);
        MPI_Allreduce(MPI_IN_PLACE, e->max, q->nmax, MPI_DOUBLE, MPI_MAX,
                      q->world);
        e->req[0] = e->req[1] = MPI_REQUEST_NULL;
        return;
    }
    MPI_Iallreduce(MPI_IN_PLACE, &e->sum, DML_STEP_STATS_COUNT, MPI_DOUBLE,
                   MPI_SUM, q->world, &e->req[0]);
    MPI_Iallreduce(MPI_IN_PLACE, e->max, q->nmax, MPI_DOUBLE, MPI_MAX,
                   q->world, &e->req[1]);
}

bool dml_step_lag_pop(dml_step_lag *q, int64_t newest, bool all,
                      dml_step_lag_entry *out)
{
    if (q->count == 0)
        return false;
    dml_step_lag_entry *e = &q->ring[q->first];
    if (!all && q->lag > 0 && e->step > newest - q->lag)
        return false;
    MPI_Waitall(2, e->req, MPI_STATUSES_IGNORE);
    *out = *e;
    q->first = (q->first + 1) % (q->lag + 1);
    q->count--;
    return true;
}
