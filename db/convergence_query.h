/*
 * convergence_query.h: the measured runs a plan's convergence cost is
 * taken from (planner/convergence.h): for one model and global batch,
 * every run that ended 'ok' or was stopped by its loss (a 'diverged' or
 * 'nan' event: it reached the target only if it did so before; a
 * strategy that diverges at the schedule has no hidden cost), with its
 * strategy (plans.sync), its cluster,
 * and the steps it trained, each with its loss, its step time and, where
 * dml-exec evaluated it (--eval-every), its test accuracy.
 *
 * The rows are the runs' steps in order (run by run, step by step), so
 * that the caller can find the first step at which a run reached a
 * target: a test accuracy of at least A, or a training loss of at most
 * L. Arrays are malloc'd (free()); absent values are NAN.
 */
#ifndef DML_DB_CONVERGENCE_QUERY_H
#define DML_DB_CONVERGENCE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/plan_store.h"

typedef struct dml_db_curve_point {
    int64_t run_id;          /* runs.id */
    char sync[48];           /* the run's strategy (plans.sync) */
    char cluster_fingerprint[65]; /* hardware identity, "" if none */
    int64_t step;            /* 0-based optimizer step */
    double loss;             /* training loss of the step, nats */
    double step_s;           /* the step's wall time, s */
    double test_accuracy;    /* after the step, 0-1; NAN: not evaluated */
} dml_db_curve_point;

/*
 * The steps of every 'ok' or diverged run of the model named `model` at
 * global batch global_batch, whatever the cluster, ordered by run and step. A run
 * resumed from a checkpoint (its first step not 0) is left out: its
 * steps to a target would not count the steps before it.
 */
dml_status dml_db_list_curves(dml_db *db, const char *model,
                              int64_t global_batch, dml_db_curve_point **rows,
                              size_t *n, dml_error *err);

#endif
