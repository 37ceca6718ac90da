/*
 * probe_job.h: one whole dml-probe run over the ranks of an MPI job.
 *
 * The job measures each node once (its first rank runs topology, STREAM and
 * GEMM with all the node's cores while the node's other ranks wait), then
 * every rank takes part in the point-to-point and collective probes per
 * level, then NCCL where GPUs exist. Rank 0 ends up holding everything: its
 * own node's full report, a summary of every node, and the communication
 * results. From there the same job renders the three outputs dml-probe
 * promises: the human summary, the --json document and the cluster spec
 * (the hardware profile the planner reads), plus the measurement rows the
 * database stores.
 */
#ifndef DML_PROBES_PROBE_JOB_H
#define DML_PROBES_PROBE_JOB_H

#include <jansson.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"
#include "common/measurement.h"
#include "costmodel/cluster_spec.h"
#include "probes/collectives.h"
#include "probes/comm_levels.h"
#include "probes/gemm_busy.h"
#include "probes/node_report.h"
#include "probes/p2p.h"

/* Seconds between the plain progress lines where stderr is not a
 * terminal (common/progress.h). */
#define DML_PROBE_PROGRESS_INTERVAL_S 5.0

typedef struct dml_probe_job_options {
    bool quick;                     /* --quick: small sweeps, short budgets */
    bool progress;                  /* rank 0's progress on stderr: redrawn
                                       on a terminal, else a plain line
                                       every DML_PROBE_PROGRESS_INTERVAL_S */
    dml_topology_source topology;   /* live, or a foreign XML / synthetic */
    int fake_nodes;                 /* pretend nodes for the level split (0 = env/real) */
} dml_probe_job_options;

/* What one node reports to rank 0: the headline of its node probes. */
typedef struct dml_probe_host {
    char hostname[64];        /* gethostname() of the node's first rank */
    char cpu_model[96];       /* hwloc CPUModel, or "" */
    int ranks;                /* ranks of the job on this node */
    int packages;             /* sockets */
    int cores;                /* physical cores */
    int pus;                  /* hardware threads */
    int gpus;                 /* PCI GPUs hwloc found */
    double mem_total_bytes;   /* MemTotal, B */
    double mem_available_bytes; /* MemAvailable, B */
    double llc_bytes;         /* one last-level cache, B */
    double triad_1t_Bps;      /* STREAM triad, one thread, B/s */
    double triad_all_Bps;     /* STREAM triad, one thread per core, B/s */
    double dgemm_1t_flops;    /* DGEMM peak, one thread, FLOP/s */
    double dgemm_all_flops;   /* DGEMM peak, all cores, FLOP/s */
    double sgemm_1t_flops;    /* SGEMM peak, one thread, FLOP/s */
    double sgemm_all_flops;   /* SGEMM peak, all cores, FLOP/s */
    double busy_flops[DML_GEMM_DTYPES]; /* per rank with every rank of the
                                 job computing, mean over the node's
                                 ranks (gemm_busy.h), FLOP/s; 0: none */
    int busy_threads;         /* OpenBLAS threads of each busy rank */
    double solo_flops[DML_GEMM_DTYPES]; /* the node probe's median at the
                                 busy probe's shape and threads (one
                                 thread's times the threads where that
                                 count was not swept), FLOP/s */
} dml_probe_host;

#define DML_PROBE_MAX_COLL (2 * DML_COLL_OP_COUNT)

typedef struct dml_probe_job {
    bool measured;             /* false: topology only (foreign topology) */
    bool quick;                /* --quick */
    int ranks;                 /* ranks in the job */
    int nodes;                 /* nodes (real or faked) */
    char layout[128];          /* "1 node x 2 ranks per node" */
    char started_at[32];       /* ISO 8601 UTC */
    char finished_at[32];      /* ISO 8601 UTC */
    double elapsed_s;          /* wall time of the whole job, s */
    dml_node_report node;      /* rank 0's node, in full */
    int host_count;            /* entries in hosts (one per node) */
    dml_probe_host *hosts;     /* every node's headline, node order */
    size_t p2p_count;          /* levels measured */
    dml_p2p_result p2p[DML_COMM_LEVEL_COUNT]; /* per level */
    dml_gemm_busy busy;        /* this rank's busy GEMM (gemm_busy.h) */
    double busy_node_flops[DML_GEMM_DTYPES]; /* mean of busy over the
                                  ranks of this rank's node, FLOP/s */
    double inter_share_Bps;    /* inter-node bandwidth per device with
                                  every place of a node sending at once
                                  (link_share.h), B/s; 0: not measured */
    size_t coll_count;         /* op x level results */
    dml_coll_result coll[DML_PROBE_MAX_COLL]; /* MPI collectives */
    size_t nccl_count;         /* NCCL results, 0 without GPUs */
    dml_coll_result nccl[DML_PROBE_MAX_COLL]; /* NCCL collectives */
    char comm_skip[160];       /* why p2p/collectives were not measured, or "" */
    char nccl_skip[160];       /* why NCCL was not measured, or "" */
} dml_probe_job;

/*
 * Run the job (collective over comm: every rank calls it). On success the
 * results are complete on rank 0; other ranks hold only their own node's
 * report. A foreign topology (XML, synthetic) is only described, never
 * measured: the measurements would be of this machine, not that one.
 */
dml_status dml_probe_job_run(MPI_Comm comm, const dml_probe_job_options *opt,
                             dml_probe_job *job, dml_error *err);

void dml_probe_job_free(dml_probe_job *job);

/* The --json document (schema_version 1); a new reference. */
json_t *dml_probe_job_to_json(const dml_probe_job *job);

/* Measured figures (per-core GEMM peak, per-core memory bandwidth) of
 * nodes in one group differ by at most this fraction (issue 16). */
#define DML_PROBE_GROUP_TOLERANCE 0.25

/*
 * The hardware profile as a cluster spec (docs/formats.md): one node group
 * per kind of node found, in node order: consecutive nodes share a group
 * when their CPU, core count and memory agree and their measured GEMM
 * peaks and memory bandwidth are within DML_PROBE_GROUP_TOLERANCE of the
 * group's mean (the group gets the mean); nodes that differ in either
 * start a group of their own (up to DML_CLUSTER_GROUPS_MAX; later nodes
 * join the last group). On CPU nodes a device is one core (one MPI rank
 * with one OpenBLAS thread), the planner groups them. DML_EINPUT when the
 * job was not measured.
 */
dml_status dml_probe_job_cluster_spec(const dml_probe_job *job,
                                      dml_cluster_spec *out, dml_error *err);

/* Every measurement row of the job (caller frees *rows). */
dml_status dml_probe_job_measurements(const dml_probe_job *job,
                                      dml_measurement **rows, int *count,
                                      dml_error *err);

/* The human summary: tables with units, nccl-tests / OSU style. */
void dml_probe_job_print(const dml_probe_job *job, FILE *out);

#endif
