/*
 * spec_store.h: the model and cluster specs plans are made from.
 *
 * A model row is the model spec JSON a plan was made for, stored once per
 * distinct spec (upsert by hash), so plans of the same model share it. A
 * cluster row is a cluster spec (a preset, a user file, or what dml-probe
 * wrote) with the hardware fingerprint calibrations are keyed by; an
 * identical spec recorded twice is one row.
 */
#ifndef DML_DB_SPEC_STORE_H
#define DML_DB_SPEC_STORE_H

#include <stdint.h>

#include "db/db.h"

typedef struct dml_db_model {
    char name[128];        /* "gpt3-175b", "mlp-fmnist" */
    char type[16];         /* "transformer", "mlp" */
    const char *spec_json; /* the model spec (borrowed), required */
    char hash[65];         /* identity of the spec; "" = hash of spec_json
                              text (pass a hash of the canonical form to
                              ignore formatting) */
} dml_db_model;

typedef struct dml_db_cluster {
    char name[128];        /* "dgx-a100-80g", or the probed host's name */
    char fingerprint[65];  /* hardware identity (hex), "" if unknown */
    char source[16];       /* "preset", "dml-probe" or "user" */
    const char *spec_json; /* the cluster spec (borrowed), NULL if none */
} dml_db_cluster;

/* Insert the model, or find the row with the same hash; *model_id gets
 * the row id either way. */
dml_status dml_db_record_model(dml_db *db, const dml_db_model *model,
                               int64_t *model_id, dml_error *err);

/*
 * Insert the cluster, or find the identical one (same name, fingerprint
 * and spec text); *cluster_id gets the row id. probe_run_id links the
 * cluster to the probe run that measured it (0 for none).
 */
dml_status dml_db_record_cluster(dml_db *db, const dml_db_cluster *cluster,
                                 int64_t probe_run_id, int64_t *cluster_id,
                                 dml_error *err);

/* The spec JSON of a model or cluster row, malloc'd (caller frees); NULL
 * with DML_OK for a cluster recorded without a spec. DML_ENOTFOUND for an
 * unknown id. */
dml_status dml_db_model_spec(dml_db *db, int64_t model_id, char **spec_json,
                             dml_error *err);
dml_status dml_db_cluster_spec(dml_db *db, int64_t cluster_id,
                               char **spec_json, dml_error *err);

#endif
