/*
 * step_lag.h: each step's statistics summed over the ranks, at once or a
 * few steps late.
 *
 * At the end of every step the ranks sum their statistics (loss, the
 * times of the step's parts, non-finite parameters: dml_step_stats) and
 * take the largest of three figures (the step time, a signal noted, the
 * staleness of the step's gradient). Done at once, that reduction makes
 * every rank wait for the slowest at every step, which is what a
 * stale-synchronous strategy (executor/sync/ssp.c, ssp:S) must not do:
 * with a lag L > 0 each step's reductions are started without waiting
 * (MPI_Iallreduce) and read L steps later, or at a drain (a checkpoint,
 * an evaluation, the end), when every rank stands at the same step.
 * Whatever the ranks decide from a step's sums (stop at a signal, stop at
 * a non-finite loss) they decide at the same step, L steps after it, so
 * they stop together.
 *
 * With L = 0 a step's sums are reduced by blocking MPI_Allreduce calls,
 * exactly as before this module: the same values in every run.
 */
#ifndef DML_EXECUTOR_STEP_LAG_H
#define DML_EXECUTOR_STEP_LAG_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "executor/rebalance.h"
#include "executor/run_record.h"

/* The figures of a step reduced by their largest value: five (the
 * step's time, a signal, staleness, consensus, a stop asked), then
 * (balance=dynamic) three per data-parallel replica, each written by the
 * replica's ranks and left 0 by the others, so that the largest is the
 * replica's own (balance_run.h). */
enum { DML_STEP_MAX_S, DML_STEP_MAX_SIGNAL, DML_STEP_MAX_STALENESS,
       DML_STEP_MAX_CONSENSUS, DML_STEP_MAX_STOP_ASKED, DML_STEP_MAX_COUNT };
#define DML_STEP_MAX_ALL (DML_STEP_MAX_COUNT + 3 * DML_REBALANCE_REPLICAS_MAX)

/* One step's statistics, this rank's until reduced. */
typedef struct dml_step_lag_entry {
    int64_t step;               /* the model step */
    int64_t global_batch;       /* its samples */
    dml_step_stats sum;         /* summed over the ranks once reduced */
    double max[DML_STEP_MAX_ALL]; /* largest over the ranks: step time,
                                       s; signal number (0: none);
                                       staleness, steps (-1: none); the
                                       replicas' figures (nmax in all) */
    MPI_Request req[2];         /* the two reductions in flight */
} dml_step_lag_entry;

typedef struct dml_step_lag {
    int lag;                    /* steps a reduction is read late */
    int nmax;                   /* figures of max reduced */
    MPI_Comm world;             /* every rank (borrowed) */
    dml_step_lag_entry *ring;   /* [lag + 1] steps in flight */
    int64_t first, count;       /* oldest entry's index, entries held */
} dml_step_lag;

/* replicas: those whose figures ride on max (0: none). */
dml_status dml_step_lag_init(dml_step_lag *q, int lag, int replicas,
                             MPI_Comm world, dml_error *err);

/* Waits for whatever is still in flight (every rank holds the same
 * steps), then frees. */
void dml_step_lag_free(dml_step_lag *q);

/* Start the reductions of a step (complete at once with lag 0); max holds
 * nmax figures. */
void dml_step_lag_push(dml_step_lag *q, int64_t step, int64_t global_batch,
                       const dml_step_stats *mine, const double *max);

/* The oldest step whose sums are due, into *out: with lag 0 or `all`
 * every step held, else those `lag` or more steps before `newest`
 * (waited for). false when none is due. */
bool dml_step_lag_pop(dml_step_lag *q, int64_t newest, bool all,
                      dml_step_lag_entry *out);

#endif
