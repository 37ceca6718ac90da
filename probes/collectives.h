/*
 * collectives.h: MPI collective bandwidth per link level, the nccl-tests
 * way (allreduce, allgather, reduce-scatter, all-to-all, broadcast).
 *
 * For each operation and power-of-two size (nccl-tests size conventions,
 * see busbw.h; float elements, sum): warm-up runs, then repetitions, each a
 * barrier, the timed operation, and an MPI_Allreduce(MAX) of the ranks'
 * times, so a repetition counts until the slowest rank is done. The count
 * of repetitions comes from the warm-up time, which the MAX makes the same
 * on every rank, so all ranks agree without talking; the engine
 * (probes/engine.h) keeps min, median and mean. algbw and busbw come from
 * the best time and, as nccl-tests prints them, from the average one.
 * After the timed repetitions of a size the result is checked
 * (coll_check.h): the buffers are filled again with a pattern of each
 * rank, the operation runs once more, and the wrong elements are counted
 * over the ranks (#wrong); any wrong element fails the probe
 * (DML_EVALIDATE), so that a broken collective never reaches a cluster
 * spec. The alpha-beta fit of best times over sizes gives the
 * {alpha_s, busbw_Bps} the cluster spec stores per operation and level;
 * its busbw comes from the large end of the sweep (the sizes within 8x of
 * the largest, alphabeta.h), not from a size that fits in a cache.
 *
 * dml_coll_result is shared with the NCCL probe (nccl_collectives.h),
 * which fills it the same way with kind "nccl": it checks its options,
 * times each size and fits the result with the functions below.
 */
#ifndef DML_PROBES_COLLECTIVES_H
#define DML_PROBES_COLLECTIVES_H

#include <stddef.h>
#include <stdio.h>

#include <mpi.h>

#include "common/error.h"
#include "common/progress.h"
#include "common/measurement.h"
#include "probes/alphabeta.h"
#include "probes/busbw.h"
#include "probes/coll_check.h"
#include "probes/comm_levels.h"
#include "probes/engine.h"

typedef struct dml_coll_options {
    dml_comm_sweep sweep;    /* sizes, B (nccl-tests convention per op) */
    dml_probe_budget budget; /* warmup runs (at least 1: the last one sizes
                                the repetitions), min_reps and max_reps;
                                max_time_s is not used */
    double time_per_size_s;  /* timed work aimed at per op and size, s */
    unsigned ops;            /* bit (1u << op) per dml_coll_op; 0 = all */
    double max_op_s;         /* MPI sweep stops (after 2 sizes or more)
                                before a size whose one operation would
                                take longer, predicted as the last time x
                                the size step, s; 0 = no limit (a 64 MiB
                                allreduce takes 5.6 s at 100 Mbit/s) */
    double min_stop_bytes;   /* ... but never before this size: the sizes
                                up to it are always measured, so that a
                                slow link is priced on the gradient
                                sizes plans exchange (an MLP's 1 MB) and
                                not extrapolated from 256 KiB, where a
                                shaped link's burst and Open MPI's
                                smaller-message algorithm give another
                                bandwidth (issue 15: dense priced 35 %
                                slow at 10 Mbit/s); larger sizes are
                                extrapolated by the alpha-beta fit */
    dml_progress *progress;  /* phase and step per op and size, or NULL */
} dml_coll_options;

/* dml-probe --quick: 1 KiB .. 16 MiB every 4x. */
dml_coll_options dml_coll_options_quick(void);
/* Default: 1 KiB .. 64 MiB at every power of two. */
dml_coll_options dml_coll_options_default(void);

typedef struct dml_coll_point {
    double bytes;         /* nccl-tests size, B */
    size_t count;         /* nccl-tests count: float elements in the size */
    double time_s;        /* best repetition (slowest rank's time), s */
    double time_median_s; /* median repetition, s */
    double time_mean_s;   /* average repetition (nccl-tests' time), s */
    double algbw_Bps;     /* bytes / time_s, B/s */
    double busbw_Bps;     /* algbw × dml_collective_busbw_factor(op,
                             ranks), B/s */
    double algbw_mean_Bps; /* bytes / time_mean_s, B/s */
    double busbw_mean_Bps; /* algbw_mean × dml_collective_busbw_factor, B/s */
    int reps;             /* repetitions timed */
    long long wrong;      /* elements of the result found wrong, summed
                             over the ranks (nccl-tests #wrong); -1 when
                             not checked */
} dml_coll_point;

typedef struct dml_coll_result {
    char kind[24];        /* "collective" (MPI) or "nccl" */
    dml_coll_op op;       /* the operation */
    char level[16];       /* "intra_node", "inter_node" or the caller's label */
    int ranks;            /* ranks taking part */
    size_t npoints;       /* sizes measured */
    dml_coll_point points[DML_COMM_MAX_POINTS]; /* ascending sizes */
    dml_alphabeta fit;    /* best time = alpha + bytes·beta; busbw_Bps set
                             to dml_collective_busbw_factor / beta */
    dml_status fit_status; /* DML_OK, or why `fit` is empty */
} dml_coll_result;

/*
 * Measure op on every rank of comm (collective). The result is valid on
 * rank 0 of comm; level labels it. DML_EINPUT for bad options.
 */
dml_status dml_coll_measure(MPI_Comm comm, dml_coll_op op, const char *level,
                            const dml_coll_options *o, dml_coll_result *out,
                            dml_error *err);

/*
 * Measure the selected ops on every level lv has (collective over
 * lv->comm): intra_node on node 0, inter_node among the leaders, while
 * the other ranks wait quietly (dml_comm_levels_done). Results go to out[0 .. *nout) in level-major order (the same
 * count on every rank, valid on rank 0 of lv->comm); cap must hold
 * DML_COMM_LEVEL_COUNT × DML_COLL_OP_COUNT. Missing levels are skipped
 * with an info line in the log.
 */
dml_status dml_coll_measure_levels(const dml_comm_levels *lv,
                                   const dml_coll_options *o,
                                   dml_coll_result *out, size_t cap,
                                   size_t *nout, dml_error *err);

/* Fill r->fit and r->fit_status from r's points (best times); a failed fit
 * is logged as a warning, not returned. Used by the MPI and NCCL probes. */
void dml_coll_result_fit(dml_coll_result *r);

/* The least time any call of results[0 .. n) took (their smallest sizes:
 * a launch and its latency, cluster spec collective_floor_s), s; 0 when
 * nothing was measured. */
double dml_coll_floor(const dml_coll_result *results, size_t n);

/*
 * The rest of what the MPI and NCCL probes share; probe ("collectives",
 * "nccl") begins their messages.
 */

/* Clear r and label it: kind ("collective", "nccl"), level (NULL: ""), op. */
void dml_coll_result_init(dml_coll_result *r, const char *kind,
                          const char *level, dml_coll_op op);

/* DML_EINPUT unless cap results hold one per level and op. */
dml_status dml_coll_check_room(size_t cap, const char *probe, dml_error *err);

/*
 * Check o and write its sizes (B, ascending) into sizes[0 .. *n), sizes
 * holding DML_COMM_MAX_POINTS. DML_EINPUT for an empty or too long sweep,
 * a size of more float elements than max_count (the most the library's
 * count argument takes), repetitions outside 1 <= min_reps <= max_reps, a
 * time per size that is not positive, or unknown ops.
 */
dml_status dml_coll_check_options(const dml_coll_options *o,
                                  const char *probe, double max_count,
                                  double *sizes, size_t *n, dml_error *err);

/*
 * Time op at one size on ranks ranks: o's warm-up runs (at least one; the
 * last one's time sizes the repetitions to about time_per_size_s), then
 * the repetitions through the engine. once times one repetition and must
 * return the slowest rank's time, the same on every rank, so that every
 * rank runs the same count. pt gets bytes and count (nccl-tests), the best,
 * median and average times, the repetitions, the bandwidths of the best
 * and of the average time, and wrong = -1 (the caller checks the result:
 * dml_coll_check_wrong).
 */
dml_status dml_coll_time_size(const dml_coll_options *o, dml_probe_fn once,
                              void *ctx, dml_coll_op op, int ranks,
                              double bytes, size_t count, dml_coll_point *pt,
                              dml_error *err);

/*
 * After dml_coll_time_size and the check run of the size (collective over
 * comm, every rank having counted its own wrong elements with
 * dml_coll_check_count): sums the counts over the ranks into pt->wrong
 * and fails with DML_EVALIDATE when any element was wrong: "N of M result
 * elements wrong at S B (rank R, element I: G instead of E): the
 * collective is broken". elements is the length of this rank's result.
 */
dml_status dml_coll_check_agree(MPI_Comm comm, size_t mine,
                                const dml_coll_wrong *first, size_t elements,
                                dml_coll_point *pt, dml_error *err);

/*
 * Rows for the database: one per size, kind r->kind, op the op name,
 * value = busbw (unit "B/s"). Writes at most cap; returns r->npoints.
 */
size_t dml_coll_to_measurements(const dml_coll_result *r,
                                dml_measurement *rows, size_t cap);

/*
 * The nccl-tests table for r: a comment line, the column headers and
 * their units, one line per size, and nccl-tests' two footer lines. The
 * columns are nccl-tests' (`size count type redop root` then `time algbw
 * busbw #wrong` twice), its two groups being the average repetition
 * (nccl-tests' own time, so a script reading nccl-tests' first group reads
 * the same figures here) and the best one; #wrong is the one check of the
 * size, shown in both. Units: B, elements, us, GB/s with GB = 1e9 B.
 * Footers: "# Out of bounds values : 0 OK" (or the count and FAILED) and
 * "# Avg bus bandwidth    : %g", the average over sizes of the
 * average-repetition busbw in GB/s. snprintf semantics: returns the whole
 * length, writes at most size bytes including the NUL.
 */
size_t dml_coll_format_table(const dml_coll_result *r, char *buf,
                             size_t size);

/* nccl-tests' "Avg bus bandwidth": the mean over r's sizes of the
 * average-repetition busbw, B/s; 0 without points. */
double dml_coll_avg_busbw(const dml_coll_result *r);

/* Wrong elements over r's sizes (0 when all were checked and right; sizes
 * not checked count nothing). */
long long dml_coll_wrong_total(const dml_coll_result *r);

/* The same table written to f; DML_EIO when the write fails. */
dml_status dml_coll_write_table(FILE *f, const dml_coll_result *r,
                                dml_error *err);

#endif
