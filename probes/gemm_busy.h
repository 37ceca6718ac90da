/*
 * gemm_busy.h: each rank's GEMM rate while every rank of the job computes.
 *
 * The node probes time GEMM on one rank per node, and the all-core sweep
 * assumes the node's cores are its own. Two cases break that, and both
 * make a rank slower in training than the node probe says: nodes that
 * share one machine's cores (containers, scripts/emu-cluster, whose four
 * ranks of two nodes run on two cores), and nodes held to a CPU quota (a
 * cgroup's cpu.cfs_quota_us: the node probe's bursts of a few ms fit in
 * one 100 ms period and never see it). This probe runs what training
 * runs: every rank of the job starts GEMMs at a barrier, each with its
 * share of its node's cores as OpenBLAS threads (one where a rank a core),
 * and keeps them up for a window spanning several quota periods; each
 * rank's rate is the work done over that window (a sustained mean, not
 * a best sample). Against the node probe's single-thread rate at the
 * same shape it gives the fraction of its solo speed a rank keeps when
 * the whole job computes (probe_job.c, the cluster spec's devices).
 */
#ifndef DML_PROBES_GEMM_BUSY_H
#define DML_PROBES_GEMM_BUSY_H

#include <mpi.h>

#include "common/error.h"
#include "probes/gemm.h"

/* The square size timed: a node probe sweep point in both modes, and a
 * call of a few ms on one core, so a window holds hundreds of calls. */
#define DML_GEMM_BUSY_N 512

typedef struct dml_gemm_busy {
    int n;                           /* m = n = k */
    int threads;                     /* OpenBLAS threads of each rank */
    double window_s;                 /* each dtype's window, s */
    double flops[DML_GEMM_DTYPES];   /* this rank's sustained FLOP/s */
    int calls[DML_GEMM_DTYPES];      /* calls completed in the window */
} dml_gemm_busy;

/*
 * Collective over comm. Every rank times cblas_sgemm, then cblas_dgemm,
 * of n x n x n with `threads` OpenBLAS threads (its share of its node's
 * cores; the library's setting is restored afterwards), each
 * started together at a barrier and repeated until window_s has passed
 * on that rank; the first call's result is checked (dml_gemm_check_element).
 * DML_ENOMEM, DML_EVALIDATE (the library computed a wrong product) or an
 * MPI error; every rank returns the same status.
 */
dml_status dml_gemm_busy_run(MPI_Comm comm, int n, int threads,
                             double window_s, dml_gemm_busy *out,
                             dml_error *err);

#endif
