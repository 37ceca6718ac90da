/*
 * gemm_eff.h: how close to peak a device runs a matrix multiply of a given
 * shape, and the time that gives.
 *
 * A device's efficiency curve is its measured points for one dtype (cluster
 * spec `gemm_efficiency`), interpolated piecewise-linearly in log10(m·n·k)
 * and held flat beyond the first and last point. Without points for the
 * dtype the documented default curve applies:
 *
 *     e(x) = e_max · x / (x + x_half),  x = m·n·k
 *
 * with (e_max, x_half) = (0.80, 2e9) on GPUs (tensor cores need large tiles
 * to fill 100+ SMs) and (0.85, 2e6) on CPUs (a core's registers and caches
 * are filled by much smaller blocks).
 *
 * A GEMM's time is a roofline: the larger of its FLOPs at peak × e(shape)
 * and its operand bytes at the memory-bound bandwidth, so thin GEMMs (the
 * attention's head-dim products, a batch of one) come out memory-bound as
 * they are on hardware; and never less than the device's kernel floor
 * (a launch and its latency: a 256^3 GEMM on a GPU takes microseconds, not
 * the 0.7 of one its FLOPs alone would give).
 *
 * The cost model prices a device only from its own points for the unit a
 * model runs on (dtype.h); the default curve is for callers that estimate
 * without a spec's measurements.
 */
#ifndef DML_COSTMODEL_GEMM_EFF_H
#define DML_COSTMODEL_GEMM_EFF_H

#include "costmodel/cluster_spec.h"
#include "costmodel/dtype.h"

#define DML_GEMM_CURVE_MAX DML_GEMM_POINTS_MAX

typedef struct dml_gemm_curve {
    int count;                           /* points; 0 = default curve */
    double log_x[DML_GEMM_CURVE_MAX];    /* log10(m·n·k), increasing */
    double eff[DML_GEMM_CURVE_MAX];      /* efficiency at log_x */
    double default_max;                  /* e_max of the default curve */
    double default_half;                 /* x_half of the default curve */
    double floor_s;                      /* least time of one GEMM, s */
} dml_gemm_curve;

/* The curve of device d for dtype t (its points, or the default). */
void dml_gemm_curve_init(dml_gemm_curve *c, const dml_device_spec *d,
                         dml_dtype t);

/* Efficiency in (0, 1] at shape m x n x k (elements). */
double dml_gemm_curve_eval(const dml_gemm_curve *c, double m, double n,
                           double k);

/* Convenience: build the curve and evaluate once. */
double dml_gemm_efficiency(const dml_device_spec *d, dml_dtype t, double m,
                           double n, double k);

/*
 * Time of `batch` independent GEMMs of m x n x k with elem_bytes-wide
 * operands (one batched kernel): max(2·batch·m·n·k / (peak_flops · e),
 * batch·elem_bytes·(m·k + k·n + m·n) / membound_Bps, the curve's floor), s.
 */
double dml_gemm_time(const dml_gemm_curve *c, double peak_flops,
                     double membound_Bps, double elem_bytes, double batch,
                     double m, double n, double k);

#endif
