/*
 * engine.c: warm-up, repetitions, min/median (see engine.h).
 */
#include "engine.h"

#include <math.h>
#include <stdlib.h>

#include "common/stats.h"

void dml_probe_stats_from(double *samples, int n, dml_probe_stats *out)
{
    out->reps = n;
    out->min_s = out->median_s = out->mean_s = out->max_s = 0;
    if (n <= 0)
        return;
    dml_stats_sort(samples, (size_t)n);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += samples[i];
    out->min_s = samples[0];
    out->max_s = samples[n - 1];
    out->mean_s = sum / n;
    out->median_s = dml_stats_median_sorted(samples, (size_t)n);
}

dml_status dml_probe_run(const dml_probe_budget *b, dml_probe_fn fn,
                         void *ctx, dml_probe_stats *out, dml_error *err)
{
    for (int i = 0; i < b->warmup; i++) {
        double t;
        DML_CHECK(fn(ctx, &t, err));
    }
    int cap = b->max_reps > 0 ? b->max_reps : 1;
    double *samples = malloc((size_t)cap * sizeof *samples);
    if (!samples)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for samples");
    double spent = 0;
    int n = 0;
    while (n < cap && (n < b->min_reps || spent < b->max_time_s)) {
        double t = 0;
        dml_status s = fn(ctx, &t, err);
        if (s != DML_OK) {
            free(samples);
            return s;
        }
        samples[n++] = t;
        spent += t;
    }
    dml_probe_stats_from(samples, n, out);
    free(samples);
    return DML_OK;
}

dml_probe_budget dml_probe_budget_for_calls(const dml_probe_budget *base,
                                            double t_call_s,
                                            double sample_time_s,
                                            double point_time_s, int *calls)
{
    *calls = 1;
    if (t_call_s < sample_time_s) {
        double c = ceil(sample_time_s / t_call_s);
        *calls = c > 10000 ? 10000 : (int)c;
    }
    double sample_s = t_call_s * *calls;
    dml_probe_budget b = *base;
    b.warmup = 0;
    int fit = (int)floor(point_time_s / sample_s);
    if (fit < b.min_reps)
        b.min_reps = fit < 1 ? 1 : fit;
    if (b.max_reps < b.min_reps)
        b.max_reps = b.min_reps;
    b.max_time_s = point_time_s;
    return b;
}

dml_probe_budget dml_probe_budget_quick(void)
{
    return (dml_probe_budget){.warmup = 1, .min_reps = 3, .max_reps = 20,
                              .max_time_s = 0.3};
}

dml_probe_budget dml_probe_budget_default(void)
{
    return (dml_probe_budget){.warmup = 2, .min_reps = 10, .max_reps = 200,
                              .max_time_s = 2.0};
}
