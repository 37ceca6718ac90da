/*
 * stats.c: order statistics (see stats.h).
 */
#include "common/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int dml_stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void dml_stats_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, dml_stats_cmp_double);
}

double dml_stats_median_sorted(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double dml_stats_median_inplace(double *v, size_t n)
{
    dml_stats_sort(v, n);
    return dml_stats_median_sorted(v, n);
}

double dml_stats_median(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, n * sizeof *c);
    double m = dml_stats_median_inplace(c, n);
    free(c);
    return m;
}
