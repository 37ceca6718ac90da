/*
 * alphabeta.c: the alpha-beta fit (see alphabeta.h).
 *
 * Measured times span four to five decades (a 1 KiB allreduce takes
 * microseconds, a 64 MiB one tens of milliseconds), and the two numbers
 * answer different questions: alpha prices the small messages (tensor-
 * parallel activations, latency-bound steps), beta the large ones
 * (gradients). So the small sizes fix alpha and the large sizes fix beta,
 * each end of the sweep being the sizes within SPAN of its extreme:
 *
 *   (1) at the small end the fit is exact on average in relative terms:
 *       sum of w·(alpha + beta·x - t) = 0 with weights w = 1/t^2;
 *   (2) at the large end it is exact on average in seconds:
 *       sum of (alpha + beta·x - t) = 0.
 *
 * Both are linear in (alpha, beta), so the fit is one 2x2 system, the line
 * through the two ends; on data that follow alpha + beta·x it recovers
 * them exactly. A least-squares fit over every size would let the middle
 * sizes decide, and they are the ones that follow the straight line least:
 * an ordinary fit in seconds leaves alpha as whatever makes the largest
 * sizes fit (often negative or ten times too large); a relative-error fit
 * lets a protocol switch (eager to rendezvous), a message that still fits
 * in a cache or a token-bucket link that passes its burst at once move the
 * bandwidth of the largest messages by a factor of two. alpha < 0 (a convex
 * curve) is clamped to 0, with beta from (2) alone; beta <= 0 means the
 * times do not grow with the size.
 */
#include "alphabeta.h"

#include <math.h>

/* Sizes within this factor of the smallest (largest) fix alpha (beta). */
#define SPAN 8.0

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
     * a 0-byte size belongs to the small end however small xmin is. */
    double lo = xmin / xmax * SPAN;
    double sw = 0, swx = 0, swt = 0; /* (1): weights 1/t^2, small end */
    double nt = 0, sx = 0, st = 0;   /* (2): count, sizes, times, large end */
    for (size_t i = 0; i < n; i++) {
        double x = bytes[i] / xmax, t = time_s[i] / tmax;
        if (x <= lo) {
            double w = 1.0 / (t * t);
            sw += w;
            swx += w * x;
            swt += w * t;
        }
        if (x * SPAN >= 1.0) {
            nt += 1;
            sx += x;
            st += t;
        }
    }

    /* alpha·sw + beta·swx = swt   (1)
     * alpha·nt + beta·sx  = st    (2) */
    double best_a = 0, best_b = 0;
    double det = sw * sx - swx * nt;
    if (fabs(det) > 1e-12 * (sw * sx + swx * nt)) {
        best_a = (swt * sx - swx * st) / det;
        best_b = (sw * st - swt * nt) / det;
    } else {
        /* Both ends are the same sizes, weighed alike: (1) and (2)
         * coincide, so take alpha = 0 and the large end's beta. */
        best_a = -1;
    }
    if (best_a < 0) {
        best_a = 0;
        best_b = st / sx;
    }
    /* Times that do not grow with the size: beta is zero up to rounding. */
    if (best_b <= 1e-9)
        best_b = 0;
    if (!(best_b > 0))
        return dml_error_msg(err, DML_EVALIDATE,
                             "alpha-beta fit: the times do not grow with the "
                             "size, so there is no bandwidth term to fit");

    out->alpha_s = best_a * tmax;
    out->beta_s_per_B = best_b * tmax / xmax;
    out->bw_Bps = 1.0 / out->beta_s_per_B;
    out->busbw_Bps = 0;
    out->points = n;
    double worst = 0, squares = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(dml_alphabeta_time(out, bytes[i]) - time_s[i]) /
                   time_s[i];
        worst = fmax(worst, r);
        squares += r * r;
    }
    out->max_rel_residual = worst;
    out->rms_rel_residual = sqrt(squares / (double)n);
    return DML_OK;
}

bool dml_alphabeta_residual_large(const dml_alphabeta *ab)
{
    return ab->rms_rel_residual > DML_ALPHABETA_RESIDUAL_WARN;
}

double dml_alphabeta_time(const dml_alphabeta *ab, double bytes)
{
    return ab->alpha_s + bytes * ab->beta_s_per_B;
}

void dml_alphabeta_set_busbw(dml_alphabeta *ab, double factor)
{
    ab->busbw_Bps = ab->beta_s_per_B > 0 ? factor / ab->beta_s_per_B : 0;
}
