/*
 * alphabeta.h: fitting time = alpha + bytes·beta to measured points.
 *
 * The alpha-beta (Hockney) model is how the cost model prices a message or
 * a collective on one link level: alpha is the fixed cost of one operation
 * (latency, synchronisation, software), beta the cost per byte (1/beta is
 * the bandwidth the operation reaches for large sizes). The probes measure
 * a sweep of sizes and fit the two numbers here; the cluster spec stores
 * them per collective and level as {alpha_s, busbw_Bps = factor/beta}.
 */
#ifndef DML_PROBES_ALPHABETA_H
#define DML_PROBES_ALPHABETA_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct dml_alphabeta {
    double alpha_s;          /* fixed cost of one operation, s (>= 0) */
    double beta_s_per_B;     /* cost of one more byte, s/B (> 0) */
    double bw_Bps;           /* 1/beta: asymptotic algorithm bandwidth, B/s */
    double busbw_Bps;        /* factor/beta for a collective, B/s; the fit
                                leaves 0, dml_alphabeta_set_busbw fills it */
    double max_rel_residual; /* max over points of |fit - t| / t (0.1 = 10%) */
    double rms_rel_residual; /* root mean square over points of
                                (fit - t) / t: how well the line follows
                                the whole sweep (0.1 = 10%) */
    size_t points;           /* points the fit used */
} dml_alphabeta;

/*
 * Fit time_s[i] ≈ alpha + bytes[i]·beta over n points, with alpha >= 0
 * and beta > 0: the line through the two ends of the sweep, alpha fixed by
 * the small sizes (relative errors), beta by the large ones (the sizes
 * within 8x of the largest, matched on average); alphabeta.c says why.
 * Exact on data that follow the model. Needs n >= 2, at least two distinct
 * sizes, bytes >= 0 and times > 0, all finite (DML_EINPUT otherwise).
 * DML_EVALIDATE when the best fit has no per-byte term (times do not grow
 * with size).
 */
dml_status dml_alphabeta_fit(const double *bytes, const double *time_s,
                             size_t n, dml_alphabeta *out, dml_error *err);

/* A fit whose RMS relative residual is above this (20 %) prices the
 * sizes between its ends poorly: the probes warn about it. */
#define DML_ALPHABETA_RESIDUAL_WARN 0.20

/* rms_rel_residual > DML_ALPHABETA_RESIDUAL_WARN. */
bool dml_alphabeta_residual_large(const dml_alphabeta *ab);

/* The fitted time for a size: alpha + bytes·beta, s. */
double dml_alphabeta_time(const dml_alphabeta *ab, double bytes);

/* busbw_Bps = factor / beta (the busbw the fit tends to for large sizes). */
void dml_alphabeta_set_busbw(dml_alphabeta *ab, double factor);

#endif
