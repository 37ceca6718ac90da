/*
 * gemm.h: matrix-multiply throughput of the CPU through OpenBLAS.
 *
 * cblas_sgemm and cblas_dgemm over a sweep of square sizes and of the
 * shapes a transformer layer runs (m = tokens b*s, n and k the hidden size
 * h or 4h, plus skinny ones), at 1 thread and at one thread per core
 * (openblas_set_num_threads, restored afterwards). FLOPs = 2 m n k per call.
 * The result is an efficiency curve: one point per (dtype, threads, shape)
 * with best and median FLOP/s and the fraction of that (dtype, threads)
 * peak, the peak being the best over the sweep. The cost model prices a
 * GEMM of a given shape as FLOPs / (peak * efficiency at that shape).
 *
 * Each point's first run is checked against a reference computed in double
 * for a few elements of C, within the standard error bound
 * k*u/(1-k*u) * sum|a||b| (u the unit round-off of the dtype): a library
 * that did not compute the product fails with DML_EVALIDATE.
 *
 * Small GEMMs are repeated several times per timed sample so that each
 * sample lasts long enough to time; large ones take fewer samples so that
 * the sweep keeps to its budget (quick: a few seconds on 2 cores).
 */
#ifndef DML_PROBES_GEMM_H
#define DML_PROBES_GEMM_H

#include <stdbool.h>

#include "common/error.h"
#include "common/progress.h"
#include "common/rng.h"
#include "common/measurement.h"
#include "probes/engine.h"
#include "probes/topology.h"

typedef enum dml_gemm_dtype {
    DML_GEMM_F32 = 0, /* cblas_sgemm */
    DML_GEMM_F64 = 1, /* cblas_dgemm */
    DML_GEMM_DTYPES   /* count */
} dml_gemm_dtype;

typedef struct dml_gemm_shape {
    int m; /* rows of A and C (tokens, for a transformer layer) */
    int n; /* columns of B and C */
    int k; /* columns of A, rows of B (the reduction) */
} dml_gemm_shape;

typedef struct dml_gemm_sample {
    dml_gemm_dtype dtype;  /* sgemm or dgemm */
    int m, n, k;           /* shape (row-major C[m][n] = A[m][k] B[k][n]) */
    int threads;           /* OpenBLAS threads */
    double flop_count;     /* 2 m n k, FLOP per call */
    double time_s;         /* best (minimum) time of one call, s */
    double time_median_s;  /* median time of one call, s */
    double best_flops;     /* flop_count / time_s, FLOP/s */
    double median_flops;   /* flop_count / time_median_s, FLOP/s */
    double efficiency;     /* best_flops / peak of (dtype, threads), 0..1 */
    int reps;              /* timed samples */
    int calls_per_rep;     /* calls averaged in each sample */
} dml_gemm_sample;

typedef struct dml_gemm_peak {
    dml_gemm_dtype dtype; /* sgemm or dgemm */
    int threads;          /* OpenBLAS threads */
    double peak_flops;    /* best FLOP/s over the sweep */
    int m, n, k;          /* the shape that reached it */
} dml_gemm_peak;

typedef struct dml_gemm_config {
    const dml_gemm_shape *shapes; /* sweep; NULL for dml_gemm_shapes_preset */
    int shape_count;              /* entries in shapes */
    const int *threads;           /* thread counts; NULL for {1, cores} */
    int thread_count;             /* entries in threads */
    bool sgemm;                   /* measure cblas_sgemm */
    bool dgemm;                   /* measure cblas_dgemm */
    bool quick;                   /* the preset sweep's quick variant */
    dml_probe_budget budget;      /* warm-up and repetitions per point */
    double point_time_s;          /* timed work per point at most, s (>=1 sample) */
    double sample_time_s;         /* small GEMMs repeat up to this per sample, s */
    dml_progress *progress;       /* phase "GEMM", a step per point, or NULL */
} dml_gemm_config;

typedef struct dml_gemm_result {
    dml_gemm_sample *points; /* sorted by dtype, threads, flop_count, m, n, k */
    int point_count;        /* dtypes x thread counts x shapes */
    dml_gemm_peak *peaks;   /* one per (dtype, threads), same order */
    int peak_count;
    int blas_threads_before; /* openblas_get_num_threads() found and restored */
    int all_cores_cpus; /* CPUs the widest sweep's threads could run on */
} dml_gemm_result;

/* "sgemm" or "dgemm". */
const char *dml_gemm_dtype_name(dml_gemm_dtype d);

/* 2 m n k. */
double dml_gemm_flop_count(int m, int n, int k);

/* Row-major C[m][n] = A[m][k] B[k][n] through cblas_sgemm or
 * cblas_dgemm (the call every GEMM probe times). */
void dml_gemm_call(dml_gemm_dtype dtype, int m, int n, int k, const void *a,
                   const void *b, void *c);

/* n values of dtype uniform in [-1, 1): realistic magnitudes, no
 * denormals. */
void dml_gemm_fill_random(dml_gemm_dtype dtype, void *buf, size_t n,
                          dml_rng *rng);

/* The built-in sweep: squares 64..2048 and transformer shapes (default),
 * or squares 64..1024 and three small transformer shapes (quick). */
const dml_gemm_shape *dml_gemm_shapes_preset(bool quick, int *count);

/* Defaults for a mode: preset sweep, {1, cores}, both dtypes, budgets. */
dml_gemm_config dml_gemm_config_default(bool quick);

/*
 * Run the sweep. topo (may be NULL: online CPUs) gives the core count for
 * the default thread counts. On success out owns its arrays
 * (dml_gemm_result_free). DML_EVALIDATE when a result is wrong.
 */
dml_status dml_gemm_run(const dml_topology *topo, const dml_gemm_config *cfg,
                        dml_gemm_result *out, dml_error *err);

void dml_gemm_result_free(dml_gemm_result *r);

/* The peak of (dtype, threads), or NULL when it was not measured. */
const dml_gemm_peak *dml_gemm_find_peak(const dml_gemm_result *r,
                                        dml_gemm_dtype dtype, int threads);

/*
 * Check element (i, j) of row-major C = A B (lda = k, ldb = n, ldc = n)
 * against a double-precision reference within the error bound above.
 * Exposed for tests; DML_EVALIDATE with the element and both values.
 */
dml_status dml_gemm_check_element(dml_gemm_dtype dtype, const void *a,
                                  const void *b, const void *c, int m, int n,
                                  int k, int i, int j, dml_error *err);

/*
 * Append one row per point (kind "gemm", op "sgemm"/"dgemm", threads,
 * bytes of A, B and C, best and median time, value best FLOP/s, unit
 * "FLOP/s", detail "m=.. n=.. k=..") to *rows (see dml_membw_to_measurements).
 */
dml_status dml_gemm_to_measurements(const dml_gemm_result *r,
                                    dml_measurement **rows, int *count,
                                    dml_error *err);

#endif
