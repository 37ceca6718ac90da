/*
 * membw.h: sustainable memory bandwidth, by the rules of STREAM.
 *
 * The four STREAM kernels over double arrays (copy c=a, scale b=s*c,
 * add c=a+b, triad a=b+s*c), with STREAM's byte counting (copy and scale
 * move 2 arrays of 8-byte elements, add and triad 3; write-allocate traffic
 * is not counted), arrays of at least 4 times the last-level cache, best
 * (minimum) and median time over repetitions, and the final arrays checked
 * against the values the kernels must have produced (a mismatch is
 * DML_EVALIDATE, as STREAM's "Failed Validation").
 *
 * Threads: one pthread per requested thread, bound to one core each when
 * the topology is the live machine, each working on its own slice of the
 * arrays (first-touched by that thread, so pages land on its NUMA node).
 * A run of a kernel is timed from a start barrier to the moment the last
 * thread is done, like STREAM's OpenMP build. Probing at 1 thread and at
 * one thread per core gives the single-core and whole-node figures.
 *
 * The kernels are idempotent given their inputs, so each one is repeated
 * on its own (the probe engine's loop) in STREAM's order copy, scale, add,
 * triad, and the final values are still known in closed form.
 */
#ifndef DML_PROBES_MEMBW_H
#define DML_PROBES_MEMBW_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/measurement.h"
#include "probes/engine.h"
#include "probes/topology.h"

typedef enum dml_membw_kernel {
    DML_MEMBW_COPY = 0,
    DML_MEMBW_SCALE,
    DML_MEMBW_ADD,
    DML_MEMBW_TRIAD,
    DML_MEMBW_KERNELS /* count */
} dml_membw_kernel;

/* STREAM's scalar and initial values: a = 2, b = 2, c = 0. */
#define DML_MEMBW_SCALAR 3.0

typedef struct dml_membw_config {
    size_t elems;    /* doubles per array; 0 picks dml_membw_array_elems() */
    int threads;     /* worker threads; 0 means one per core */
    bool bind;       /* bind thread i to core i (live topology only) */
    bool quick;      /* with elems 0: the smaller quick-mode size cap */
    dml_probe_budget budget; /* repetitions per kernel */
    dml_probe_budget triad_budget; /* repetitions of triad, the kernel the
                        cluster spec keeps: in quick mode more of them than
                        of the others, whose figures are only reported */
} dml_membw_config;

typedef struct dml_membw_kernel_result {
    double bytes;          /* bytes STREAM counts for one run, B */
    double time_s;         /* best (minimum) run, s */
    double time_median_s;  /* median run, s */
    double best_Bps;       /* bytes / time_s, B/s */
    double median_Bps;     /* bytes / time_median_s, B/s */
    int reps;              /* timed runs */
} dml_membw_kernel_result;

typedef struct dml_membw_result {
    int threads;        /* threads that ran the kernels */
    size_t elems;       /* doubles per array */
    double array_bytes; /* bytes per array, B */
    bool bound;         /* every thread was bound to its own core */
    bool validated;     /* the final arrays held the expected values */
    dml_membw_kernel_result kernel[DML_MEMBW_KERNELS]; /* by dml_membw_kernel */
} dml_membw_result;

/* "copy", "scale", "add", "triad". */
const char *dml_membw_kernel_name(dml_membw_kernel k);

/* Bytes STREAM counts for one run of kernel k over n elements per array:
 * 16 n for copy and scale, 24 n for add and triad. */
double dml_membw_kernel_bytes(dml_membw_kernel k, size_t n);

/*
 * Doubles per array by STREAM's rule: at least 4 times the total
 * last-level cache the topology reports (32 MiB assumed when it reports
 * none), at least 8 MiB, at most 128 MiB in quick mode and 1 GiB otherwise,
 * and the three arrays within 3/8 of the available memory. s may be NULL.
 */
size_t dml_membw_array_elems(const dml_topology_summary *s, bool quick);

/* Defaults: one thread per core, bound, array size and budget by mode. */
dml_membw_config dml_membw_config_default(bool quick);

/*
 * Run the four kernels. topo may be NULL (no binding; threads = 0 then
 * means the number of online CPUs). DML_EVALIDATE when the final arrays do
 * not hold the expected values; DML_ENOMEM when the arrays do not fit.
 */
dml_status dml_membw_run(const dml_topology *topo,
                         const dml_membw_config *cfg, dml_membw_result *out,
                         dml_error *err);

/*
 * STREAM's check after copy, scale, add, triad from a = 2, b = 2, c = 0:
 * a = 30, b = 6, c = 8, with the average absolute error of each array
 * within 1e-13 of its expected value (STREAM's epsilon for doubles).
 * DML_EVALIDATE names the array and the error otherwise.
 */
dml_status dml_membw_validate(const double *a, const double *b,
                              const double *c, size_t n, dml_error *err);

/*
 * Append one row per kernel (kind "membw", op the kernel name, threads,
 * bytes per run, best and median time, value best B/s, unit "B/s") to the
 * growing array *rows of *count entries (start from NULL and 0; the caller
 * frees *rows with free()).
 */
dml_status dml_membw_to_measurements(const dml_membw_result *r,
                                     dml_measurement **rows, int *count,
                                     dml_error *err);

#endif
