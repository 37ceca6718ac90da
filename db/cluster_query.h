/*
 * cluster_query.h: what dml-plan reads back from the database before it
 * plans: the cluster dml-probe measured last (`--cluster this`) and the
 * gradient noise scale dml-exec measured for a model (`--global-batch
 * auto` without `--noise-scale`).
 *
 * Both are reads only; nothing here writes.
 */
#ifndef DML_DB_CLUSTER_QUERY_H
#define DML_DB_CLUSTER_QUERY_H

#include <stdint.h>

#include "db/db.h"

/*
 * The spec JSON of the newest cluster row written by dml-probe (source
 * "dml-probe", with a spec), malloc'd (caller frees); *cluster_id (may be
 * NULL) gets its id. DML_ENOTFOUND, with a message telling the user to run
 * dml-probe, when the database holds none.
 */
dml_status dml_db_latest_probed_cluster(dml_db *db, char **spec_json,
                                        int64_t *cluster_id, dml_error *err);

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
