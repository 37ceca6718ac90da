/*
 * gpu_gemm.h: GPU matrix-multiply throughput through cuBLAS, and what the
 * GPUs are.
 *
 * cublasGemmEx over a sweep of square and transformer shapes in fp16 and
 * bf16 (fp32 accumulation, as mixed-precision training runs them), tf32
 * (fp32 data on the tensor cores) and plain fp32, timed with CUDA events,
 * reported like the CPU probe (gemm.h): best and median FLOP/s per shape,
 * efficiency against the per-dtype peak over the sweep.
 *
 * Every function exists whether or not dml was built with CUDA: without
 * it, or when cudaGetDeviceCount fails or finds no device, they return
 * DML_ENODEV with a message that begins "no GPU", and the caller logs it
 * and skips the GPU part. No caller needs an #ifdef.
 */
#ifndef DML_PROBES_GPU_GEMM_H
#define DML_PROBES_GPU_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/measurement.h"
#include "probes/engine.h"

typedef struct dml_gpu_device_info {
    int index;             /* CUDA device ordinal */
    char name[256];        /* "NVIDIA H100 80GB HBM3" */
    double mem_bytes;      /* global memory, B */
    int sm_count;          /* streaming multiprocessors */
    int cc_major;          /* compute capability, major */
    int cc_minor;          /* compute capability, minor */
    char pci_busid[32];    /* "0000:18:00.0", to match hwloc's PCI list */
} dml_gpu_device_info;

typedef enum dml_gpu_gemm_dtype {
    DML_GPU_GEMM_FP16 = 0, /* fp16 in/out, fp32 accumulation */
    DML_GPU_GEMM_BF16,     /* bf16 in/out, fp32 accumulation */
    DML_GPU_GEMM_TF32,     /* fp32 in/out, tf32 tensor cores */
    DML_GPU_GEMM_FP32,     /* fp32 in/out, fp32 compute */
    DML_GPU_GEMM_DTYPES    /* count */
} dml_gpu_gemm_dtype;

typedef struct dml_gpu_gemm_point {
    dml_gpu_gemm_dtype dtype; /* data and compute type */
    int m, n, k;              /* row-major C[m][n] = A[m][k] B[k][n], as gemm.h */
    double flop_count;        /* 2 m n k, FLOP per call */
    double time_s;            /* best (minimum) time of one call, s */
    double time_median_s;     /* median time of one call, s */
    double best_flops;        /* flop_count / time_s, FLOP/s */
    double median_flops;      /* flop_count / time_median_s, FLOP/s */
    double efficiency;        /* best_flops / peak of dtype, 0..1 */
    int reps;                 /* timed samples */
    int calls_per_rep;        /* calls averaged in each sample */
} dml_gpu_gemm_point;

typedef struct dml_gpu_gemm_config {
    int device;                  /* CUDA device ordinal */
    bool quick;                  /* smaller sweep */
    bool dtypes[DML_GPU_GEMM_DTYPES]; /* which dtypes to measure */
    dml_probe_budget budget;     /* repetitions per point */
    double point_time_s;         /* timed work per point at most, s */
    double sample_time_s;        /* small GEMMs repeat up to this per sample, s */
} dml_gpu_gemm_config;

typedef struct dml_gpu_gemm_result {
    dml_gpu_device_info device;  /* the GPU measured */
    dml_gpu_gemm_point *points;  /* sorted by dtype, flop_count, m, n, k */
    int point_count;             /* entries in points */
    double peak_flops[DML_GPU_GEMM_DTYPES]; /* best over the sweep, FLOP/s, 0 if not run */
} dml_gpu_gemm_result;

/* "fp16", "bf16", "tf32", "fp32". */
const char *dml_gpu_gemm_dtype_name(dml_gpu_gemm_dtype d);

/* Number of CUDA devices: DML_ENODEV ("no GPU...") when there are none,
 * when the driver is missing, or when dml was built without CUDA. */
dml_status dml_gpu_count(int *count, dml_error *err);

/* Name, memory, SM count, compute capability of one device. */
dml_status dml_gpu_device_info_get(int device, dml_gpu_device_info *out,
                                   dml_error *err);

/* All four dtypes, budgets by mode, device 0. */
dml_gpu_gemm_config dml_gpu_gemm_config_default(bool quick);

/*
 * Run the sweep on cfg->device. Each point's first result is checked
 * against a host reference for a few elements (DML_EVALIDATE otherwise).
 * On success out owns its points (dml_gpu_gemm_result_free).
 */
dml_status dml_gpu_gemm_run(const dml_gpu_gemm_config *cfg,
                            dml_gpu_gemm_result *out, dml_error *err);

void dml_gpu_gemm_result_free(dml_gpu_gemm_result *r);

/* Rows of kind "gpu_gemm", op the dtype name, level "device", value best
 * FLOP/s, detail "m=.. n=.. k=.. gpu=<name>" (see dml_membw_to_measurements). */
dml_status dml_gpu_gemm_to_measurements(const dml_gpu_gemm_result *r,
                                        dml_measurement **rows, int *count,
                                        dml_error *err);

/* The kernel floor of the device the sweep ran on: the best time of its
 * smallest GEMM (a launch and its latency, cluster spec kernel_floor_s),
 * s; 0 when nothing was measured. Plain C, like the functions below. */
double dml_gpu_gemm_kernel_floor(const dml_gpu_gemm_result *r);

/*
 * Number formats and the reference check, plain C so that they are tested
 * where no GPU exists. Conversions round to nearest even.
 */
uint16_t dml_gpu_gemm_float_to_half(float f);
float dml_gpu_gemm_half_to_float(uint16_t h);
uint16_t dml_gpu_gemm_float_to_bf16(float f);
float dml_gpu_gemm_bf16_to_float(uint16_t b);

/*
 * Reference for element (i, j) of row-major C = A B, where A[idx] and
 * B[idx] are pa[idx % pattern_len] and pb[idx % pattern_len] (the device
 * buffers tile these patterns, already rounded to the dtype), and the
 * tolerance a correct cuBLAS result of that dtype stays within: fp32
 * accumulation, the output's rounding, and tf32's input rounding.
 */
void dml_gpu_gemm_reference(dml_gpu_gemm_dtype dtype, const float *pa,
                            const float *pb, size_t pattern_len, int n, int k,
                            int i, int j, double *ref, double *tol);

#endif
