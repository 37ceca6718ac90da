/*
 * gemm.c: OpenBLAS sgemm/dgemm efficiency curve (see gemm.h). The warm-up,
 * timing, order and efficiency of a point are gemm_point.c's, shared with
 * the GPU probe.
 */
#include "gemm.h"

#include <cblas.h>
#include <float.h>
#include <hwloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rng.h"
#include "probes/gemm_point.h"
#include "probes/node_report.h"

const char *dml_gemm_dtype_name(dml_gemm_dtype d)
{
    return d == DML_GEMM_F32 ? "sgemm" : d == DML_GEMM_F64 ? "dgemm"
                                                           : "unknown";
}

double dml_gemm_flop_count(int m, int n, int k)
{
    return 2.0 * (double)m * (double)n * (double)k;
}

/*
 * Transformer shapes, m = tokens (micro-batch x sequence), row-major
 * C[m][n] = A[m][k] B[k][n]: QKV projection (n = 3h), FFN up (n = 4h) and
 * down (k = 4h), attention output (n = k = h), and skinny ones (few tokens,
 * as in small micro-batches and decoding). h = 768 (GPT-2 small / BERT
 * base), 1024 (BERT large / GPT-2 medium), 2048.
 */
static const dml_gemm_shape preset_default[] = {
    {64, 64, 64},       {128, 128, 128},    {256, 256, 256},
    {512, 512, 512},    {1024, 1024, 1024}, {1536, 1536, 1536},
    {2048, 2048, 2048},
    {2048, 2304, 768},  /* h=768 QKV, 2048 tokens */
    {2048, 3072, 768},  /* h=768 FFN up */
    {2048, 768, 3072},  /* h=768 FFN down */
    {4096, 1024, 1024}, /* h=1024 attention output, 4096 tokens */
    {4096, 4096, 1024}, /* h=1024 FFN up */
    {32, 8192, 2048},   /* skinny: 32 tokens, h=2048 FFN up */
    {8192, 128, 1024},  /* skinny: one head's slice of a projection */
};

static const dml_gemm_shape preset_quick[] = {
    {64, 64, 64},     {128, 128, 128},   {256, 256, 256},
    {512, 512, 512},  {1024, 1024, 1024},
    {512, 3072, 768}, /* h=768 FFN up, 512 tokens */
    {512, 768, 3072}, /* h=768 FFN down */
    {32, 2048, 2048}, /* skinny */
};

const dml_gemm_shape *dml_gemm_shapes_preset(bool quick, int *count)
{
    if (quick) {
        *count = (int)(sizeof preset_quick / sizeof preset_quick[0]);
        return preset_quick;
    }
    *count = (int)(sizeof preset_default / sizeof preset_default[0]);
    return preset_default;
}

dml_gemm_config dml_gemm_config_default(bool quick)
{
    dml_gemm_config c = {
        .sgemm = true,
        .dgemm = true,
        .quick = quick,
        .budget = quick ? dml_probe_budget_quick() : dml_probe_budget_default(),
        .point_time_s = quick ? 0.12 : 0.6,
        .sample_time_s = quick ? 0.002 : 0.01,
    };
    c.shapes = dml_gemm_shapes_preset(quick, &c.shape_count);
    return c;
}

/* ---- reference check */

dml_status dml_gemm_check_element(dml_gemm_dtype dtype, const void *a,
                                  const void *b, const void *c, int m, int n,
                                  int k, int i, int j, dml_error *err)
{
    (void)m;
    double ref = 0, absum = 0, got;
    if (dtype == DML_GEMM_F32) {
        const float *A = a, *B = b, *C = c;
        for (int p = 0; p < k; p++) {
            double x = (double)A[(size_t)i * k + p] * B[(size_t)p * n + j];
            ref += x;
            absum += fabs(x);
        }
        got = C[(size_t)i * n + j];
    } else {
        const double *A = a, *B = b, *C = c;
        for (int p = 0; p < k; p++) {
            double x = A[(size_t)i * k + p] * B[(size_t)p * n + j];
            ref += x;
            absum += fabs(x);
        }
        got = C[(size_t)i * n + j];
    }
    /* gamma_k = k u / (1 - k u) bounds the error of any summation order
     * (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); doubled
     * since the double reference has its own rounding error. */
    double u = dtype == DML_GEMM_F32 ? FLT_EPSILON / 2 : DBL_EPSILON / 2;
    double ku = (double)k * u;
    double tol = 2.0 * ku / (1.0 - ku) * absum + DBL_MIN;
    if (!(fabs(got - ref) <= tol))
        return dml_error_msg(err, DML_EVALIDATE,
                             "%s m=%d n=%d k=%d: C[%d][%d] = %.9g, reference "
                             "%.9g (error %.3g > bound %.3g)",
                             dml_gemm_dtype_name(dtype), m, n, k, i, j, got,
                             ref, fabs(got - ref), tol);
    return DML_OK;
}

/* ---- timing */

typedef struct gemm_ctx {
    dml_gemm_dtype dtype;
    int m, n, k;
    void *a, *b, *c;
    int calls; /* per timed sample */
} gemm_ctx;

void dml_gemm_call(dml_gemm_dtype dtype, int m, int n, int k, const void *a,
                   const void *b, void *c)
{
    if (dtype == DML_GEMM_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                    a, k, b, n, 0.0f, c, n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0,
                    a, k, b, n, 0.0, c, n);
}

static void gemm_call(const gemm_ctx *g)
{
    dml_gemm_call(g->dtype, g->m, g->n, g->k, g->a, g->b, g->c);
}

/* One sample: `calls` back-to-back calls; the engine sees the whole sample
 * so that its time budget counts the work really done. */
static dml_status time_sample(void *ctx, double *elapsed_s, dml_error *err)
{
    (void)err;
    gemm_ctx *g = ctx;
    double t0 = dml_clock_now_s();
    for (int i = 0; i < g->calls; i++)
        gemm_call(g);
    *elapsed_s = dml_clock_now_s() - t0;
    return DML_OK;
}

static dml_status measure_point(const dml_gemm_config *cfg, gemm_ctx *g,
                                dml_rng *rng, dml_gemm_sample *p,
                                dml_error *err)
{
    dml__gemm_timer t = DML__GEMM_TIMER(cfg, time_sample, g, 1e-9);
    /* Warm-up: page faults, OpenBLAS thread start-up, packing buffers. */
    double t_call;
    DML_CHECK(dml__gemm_point_warm_up(&t, &t_call, err));
    /* The library computed the product: corners and one random element. */
    int ci[3] = {0, g->m - 1, (int)dml_rng_below(rng, (uint64_t)g->m)};
    int cj[3] = {0, g->n - 1, (int)dml_rng_below(rng, (uint64_t)g->n)};
    for (int e = 0; e < 3; e++)
        DML_CHECK(dml_gemm_check_element(g->dtype, g->a, g->b, g->c, g->m,
                                         g->n, g->k, ci[e], cj[e], err));
    p->dtype = g->dtype;
    return dml__gemm_point_time(&t, t_call, g->m, g->n, g->k,
                                DML__GEMM_FIGURES(p), err);
}

/* ---- the sweep */

void dml_gemm_fill_random(dml_gemm_dtype dtype, void *buf, size_t n,
                          dml_rng *rng)
{
    /* Uniform in [-1, 1): realistic magnitudes, no denormals. */
    if (dtype == DML_GEMM_F32) {
        float *f = buf;
        for (size_t i = 0; i < n; i++)
            f[i] = (float)(2 * dml_rng_uniform(rng) - 1);
    } else {
        double *d = buf;
        for (size_t i = 0; i < n; i++)
            d[i] = 2 * dml_rng_uniform(rng) - 1;
    }
}

static dml__gemm_key key_of(const dml_gemm_sample *p)
{
    return (dml__gemm_key){.dtype = p->dtype, .threads = p->threads,
                           .flop_count = p->flop_count, .m = p->m, .n = p->n,
                           .k = p->k};
}

static int cmp_point(const void *x, const void *y)
{
    dml__gemm_key a = key_of(x), b = key_of(y);
    return dml__gemm_point_order(&a, &b);
}

static void compute_peaks(dml_gemm_result *r)
{
    r->peak_count = 0;
    for (int i = 0; i < r->point_count; i++) {
        dml_gemm_sample *p = &r->points[i];
        dml_gemm_peak *pk = NULL;
        if (r->peak_count > 0) {
            dml_gemm_peak *last = &r->peaks[r->peak_count - 1];
            if (last->dtype == p->dtype && last->threads == p->threads)
                pk = last;
        }
        if (!pk) {
            pk = &r->peaks[r->peak_count++];
            *pk = (dml_gemm_peak){.dtype = p->dtype, .threads = p->threads};
        }
        if (p->best_flops > pk->peak_flops) {
            pk->peak_flops = p->best_flops;
            pk->m = p->m;
            pk->n = p->n;
            pk->k = p->k;
        }
    }
    for (int i = 0; i < r->point_count; i++) {
        dml_gemm_sample *p = &r->points[i];
        const dml_gemm_peak *pk = dml_gemm_find_peak(r, p->dtype, p->threads);
        p->efficiency = dml__gemm_point_efficiency(p->best_flops,
                                                   pk ? pk->peak_flops : 0);
    }
}

const dml_gemm_peak *dml_gemm_find_peak(const dml_gemm_result *r,
                                        dml_gemm_dtype dtype, int threads)
{
    for (int i = 0; i < r->peak_count; i++)
        if (r->peaks[i].dtype == dtype && r->peaks[i].threads == threads)
            return &r->peaks[i];
    return NULL;
}

void dml_gemm_result_free(dml_gemm_result *r)
{
    if (!r)
        return;
    free(r->points);
    free(r->peaks);
    r->points = NULL;
    r->peaks = NULL;
    r->point_count = r->peak_count = 0;
}

/* OpenBLAS (0.3.21, seen on an AMD EPYC VM) stays in a slow state for
 * small products until a process has made one call of about 384^3 or
 * more: 256^3 single-threaded ran at 10 GFLOP/s from a cold start and at
 * 36 after a single 512^3 call, for every later call of every size. Any
 * training step makes such calls within its first iterations, so the
 * curve describes the library after one: the largest shape of the sweep
 * is called once before each (precision, thread count) sweep. */
static void prime_library(gemm_ctx g, const dml_gemm_shape *shapes,
                          int nshapes)
{
    int big = 0;
    for (int s = 1; s < nshapes; s++)
        if (dml_gemm_flop_count(shapes[s].m, shapes[s].n, shapes[s].k) >
            dml_gemm_flop_count(shapes[big].m, shapes[big].n, shapes[big].k))
            big = s;
    g.m = shapes[big].m;
    g.n = shapes[big].n;
    g.k = shapes[big].k;
    gemm_call(&g);
}

/* Under mpirun each rank is bound to one core, and OpenBLAS's threads
 * inherit that binding: the all-cores sweep would measure several threads
 * sharing one core. For the sweeps with more than one thread the whole
 * process (OpenBLAS's threads included) may use every core of the node;
 * the caller's binding is given back afterwards. */
typedef struct gemm_binding {
    hwloc_topology_t hw;
    hwloc_cpuset_t saved;
} gemm_binding;

static void widen_binding(gemm_binding *b, const dml_topology *topo)
{
    *b = (gemm_binding){0};
    if (!topo || !dml_topology_is_live(topo))
        return;
    hwloc_topology_t hw = dml_topology_hwloc(topo);
    hwloc_cpuset_t saved = hwloc_bitmap_alloc();
    if (!saved || hwloc_get_cpubind(hw, saved, HWLOC_CPUBIND_PROCESS) != 0) {
        hwloc_bitmap_free(saved);
        return;
    }
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(hw);
    if (hwloc_bitmap_isequal(saved, all) ||
        hwloc_set_cpubind(hw, all, HWLOC_CPUBIND_PROCESS) != 0) {
        hwloc_bitmap_free(saved);
        return;
    }
    b->hw = hw;
    b->saved = saved;
}

/* How many CPUs this process's threads may use now. */
static int bound_cpus(const dml_topology *topo)
{
    if (!topo || !dml_topology_is_live(topo))
        return dml_topology_online_cpus();
    hwloc_topology_t hw = dml_topology_hwloc(topo);
    hwloc_cpuset_t set = hwloc_bitmap_alloc();
    int n = 0;
    if (set && hwloc_get_cpubind(hw, set, HWLOC_CPUBIND_PROCESS) == 0)
        n = hwloc_bitmap_weight(set);
    hwloc_bitmap_free(set);
    return n > 0 ? n : dml_topology_online_cpus();
}

static void restore_binding(gemm_binding *b)
{
    if (!b->saved)
        return;
    hwloc_set_cpubind(b->hw, b->saved, HWLOC_CPUBIND_PROCESS);
    hwloc_bitmap_free(b->saved);
    b->saved = NULL;
}

static dml_status validate_config(const dml_gemm_config *cfg,
                                  const dml_gemm_shape *shapes, int nshapes,
                                  const int *threads, int nthreads,
                                  dml_error *err)
{
    if (nshapes <= 0)
        return dml_error_msg(err, DML_ERANGE, "gemm: no shapes to measure");
    if (nthreads <= 0)
        return dml_error_msg(err, DML_ERANGE, "gemm: no thread counts");
    if (!cfg->sgemm && !cfg->dgemm)
        return dml_error_msg(err, DML_ERANGE,
                             "gemm: neither sgemm nor dgemm selected");
    for (int i = 0; i < nshapes; i++)
        if (shapes[i].m <= 0 || shapes[i].n <= 0 || shapes[i].k <= 0)
            return dml_error_msg(err, DML_ERANGE,
                                 "gemm: shape %d (m=%d n=%d k=%d) must be "
                                 "positive",
                                 i, shapes[i].m, shapes[i].n, shapes[i].k);
    for (int i = 0; i < nthreads; i++)
        if (threads[i] <= 0)
            return dml_error_msg(err, DML_ERANGE,
                                 "gemm: thread count %d must be positive",
                                 threads[i]);
    return DML_OK;
}

dml_status dml_gemm_run(const dml_topology *topo, const dml_gemm_config *cfg,
                        dml_gemm_result *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    int nshapes = cfg->shape_count;
    const dml_gemm_shape *shapes = cfg->shapes;
    if (!shapes)
        shapes = dml_gemm_shapes_preset(cfg->quick, &nshapes);
    int cores = topo ? dml_topology_get_summary(topo)->cores : dml_topology_online_cpus();
    int default_threads[2] = {1, cores > 1 ? cores : 1};
    const int *threads = cfg->threads;
    int nthreads = cfg->thread_count;
    if (!threads) {
        threads = default_threads;
        nthreads = cores > 1 ? 2 : 1;
    }
    DML_CHECK(validate_config(cfg, shapes, nshapes, threads, nthreads, err));

    size_t max_a = 0, max_b = 0, max_c = 0;
    for (int i = 0; i < nshapes; i++) {
        size_t m = (size_t)shapes[i].m, n = (size_t)shapes[i].n,
               k = (size_t)shapes[i].k;
        max_a = m * k > max_a ? m * k : max_a;
        max_b = k * n > max_b ? k * n : max_b;
        max_c = m * n > max_c ? m * n : max_c;
    }
    int ndtypes = (cfg->sgemm ? 1 : 0) + (cfg->dgemm ? 1 : 0);
    int npoints = ndtypes * nthreads * nshapes;
    double *a = malloc(max_a * sizeof(double));
    double *b = malloc(max_b * sizeof(double));
    double *c = malloc(max_c * sizeof(double));
    out->points = calloc((size_t)npoints, sizeof *out->points);
    out->peaks = calloc((size_t)(ndtypes * nthreads), sizeof *out->peaks);
    if (!a || !b || !c || !out->points || !out->peaks) {
        free(a);
        free(b);
        free(c);
        dml_gemm_result_free(out);
        return dml_error_msg(err, DML_ENOMEM,
                             "gemm: cannot allocate the matrices");
    }

    dml_progress_phase(cfg->progress, "GEMM", npoints);
    out->blas_threads_before = openblas_get_num_threads();
    dml_rng rng;
    dml_rng_seed(&rng, 0x67656d6d);
    dml_status st = DML_OK;
    int np = 0;
    for (int d = 0; d < DML_GEMM_DTYPES && st == DML_OK; d++) {
        dml_gemm_dtype dtype = (dml_gemm_dtype)d;
        if ((dtype == DML_GEMM_F32 && !cfg->sgemm) ||
            (dtype == DML_GEMM_F64 && !cfg->dgemm))
            continue;
        dml_gemm_fill_random(dtype, a, max_a, &rng);
        dml_gemm_fill_random(dtype, b, max_b, &rng);
        for (int t = 0; t < nthreads && st == DML_OK; t++) {
            gemm_binding bind = {0};
            if (threads[t] > 1)
                widen_binding(&bind, topo);
            if (threads[t] > 1 && threads[t] >= threads[nthreads - 1]) {
                int cpus = bound_cpus(topo);
                out->all_cores_cpus = cpus > out->all_cores_cpus
                                          ? cpus
                                          : out->all_cores_cpus;
            }
            openblas_set_num_threads(threads[t]);
            prime_library((gemm_ctx){.dtype = dtype, .a = a, .b = b, .c = c},
                          shapes, nshapes);
            for (int s = 0; s < nshapes && st == DML_OK; s++) {
                gemm_ctx g = {.dtype = dtype, .m = shapes[s].m,
                              .n = shapes[s].n, .k = shapes[s].k,
                              .a = a, .b = b, .c = c};
                dml_gemm_sample *p = &out->points[np];
                char what[64];
                snprintf(what, sizeof what, "%s %d thread%s %dx%dx%d",
                         dml_gemm_dtype_name(dtype), threads[t],
                         threads[t] == 1 ? "" : "s", g.m, g.n, g.k);
                dml_progress_doing(cfg->progress, what);
                st = measure_point(cfg, &g, &rng, p, err);
                dml_progress_advance(cfg->progress);
                p->threads = threads[t];
                if (st == DML_OK) {
                    np++;
                    dml_log_debug("gemm: %s m=%d n=%d k=%d threads=%d: "
                                  "%.3g FLOP/s (median %.3g), %d x %d calls",
                                  dml_gemm_dtype_name(dtype), p->m, p->n,
                                  p->k, p->threads, p->best_flops,
                                  p->median_flops, p->reps, p->calls_per_rep);
                }
            }
            restore_binding(&bind);
        }
    }
    openblas_set_num_threads(out->blas_threads_before);
    free(a);
    free(b);
    free(c);
    if (st != DML_OK) {
        dml_gemm_result_free(out);
        return st;
    }
    out->point_count = np;
    qsort(out->points, (size_t)np, sizeof *out->points, cmp_point);
    compute_peaks(out);
    return DML_OK;
}

dml_status dml_gemm_to_measurements(const dml_gemm_result *r,
                                    dml_measurement **rows, int *count,
                                    dml_error *err)
{
    for (int i = 0; i < r->point_count; i++) {
        const dml_gemm_sample *p = &r->points[i];
        size_t elem = p->dtype == DML_GEMM_F32 ? sizeof(float)
                                               : sizeof(double);
        dml_measurement m = {.ranks = 1, .threads = p->threads};
        snprintf(m.kind, sizeof m.kind, "gemm");
        snprintf(m.op, sizeof m.op, "%s", dml_gemm_dtype_name(p->dtype));
        m.bytes = (double)elem * ((double)p->m * p->k + (double)p->k * p->n +
                                  (double)p->m * p->n);
        m.time_s = p->time_s;
        m.time_median_s = p->time_median_s;
        m.value = p->best_flops;
        snprintf(m.unit, sizeof m.unit, "FLOP/s");
        snprintf(m.detail, sizeof m.detail, "m=%d n=%d k=%d", p->m, p->n,
                 p->k);
        DML_CHECK(dml_node_report_append_row(rows, count, &m, err));
    }
    return DML_OK;
}
