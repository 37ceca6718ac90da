/*
 * fed_store.h: the rows of a federated run (issue 18, docs/federated.md):
 * its knobs and client shards (fed_runs, one per run) and each round
 * (fed_rounds). The round's train loss, wall time and test accuracy are
 * also its steps row, so a federated run shows in every view of runs.
 */
#ifndef DML_DB_FED_STORE_H
#define DML_DB_FED_STORE_H

#include <stdint.h>

#include "common/error.h"
#include "db/db.h"

typedef struct dml_db_fed_run {
    int clients;              /* N */
    int per_round;            /* m = round(C N) */
    double sample;            /* C */
    double epochs;            /* E, 0: one batch */
    int64_t batch;            /* B, 0: the whole shard */
    const char *split;        /* "iid", "classes:K" or alpha */
    double prox;              /* FedProx mu */
    int secagg;               /* 0 or 1 */
    double stragglers;        /* fraction of a round's clients */
    const char *straggler_work; /* "drop" or "partial" */
    int64_t min_samples;      /* shard sizes, samples */
    int64_t max_samples;
    int min_classes;          /* distinct classes per shard */
    int max_classes;
    double mean_classes;
    double mean_max_fraction; /* mean share of a shard's largest class */
} dml_db_fed_run;

typedef struct dml_db_fed_round {
    int64_t round;            /* 0-based */
    int clients;              /* sampled */
    int dropped;              /* stragglers whose work was dropped */
    int partial;              /* stragglers that returned partial work */
    double bytes_down;        /* server to clients, bytes */
    double bytes_up;          /* clients to server, bytes */
    double train_loss;        /* mean over the samples trained, nats */
    int64_t samples;          /* samples the clients trained on */
    double compute_s;         /* local training, summed over ranks, s */
    double test_accuracy;     /* of the new global model, 0-1 */
    double wall_s;            /* the round, s */
} dml_db_fed_round;

dml_status dml_db_record_fed_run(dml_db *db, int64_t run_id,
                                 const dml_db_fed_run *r, dml_error *err);
dml_status dml_db_record_fed_round(dml_db *db, int64_t run_id,
                                   const dml_db_fed_round *r,
                                   dml_error *err);

#endif
