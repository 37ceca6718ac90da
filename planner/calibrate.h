/*
 * calibrate.h: fitting the cost model to what this cluster measured.
 *
 * Every finished run in the database on clusters with one hardware
 * fingerprint is a point (plan, measured median step time, peak memory);
 * repeated runs of one plan are combined into their median, so that a
 * slow spell of a shared machine is an outlier, not information.
 * Calibration re-prices each plan with the cost model on the cluster
 * spec (a CPU spec cut into ranks x threads as dml-plan cuts it), fits the efficiency factors of dml_costmodel_calib (GEMM and
 * memory-bound time, per-level collective bandwidth and latency,
 * optimizer, fixed overhead per step and per micro-batch, CPU thread and
 * rank scaling) so that predicted step times match the measured ones in
 * relative terms, and records the fit in the `calibrations` table with
 * the errors before and after, the leave-one-out errors, a prediction
 * interval and the memory headroom. dml-plan then loads the newest
 * calibration of its cluster (dml_calibration_load) and plans with it.
 *
 * The fit: the step time is piecewise linear in most factors, so it is
 * linearised at the current factors with finite differences and solved
 * by bounded least squares (costmodel/fit.h) on rows scaled by
 * 1/measured, repeated until the factors settle (Gauss-Newton). Factors
 * no plan exercises (a part below 1 % of every step: inter-node links on
 * one node, thread scaling without multi-threaded runs) keep their
 * default; with few plans only the most important ones are free (at most
 * plans/2); weak prior rows pull multipliers towards 1 and the additive
 * terms towards 0, so that parts the plans cannot tell apart (the
 * overhead and the GEMM time of plans that all train one batch) do not
 * trade off wildly, while a factor the plans determine moves all the
 * same. Leave-one-out refits without each plan, starting from the full
 * fit, and predicts it with the exact model; the interval is the 90th
 * percentile of the runs' relative errors against those predictions.
 */
#ifndef DML_PLANNER_CALIBRATE_H
#define DML_PLANNER_CALIBRATE_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/calib_fit.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/step_time.h"
#include "db/db.h"
#include "db/plan_store.h"

/* Fewer distinct measured plans than this give no calibration (runs
 * repeating a plan measure it better, but tell nothing new about the
 * factors). */
#define DML_CALIBRATION_MIN_RUNS 3
/* The newest runs a calibration uses at most. */
#define DML_CALIBRATION_MAX_RUNS 256
/* Weight of the prior rows that pull time multipliers towards 1: a
 * factor 10 % away from 1 costs as much as a 3 % error on one run. */
#define DML_CALIBRATION_PRIOR_WEIGHT 0.3

typedef struct dml_calibrate_options {
    const dml_cluster_spec *cluster; /* spec the runs are priced on; NULL:
                                        each run's cluster row in the
                                        database, else the preset named
                                        like the plan's cluster in
                                        data_dir with the same fingerprint */
    const char *data_dir;            /* presets for the fallback above;
                                        NULL: dml_costmodel_data_dir */
    int min_runs;                    /* fewer distinct plans among the
                                        usable runs: no fit; 0 =
                                        DML_CALIBRATION_MIN_RUNS (at
                                        least 2: leave-one-out) */
    int max_runs;                    /* newest runs used; 0 =
                                        DML_CALIBRATION_MAX_RUNS */
    bool record;                     /* store the fit in `calibrations` */
    double prior_weight;             /* prior rows' weight (0 = none);
                                        DML_CALIBRATION_PRIOR_WEIGHT */
} dml_calibrate_options;

void dml_calibrate_options_init(dml_calibrate_options *o);

/* One measured run as calibration saw it. */
typedef struct dml_calibration_point {
    int64_t run_id;            /* runs.id */
    int64_t plan_id;           /* plans.id */
    dml_db_plan_config config; /* its parallel configuration */
    int plan_group;            /* index of the first point of the same plan
                                  (model, configuration, stages): the runs
                                  of one plan share it */
    int ranks;                 /* MPI ranks */
    double measured_s;         /* measured median step time, s */
    double uncalibrated_s;     /* cost model with factors 1, s */
    double calibrated_s;       /* with the fitted factors, s */
    double plan_measured_s;    /* median over the runs of its plan, s
                                  (what the fit and the errors use) */
    double loo_s;              /* with factors fitted without its plan, s */
    double predicted_mem_bytes; /* predicted peak memory per device, B */
    double peak_rss_bytes;     /* measured peak RSS of any rank, B (NAN if
                                  not measured) */
} dml_calibration_point;

typedef struct dml_calibration_result {
    bool fitted;                /* false: fewer than min_runs distinct
                                   plans measured (nothing else below is
                                   set but n_runs, n_plans, n_skipped and
                                   points) */
    int n_runs;                 /* usable measured runs */
    int n_plans;                /* distinct plans among them */
    int n_skipped;              /* runs whose plan could not be priced */
    dml_costmodel_calib calib;  /* fitted factors (defaults when !fitted) */
    bool free_factor[DML_CALIB_FACTORS]; /* which factors were fitted */
    int iterations;             /* Gauss-Newton rounds of the full fit */
    /* Errors are over distinct plans, each measured by the median of
     * its runs. */
    double mape_before_pct;     /* MAPE of the uncalibrated model, % */
    double mape_after_pct;      /* MAPE of the fitted model, % */
    double loo_mape_before_pct; /* leave-one-out MAPE before: the
                                   uncalibrated model has nothing fitted,
                                   so this equals mape_before_pct, % */
    double loo_mape_after_pct;  /* leave-one-plan-out MAPE of the fit, % */
    double interval_pct;        /* 90th percentile over runs of
                                   |measured - LOO prediction| / LOO
                                   prediction, %: "t +- x %" */
    double mem_ratio;           /* largest measured peak RSS / predicted
                                   memory per device (NAN if none) */
    double mem_extra_bytes;     /* largest measured - predicted memory,
                                   >= 0, bytes: what the feasibility check
                                   adds to a prediction */
    bool kept;                  /* fitted and better on held-out plans than
                                   the uncalibrated model (leave-one-out);
                                   only such a fit is recorded */
    int64_t calibration_id;     /* calibrations.id when recorded, else 0 */
    dml_calibration_point *points; /* n_points runs, oldest first
                                      (malloc'd; dml_calibration_result_free) */
    size_t n_points;
} dml_calibration_result;

void dml_calibration_result_free(dml_calibration_result *r);

/* The refit after measured runs (dml-plan --tune, --recalibrate): the
 * cluster's runs priced on that spec, default options, the fit recorded
 * when kept. */
dml_status dml_calibrate_refit(dml_db *db, const dml_cluster_spec *cluster,
                               const char *data_dir,
                               dml_calibration_result *out, dml_error *err);

/* One line on a refit (dml_calibrate_cluster's status, its error message
 * and result): stored as #id, not kept and why, or not enough runs. */
void dml_calibration_print(FILE *f, dml_status status, const char *msg,
                           const dml_calibration_result *r);

/*
 * Fit the cluster with this fingerprint from its measured runs (see the
 * top of the file) and, with opt->record, store it. Fewer measured
 * plans than opt->min_runs is not an error: DML_OK with out->fitted false
 * (the caller says "not enough runs"). opt NULL: defaults (record on). Errors:
 * DML_EDB from the database, DML_ENOTFOUND when no cluster spec to price
 * the runs on is found, DML_EINPUT for a bad fingerprint.
 */
dml_status dml_calibrate_cluster(dml_db *db, const char *fingerprint,
                                 const dml_calibrate_options *opt,
                                 dml_calibration_result *out,
                                 dml_error *err);

/* What dml-plan applies: the newest calibration of a cluster. */
typedef struct dml_calibration_applied {
    int64_t id;                 /* calibrations.id */
    char created_at[32];        /* ISO 8601 UTC */
    int n_runs;                 /* runs it was fitted on */
    dml_costmodel_calib calib;  /* put into dml_costmodel_options.calib */
    double interval_pct;        /* +- x % around every prediction */
    double loo_mape_pct;        /* its leave-one-out MAPE, % */
    double mem_extra_bytes;     /* add to predicted memory before
                                   comparing with the device's, bytes */
    double mem_ratio;           /* measured / predicted, for display */
} dml_calibration_applied;

/* The newest calibration for fingerprint; *found false (and *out the
 * defaults) when there is none. DML_EINPUT for unreadable params. */
dml_status dml_calibration_load(dml_db *db, const char *fingerprint,
                                dml_calibration_applied *out, bool *found,
                                dml_error *err);

/* The same, only the factors and the interval. */
dml_status dml_calibration_load_latest(dml_db *db, const char *fingerprint,
                                       dml_costmodel_calib *calib,
                                       double *interval_pct, bool *found,
                                       dml_error *err);

/* Memory a plan needs on a device once the calibration's headroom is
 * added: predicted + mem_extra_bytes (cal NULL: predicted). */
double dml_calibration_mem_need(const dml_calibration_applied *cal,
                                double predicted_mem_bytes);

/* The calibration as the JSON stored in calibrations.params_json
 * (malloc'd text, NULL without memory). */
char *dml_calibration_params_json(const dml_calibration_result *r,
                                  const char *cluster_name);

/* Parse params_json back into out (defaults for what it lacks). */
dml_status dml_calibration_parse_params(const char *params_json,
                                        dml_calibration_applied *out,
                                        dml_error *err);

#endif
