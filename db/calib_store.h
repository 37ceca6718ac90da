/*
 * calib_store.h: the calibration loop's view of the database.
 *
 * Calibration fits per-cluster efficiency factors to measured step times.
 * Its input is every finished run on clusters with one hardware
 * fingerprint, with the plan's configuration and prediction beside the
 * measurement (dml_db_list_measured_runs); its output is a calibration row
 * with the fitted parameters and the prediction error before and after,
 * which the planner picks up for that fingerprint with
 * dml_db_latest_calibration.
 */
#ifndef DML_DB_CALIB_STORE_H
#define DML_DB_CALIB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/plan_store.h"

/* Errors are mean absolute percentage errors of the predicted step time
 * over the runs, in percent (12.5 means 12.5 %). */
typedef struct dml_db_calibration {
    int64_t id;                        /* row id (0 before recording) */
    char cluster_fingerprint[65];      /* hardware it applies to, required */
    char created_at[DML_DB_TIME_MAX];  /* ISO 8601 UTC; "" = now */
    int n_runs;                        /* measured runs fitted */
    char *params_json;                 /* fitted factors as JSON; required
                                          when recording; malloc'd when read
                                          (dml_db_calibration_clear frees) */
    double mape_before;                /* error with the uncalibrated model, % */
    double mape_after;                 /* error with the fitted model, % */
    double loo_mape_before;            /* leave-one-out error before, % */
    double loo_mape_after;             /* leave-one-out error after, % */
    double interval_pct;               /* half-width of the prediction
                                          interval, % of the prediction */
} dml_db_calibration;

/* A finished run with what was predicted for it. */
typedef struct dml_db_measured_run {
    int64_t run_id;             /* runs.id */
    int64_t plan_id;            /* plans.id */
    int64_t model_id;           /* models.id (dml_db_model_spec reads it) */
    int64_t cluster_id;         /* clusters.id */
    char model_name[128];       /* models.name */
    dml_db_plan_config config;  /* the configuration run */
    int ranks;                  /* MPI ranks of the run */
    double predicted_step_s;    /* prediction the run was compared with, s */
    double measured_step_s;     /* measured median step time, s */
    int64_t calibration_id;     /* calibration of that prediction, 0 = none */
} dml_db_measured_run;

/* Record a calibration; *calibration_id (may be NULL) gets its id. Only
 * cal->params_json is read from the pointer fields. */
dml_status dml_db_record_calibration(dml_db *db,
                                     const dml_db_calibration *cal,
                                     int64_t *calibration_id, dml_error *err);

/*
 * The newest calibration for a fingerprint into *out (params_json
 * malloc'd; release with dml_db_calibration_clear). *found is false, and
 * *out zeroed, when there is none.
 */
dml_status dml_db_latest_calibration(dml_db *db, const char *fingerprint,
                                     dml_db_calibration *out, bool *found,
                                     dml_error *err);

/* Free what a read calibration holds (params_json) and zero it. */
void dml_db_calibration_clear(dml_db_calibration *cal);

/*
 * Every run with status 'ok' and a measured step time on a cluster with
 * this fingerprint, oldest first. *runs is malloc'd (free() it; NULL when
 * *n is 0).
 */
dml_status dml_db_list_measured_runs(dml_db *db, const char *fingerprint,
                                     dml_db_measured_run **runs, size_t *n,
                                     dml_error *err);

#endif
