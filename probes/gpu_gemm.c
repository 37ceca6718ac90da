/*
 * gpu_gemm.c: cuBLAS GEMM sweep and device information (see gpu_gemm.h).
 *
 * Built in every configuration: the CUDA part is compiled when
 * DML_HAVE_CUDA is defined (probes/node.cmake lists this file among the
 * CUDA sources then), and the same entry points answer DML_ENODEV
 * otherwise. Number conversions and the reference check are plain C,
 * outside the #ifdef, so that the tests exercise them on any machine.
 * Points are warmed up, timed, ordered and rated as the CPU probe's are
 * (gemm_point.h).
 */
#include "gpu_gemm.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "probes/gemm_point.h"
#include "probes/node_report.h"

const char *dml_gpu_gemm_dtype_name(dml_gpu_gemm_dtype d)
{
    static const char *names[DML_GPU_GEMM_DTYPES] = {"fp16", "bf16", "tf32",
                                                     "fp32"};
    return (d >= 0 && d < DML_GPU_GEMM_DTYPES) ? names[d] : "unknown";
}

dml_gpu_gemm_config dml_gpu_gemm_config_default(bool quick)
{
    dml_gpu_gemm_config c = {
        .device = 0,
        .quick = quick,
        .budget = quick ? dml_probe_budget_quick() : dml_probe_budget_default(),
        .point_time_s = quick ? 0.1 : 0.5,
        .sample_time_s = quick ? 0.002 : 0.01,
    };
    for (int d = 0; d < DML_GPU_GEMM_DTYPES; d++)
        c.dtypes[d] = true;
    return c;
}

void dml_gpu_gemm_result_free(dml_gpu_gemm_result *r)
{
    if (!r)
        return;
    free(r->points);
    r->points = NULL;
    r->point_count = 0;
}

dml_status dml_gpu_gemm_to_measurements(const dml_gpu_gemm_result *r,
                                        dml_measurement **rows, int *count,
                                        dml_error *err)
{
    for (int i = 0; i < r->point_count; i++) {
        const dml_gpu_gemm_point *p = &r->points[i];
        double elem = (p->dtype == DML_GPU_GEMM_FP16 ||
                       p->dtype == DML_GPU_GEMM_BF16) ? 2.0 : 4.0;
        dml_measurement m = {.ranks = 1, .threads = 1};
        snprintf(m.kind, sizeof m.kind, "gpu_gemm");
        snprintf(m.op, sizeof m.op, "%s", dml_gpu_gemm_dtype_name(p->dtype));
        snprintf(m.level, sizeof m.level, "device");
        m.bytes = elem * ((double)p->m * p->k + (double)p->k * p->n +
                          (double)p->m * p->n);
        m.time_s = p->time_s;
        m.time_median_s = p->time_median_s;
        m.value = p->best_flops;
        snprintf(m.unit, sizeof m.unit, "FLOP/s");
        snprintf(m.detail, sizeof m.detail, "m=%d n=%d k=%d gpu=%d:%.50s",
                 p->m, p->n, p->k, r->device.index, r->device.name);
        DML_CHECK(dml_node_report_append_row(rows, count, &m, err));
    }
    return DML_OK;
}

/* ---- 16-bit formats (IEEE binary16 and bfloat16), round to nearest even */

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t dml_gpu_gemm_float_to_half(float f)
{
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f) /* overflow */
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {  /* subnormal half, or zero */
        if (e < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* may carry into the exponent, up to inf: correct */
    return (uint16_t)(sign | h);
}

float dml_gpu_gemm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)
        return bits_float(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    return bits_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t dml_gpu_gemm_float_to_bf16(float f)
{
    uint32_t x = float_bits(f);
    if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
        return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)((x + rounding) >> 16);
}

float dml_gpu_gemm_bf16_to_float(uint16_t b)
{
    return bits_float((uint32_t)b << 16);
}

double dml_gpu_gemm_kernel_floor(const dml_gpu_gemm_result *r)
{
    const dml_gpu_gemm_point *small = NULL;
    for (int i = 0; r && i < r->point_count; i++) {
        const dml_gpu_gemm_point *p = &r->points[i];
        if (p->time_s > 0 && (!small || p->flop_count < small->flop_count ||
                              (p->flop_count == small->flop_count &&
                               p->time_s < small->time_s)))
            small = p;
    }
    return small ? small->time_s : 0;
}

void dml_gpu_gemm_reference(dml_gpu_gemm_dtype dtype, const float *pa,
                            const float *pb, size_t pattern_len, int n, int k,
                            int i, int j, double *ref, double *tol)
{
    double sum = 0, absum = 0;
    for (int p = 0; p < k; p++) {
        size_t ia = ((size_t)i * (size_t)k + (size_t)p) % pattern_len;
        size_t ib = ((size_t)p * (size_t)n + (size_t)j) % pattern_len;
        double x = (double)pa[ia] * (double)pb[ib];
        sum += x;
        absum += fabs(x);
    }
    /* Inputs are exact in the reference (it uses the rounded values), so
     * the error is the fp32 accumulation, the rounding of the output to
     * the dtype and, for tf32, the inputs' rounding to 10 mantissa bits
     * inside the tensor cores (up to 2^-10 relative each, truncating). */
    double acc = 2.0 * (double)k * (FLT_EPSILON / 2) * absum;
    double out_eps = dtype == DML_GPU_GEMM_FP16   ? ldexp(1.0, -11)
                     : dtype == DML_GPU_GEMM_BF16 ? ldexp(1.0, -8)
                                                  : FLT_EPSILON;
    double in_eps = dtype == DML_GPU_GEMM_TF32 ? ldexp(1.0, -9) : 0.0;
    *ref = sum;
    *tol = acc + in_eps * absum + 2.0 * out_eps * fabs(sum) + 1e-6;
}

#ifdef DML_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <library_types.h>

#include "common/rng.h"

/* Round a float to what the dtype stores (the reference uses these). */
static float round_to_dtype(dml_gpu_gemm_dtype d, float f)
{
    if (d == DML_GPU_GEMM_FP16)
        return dml_gpu_gemm_half_to_float(dml_gpu_gemm_float_to_half(f));
    if (d == DML_GPU_GEMM_BF16)
        return dml_gpu_gemm_bf16_to_float(dml_gpu_gemm_float_to_bf16(f));
    return f;
}

dml_status dml_gpu_count(int *count, dml_error *err)
{
    *count = 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky error */
        return dml_error_msg(err, DML_ENODEV,
                             "no GPU: cudaGetDeviceCount: %s",
                             cudaGetErrorString(e));
    }
    if (n <= 0)
        return dml_error_msg(err, DML_ENODEV, "no GPU: no CUDA device found");
    *count = n;
    return DML_OK;
}

dml_status dml_gpu_device_info_get(int device, dml_gpu_device_info *out,
                                   dml_error *err)
{
    memset(out, 0, sizeof *out);
    int n;
    DML_CHECK(dml_gpu_count(&n, err));
    if (device < 0 || device >= n)
        return dml_error_msg(err, DML_ENODEV,
                             "no GPU %d: %d CUDA device(s) found", device, n);
    struct cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, device);
    if (e != cudaSuccess)
        return dml_error_msg(err, DML_ERUNTIME,
                             "cudaGetDeviceProperties(%d): %s", device,
                             cudaGetErrorString(e));
    out->index = device;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    out->mem_bytes = (double)prop.totalGlobalMem;
    out->sm_count = prop.multiProcessorCount;
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    snprintf(out->pci_busid, sizeof out->pci_busid, "%04x:%02x:%02x.0",
             (unsigned)prop.pciDomainID, (unsigned)prop.pciBusID,
             (unsigned)prop.pciDeviceID);
    return DML_OK;
}

/*
 * Row-major like gemm.h, m = tokens. Squares up to 16384 reach the tensor
 * cores' plateau; transformer shapes for h = 4096 (Llama 2 7B: QKV 3h,
 * FFN 11008) and h = 8192 (Llama 2 70B FFN 28672) at 8192 tokens; skinny
 * ones for small micro-batches.
 */
typedef struct gpu_shape {
    int m, n, k;
} gpu_shape;

static const gpu_shape preset_default[] = {
    {512, 512, 512},     {1024, 1024, 1024},  {2048, 2048, 2048},
    {4096, 4096, 4096},  {8192, 8192, 8192},  {16384, 16384, 16384},
    {8192, 12288, 4096}, /* h=4096 QKV */
    {8192, 4096, 4096},  /* h=4096 attention output */
    {8192, 11008, 4096}, /* Llama 2 7B FFN up */
    {8192, 4096, 11008}, /* Llama 2 7B FFN down */
    {8192, 28672, 8192}, /* Llama 2 70B FFN up */
    {64, 8192, 8192},    /* skinny: 64 tokens */
};

static const gpu_shape preset_quick[] = {
    {1024, 1024, 1024}, {4096, 4096, 4096}, {8192, 8192, 8192},
    {8192, 12288, 4096}, {64, 8192, 8192},
};

/* Device buffers are filled by tiling one random pattern of this many
 * elements (a prime, so rows do not line up with it); the reference
 * recomputes any element from the pattern alone. */
#define PATTERN_LEN ((size_t)1048573)

typedef struct gpu_ctx {
    cublasHandle_t handle;
    cudaStream_t stream;
    cudaEvent_t start, stop;
    void *a, *b, *c;          /* device buffers, sized for 4-byte elements */
    dml_gpu_gemm_dtype dtype;
    int m, n, k;
    int calls;                /* per timed sample */
} gpu_ctx;

static dml_status cuda_fail(dml_error *err, const char *what, cudaError_t e)
{
    return dml_error_msg(err, DML_ERUNTIME, "%s: %s", what,
                         cudaGetErrorString(e));
}

static dml_status cublas_fail(dml_error *err, const char *what,
                              cublasStatus_t s)
{
    return dml_error_msg(err, DML_ERUNTIME, "%s: %s", what,
                         cublasGetStatusString(s));
}

static size_t elem_size(dml_gpu_gemm_dtype d)
{
    return (d == DML_GPU_GEMM_FP16 || d == DML_GPU_GEMM_BF16) ? 2 : 4;
}

static cublasStatus_t gemm_call(const gpu_ctx *g)
{
    const float alpha = 1.0f, beta = 0.0f;
    cudaDataType t = CUDA_R_32F;
    cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
    switch (g->dtype) {
    case DML_GPU_GEMM_FP16:
        t = CUDA_R_16F;
        break;
    case DML_GPU_GEMM_BF16:
        t = CUDA_R_16BF;
        break;
    case DML_GPU_GEMM_TF32:
        ct = CUBLAS_COMPUTE_32F_FAST_TF32;
        break;
    default:
        break;
    }
    /* Row-major C = A B is column-major C^T = B^T A^T: swap the operands
     * and m with n, and every leading dimension is a row length. */
    return cublasGemmEx(g->handle, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->m, g->k,
                        &alpha, g->b, t, g->n, g->a, t, g->k, &beta, g->c, t,
                        g->n, ct, CUBLAS_GEMM_DEFAULT);
}

static dml_status time_sample(void *ctx, double *elapsed_s, dml_error *err)
{
    gpu_ctx *g = ctx;
    cudaError_t e = cudaEventRecord(g->start, g->stream);
    if (e != cudaSuccess)
        return cuda_fail(err, "cudaEventRecord", e);
    for (int i = 0; i < g->calls; i++) {
        cublasStatus_t s = gemm_call(g);
        if (s != CUBLAS_STATUS_SUCCESS)
            return cublas_fail(err, "cublasGemmEx", s);
    }
    if ((e = cudaEventRecord(g->stop, g->stream)) != cudaSuccess)
        return cuda_fail(err, "cudaEventRecord", e);
    if ((e = cudaEventSynchronize(g->stop)) != cudaSuccess)
        return cuda_fail(err, "cudaEventSynchronize", e);
    float ms = 0;
    if ((e = cudaEventElapsedTime(&ms, g->start, g->stop)) != cudaSuccess)
        return cuda_fail(err, "cudaEventElapsedTime", e);
    *elapsed_s = (double)ms * 1e-3;
    return DML_OK;
}

/* Fill a device buffer of `elems` elements by tiling the pattern. */
static dml_status upload_tiled(dml_gpu_gemm_dtype d, const float *pattern,
                               void *dev, size_t elems, dml_error *err)
{
    size_t es = elem_size(d);
    void *host = malloc(PATTERN_LEN * es);
    if (!host)
        return dml_error_msg(err, DML_ENOMEM, "gpu_gemm: host pattern");
    for (size_t i = 0; i < PATTERN_LEN; i++) {
        if (d == DML_GPU_GEMM_FP16)
            ((uint16_t *)host)[i] = dml_gpu_gemm_float_to_half(pattern[i]);
        else if (d == DML_GPU_GEMM_BF16)
            ((uint16_t *)host)[i] = dml_gpu_gemm_float_to_bf16(pattern[i]);
        else
            ((float *)host)[i] = pattern[i];
    }
    dml_status st = DML_OK;
    for (size_t off = 0; off < elems; off += PATTERN_LEN) {
        size_t len = elems - off < PATTERN_LEN ? elems - off : PATTERN_LEN;
        cudaError_t e = cudaMemcpy((char *)dev + off * es, host, len * es,
                                   cudaMemcpyHostToDevice);
        if (e != cudaSuccess) {
            st = cuda_fail(err, "cudaMemcpy to the GPU", e);
            break;
        }
    }
    free(host);
    return st;
}

static dml_status check_point(const gpu_ctx *g, const float *pa,
                              const float *pb, dml_rng *rng, dml_error *err)
{
    int ci[3] = {0, g->m - 1, (int)dml_rng_below(rng, (uint64_t)g->m)};
    int cj[3] = {0, g->n - 1, (int)dml_rng_below(rng, (uint64_t)g->n)};
    size_t es = elem_size(g->dtype);
    for (int e = 0; e < 3; e++) {
        size_t idx = (size_t)ci[e] * (size_t)g->n + (size_t)cj[e];
        unsigned char raw[4] = {0};
        cudaError_t ce = cudaMemcpy(raw, (const char *)g->c + idx * es, es,
                                    cudaMemcpyDeviceToHost);
        if (ce != cudaSuccess)
            return cuda_fail(err, "cudaMemcpy from the GPU", ce);
        double got;
        if (es == 2) {
            uint16_t bits;
            memcpy(&bits, raw, 2);
            got = g->dtype == DML_GPU_GEMM_FP16
                      ? dml_gpu_gemm_half_to_float(bits)
                      : dml_gpu_gemm_bf16_to_float(bits);
        } else {
            float f;
            memcpy(&f, raw, 4);
            got = f;
        }
        double ref, tol;
        dml_gpu_gemm_reference(g->dtype, pa, pb, PATTERN_LEN, g->n, g->k,
                               ci[e], cj[e], &ref, &tol);
        if (!(fabs(got - ref) <= tol))
            return dml_error_msg(err, DML_EVALIDATE,
                                 "gpu_gemm %s m=%d n=%d k=%d: C[%d][%d] = "
                                 "%.7g, reference %.7g (error %.3g > bound "
                                 "%.3g)",
                                 dml_gpu_gemm_dtype_name(g->dtype), g->m,
                                 g->n, g->k, ci[e], cj[e], got, ref,
                                 fabs(got - ref), tol);
    }
    return DML_OK;
}

static dml_status measure_point(const dml_gpu_gemm_config *cfg, gpu_ctx *g,
                                const float *pa, const float *pb,
                                dml_rng *rng, dml_gpu_gemm_point *p,
                                dml_error *err)
{
    dml__gemm_timer t = DML__GEMM_TIMER(cfg, time_sample, g, 1e-7);
    double t_call;
    DML_CHECK(dml__gemm_point_warm_up(&t, &t_call, err));
    DML_CHECK(check_point(g, pa, pb, rng, err));
    p->dtype = g->dtype;
    return dml__gemm_point_time(&t, t_call, g->m, g->n, g->k,
                                DML__GEMM_FIGURES(p), err);
}

/* No threads on a GPU: every point's key has threads 0. */
static dml__gemm_key key_of(const dml_gpu_gemm_point *p)
{
    return (dml__gemm_key){.dtype = p->dtype, .flop_count = p->flop_count,
                           .m = p->m, .n = p->n, .k = p->k};
}

static int cmp_point(const void *x, const void *y)
{
    dml__gemm_key a = key_of(x), b = key_of(y);
    return dml__gemm_point_order(&a, &b);
}

static void finish_result(dml_gpu_gemm_result *r)
{
    qsort(r->points, (size_t)r->point_count, sizeof *r->points, cmp_point);
    for (int i = 0; i < r->point_count; i++) {
        dml_gpu_gemm_point *p = &r->points[i];
        if (p->best_flops > r->peak_flops[p->dtype])
            r->peak_flops[p->dtype] = p->best_flops;
    }
    for (int i = 0; i < r->point_count; i++) {
        dml_gpu_gemm_point *p = &r->points[i];
        p->efficiency = dml__gemm_point_efficiency(p->best_flops,
                                                   r->peak_flops[p->dtype]);
    }
}

static double shape_bytes(const gpu_shape *s)
{
    return 4.0 * ((double)s->m * s->k + (double)s->k * s->n +
                  (double)s->m * s->n);
}

static void max_elems_of(const gpu_shape *shapes, int n, size_t out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (int i = 0; i < n; i++) {
        size_t m = (size_t)shapes[i].m, nn = (size_t)shapes[i].n,
               k = (size_t)shapes[i].k;
        out[0] = m * k > out[0] ? m * k : out[0];
        out[1] = k * nn > out[1] ? k * nn : out[1];
        out[2] = m * nn > out[2] ? m * nn : out[2];
    }
}

static double buffers_bytes(const gpu_shape *shapes, int n)
{
    size_t e[3];
    max_elems_of(shapes, n, e);
    return 4.0 * ((double)e[0] + (double)e[1] + (double)e[2]);
}

/* Remove the shape needing the most memory; returns the new count. */
static int drop_biggest(gpu_shape *shapes, int n)
{
    int big = 0;
    for (int i = 1; i < n; i++)
        if (shape_bytes(&shapes[i]) > shape_bytes(&shapes[big]))
            big = i;
    dml_log_info("gpu_gemm: m=%d n=%d k=%d skipped: the buffers would not "
                 "fit",
                 shapes[big].m, shapes[big].n, shapes[big].k);
    shapes[big] = shapes[n - 1];
    return n - 1;
}

/* Shapes whose three fp32 matrices fit in 80% of the free memory. */
static int fitting_shapes(const gpu_shape *all, int nall, size_t free_b,
                          gpu_shape *keep)
{
    int n = 0;
    for (int i = 0; i < nall; i++) {
        double need = shape_bytes(&all[i]);
        if (need <= 0.8 * (double)free_b)
            keep[n++] = all[i];
        else
            dml_log_info("gpu_gemm: m=%d n=%d k=%d skipped: needs %.2g B, "
                         "%.2g B free",
                         all[i].m, all[i].n, all[i].k, need, (double)free_b);
    }
    return n;
}

static dml_status run_sweep(const dml_gpu_gemm_config *cfg, gpu_ctx *g,
                            const gpu_shape *shapes, int nshapes,
                            const size_t max_elems[3], dml_gpu_gemm_result *out,
                            dml_error *err)
{
    float *pa = malloc(PATTERN_LEN * sizeof *pa);
    float *pb = malloc(PATTERN_LEN * sizeof *pb);
    if (!pa || !pb) {
        free(pa);
        free(pb);
        return dml_error_msg(err, DML_ENOMEM, "gpu_gemm: host patterns");
    }
    dml_rng rng;
    dml_rng_seed(&rng, 0x6770756765ull);
    dml_status st = DML_OK;
    for (int d = 0; d < DML_GPU_GEMM_DTYPES && st == DML_OK; d++) {
        if (!cfg->dtypes[d])
            continue;
        g->dtype = (dml_gpu_gemm_dtype)d;
        for (size_t i = 0; i < PATTERN_LEN; i++) {
            pa[i] = round_to_dtype(g->dtype,
                                   (float)(2 * dml_rng_uniform(&rng) - 1));
            pb[i] = round_to_dtype(g->dtype,
                                   (float)(2 * dml_rng_uniform(&rng) - 1));
        }
        st = upload_tiled(g->dtype, pa, g->a, max_elems[0], err);
        if (st == DML_OK)
            st = upload_tiled(g->dtype, pb, g->b, max_elems[1], err);
        for (int s = 0; s < nshapes && st == DML_OK; s++) {
            g->m = shapes[s].m;
            g->n = shapes[s].n;
            g->k = shapes[s].k;
            dml_gpu_gemm_point *p = &out->points[out->point_count];
            dml_error perr;
            dml_error_clear(&perr);
            dml_status ps = measure_point(cfg, g, pa, pb, &rng, p, &perr);
            if (ps == DML_OK) {
                out->point_count++;
                continue;
            }
            if (s == 0 && ps == DML_ERUNTIME &&
                (g->dtype == DML_GPU_GEMM_BF16 ||
                 g->dtype == DML_GPU_GEMM_TF32)) {
                /* Pre-Ampere GPUs have no bf16/tf32 tensor cores. */
                dml_log_info("gpu_gemm: %s skipped: %s",
                             dml_gpu_gemm_dtype_name(g->dtype), perr.msg);
                break;
            }
            if (err)
                *err = perr;
            st = ps;
        }
    }
    free(pa);
    free(pb);
    return st;
}

dml_status dml_gpu_gemm_run(const dml_gpu_gemm_config *cfg,
                            dml_gpu_gemm_result *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    DML_CHECK(dml_gpu_device_info_get(cfg->device, &out->device, err));
    cudaError_t e = cudaSetDevice(cfg->device);
    if (e != cudaSuccess)
        return cuda_fail(err, "cudaSetDevice", e);

    const gpu_shape *all = cfg->quick ? preset_quick : preset_default;
    int nall = cfg->quick ? (int)(sizeof preset_quick / sizeof *preset_quick)
                          : (int)(sizeof preset_default /
                                  sizeof *preset_default);
    size_t free_b = 0, total_b = 0;
    if ((e = cudaMemGetInfo(&free_b, &total_b)) != cudaSuccess)
        return cuda_fail(err, "cudaMemGetInfo", e);
    gpu_shape shapes[sizeof preset_default / sizeof *preset_default];
    int nshapes = fitting_shapes(all, nall, free_b, shapes);
    /* The buffers are sized for the largest A, B and C, which may come
     * from different shapes: drop the biggest shapes until they fit. */
    while (nshapes > 0 && buffers_bytes(shapes, nshapes) > 0.8 * (double)free_b)
        nshapes = drop_biggest(shapes, nshapes);
    if (nshapes == 0)
        return dml_error_msg(err, DML_ENOMEM,
                             "gpu_gemm: %.2g B free on the GPU is too little "
                             "for any shape",
                             (double)free_b);
    size_t max_elems[3];
    max_elems_of(shapes, nshapes, max_elems);
    out->points = calloc((size_t)(nshapes * DML_GPU_GEMM_DTYPES),
                         sizeof *out->points);
    if (!out->points)
        return dml_error_msg(err, DML_ENOMEM, "gpu_gemm: points");

    gpu_ctx g = {0};
    dml_status st = DML_OK;
    cublasStatus_t cs = cublasCreate(&g.handle);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        st = cublas_fail(err, "cublasCreate", cs);
        goto done;
    }
    if ((e = cudaStreamCreate(&g.stream)) != cudaSuccess ||
        (e = cudaEventCreate(&g.start)) != cudaSuccess ||
        (e = cudaEventCreate(&g.stop)) != cudaSuccess) {
        st = cuda_fail(err, "creating a CUDA stream and events", e);
        goto done;
    }
    if ((cs = cublasSetStream(g.handle, g.stream)) != CUBLAS_STATUS_SUCCESS) {
        st = cublas_fail(err, "cublasSetStream", cs);
        goto done;
    }
    if ((e = cudaMalloc(&g.a, max_elems[0] * 4)) != cudaSuccess ||
        (e = cudaMalloc(&g.b, max_elems[1] * 4)) != cudaSuccess ||
        (e = cudaMalloc(&g.c, max_elems[2] * 4)) != cudaSuccess) {
        st = cuda_fail(err, "cudaMalloc", e);
        goto done;
    }
    st = run_sweep(cfg, &g, shapes, nshapes, max_elems, out, err);
    if (st == DML_OK)
        finish_result(out);

done:
    if (g.a)
        cudaFree(g.a);
    if (g.b)
        cudaFree(g.b);
    if (g.c)
        cudaFree(g.c);
    if (g.start)
        cudaEventDestroy(g.start);
    if (g.stop)
        cudaEventDestroy(g.stop);
    if (g.stream)
        cudaStreamDestroy(g.stream);
    if (g.handle)
        cublasDestroy(g.handle);
    if (st != DML_OK)
        dml_gpu_gemm_result_free(out);
    return st;
}

#else /* !DML_HAVE_CUDA */

static dml_status no_cuda(dml_error *err)
{
    return dml_error_msg(err, DML_ENODEV,
                         "no GPU: dml was built without CUDA");
}

dml_status dml_gpu_count(int *count, dml_error *err)
{
    *count = 0;
    return no_cuda(err);
}

dml_status dml_gpu_device_info_get(int device, dml_gpu_device_info *out,
                                   dml_error *err)
{
    (void)device;
    memset(out, 0, sizeof *out);
    return no_cuda(err);
}

dml_status dml_gpu_gemm_run(const dml_gpu_gemm_config *cfg,
                            dml_gpu_gemm_result *out, dml_error *err)
{
    (void)cfg;
    memset(out, 0, sizeof *out);
    return no_cuda(err);
}

#endif
