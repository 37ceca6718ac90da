/*
 * tune.h: dml-plan --tune: try the most promising plans for real, rank them
 * by what they measured, and refit the cluster's calibration.
 *
 * The planner has already searched and recorded its plans. Tuning picks the
 * trials (the top K plus the best plan of each other layout family, so
 * that they are not K near-copies), writes each as a plan file (in a
 * folder of its own under $TMPDIR, removed with the files once the trials
 * are over unless keep_trials), runs it through `mpirun dml-exec` for a
 * few steps (tune_runner.h: a failed trial is recorded with its reason and
 * does not stop the others; a caught SIGINT/SIGTERM stops the running one
 * and the loop, and no calibration is fitted), ranks by the
 * measured median step time, and fits the calibration again from every run
 * of the cluster in the database (calibrate.h), which the next dml-plan
 * uses by default.
 */
#ifndef DML_PLANNER_TUNE_H
#define DML_PLANNER_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "db/db.h"
#include "planner/calibrate.h"
#include "planner/planner.h"
#include "planner/tune_runner.h"

#define DML_TUNE_MAX_TRIALS 32

typedef struct dml_tune_request {
    int top_k;             /* --tune K: trials beside the family bests */
    int64_t steps;         /* --tune-steps: steps per trial (>= 5) */
    const char *db_path;   /* database the trials record into */
    const char *data;      /* dml-exec --data; NULL = its default */
    const char *workdir;   /* folder for the trial plan files; NULL = a new
                              folder under $TMPDIR or /tmp */
    bool keep_trials;      /* keep the plan files (--keep-trials); else
                              they, and the folder if made here, are
                              removed once the trials are over */
    double timeout_s;      /* per trial; <= 0 = from the prediction */
    bool progress;         /* progress line on a terminal */
} dml_tune_request;

typedef struct dml_tune_report {
    size_t n;                                   /* trials run */
    size_t plan_index[DML_TUNE_MAX_TRIALS];     /* into planner->plans */
    dml_tune_trial_result result[DML_TUNE_MAX_TRIALS]; /* per trial */
    size_t order[DML_TUNE_MAX_TRIALS];          /* trials, fastest first */
    bool have_winner;                           /* a trial succeeded */
    size_t winner;                              /* planner->plans index */
    char workdir[256];                          /* where plan files went */
    bool kept;                                  /* and they are still there */
    dml_calibration_result cal;                 /* refit after the trials */
    dml_status cal_status;                      /* DML_OK or why not */
    char cal_msg[DML_ERROR_MSG_MAX];            /* the refit's error */
} dml_tune_report;

/* Run the trials of p's plans (after dml_planner_run and recording). A
 * launcher that cannot start at all (no mpirun, no dml-exec) is an error;
 * a trial that fails is not. */
dml_status dml_planner_tune(const dml_planner *p, dml_db *db,
                            const dml_tune_request *rq, dml_tune_report *out,
                            dml_error *err);

void dml_tune_report_free(dml_tune_report *r);

/* Predicted against measured per trial, the winner, the calibration. */
void dml_tune_report_print(FILE *f, const dml_planner *p,
                           const dml_tune_report *r);

#endif
