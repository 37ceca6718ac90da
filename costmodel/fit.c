/*
 * fit.c: bounded least squares for calibration factors (see fit.h).
 */
#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dml_fit_parts(const dml_prediction *pred, double parts[DML_FIT_PARTS])
{
    const dml_time_breakdown *t = &pred->time;
    parts[DML_FIT_COMPUTE] = t->compute_s + t->bubble_s;
    parts[DML_FIT_COMM] = t->tp_comm_s + t->pp_comm_s + t->dp_comm_s;
    parts[DML_FIT_OPTIMIZER] = t->optimizer_s;
    parts[DML_FIT_OVERHEAD] = 1.0;
}

/* Solve the k x k system a·x = b in place (partial pivoting); false when
 * singular. */
static bool solve(double *a, double *b, int k)
{
    for (int c = 0; c < k; c++) {
        int piv = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(a[r * k + c]) > fabs(a[piv * k + c]))
                piv = r;
        if (fabs(a[piv * k + c]) < 1e-300)
            return false;
        if (piv != c) {
            for (int j = 0; j < k; j++) {
                double t = a[c * k + j];
                a[c * k + j] = a[piv * k + j];
                a[piv * k + j] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < k; r++) {
            double f = a[r * k + c] / a[c * k + c];
            for (int j = c; j < k; j++)
                a[r * k + j] -= f * a[c * k + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = b[c];
        for (int j = c + 1; j < k; j++)
            s -= a[c * k + j] * b[j];
        b[c] = s / a[c * k + c];
    }
    return true;
}

/* The weighted least-squares problem in normal form: minimise
 * x'Gx - 2c'x + yy. */
typedef struct normal_eq {
    int k;                                         /* parts */
    double G[DML_FIT_MAX_PARTS * DML_FIT_MAX_PARTS]; /* k x k */
    double c[DML_FIT_MAX_PARTS];
    double yy;
    int used;                                      /* rows in it */
} normal_eq;

/* G, c and yy of the rows where use[i] (NULL = all), with a vanishing
 * ridge towards 1 so that parts no row exercises stay at 1. */
static dml_status normal_equations(const double *parts, const double *y,
                                   int n, int k, bool relative,
                                   const bool *use, normal_eq *q,
                                   dml_error *err)
{
    memset(q, 0, sizeof *q);
    q->k = k;
    for (int i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        if (!(y[i] > 0) || !isfinite(y[i]))
            return dml_error_msg(err, DML_EINPUT,
                                 "measured time %d is not positive", i);
        double w = relative ? 1.0 / (y[i] * y[i]) : 1.0;
        const double *p = parts + (size_t)i * k;
        for (int a = 0; a < k; a++) {
            for (int b = 0; b < k; b++)
                q->G[a * k + b] += w * p[a] * p[b];
            q->c[a] += w * p[a] * y[i];
        }
        q->yy += w * y[i] * y[i];
        q->used++;
    }
    if (q->used < 1)
        return dml_error_msg(err, DML_EINPUT, "fit has no runs");
    double tr = 0;
    for (int a = 0; a < k; a++)
        tr += q->G[a * k + a];
    /* per column, relative to its own scale, so it biases nothing that
     * the data determine */
    for (int a = 0; a < k; a++) {
        double lambda = q->G[a * k + a] > 0
                            ? 1e-10 * q->G[a * k + a]
                            : 1e-12 * (tr > 0 ? tr / k : 1.0);
        q->G[a * k + a] += lambda;
        q->c[a] += lambda * 1.0;
        q->yy += lambda;
    }
    return DML_OK;
}

/* The minimiser with the parts in state[] free (0), at their lower (1) or
 * upper (2) bound, into xv; false when that active set has no solution
 * inside the bounds. */
static bool solve_active_set(const normal_eq *q, const int *state,
                             const double *lo, const double *hi, double *xv)
{
    int k = q->k, nf = 0, fidx[DML_FIT_MAX_PARTS];
    for (int j = 0; j < k; j++) {
        if (state[j] == 1)
            xv[j] = lo[j];
        else if (state[j] == 2)
            xv[j] = hi[j];
        else
            fidx[nf++] = j;
    }
    if (nf == 0)
        return true;
    double A[DML_FIT_MAX_PARTS * DML_FIT_MAX_PARTS], B[DML_FIT_MAX_PARTS];
    for (int a = 0; a < nf; a++) {
        int ia = fidx[a];
        B[a] = q->c[ia];
        for (int j = 0; j < k; j++)
            if (state[j] != 0)
                B[a] -= q->G[ia * k + j] * xv[j];
        for (int b = 0; b < nf; b++)
            A[a * nf + b] = q->G[ia * k + fidx[b]];
    }
    if (!solve(A, B, nf))
        return false;
    for (int a = 0; a < nf; a++) {
        double v = B[a];
        double tol = 1e-12 * (1.0 + fabs(v));
        if (v < lo[fidx[a]] - tol || v > hi[fidx[a]] + tol)
            return false;
        xv[fidx[a]] = v < lo[fidx[a]]   ? lo[fidx[a]]
                      : v > hi[fidx[a]] ? hi[fidx[a]]
                                        : v;
    }
    return true;
}

/* x'Gx - 2c'x + yy */
static double objective(const normal_eq *q, const double *x)
{
    int k = q->k;
    double f = q->yy;
    for (int a = 0; a < k; a++) {
        f -= 2.0 * q->c[a] * x[a];
        for (int b = 0; b < k; b++)
            f += x[a] * q->G[a * k + b] * x[b];
    }
    return f;
}

/* Root-mean-square residual of x on the rows used (relative or not). */
static double rms_residual(const double *parts, const double *y, int n,
                           int k, bool relative, const bool *use, int used,
                           const double *x)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        const double *p = parts + (size_t)i * k;
        double pred = 0;
        for (int j = 0; j < k; j++)
            pred += x[j] * p[j];
        double r = pred - y[i];
        if (relative)
            r /= y[i];
        s += r * r;
    }
    return sqrt(s / used);
}

/* Fit on the rows where use[i] (NULL = all): the best of every
 * assignment of free / at-lower / at-upper to the k parts. */
static dml_status fit_rows(const double *parts, const double *y, int n, int k,
                           const double *lo, const double *hi, bool relative,
                           const bool *use, double *x, double *rms,
                           dml_error *err)
{
    if (n < 1 || k < 1 || k > DML_FIT_MAX_PARTS)
        return dml_error_msg(err, DML_EINPUT,
                             "fit needs at least one run and 1 to %d parts",
                             DML_FIT_MAX_PARTS);
    for (int j = 0; j < k; j++)
        if (!(lo[j] <= hi[j]) || !isfinite(lo[j]) || !isfinite(hi[j]))
            return dml_error_msg(err, DML_EINPUT, "bad bounds for part %d", j);
    normal_eq q;
    DML_CHECK(normal_equations(parts, y, n, k, relative, use, &q, err));
    int combos = 1;
    for (int j = 0; j < k; j++)
        combos *= 3;
    double best = INFINITY, bx[DML_FIT_MAX_PARTS];
    for (int code = 0; code < combos; code++) {
        int state[DML_FIT_MAX_PARTS], cc = code;
        bool skip = false;
        for (int j = 0; j < k; j++) {
            state[j] = cc % 3;
            cc /= 3;
            /* a fixed part is never free, nor at its one point twice */
            if (lo[j] == hi[j] && state[j] != 1)
                skip = true;
        }
        double xv[DML_FIT_MAX_PARTS];
        if (skip || !solve_active_set(&q, state, lo, hi, xv))
            continue;
        double f = objective(&q, xv);
        if (f < best) {
            best = f;
            memcpy(bx, xv, sizeof(double) * (size_t)k);
        }
    }
    if (!isfinite(best))
        return dml_error_msg(err, DML_ERUNTIME, "fit found no solution");
    memcpy(x, bx, sizeof(double) * (size_t)k);
    if (rms)
        *rms = rms_residual(parts, y, n, k, relative, use, q.used, x);
    return DML_OK;
}

dml_status dml_fit_scales(const double *parts, const double *measured, int n,
                          int k, const double *lo, const double *hi,
                          bool relative, double *x, double *rms,
                          dml_error *err)
{
    return fit_rows(parts, measured, n, k, lo, hi, relative, NULL, x, rms,
                    err);
}

double dml_fit_mape(const double *parts, const double *measured, int n, int k,
                    const double *x)
{
    if (n < 1)
        return 0;
    double s = 0;
    for (int i = 0; i < n; i++) {
        const double *p = parts + (size_t)i * k;
        double pred = 0;
        for (int j = 0; j < k; j++)
            pred += x[j] * p[j];
        s += fabs(pred - measured[i]) / measured[i];
    }
    return s / n;
}

dml_status dml_fit_loo_mape(const double *parts, const double *measured,
                            int n, int k, const double *lo, const double *hi,
                            bool relative, double *mape, dml_error *err)
{
    if (n < 2)
        return dml_error_msg(err, DML_EINPUT,
                             "leave-one-out needs at least two runs");
    bool *use = malloc((size_t)n * sizeof *use);
    if (!use)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    double s = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++)
            use[j] = j != i;
        double x[DML_FIT_MAX_PARTS];
        dml_status st = fit_rows(parts, measured, n, k, lo, hi, relative, use,
                                 x, NULL, err);
        if (st != DML_OK) {
            free(use);
            return st;
        }
        s += dml_fit_mape(parts + (size_t)i * k, measured + i, 1, k, x);
    }
    free(use);
    *mape = s / n;
    return DML_OK;
}

void dml_fit_apply(const double x[DML_FIT_PARTS], dml_costmodel_calib *calib)
{
    calib->compute *= x[DML_FIT_COMPUTE];
    calib->membound *= x[DML_FIT_COMPUTE];
    calib->comm_intra *= x[DML_FIT_COMM];
    calib->comm_inter *= x[DML_FIT_COMM];
    calib->optimizer *= x[DML_FIT_OPTIMIZER];
    calib->overhead_s += x[DML_FIT_OVERHEAD];
}
