/*
 * calib_fit.h: fitting the cost model's efficiency factors to measured
 * step times (pure numerics: the planner gathers the runs from the
 * database, planner/calibrate.c, and hands them here).
 *
 * Each run is a prepared cost-model context, the configuration it ran and
 * its measured median step time; runs of the same plan share a group and
 * are fitted as one point, measured by the median of the group. The step
 * time is piecewise linear in most factors, so it is linearised at the
 * current factors with central differences and solved by bounded least
 * squares (fit.h) on rows scaled by 1/measured, repeated until the
 * factors settle (Gauss-Newton). Factors no plan exercises (a part below
 * 1 % of every step) keep their default; with few plans only the most
 * important are free (at most plans/2); weak prior rows pull multipliers
 * towards 1 and the additive terms towards 0. Leave-one-out refits
 * without each plan, starting from the full fit, and predicts it with the
 * exact model; the interval is the 90th percentile of the runs' relative
 * errors against those predictions.
 */
#ifndef DML_COSTMODEL_CALIB_FIT_H
#define DML_COSTMODEL_CALIB_FIT_H

#include <stdbool.h>

#include "common/error.h"
#include "costmodel/step_time.h"

/* The factors of dml_costmodel_calib calibration fits, in this order. */
typedef enum dml_calib_factor {
    DML_CALIB_COMPUTE = 0,    /* GEMM time multiplier */
    DML_CALIB_MEMBOUND,       /* memory-bound kernel time multiplier */
    DML_CALIB_COMM_INTRA,     /* intra-node transfer time multiplier */
    DML_CALIB_COMM_INTER,     /* inter-node transfer time multiplier */
    DML_CALIB_LATENCY_INTRA,  /* intra-node latency (alpha) multiplier */
    DML_CALIB_LATENCY_INTER,  /* inter-node latency multiplier */
    DML_CALIB_OPTIMIZER,      /* optimizer step multiplier */
    DML_CALIB_OVERHEAD,       /* fixed time per step, s */
    DML_CALIB_MB_OVERHEAD,    /* fixed time per micro-batch and device, s */
    DML_CALIB_CPU_THREADS,    /* CPU: cost per further thread of a rank */
    DML_CALIB_CPU_RANKS,      /* CPU: cost per further rank on a node */
    DML_CALIB_FACTORS
} dml_calib_factor;

/* The calib field's name ("compute", "overhead_s", ...). */
const char *dml_calib_factor_name(dml_calib_factor f);
/* Read / write factor f of a calibration. */
double dml_calib_factor_get(const dml_costmodel_calib *c, dml_calib_factor f);
void dml_calib_factor_set(dml_costmodel_calib *c, dml_calib_factor f,
                          double value);
/* The range a fit may give factor f (the overheads' upper bound is
 * narrowed to the fastest step by the fit itself). */
void dml_calib_factor_bounds(dml_calib_factor f, double *lo, double *hi);

/* One measured run. */
typedef struct dml_calib_run {
    dml_costmodel_ctx *ctx;         /* prepared for the run's model, cluster
                                       and optimizer (the fit sets its
                                       calibration factors) */
    dml_parallel_config par;        /* its configuration */
    const dml_stage_range *stages;  /* its stages, or NULL */
    int stage_count;
    double measured_s;              /* measured median step time, s */
    int group;                      /* index of the first run of the same
                                       plan (<= its own index) */
} dml_calib_run;

/* What the fit says of one run. */
typedef struct dml_calib_run_fit {
    double calibrated_s;    /* predicted with the fitted factors, s */
    double loo_s;           /* with factors fitted without its plan, s */
    double plan_measured_s; /* median over the runs of its plan, s */
} dml_calib_run_fit;

typedef struct dml_calib_fit_result {
    dml_costmodel_calib calib;           /* fitted factors */
    bool free_factor[DML_CALIB_FACTORS]; /* which factors were fitted */
    int iterations;                      /* Gauss-Newton rounds */
    int n_plans;                         /* distinct plans (groups) */
    /* errors over plans, each measured by the median of its runs */
    double mape_before_pct;     /* factors all 1, % */
    double mape_after_pct;      /* fitted, % */
    double loo_mape_before_pct; /* = mape_before_pct (nothing fitted), % */
    double loo_mape_after_pct;  /* leave-one-plan-out, % */
    double interval_pct;        /* 90th percentile over runs of
                                   |measured - LOO| / LOO, % */
} dml_calib_fit_result;

/* Predict run r under calibration c (sets r->ctx's factors). */
dml_status dml_calib_run_predict(dml_calib_run *r,
                                 const dml_costmodel_calib *c,
                                 dml_prediction *pred, dml_error *err);

/*
 * Fit the factors to n runs (n >= 1; leave-one-out needs two plans) with
 * prior rows of weight prior (0: none). per_run (n entries, may be NULL)
 * gets each run's calibrated, leave-one-out and plan-median times.
 * DML_ENOMEM, or the cost model's error for a run it cannot price.
 */
dml_status dml_calib_fit(dml_calib_run *runs, int n, double prior,
                         dml_calib_fit_result *out,
                         dml_calib_run_fit *per_run, dml_error *err);

#endif
