/*
 * gemm_point.c: warm-up, timing, figures and order of a GEMM point, shared
 * by the CPU and GPU probes (see gemm_point.h).
 */
#include "gemm_point.h"

#include "probes/gemm.h"

dml_status dml__gemm_point_warm_up(const dml__gemm_timer *t, double *t_call_s,
                                   dml_error *err)
{
    int warm = t->budget->warmup > 0 ? t->budget->warmup : 1;
    *t_call_s = 0;
    *t->calls = 1;
    for (int i = 0; i < warm; i++)
        DML_CHECK(t->sample(t->ctx, t_call_s, err));
    return DML_OK;
}

dml_status dml__gemm_point_time(const dml__gemm_timer *t, double t_call_s,
                                int m, int n, int k, dml__gemm_figures out,
                                dml_error *err)
{
    if (t_call_s < t->sample_time_s) {
        double again;
        *t->calls = 1;
        DML_CHECK(t->sample(t->ctx, &again, err));
        t_call_s = again < t_call_s ? again : t_call_s;
    }
    if (t_call_s <= 0)
        t_call_s = t->resolution_s;
    dml_probe_budget b = dml_probe_budget_for_calls(
        t->budget, t_call_s, t->sample_time_s, t->point_time_s, t->calls);

    dml_probe_stats st;
    DML_CHECK(dml_probe_run(&b, t->sample, t->ctx, &st, err));
    int calls = *t->calls;
    double flops = dml_gemm_flop_count(m, n, k);
    *out.flop_count = flops;
    *out.time_s = st.min_s / calls;
    *out.time_median_s = st.median_s / calls;
    *out.best_flops = *out.time_s > 0 ? flops / *out.time_s : 0;
    *out.median_flops = *out.time_median_s > 0 ? flops / *out.time_median_s
                                               : 0;
    *out.reps = st.reps;
    *out.calls_per_rep = calls;
    *out.m = m;
    *out.n = n;
    *out.k = k;
    return DML_OK;
}

int dml__gemm_point_order(const dml__gemm_key *a, const dml__gemm_key *b)
{
    if (a->dtype != b->dtype)
        return a->dtype < b->dtype ? -1 : 1;
    if (a->threads != b->threads)
        return a->threads < b->threads ? -1 : 1;
    if (a->flop_count != b->flop_count)
        return a->flop_count < b->flop_count ? -1 : 1;
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

double dml__gemm_point_efficiency(double best_flops, double peak_flops)
{
    return peak_flops > 0 ? best_flops / peak_flops : 0;
}
