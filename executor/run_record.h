/*
 * run_record.h: what a dml-exec run writes down: the history of its steps
 * in memory (for the summary and the per-rank medians), and its rows in
 * the database (rank 0, through db/).
 *
 * Rank 0 records the model, cluster and plan rows and the run's start
 * (dml_run_record_begin: status 'running'), then each step into the
 * buffer of record.h, which writes a batch of steps at a time and keeps
 * them through a database that refuses writes; events and checkpoint rows
 * as they happen, while the database is not failing; each rank's median
 * timings at the end; and the run's end with its status
 * (dml_run_record_end). Before the start it closes a previous run on the
 * same checkpoint directory that died without recording its end (from
 * the rank state files, heartbeat.h). The run's life as a state diagram:
 * run_state.h.
 *
 * Every function here is a no-op on ranks other than 0 unless it says it
 * is collective.
 */
#ifndef DML_EXECUTOR_RUN_RECORD_H
#define DML_EXECUTOR_RUN_RECORD_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "db/balance_store.h"
#include "db/db.h"
#include "executor/heartbeat.h"
#include "executor/input.h"
#include "executor/record.h"

/* The statistics one step sums over every rank in one reduction (the
 * fields are doubles only, reduced as an array). */
typedef struct dml_step_stats {
    double loss_sum;     /* summed loss of the global batch, nats */
    double noise_small;  /* shares of |G_small|^2 (noise.h) */
    double noise_big;    /* shares of |G_big|^2 */
    double compute_s;    /* layer arithmetic, summed over ranks, s */
    double tp_comm_s;    /* tensor-parallel allreduces, s */
    double pp_comm_s;    /* pipeline sends and receives, s */
    double idle_s;       /* waiting for a pipeline neighbour, s */
    double dp_comm_s;    /* exposed gradient exchange, s */
    double optimizer_s;  /* norms and update, s */
    double nonfinite;    /* parameters not finite after the update */
} dml_step_stats;

#define DML_STEP_STATS_COUNT ((int)(sizeof(dml_step_stats) / sizeof(double)))

/* The end of a run as recorded. */
typedef struct dml_run_outcome {
    dml_status status;        /* the run's status (DML_OK: it trained) */
    bool interrupted;         /* stopped by SIGTERM or SIGINT */
    int64_t steps;            /* steps completed, a resumed run included */
    double median_step_s;     /* measured median step time, s */
    double peak_rss_bytes;    /* largest peak RSS of any rank, bytes */
    double final_loss;        /* loss of the last step run (NAN: none) */
    double test_accuracy;     /* fraction right (NAN: not evaluated) */
} dml_run_outcome;

typedef struct dml_run_record {
    int rank, world_size;     /* this rank and the job's ranks */
    int64_t cap;              /* steps the history holds */
    double *loss, *lr;        /* [cap] per step run: loss, rate */
    double *step_s;           /* [cap] the slowest rank's step, s */
    double *noise;            /* [cap] B_simple (NAN: not measured) */
    double *accuracy;         /* [cap] test accuracy after the step, 0-1
                                 (NAN: not evaluated, --eval-every) */
    double *staleness;        /* [cap] largest staleness of the step's
                                 gradients over the replicas, steps (NAN:
                                 the strategy has none) */
    double *r_step, *r_compute, *r_comm, *r_idle; /* [cap] this rank's
                                 step, compute, communication, idle, s */
    dml_db *db;               /* rank 0: the database (owned) */
    int64_t run_id;           /* runs.id, 0 until begun */
    dml_record rec;           /* steps not yet written (record.h) */
    bool rec_open;            /* rec initialised */
    int64_t steps_done;       /* steps completed so far (set by the
                                 loop): where an outage's end is named */
    char started_at[DML_HEARTBEAT_TIME_MAX]; /* the run's start, UTC */
    double dp_sent_intra;     /* this rank's bytes sent by the steps'
                                 data-parallel exchanges inside its node,
                                 summed over dp_sent_steps, bytes */
    double dp_sent_inter;     /* and to other nodes, bytes */
    int64_t dp_sent_steps;    /* steps those sums are over */
    int dp_groups;            /* data-parallel groups, tp x pp (rank r
                                 is in group r mod dp_groups); set by
                                 dml_run_record_begin */
    double dp_bytes_intra;    /* rank 0: per step, one replica of the
                                 busiest group, for the runs row and
                                 --json's bytes_per_step.per_replica
                                 (NAN: unknown) */
    double dp_bytes_inter;
    double dp_job_intra;      /* rank 0: per step, the sum over every
                                 rank of the job (--json's
                                 bytes_per_step), bytes (NAN: unknown) */
    double dp_job_inter;
} dml_run_record;

/* Empty: no history, no database (set db, rank 0, to record; it is
 * closed by dml_run_record_free). */
void dml_run_record_init(dml_run_record *r, int rank, int world_size);

/* Room for the history of up to steps steps. */
dml_status dml_run_record_history(dml_run_record *r, int64_t steps,
                                  dml_error *err);
void dml_run_record_free(dml_run_record *r);

/* Collective: the hosts of every rank, then on rank 0 the dead run of
 * checkpoint_dir (may be NULL) and this run's rows, status 'running'. */
dml_status dml_run_record_begin(dml_run_record *r, const dml_input *in,
                                const char *checkpoint_dir, MPI_Comm world,
                                dml_error *err);

/* Collective: every rank's state file under checkpoint_dir naming this
 * run (NULL dir: none, *hb NULL). */
dml_status dml_run_record_heartbeat(dml_run_record *r,
                                    const char *checkpoint_dir,
                                    MPI_Comm world, dml_heartbeat **hb,
                                    dml_error *err);

/* Every rank: its own times of step i of this invocation. */
void dml_run_record_rank_step(dml_run_record *r, int64_t i, double step_s,
                              double compute_s, double comm_s,
                              double idle_s);

/* Step i of this invocation (model step `step`) with its reduced stats,
 * the staleness of its gradients (NAN: none), the test accuracy after
 * it (NAN: not evaluated) and gossip's consensus distance (NAN: not
 * measured), into the history and the buffer; writes the buffer when a
 * batch is due. */
void dml_run_record_step(dml_run_record *r, int64_t i, int64_t step,
                         double loss, double lr, int64_t global_batch,
                         const dml_step_stats *sum, double step_max_s,
                         double noise_scale, double staleness,
                         double test_accuracy, double consensus);

/* Write the kept steps: when a batch is due, or forced (at a checkpoint
 * and at the end, where a database that is failing is tried once more). */
void dml_run_record_flush(dml_run_record *r, bool force);

/* An event row (kind: checkpoint, restart, nan, diverged, interrupted,
 * stopped, fault, database), unless the database is failing. */
void dml_run_record_event(dml_run_record *r, const char *kind, int64_t step,
                          const char *msg);

/* A balance=dynamic event row (db/balance_store.h), unless the database
 * is failing. */
void dml_run_record_balance(dml_run_record *r,
                            const dml_db_balance_event *e);

/* The row of a complete checkpoint (its manifest's size and SHA-256). */
void dml_run_record_checkpoint(dml_run_record *r, const char *root,
                               int64_t step, double bytes,
                               const char *manifest_sha);

/* Every rank, each step: what its data-parallel exchange sent in the
 * step, bytes, inside its node and to other nodes (executor/sync/sync.h,
 * dml_sync.sent); the run records the mean per step (a strategy such as
 * local SGD sends on some steps only). */
void dml_run_record_dp_bytes(dml_run_record *r, double intra_node,
                             double inter_node);

/* Collective: each rank's medians over the nrun steps of this invocation
 * (after the first, the warm-up) and peak memory, recorded; and the bytes
 * a replica's data-parallel exchange sent per step, kept for the run's
 * end (dp_bytes_*), the one definition of "bytes per step" (db/schema.md
 * runs.dp_bytes_*_per_step, --json bytes_per_step.per_replica), as the
 * cost model prices them (detail.dp_bytes_intra/inter): each rank's mean
 * per step, averaged over the ranks of its data-parallel group (a ring's
 * hops between nodes fall on some ranks of the group and not on others;
 * the pricer counts one replica's share), of the group that sent the
 * most (the busiest pipeline stage); and the same per-rank means summed
 * over the whole job (dp_job_*: what the links carried). Returns the
 * largest peak RSS (rank 0; this rank's elsewhere). */
double dml_run_record_rank_timings(dml_run_record *r, int64_t nrun,
                                   MPI_Comm world);

/* Close the run with its outcome; false when that could not be written
 * (the database refuses writes: the kept steps could not be written
 * either, and the run stays 'running' there). err: the run's error when
 * status is not DML_OK. */
bool dml_run_record_end(dml_run_record *r, const dml_run_outcome *o,
                        const dml_error *err);

/* Is something missing from the database (record.h)? Rank 0. */
bool dml_run_record_incomplete(const dml_run_record *r);

#endif
