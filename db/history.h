/*
 * history.h: reading the tuning history back, for dml-history and for
 * anyone who wants the rows as structs rather than SQL.
 *
 * Each list function returns the newest rows first, at most limit of them
 * (limit <= 0: all), as one malloc'd array the caller releases with free()
 * (calibrations: dml_db_calibrations_free, as each holds its JSON). The
 * numbers come from the views (v_probe_summary, v_plans, v_runs:
 * schema.md), so the tool shows what `sqlite3 dml.db` shows, the
 * configuration in --config syntax included. Absent values are NAN.
 */
#ifndef DML_DB_HISTORY_H
#define DML_DB_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/calib_store.h"
#include "db/db.h"
#include "db/job_store.h"
#include "db/plan_store.h"

typedef struct dml_db_probe_row {
    int64_t id;                         /* probe_runs.id */
    char started_at[DML_DB_TIME_MAX];   /* ISO 8601 UTC */
    char finished_at[DML_DB_TIME_MAX];  /* ISO 8601 UTC, "" if unknown */
    char hostname[256];                 /* host probed ("" if unknown) */
    int ranks;                          /* MPI ranks */
    int nodes;                          /* hosts */
    bool quick;                         /* --quick run */
    char status[16];                    /* "ok", "partial", "failed" */
    char dml_version[32];               /* version that probed */
    double triad_Bps;                   /* best STREAM triad, bytes/s */
    double dgemm_flops_per_s;           /* best DGEMM, FLOP/s */
    double sgemm_flops_per_s;           /* best SGEMM, FLOP/s */
    double p2p_latency_s;               /* smallest point-to-point latency, s */
    double p2p_bw_Bps;                  /* best point-to-point bandwidth, B/s */
    int64_t n_measurements;             /* measurement rows */
} dml_db_probe_row;

typedef struct dml_db_plan_row {
    int64_t id;                         /* plans.id */
    char created_at[DML_DB_TIME_MAX];   /* ISO 8601 UTC */
    char model[128];                    /* models.name */
    char cluster[128];                  /* clusters.name */
    dml_db_plan_config config;          /* parallel configuration */
    char config_text[DML_DB_CONFIG_MAX]; /* the same in --config syntax
                                           (v_plans.config) */
    double predicted_step_s;            /* s */
    double predicted_mem_bytes;         /* per device, bytes */
    double predicted_tokens_per_s;      /* tokens (samples) per s */
    double mfu;                         /* 0-1 */
    int64_t calibration_id;             /* 0 = uncalibrated */
    int64_t n_runs;                     /* runs of this plan */
    double best_measured_step_s;        /* fastest measured median, s */
} dml_db_plan_row;

typedef struct dml_db_run_row {
    int64_t id;                         /* runs.id */
    int64_t plan_id;                    /* plans.id */
    char model[128];                    /* models.name */
    char cluster[128];                  /* clusters.name */
    dml_db_plan_config config;          /* configuration run */
    char config_text[DML_DB_CONFIG_MAX]; /* the same in --config syntax
                                           (v_runs.config) */
    char status[16];                    /* "running", "ok", "failed",
                                           "interrupted" */
    int ranks;                          /* MPI ranks */
    int64_t steps;                      /* steps completed */
    char started_at[DML_DB_TIME_MAX];   /* ISO 8601 UTC */
    char finished_at[DML_DB_TIME_MAX];  /* "" while running */
    double duration_s;                  /* finished - started, s */
    double predicted_step_s;            /* s */
    double measured_step_s;             /* median, s */
    double error_pct;                   /* 100 (pred - meas) / meas, % */
    double final_loss;                  /* last training loss */
    double test_accuracy;               /* fraction 0-1 */
    double peak_rss_bytes;              /* bytes */
    char error[256];                    /* failure reason, "" if none */
    double measured_samples_per_s;      /* global batch / measured step,
                                           samples/s */
    double measured_tokens_per_s;       /* the same in tokens/s (samples
                                           for an MLP) */
    double dp_bytes_intra_per_step;     /* bytes a replica's data-parallel
                                           exchange sent per step inside
                                           its node (run_store.h) */
    double dp_bytes_inter_per_step;     /* and to other nodes, bytes */
} dml_db_run_row;

/* A job dml-run supervised (job_store.h), with its goodput. */
typedef struct dml_db_job_row {
    int64_t id;                         /* jobs.id */
    char started_at[DML_DB_TIME_MAX];   /* ISO 8601 UTC */
    char finished_at[DML_DB_TIME_MAX];  /* "" while running */
    char status[16];                    /* running, ok, failed,
                                           interrupted */
    int ranks;                          /* ranks it started on */
    int last_ranks;                     /* ranks of its last plan event
                                           (0: none) */
    int restarts;                       /* relaunches after failures */
    double wall_s, compute_s, lost_s;   /* goodput figures, s (NAN) */
    double detect_s, restart_s;
    double goodput;                     /* (compute - lost) / wall, 0-1 */
    char reason[512];                   /* why it ended */
    dml_db_job_model model;             /* growth and Young/Daly
                                           (job_store.h; NAN, 0 before
                                           migration 11 or unknown) */
} dml_db_job_row;

/* The newest `limit` jobs (0: all), newest first. */
dml_status dml_db_list_jobs(dml_db *db, int limit, dml_db_job_row **rows,
                            size_t *n, dml_error *err);

/* A balance=dynamic event of a run (balance_store.h). */
typedef struct dml_db_balance_row {
    int64_t id;                         /* balance_events.id */
    int64_t run_id;
    char at[DML_DB_TIME_MAX];           /* ISO 8601 UTC */
    int64_t step;
    char kind[16];                      /* straggler, recovered,
                                           rebalance */
    int64_t replica;                    /* -1: none */
    char cause[16];                     /* compute, link, "" */
    double ratio;                       /* NAN: none */
    char old_shares[256];
    char new_shares[256];
} dml_db_balance_row;

/* The newest `limit` balance events (0: all), newest first. */
dml_status dml_db_list_balance_events(dml_db *db, int limit,
                                      dml_db_balance_row **rows, size_t *n,
                                      dml_error *err);

dml_status dml_db_list_probe_runs(dml_db *db, int limit,
                                  dml_db_probe_row **rows, size_t *n,
                                  dml_error *err);
dml_status dml_db_list_plans(dml_db *db, int limit, dml_db_plan_row **rows,
                             size_t *n, dml_error *err);
dml_status dml_db_list_runs(dml_db *db, int limit, dml_db_run_row **rows,
                            size_t *n, dml_error *err);
dml_status dml_db_list_calibrations(dml_db *db, int limit,
                                    dml_db_calibration **rows, size_t *n,
                                    dml_error *err);

/* Free an array from dml_db_list_calibrations (each params_json too). */
void dml_db_calibrations_free(dml_db_calibration *rows, size_t n);

#endif
