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

/* Fit on the rows where use[i] (NULL = all). */
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
    /* Normal equations G x = c of the weighted problem. */
    double G[DML_FIT_MAX_PARTS * DML_FIT_MAX_PARTS] = {0};
    double c[DML_FIT_MAX_PARTS] = {0};
    double yy = 0;
    int used = 0;
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
                G[a * k + b] += w * p[a] * p[b];
            c[a] += w * p[a] * y[i];
        }
        yy += w * y[i] * y[i];
        used++;
    }
    if (used < 1)
        return dml_error_msg(err, DML_EINPUT, "fit has no runs");
    /* A vanishing ridge towards 1 keeps unexercised parts at 1. */
    double tr = 0;
    for (int a = 0; a < k; a++)
        tr += G[a * k + a];
    /* per column, relative to its own scale, so it biases nothing that
     * the data determine */
    for (int a = 0; a < k; a++) {
        double lambda = G[a * k + a] > 0 ? 1e-10 * G[a * k + a]
                                         : 1e-12 * (tr > 0 ? tr / k : 1.0);
        G[a * k + a] += lambda;
        c[a] += lambda * 1.0;
        yy += lambda;
    }

    /* Every assignment of free / at-lower / at-upper. */
    int combos = 1;
    for (int j = 0; j < k; j++)
        combos *= 3;
    double best = INFINITY, bx[DML_FIT_MAX_PARTS];
    for (int code = 0; code < combos; code++) {
        int state[DML_FIT_MAX_PARTS];
        int cc = code, nf = 0, fidx[DML_FIT_MAX_PARTS];
        double xv[DML_FIT_MAX_PARTS];
        bool skip = false;
        for (int j = 0; j < k; j++) {
            state[j] = cc % 3;
            cc /= 3;
            if (state[j] != 0 && lo[j] == hi[j] && state[j] == 2)
                skip = true; /* same point twice */
            if (state[j] == 0 && lo[j] == hi[j])
                skip = true; /* a fixed part is never free */
            if (state[j] == 1)
                xv[j] = lo[j];
            else if (state[j] == 2)
                xv[j] = hi[j];
            else
                fidx[nf++] = j;
        }
        if (skip)
            continue;
        if (nf > 0) {
            double A[DML_FIT_MAX_PARTS * DML_FIT_MAX_PARTS];
            double B[DML_FIT_MAX_PARTS];
            for (int a = 0; a < nf; a++) {
                int ia = fidx[a];
                B[a] = c[ia];
                for (int j = 0; j < k; j++)
                    if (state[j] != 0)
                        B[a] -= G[ia * k + j] * xv[j];
                for (int b = 0; b < nf; b++)
                    A[a * nf + b] = G[ia * k + fidx[b]];
            }
            if (!solve(A, B, nf))
                continue;
            bool ok = true;
            for (int a = 0; a < nf; a++) {
                double v = B[a];
                double tol = 1e-12 * (1.0 + fabs(v));
                if (v < lo[fidx[a]] - tol || v > hi[fidx[a]] + tol) {
                    ok = false;
                    break;
                }
                xv[fidx[a]] = v < lo[fidx[a]]   ? lo[fidx[a]]
                              : v > hi[fidx[a]] ? hi[fidx[a]]
                                                : v;
            }
            if (!ok)
                continue;
        }
        /* objective x'Gx - 2c'x + yy */
        double f = yy;
        for (int a = 0; a < k; a++) {
            f -= 2.0 * c[a] * xv[a];
            for (int b = 0; b < k; b++)
                f += xv[a] * G[a * k + b] * xv[b];
        }
        if (f < best) {
            best = f;
            memcpy(bx, xv, sizeof(double) * (size_t)k);
        }
    }
    if (!isfinite(best))
        return dml_error_msg(err, DML_ERUNTIME, "fit found no solution");
    memcpy(x, bx, sizeof(double) * (size_t)k);
    if (rms) {
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
        *rms = sqrt(s / used);
    }
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
