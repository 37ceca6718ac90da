/*
 * run_store.h: recording what dml-exec did with a plan.
 *
 * A run is opened when training starts (status 'running') and finished
 * with its outcome ('ok', 'failed', or 'interrupted' when a signal such as
 * SIGINT or SIGTERM stopped it) and the measured median step time
 * that calibration compares with the prediction. While it runs, the
 * executor adds per-step records in batches (one transaction per batch),
 * per-rank timings at the end, checkpoints as they are written and events
 * (faults, restarts, stragglers) as they happen. Rank 0 writes; the other
 * ranks send their numbers to it.
 *
 * Values not measured are NAN (stored as NULL), never 0.
 */
#ifndef DML_DB_RUN_STORE_H
#define DML_DB_RUN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

typedef struct dml_db_run_start {
    int64_t plan_id;                  /* plans.id, required */
    char started_at[DML_DB_TIME_MAX]; /* ISO 8601 UTC; "" = now */
    int ranks;                        /* MPI ranks, >= 1 */
    const char *layout;   /* JSON: rank -> (dp, pp, tp) and stage layers
                             (borrowed), NULL if none */
    const char *hosts;    /* JSON array of the ranks' hostnames (borrowed),
                             NULL if none */
    double predicted_step_s; /* prediction for this run, s; NAN = plan's */
} dml_db_run_start;

typedef struct dml_db_run_result {
    char status[16];                   /* "ok", "failed" or "interrupted" */
    char finished_at[DML_DB_TIME_MAX]; /* ISO 8601 UTC; "" = now */
    int64_t steps;                     /* optimizer steps completed */
    double measured_step_s;  /* median step time after warm-up, s */
    double peak_rss_bytes;   /* largest resident set of any rank, bytes */
    double final_loss;       /* training loss at the last step */
    double test_accuracy;    /* fraction 0-1 on the test set, NAN if none */
    const char *error;       /* why it failed (borrowed), NULL if ok */
} dml_db_run_result;

typedef struct dml_db_step {
    int64_t step;           /* 0-based optimizer step */
    double loss;            /* training loss of the step */
    double lr;              /* learning rate used */
    int64_t global_batch;   /* samples in the step */
    double step_s;          /* wall time of the step, s */
    double compute_s;       /* forward + backward compute, s */
    double tp_comm_s;       /* exposed tensor-parallel communication, s */
    double pp_comm_s;       /* exposed pipeline send/receive, s */
    double dp_comm_s;       /* exposed gradient reduction, s */
    double pipeline_idle_s; /* pipeline bubble, s */
    double optimizer_s;     /* optimizer update, s */
    double samples_per_s;   /* global_batch / step_s */
    double noise_scale;     /* gradient noise scale B_simple, samples; NAN
                               when not measured at this step */
    double staleness;       /* largest staleness of the step's gradients
                               over the replicas (ssp:S), steps; NAN:
                               the strategy has none (schema 6) */
    double test_accuracy;   /* test-set accuracy after the step, 0-1; NAN
                               when not evaluated then (schema 6) */
    double consensus;       /* gossip's consensus distance (mean squared
                               distance of the replicas to their mean);
                               NAN: not measured then (schema 9) */
} dml_db_step;

typedef struct dml_db_rank_timing {
    int rank;              /* MPI rank */
    char host[256];        /* its hostname */
    double step_median_s;  /* median step time seen by this rank, s */
    double compute_s;      /* median compute per step, s */
    double comm_s;         /* median communication per step, s */
    double idle_s;         /* median waiting per step, s */
    double peak_rss_bytes; /* peak resident set, bytes */
} dml_db_rank_timing;

typedef struct dml_db_checkpoint {
    int64_t step;                     /* step the checkpoint resumes after */
    const char *dir;                  /* its directory (borrowed), required */
    const char *manifest_path;        /* manifest file (borrowed), or NULL */
    double bytes;                     /* total size, bytes */
    char sha256[65];                  /* checksum of the manifest, hex */
    bool valid;                       /* verified complete */
    char created_at[DML_DB_TIME_MAX]; /* ISO 8601 UTC; "" = now */
} dml_db_checkpoint;

/* Open a run (status 'running'); *run_id gets its id. */
dml_status dml_db_run_begin(dml_db *db, const dml_db_run_start *start,
                            int64_t *run_id, dml_error *err);

/* Close a run with its outcome. DML_ENOTFOUND for an unknown run_id. */
dml_status dml_db_run_finish(dml_db *db, int64_t run_id,
                             const dml_db_run_result *result, dml_error *err);

/*
 * Record what a run's data-parallel exchange sent per step, bytes: what
 * one replica sent to replicas on its own node (intra) and on other nodes
 * (inter), as the cost model's detail.dp_bytes_intra and dp_bytes_inter
 * predict them (the busiest pipeline stage's). NAN leaves a figure
 * unknown (NULL). DML_ENOTFOUND for an unknown run_id.
 */
dml_status dml_db_run_dp_bytes(dml_db *db, int64_t run_id, double intra,
                               double inter, dml_error *err);

/* Record n steps of a run in one transaction. A step recorded again (after
 * a restart from a checkpoint) replaces the earlier record. */
dml_status dml_db_record_steps(dml_db *db, int64_t run_id,
                               const dml_db_step *steps, size_t n,
                               dml_error *err);

/* Record per-rank timings in one transaction (replacing earlier ones of
 * the same rank). */
dml_status dml_db_record_rank_timings(dml_db *db, int64_t run_id,
                                      const dml_db_rank_timing *timings,
                                      size_t n, dml_error *err);

/* Record a checkpoint; *checkpoint_id (may be NULL) gets its id. */
dml_status dml_db_record_checkpoint(dml_db *db, int64_t run_id,
                                    const dml_db_checkpoint *ckpt,
                                    int64_t *checkpoint_id, dml_error *err);

/*
 * Close a run that died without recording its end, found later (the next
 * dml-exec reads what its ranks left behind): when run_id is still
 * 'running' and was started at started_at (NULL: any time), mark it
 * 'failed' with finished_at (ISO 8601 UTC; NULL or "" = now), the steps
 * completed and message as its error, and record a "fault" event naming
 * rank (< 0: none) and step, in one transaction. *recorded says whether
 * it did (false: no such run here, or it has ended since).
 */
dml_status dml_db_run_mark_dead(dml_db *db, int64_t run_id,
                                const char *started_at,
                                const char *finished_at, int rank,
                                int64_t step, const char *message,
                                bool *recorded, dml_error *err);

/*
 * Record an event: kind is a short word ("fault", "restart", "straggler",
 * "nan", "checkpoint"); run_id 0, rank < 0 or step < 0 mean "not tied to
 * one"; message is free text (may be NULL).
 */
dml_status dml_db_record_event(dml_db *db, int64_t run_id, const char *kind,
                               int rank, int64_t step, const char *message,
                               dml_error *err);

#endif
