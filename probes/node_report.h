/*
 * node_report.h: everything the single-node probes measure, in one call.
 *
 * Runs, in order, the topology (topology.h), STREAM at 1 thread and at one
 * thread per core (membw.h), the OpenBLAS sweep at the same two thread
 * counts (gemm.h), and the cuBLAS sweep on each GPU when there are any
 * (gpu_gemm.h; "no GPU" is recorded and skipped, not an error). dml-probe
 * calls this, stores the rows of dml_node_report_to_measurements() and
 * builds the cluster spec from the structs.
 *
 * Time: quick mode finishes in about 10 s on a 2-core machine, default
 * mode in about a minute, most of it in the GEMM sweep.
 */
#ifndef DML_PROBES_NODE_REPORT_H
#define DML_PROBES_NODE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"
#include "common/progress.h"
#include "common/measurement.h"
#include "probes/gemm.h"
#include "probes/gpu_gemm.h"
#include "probes/membw.h"
#include "probes/topology.h"

typedef struct dml_node_probe_options {
    bool quick;      /* quick budgets and smaller sweeps */
    const dml_topology_source *topology; /* NULL: the live machine. Another
                        source only sizes the probes (cores, caches); they
                        still measure this machine, unbound. */
    bool membw;      /* run STREAM */
    bool gemm;       /* run the OpenBLAS sweep */
    bool gpu;        /* run the cuBLAS sweep on every GPU found */
    dml_progress *progress; /* a phase per probe, or NULL for none */
} dml_node_probe_options;

typedef struct dml_node_report {
    dml_topology *topo;              /* owned; dml_node_report_free */
    dml_topology_summary topology;   /* copy of the topology's summary */
    bool have_membw;                 /* membw_single and membw_all are filled */
    dml_membw_result membw_single;   /* STREAM, 1 thread */
    dml_membw_result membw_all;      /* STREAM, one thread per core */
    bool have_gemm;                  /* gemm is filled */
    dml_gemm_result gemm;            /* OpenBLAS, {1, cores} threads */
    int gpu_count;                   /* entries in gpu */
    dml_gpu_gemm_result *gpu;        /* cuBLAS sweep per GPU, or NULL */
    char gpu_skip[DML_ERROR_MSG_MAX]; /* why no GPU was measured, or "" */
    double elapsed_s;                /* wall time of the whole probe, s */
} dml_node_report;

/* All probes on, live machine, no progress line. */
dml_node_probe_options dml_node_probe_options_default(bool quick);

/* Run the probes; on success *out is owned by the caller
 * (dml_node_report_free). A GPU-less machine is not an error. */
dml_status dml_node_probe_run(const dml_node_probe_options *opt,
                              dml_node_report *out, dml_error *err);

void dml_node_report_free(dml_node_report *r);

/* All rows (membw, gemm, gpu_gemm), appended to *rows (start NULL, 0). */
dml_status dml_node_report_to_measurements(const dml_node_report *r,
                                           dml_measurement **rows,
                                           int *count, dml_error *err);

/* Human tables with units (topology, STREAM, GEMM peaks and curve, GPUs)
 * written to out (normally stdout). */
void dml_node_report_print(const dml_node_report *r, FILE *out);

/* Append one row to the growing array *rows of *count entries (realloc;
 * start from NULL and 0, free() when done). Shared by the probes' *_to_
 * measurements functions. */
dml_status dml_node_report_append_row(dml_measurement **rows, int *count,
                                      const dml_measurement *row,
                                      dml_error *err);

#endif
