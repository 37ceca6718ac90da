/*
 * gemm_eff.c: GEMM efficiency curves and roofline times (see gemm_eff.h).
 */
#include "gemm_eff.h"

#include <math.h>
#include <string.h>

void dml_gemm_curve_init(dml_gemm_curve *c, const dml_device_spec *d,
                         dml_dtype t)
{
    memset(c, 0, sizeof *c);
    c->floor_s = d->kernel_floor_s;
    if (d->type == DML_DEVICE_CPU) {
        c->default_max = 0.85;
        c->default_half = 2e6;
    } else {
        c->default_max = 0.80;
        c->default_half = 2e9;
    }
    for (int i = 0; i < d->gemm_count; i++) {
        const dml_gemm_point *p = &d->gemm[i];
        if (dml_dtype_precision(p->dtype) != dml_dtype_precision(t) ||
            c->count >= DML_GEMM_CURVE_MAX)
            continue;
        double lx = log10(p->m * p->n * p->k);
        /* Insertion keeps log_x sorted; equal sizes keep the mean. */
        int j = c->count;
        while (j > 0 && c->log_x[j - 1] > lx) {
            c->log_x[j] = c->log_x[j - 1];
            c->eff[j] = c->eff[j - 1];
            j--;
        }
        if (j > 0 && c->log_x[j - 1] == lx) {
            /* Same size measured twice: average, and close the gap. */
            c->eff[j - 1] = 0.5 * (c->eff[j - 1] + p->efficiency);
            for (int k = j; k < c->count; k++) {
                c->log_x[k] = c->log_x[k + 1];
                c->eff[k] = c->eff[k + 1];
            }
            continue;
        }
        c->log_x[j] = lx;
        c->eff[j] = p->efficiency;
        c->count++;
    }
}

double dml_gemm_curve_eval(const dml_gemm_curve *c, double m, double n,
                           double k)
{
    double x = m * n * k;
    if (!(x > 0))
        return c->count ? c->eff[0] : 1e-3;
    if (c->count == 0) {
        double e = c->default_max * x / (x + c->default_half);
        return e > 1e-3 ? e : 1e-3;
    }
    double lx = log10(x);
    if (lx <= c->log_x[0])
        return c->eff[0];
    if (lx >= c->log_x[c->count - 1])
        return c->eff[c->count - 1];
    int i = 1;
    while (c->log_x[i] < lx)
        i++;
    double f = (lx - c->log_x[i - 1]) / (c->log_x[i] - c->log_x[i - 1]);
    return c->eff[i - 1] + f * (c->eff[i] - c->eff[i - 1]);
}

double dml_gemm_efficiency(const dml_device_spec *d, dml_dtype t, double m,
                           double n, double k)
{
    dml_gemm_curve c;
    dml_gemm_curve_init(&c, d, t);
    return dml_gemm_curve_eval(&c, m, n, k);
}

double dml_gemm_time(const dml_gemm_curve *c, double peak_flops,
                     double membound_Bps, double elem_bytes, double batch,
                     double m, double n, double k)
{
    if (batch <= 0 || m <= 0 || n <= 0 || k <= 0)
        return 0;
    double e = dml_gemm_curve_eval(c, m, n, k);
    double t_flops = 2.0 * batch * m * n * k / (peak_flops * e);
    double t_bytes = batch * elem_bytes * (m * k + k * n + m * n) /
                     membound_Bps;
    double t = t_flops > t_bytes ? t_flops : t_bytes;
    return t > c->floor_s ? t : c->floor_s;
}
