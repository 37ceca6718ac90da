/*
 * fit.h: calibration fitting — per-cluster efficiency factors from
 * measured step times.
 *
 * Each measured run i has predicted parts p_ik (compute incl. bubble,
 * communication, optimizer, and 1 for a fixed overhead, see
 * dml_fit_parts) and a measured step time y_i. The fit finds factors x_k
 * within [lo_k, hi_k] that minimise
 *
 *     sum_i w_i (sum_k x_k p_ik - y_i)^2,   w_i = 1 / y_i^2 (relative)
 *
 * exactly, by solving the normal equations on every active set of bounds
 * (3^k of them, k <= 8) with a vanishing ridge towards x = 1 so that parts
 * no run exercises stay at 1. Leave-one-out MAPE says how well the factors
 * predict runs they were not fitted on. Pure math: no database here.
 */
#ifndef DML_COSTMODEL_FIT_H
#define DML_COSTMODEL_FIT_H

#include <stdbool.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"

#define DML_FIT_MAX_PARTS 8

/* The parts dml_fit_parts produces, in order. */
enum {
    DML_FIT_COMPUTE = 0, /* compute_s + bubble_s -> calib.compute/membound */
    DML_FIT_COMM = 1,    /* tp + pp + dp comm -> calib.comm_intra/inter */
    DML_FIT_OPTIMIZER = 2, /* optimizer_s -> calib.optimizer */
    DML_FIT_OVERHEAD = 3,  /* 1 s -> calib.overhead_s */
    DML_FIT_PARTS = 4
};

/* Split a prediction (made with calibration factors all 1, or with the
 * factors being refined) into the parts above. */
void dml_fit_parts(const dml_prediction *pred, double parts[DML_FIT_PARTS]);

/*
 * Bounded least squares as above. parts is n rows of k values (row-major),
 * measured n values > 0. lo/hi give the bounds (lo <= hi). x gets k
 * factors; *rms (may be NULL) the weighted root-mean-square residual
 * (relative when `relative`). DML_EINPUT for n < 1, k outside 1..8, bad
 * bounds or non-positive measurements.
 */
dml_status dml_fit_scales(const double *parts, const double *measured, int n,
                          int k, const double *lo, const double *hi,
                          bool relative, double *x, double *rms,
                          dml_error *err);

/* Mean absolute percentage error (as a fraction) of factors x on the runs. */
double dml_fit_mape(const double *parts, const double *measured, int n, int k,
                    const double *x);

/* Leave-one-out MAPE of the fit (n >= 2), as a fraction. */
dml_status dml_fit_loo_mape(const double *parts, const double *measured,
                            int n, int k, const double *lo, const double *hi,
                            bool relative, double *mape, dml_error *err);

/* Fold fitted factors x (DML_FIT_PARTS of them) into a calibration: the
 * factors multiply what calib already had (the fit was made on predictions
 * that used calib), the overhead adds. */
void dml_fit_apply(const double x[DML_FIT_PARTS], dml_costmodel_calib *calib);

#endif
