/*
 * cluster_query.h: what dml-plan reads back from the database before it
 * plans: the cluster dml-probe measured (`--cluster this`) and the
 * gradient noise scale dml-exec measured for a model (`--global-batch
 * auto` without `--noise-scale`).
 *
 * Both are reads only; nothing here writes.
 */
#ifndef DML_DB_CLUSTER_QUERY_H
#define DML_DB_CLUSTER_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* The probe run behind a cluster spec dml-probe wrote. */
typedef struct dml_db_probe_origin {
    int64_t probe_run_id;              /* 0: none (the row names none) */
    int64_t cluster_id;                /* the clusters row of its spec */
    char finished_at[DML_DB_TIME_MAX]; /* ISO 8601 UTC, "" if unknown */
    char host[64];                     /* where rank 0 ran, "" if unknown */
    int ranks, nodes;                  /* of the probe job */
    bool quick;                        /* dml-probe --quick */
    int64_t link_measurements;         /* its p2p, collective and nccl
                                          rows: 0 when it measured no
                                          communication (one rank) */
} dml_db_probe_origin;

/*
 * The cluster `--cluster this` means: among the cluster rows written by
 * dml-probe (with a spec), the newest whose probe measured communication
 * between ranks, else the newest. Its spec JSON, malloc'd (caller frees),
 * in *spec_json, where it came from in *used; *passed_over gets the
 * newest probe when it measured no communication and an older one that
 * did was taken instead (probe_run_id 0 when nothing was passed over):
 * a probe run without mpirun must not replace a measured network
 * silently, the caller says so. DML_ENOTFOUND, with a message telling
 * the user to run dml-probe, when the database holds none.
 */
dml_status dml_db_this_cluster(dml_db *db, char **spec_json,
                               dml_db_probe_origin *used,
                               dml_db_probe_origin *passed_over,
                               dml_error *err);

/*
 * The gradient noise scale B_simple (samples) dml-exec measured in the
 * newest run of the model called model_name: the median of that run's
 * per-step estimates (each one is noisy). *run_id (may be NULL) gets the
 * run; *estimates (may be NULL) how many steps carried one. DML_ENOTFOUND
 * when no run of that model recorded a positive estimate.
 */
dml_status dml_db_latest_noise_scale(dml_db *db, const char *model_name,
                                     double *noise_scale, int64_t *run_id,
                                     int64_t *estimates, dml_error *err);

#endif
