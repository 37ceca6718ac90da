/*
 * stats.h: the order statistics dml reports (minimum, median,
 * percentiles) over repeated measurements, one definition for the probes,
 * the executor's step times, calibration and the database's noise-scale
 * estimates.
 *
 * The median of an even count is the mean of the two middle values; of
 * nothing it is NAN. Sorting is ascending with NaN never produced by the
 * comparator's callers (they pass measured times).
 */
#ifndef DML_COMMON_STATS_H
#define DML_COMMON_STATS_H

#include <stddef.h>

/* qsort comparator for doubles, ascending. */
int dml_stats_cmp_double(const void *a, const void *b);

/* Sort v[0 .. n) ascending in place. */
void dml_stats_sort(double *v, size_t n);

/* Median of sorted v[0 .. n); NAN for n = 0. */
double dml_stats_median_sorted(const double *v, size_t n);

/* Median of v[0 .. n), sorting v in place; NAN for n = 0. */
double dml_stats_median_inplace(double *v, size_t n);

/* Median of v[0 .. n) without changing it (a sorted copy); NAN for n = 0
 * or when the copy cannot be made. */
double dml_stats_median(const double *v, size_t n);

#endif
