/*
 * alphabeta.c: weighted least squares for the alpha-beta model (see
 * alphabeta.h).
 *
 * Why relative error: measured times span four to five decades (a 1 KiB
 * allreduce takes microseconds, a 64 MiB one tens of milliseconds). An
 * ordinary least-squares fit in seconds is decided by the few largest
 * sizes: it gets beta right and leaves alpha as whatever makes the big
 * points fit, often negative or ten times too large, which is exactly the
 * number the cost model needs for small tensor-parallel messages. Minimising
 * sum(((alpha + beta·x - t) / t)^2) gives every point the same say in
 * proportion to its size, so small sizes fix alpha and large sizes fix beta.
 * It is still linear in (alpha, beta) (weights 1/t^2), so it has a closed
 * form; a log-scale fit of the same model would not. The constraints are
 * handled exactly: the objective is a convex quadratic, so when the free
 * minimum breaks alpha >= 0 or beta >= 0 the constrained minimum lies on
 * the line alpha = 0 or beta = 0, and the better of those is taken.
 */
#include "alphabeta.h"

#include <math.h>

/* Objective on data normalised by xmax and tmax:
 * sum(((a + b·x - t)/t)^2). */
static double objective(const double *bytes, const double *time_s, size_t n,
                        double xmax, double tmax, double a, double b)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double x = bytes[i] / xmax, t = time_s[i] / tmax;
        double r = (a + b * x - t) / t;
        s += r * r;
    }
    return s;
}

dml_status dml_alphabeta_fit(const double *bytes, const double *time_s,
                             size_t n, dml_alphabeta *out, dml_error *err)
{
    *out = (dml_alphabeta){0};
    if (!bytes || !time_s || n < 2)
        return dml_error_msg(err, DML_EINPUT,
                             "alpha-beta fit needs at least 2 points, got %zu",
                             n);
    double xmax = 0, tmax = 0, xmin = INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bytes[i]) || bytes[i] < 0)
            return dml_error_msg(err, DML_EINPUT,
                                 "alpha-beta fit: point %zu: bytes %g is not "
                                 "a finite size >= 0", i, bytes[i]);
        if (!isfinite(time_s[i]) || !(time_s[i] > 0))
            return dml_error_msg(err, DML_EINPUT,
                                 "alpha-beta fit: point %zu: time %g s is not "
                                 "a finite positive time", i, time_s[i]);
        xmax = fmax(xmax, bytes[i]);
        xmin = fmin(xmin, bytes[i]);
        tmax = fmax(tmax, time_s[i]);
    }
    if (!(xmax > xmin))
        return dml_error_msg(err, DML_EINPUT,
                             "alpha-beta fit needs at least 2 distinct sizes");

    /* Work on x/xmax and t/tmax so the sums stay near 1 whatever the units;
     * relative errors do not change under this scaling. */
    double sw = 0, swx = 0, swxx = 0, swt = 0, swxt = 0;
    double sq = 0, sqq = 0; /* sums of q = x/t and q^2 for the alpha = 0 line */
    double su = 0;          /* sum of 1/t for the beta = 0 line */
    for (size_t i = 0; i < n; i++) {
        double x = bytes[i] / xmax, t = time_s[i] / tmax;
        double w = 1.0 / (t * t);
        sw += w;
        swx += w * x;
        swxx += w * x * x;
        swt += w * t;
        swxt += w * x * t;
        sq += x / t;
        sqq += (x / t) * (x / t);
        su += 1.0 / t;
    }

    /* Candidates: the free minimum (when feasible), alpha = 0, beta = 0. */
    double best_a = 0, best_b = 0, best_f = INFINITY;
    double det = sw * swxx - swx * swx;
    if (det > 1e-12 * sw * swxx) {
        double a = (swxx * swt - swx * swxt) / det;
        double b = (sw * swxt - swx * swt) / det;
        if (a >= 0 && b >= 0) {
            best_a = a;
            best_b = b;
            best_f = objective(bytes, time_s, n, xmax, tmax, a, b);
        }
    }
    if (sqq > 0) {
        /* alpha = 0: minimise sum((b·q - 1)^2) -> b = sum(q)/sum(q^2). */
        double b = sq / sqq;
        double f = objective(bytes, time_s, n, xmax, tmax, 0, b);
        if (f < best_f) {
            best_a = 0;
            best_b = b;
            best_f = f;
        }
    }
    {
        /* beta = 0: minimise sum((a/t - 1)^2) -> a = sum(1/t)/sum(1/t^2). */
        double a = su / sw;
        double f = objective(bytes, time_s, n, xmax, tmax, a, 0);
        if (f < best_f) {
            best_a = a;
            best_b = 0;
            best_f = f;
        }
    }
    if (!(best_b > 0))
        return dml_error_msg(err, DML_EVALIDATE,
                             "alpha-beta fit: the times do not grow with the "
                             "size, so there is no bandwidth term to fit");

    out->alpha_s = best_a * tmax;
    out->beta_s_per_B = best_b * tmax / xmax;
    out->bw_Bps = 1.0 / out->beta_s_per_B;
    out->busbw_Bps = 0;
    out->points = n;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(dml_alphabeta_time(out, bytes[i]) - time_s[i]) /
                   time_s[i];
        worst = fmax(worst, r);
    }
    out->max_rel_residual = worst;
    return DML_OK;
}

double dml_alphabeta_time(const dml_alphabeta *ab, double bytes)
{
    return ab->alpha_s + bytes * ab->beta_s_per_B;
}

void dml_alphabeta_set_busbw(dml_alphabeta *ab, double factor)
{
    ab->busbw_Bps = ab->beta_s_per_B > 0 ? factor / ab->beta_s_per_B : 0;
}
