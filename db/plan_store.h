/*
 * plan_store.h: recording the plans dml-plan recommends or evaluates.
 *
 * A plan row holds the parallel configuration as columns (so history and
 * calibration can filter and group by dp, tp, pp, ... in SQL), the
 * prediction, the calibration it was predicted with, and the whole plan
 * file as JSON. It refers to a model and a cluster row (spec_store.h),
 * which must be recorded first. A plan is recorded once: recording it
 * again gives the id of its row.
 */
#ifndef DML_DB_PLAN_STORE_H
#define DML_DB_PLAN_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* Bytes of a configuration in --config syntax, the NUL included (the
 * views' config column: "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,...") */
#define DML_DB_CONFIG_MAX 192

/* The parallel configuration of a plan (docs/formats.md, "parallel"). */
typedef struct dml_db_plan_config {
    int dp;                /* data-parallel replicas */
    int tp;                /* tensor-parallel ranks */
    int pp;                /* pipeline stages */
    int v;                 /* virtual stages per rank (interleaving), >= 1 */
    int mbs;               /* micro-batch size, samples */
    int microbatches;      /* micro-batches per step per replica */
    int64_t global_batch;  /* samples per step = dp * mbs * microbatches */
    int zero;              /* ZeRO stage 0-3 */
    char recompute[16];    /* "none", "selective", "full" */
    bool sp;               /* sequence parallelism */
    char schedule[16];     /* "1f1b", "gpipe", "interleaved" */
    int threads_per_rank;  /* BLAS threads per rank (CPU), >= 1 */
    char framework[16];    /* "megatron", "deepspeed" ("" records
                              megatron) */
    char attention[16];    /* "materialized", "flash" ("" records
                              materialized, as an MLP's) */
    char sync[48];         /* data-parallel strategy as the sync knob
                              writes it: "allreduce", "fp16", "topk:0.01"
                              (costmodel/sync_spec.h; "" records
                              allreduce) */
    char balance[16];      /* "equal", "static", "dynamic" ("" records
                              equal; costmodel/balance.h) */
} dml_db_plan_config;

typedef struct dml_db_plan {
    int64_t model_id;              /* models.id, required */
    int64_t cluster_id;            /* clusters.id, required */
    dml_db_plan_config config;     /* what to run */
    double predicted_step_s;       /* predicted time per step, s */
    double predicted_mem_bytes;    /* predicted peak memory per device, B */
    double predicted_tokens_per_s; /* predicted throughput, tokens (or
                                      samples for an MLP) per s */
    double mfu;                    /* predicted model FLOP utilisation, 0-1 */
    int64_t calibration_id;        /* calibration used, 0 = none */
    const char *plan_json;         /* the plan file (borrowed), NULL if none */
} dml_db_plan;

/*
 * Record a plan; *plan_id gets its row's id. A plan recorded before (the
 * same model and cluster rows, the same calibration and the same content:
 * configuration, prediction and plan file, the file's db_plan_id aside)
 * is that row, not a new one, so that --export, --why-not and a plan run
 * again do not add copies; the UNIQUE index plans_by_content keeps it so
 * between processes writing at once. Unknown predictions may be NAN
 * (stored as NULL).
 */
dml_status dml_db_record_plan(dml_db *db, const dml_db_plan *plan,
                              int64_t *plan_id, dml_error *err);

/* The plan file JSON of a plan row, malloc'd (caller frees); NULL with
 * DML_OK if it was recorded without one; DML_ENOTFOUND for an unknown id. */
dml_status dml_db_plan_json(dml_db *db, int64_t plan_id, char **plan_json,
                            dml_error *err);

#endif
