/*
 * gemm_point.h: what the CPU (gemm.c) and GPU (gpu_gemm.c) GEMM probes
 * share for each point of their sweeps: the warm-up, the timing of a
 * point through the engine (probes/engine.h) with short calls repeated
 * within a sample, the per-call figures drawn from the engine's
 * statistics, the order the points are reported in, and the efficiency
 * against a peak.
 *
 * Internal to probes/ (names dml__gemm_point_*). Plain C without CUDA, so
 * that gpu_gemm.c calls it the same way in its build with CUDA and in the
 * one without.
 */
#ifndef DML_PROBES_GEMM_POINT_H
#define DML_PROBES_GEMM_POINT_H

#include "common/error.h"
#include "probes/engine.h"

/* How a probe times one point of its sweep. */
typedef struct dml__gemm_timer {
    dml_probe_fn sample;  /* times *calls back-to-back calls on ctx */
    void *ctx;            /* the probe's point, passed to sample */
    int *calls;           /* calls per sample, inside ctx: set here, read by
                             sample */
    const dml_probe_budget *budget; /* warm-up and repetitions per point */
    double sample_time_s; /* short calls repeat up to this per sample, s */
    double point_time_s;  /* timed work per point at most, s */
    double resolution_s;  /* the clock's resolution: a call timed at 0
                             counts this long, s */
} dml__gemm_timer;

/* The timer of point g (a struct with `calls`) sampled by fn under config
 * cfg (a struct with budget, sample_time_s and point_time_s), with clock
 * resolution res: the CPU and GPU probes' configurations alike. */
#define DML__GEMM_TIMER(cfg, fn, g, res)                                  \
    ((dml__gemm_timer){.sample = (fn), .ctx = (g), .calls = &(g)->calls,  \
                       .budget = &(cfg)->budget,                          \
                       .sample_time_s = (cfg)->sample_time_s,             \
                       .point_time_s = (cfg)->point_time_s,               \
                       .resolution_s = (res)})

/*
 * The fields dml__gemm_point_time fills in a point. Both point types
 * (dml_gemm_sample, dml_gpu_gemm_point) have them under the same names;
 * DML__GEMM_FIGURES(p) points at those of *p.
 */
typedef struct dml__gemm_figures {
    double *flop_count;    /* 2 m n k, FLOP per call */
    double *time_s;        /* best (minimum) time of one call, s */
    double *time_median_s; /* median time of one call, s */
    double *best_flops;    /* flop_count / time_s, FLOP/s (0 for a 0 time) */
    double *median_flops;  /* flop_count / time_median_s, FLOP/s */
    int *reps;             /* timed samples */
    int *calls_per_rep;    /* calls in each sample */
    int *m, *n, *k;        /* the shape timed */
} dml__gemm_figures;

#define DML__GEMM_FIGURES(p)                                              \
    ((dml__gemm_figures){&(p)->flop_count, &(p)->time_s,                  \
                         &(p)->time_median_s, &(p)->best_flops,           \
                         &(p)->median_flops, &(p)->reps,                  \
                         &(p)->calls_per_rep, &(p)->m, &(p)->n, &(p)->k})

/*
 * The budget's warm-up runs, at least one, each a single call (page
 * faults, the library's start-up, its buffers); *t_call_s is the last
 * one's time. The caller checks the product next.
 */
dml_status dml__gemm_point_warm_up(const dml__gemm_timer *t, double *t_call_s,
                                   dml_error *err);

/*
 * Time the warm m x n x k point whose last call took t_call_s. A call
 * shorter than a sample is timed once more and the shorter time kept: the
 * first calls of a small GEMM are mostly the library's start-up (OpenBLAS's
 * threads and packing, cuBLAS's kernel loading and heuristics). The
 * samples are then sized (dml_probe_budget_for_calls sets *t->calls), the
 * engine runs them, and out gets the per-call figures.
 */
dml_status dml__gemm_point_time(const dml__gemm_timer *t, double t_call_s,
                                int m, int n, int k, dml__gemm_figures out,
                                dml_error *err);

/* Where a point stands in a sweep's report. */
typedef struct dml__gemm_key {
    int dtype;         /* the probe's dtype */
    int threads;       /* CPU threads; the GPU probe, which has none, 0 */
    double flop_count; /* FLOP per call */
    int m, n, k;       /* shape */
} dml__gemm_key;

/* qsort order of two points: by dtype, threads, FLOPs, then m, n, k. */
int dml__gemm_point_order(const dml__gemm_key *a, const dml__gemm_key *b);

/* best_flops as a fraction of the peak of the point's group (0..1); 0
 * when there is no peak. */
double dml__gemm_point_efficiency(double best_flops, double peak_flops);

#endif
