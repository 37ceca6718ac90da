/*
 * p2p.h: MPI point-to-point latency and bandwidth between two ranks, the
 * OSU micro-benchmarks way (osu_latency, osu_bw).
 *
 * Latency: ping-pong of one message over powers-of-two sizes; after
 * warm-up round trips, a repetition is a batch of round trips and its
 * one-way latency is the batch time / (2 × round trips). Bandwidth: the
 * sender posts a window of non-blocking sends, the receiver posts as many
 * receives into distinct buffers and acknowledges the whole window; a
 * repetition is a batch of windows, its time per message the batch time /
 * (windows × window). Both keep min, median and mean over repetitions (the
 * batch size and the repetitions are chosen on the sender from a timed
 * warm-up and sent to the receiver, so the pair always agrees), and an
 * alpha-beta fit of the latencies gives the link's latency and bandwidth.
 * Before the first size the peers ping-pong for a while untimed (a rank
 * that slept through the node probes is slow to answer at first), and the
 * sizes the headlines come from are sampled longer than the others.
 *
 * Every rank of the communicator calls the measuring functions; only the
 * two peers exchange messages; the result is valid on the first peer
 * (rank 0 of the communicator for the per-level function).
 */
#ifndef DML_PROBES_P2P_H
#define DML_PROBES_P2P_H

#include <stddef.h>
#include <stdio.h>

#include <mpi.h>

#include "common/error.h"
#include "common/progress.h"
#include "common/measurement.h"
#include "probes/alphabeta.h"
#include "probes/comm_levels.h"
#include "probes/engine.h"

typedef struct dml_p2p_options {
    dml_comm_sweep sweep;    /* message sizes, B */
    dml_probe_budget budget; /* warmup: untimed round trips/windows before a
                                size is timed (at least 1); min_reps and
                                max_reps bound the repetitions per size;
                                max_time_s is not used (see time_per_size_s) */
    double time_per_size_s;  /* timed work aimed at per size and test, s */
    double headline_time_s;  /* the same for the sizes the headlines and
                                the cluster spec come from (latency at
                                <= 8 B and at the largest size, bandwidth
                                at the largest), when longer, s: a short
                                sample of a noisy VM misses its fast
                                spells, which a longer one (HPCC's) finds */
    double settle_s;         /* both peers ping-pong this long before the
                                first size: a rank that slept while the
                                node probes ran answers slowly at first, s */
    double rep_time_s;       /* duration aimed at for one repetition, s */
    int window;              /* sends in flight per window (osu_bw: 64) */
    double window_max_bytes; /* cap on window × size: the receiver needs
                                one buffer per message in flight, B */
    dml_progress *progress;  /* phase per level, step per size, or NULL */
} dml_p2p_options;

/* dml-probe --quick: 1 B .. 2 MiB every 8x, a few repetitions. */
dml_p2p_options dml_p2p_options_quick(void);
/* Default: 1 B .. 4 MiB at every power of two. */
dml_p2p_options dml_p2p_options_default(void);

typedef struct dml_p2p_point {
    double bytes;                /* message size, B */
    double latency_s;            /* one-way latency (round trip / 2), best rep, s */
    double latency_median_s;     /* one-way latency, median rep, s */
    double latency_mean_s;       /* one-way latency, average rep (OSU's), s */
    int latency_iters;           /* round trips per repetition */
    int latency_reps;            /* repetitions timed */
    double bw_time_s;            /* time per message while streaming, best rep, s */
    double bw_time_median_s;     /* time per message, median rep, s */
    double bw_time_mean_s;       /* time per message, average rep, s */
    double bandwidth_Bps;        /* bytes / bw_time_s, B/s */
    double bandwidth_median_Bps; /* bytes / bw_time_median_s, B/s */
    double bandwidth_mean_Bps;   /* bytes / bw_time_mean_s (OSU's), B/s */
    int window;                  /* messages in flight per window */
    int bw_iters;                /* windows per repetition */
    int bw_reps;                 /* repetitions timed */
} dml_p2p_point;

typedef struct dml_p2p_result {
    char level[16];       /* "intra_node", "inter_node" or the caller's label */
    int ranks;            /* ranks in the communicator measured on */
    int peer_a;           /* sender/initiator, rank in that communicator */
    int peer_b;           /* receiver, rank in that communicator */
    size_t npoints;       /* sizes measured */
    dml_p2p_point points[DML_COMM_MAX_POINTS]; /* one per size, ascending */
    double latency_s;     /* headline: best latency over sizes <= 8 B
                             (the smallest size when none is), s */
    double bandwidth_Bps; /* headline: windowed bandwidth of the largest
                             size, best repetition: what large transfers
                             (gradients) reach, not a middle size that
                             fits in a cache or a link's burst; the
                             cluster spec's link bandwidth, B/s */
    dml_alphabeta fit;    /* one-way latency = alpha + bytes·beta */
    dml_status fit_status; /* DML_OK, or why `fit` is empty */
} dml_p2p_result;

/*
 * Measure between ranks peer_a and peer_b of comm (collective over comm:
 * ranks other than the peers only agree on success and return). The
 * result is valid on peer_a; level labels it. DML_EINPUT for bad options
 * or peers.
 */
dml_status dml_p2p_measure(MPI_Comm comm, int peer_a, int peer_b,
                           const char *level, const dml_p2p_options *o,
                           dml_p2p_result *out, dml_error *err);

/*
 * Measure every level lv has (collective over lv->comm), between rank 0
 * and the last rank of the level's communicator: intra_node on node 0,
 * inter_node between the first and last node's leaders, while the other
 * ranks wait quietly (dml_comm_levels_done). A level that does not exist
 * is skipped with an info line in the log. Writes
 * *nout results (the same count on every rank) into out; valid on rank 0
 * of lv->comm.
 */
dml_status dml_p2p_measure_levels(const dml_comm_levels *lv,
                                  const dml_p2p_options *o,
                                  dml_p2p_result out[DML_COMM_LEVEL_COUNT],
                                  size_t *nout, dml_error *err);

/*
 * From r's points (dml_p2p_measure calls it on the first peer): the
 * headline latency and bandwidth and the alpha-beta fit of the
 * latencies, whose failure or large residual (dml_alphabeta_residual_large)
 * is logged as a warning.
 */
void dml_p2p_summarise(dml_p2p_result *r);

/*
 * Rows for the database: per size, kind "p2p" op "latency" (value = one-way
 * latency, unit "s") and op "bandwidth" (value = B/s, time = per message).
 * Writes at most cap rows; returns how many there are (2 × npoints).
 */
size_t dml_p2p_to_measurements(const dml_p2p_result *r,
                               dml_measurement *rows, size_t cap);

typedef enum dml_p2p_table {
    DML_P2P_TABLE_LATENCY,   /* "# Size  Avg Latency(us)  Best Latency(us)"
                                (osu_latency) */
    DML_P2P_TABLE_BANDWIDTH, /* "# Size  Bandwidth (MB/s)  Best Bandwidth
                                (MB/s)" (osu_bw) */
} dml_p2p_table;

/*
 * The OSU table (one comment line naming the level and peers, the column
 * header, one line per size; MB = 1e6 B as OSU prints it) into buf, as
 * snprintf does: returns the length of the whole table, writes at most
 * size bytes including the terminating NUL. Two columns of figures: the
 * average over repetitions first (what OSU prints: total time over all
 * iterations), then the best repetition.
 */
size_t dml_p2p_format_table(const dml_p2p_result *r, dml_p2p_table which,
                            char *buf, size_t size);

/* The same table written to f; DML_EIO when the write fails. */
dml_status dml_p2p_write_table(FILE *f, const dml_p2p_result *r,
                               dml_p2p_table which, dml_error *err);

#endif
